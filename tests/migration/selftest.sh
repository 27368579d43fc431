#!/bin/bash
# Self-test of the migration harness: run the deliberately failing scenarios
# in selftest/ and check that the runner reports both as FAIL (one for a
# failed verification, one for a timeout), ends with "0 passed, 2 failed"
# and exits non-zero.  Part of `make check`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results=${1:-$HERE/results/selftest}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

rc=0
"$HERE/run" --keep-going --scenarios "$HERE/selftest" --results "$results" \
	>"$out" 2>&1 || rc=$?
cat "$out"

bad=0
check() {
	if ! grep -qE "$1" "$out"; then
		echo "selftest: expected a line matching: $1" >&2
		bad=1
	fi
}
check '^FAIL 90-must-fail-corrupt \(memtouch check failed'
check '^FAIL 91-must-fail-hang \(timeout'
[ "$(tail -n 1 "$out")" = "0 passed, 2 failed" ] ||
	{ echo "selftest: last line is not '0 passed, 2 failed'" >&2; bad=1; }
[ $rc -ne 0 ] || { echo "selftest: runner exited 0 despite failures" >&2; bad=1; }
grep -q '^FAIL bad_pages=1 ' "$results/90-must-fail-corrupt/src/memtouch.log" 2>/dev/null ||
	grep -q 'result: FAIL bad_pages=1 ' "$results/90-must-fail-corrupt/src/memtouch.log" ||
	{ echo "selftest: memtouch did not report the corrupted page" >&2; bad=1; }
if [ $bad = 0 ]; then
	echo "selftest: PASS (failures are detected and reported)"
else
	echo "selftest: FAIL"
fi
exit $bad
