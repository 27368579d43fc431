#!/bin/bash
# Self-test of the migration harness: run the deliberately failing scenarios
# in selftest/ and check that the runner reports both as FAIL (one for a
# failed verification, one for a timeout), ends with "0 passed, 2 failed"
# and exits non-zero.  Part of `make check`.  Prints the runner's output
# indented, one "ok:"/"NOT OK:" line per assertion and, last, its own
# "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results=${1:-$HERE/results/selftest}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

rc=0
"$HERE/run" --keep-going --scenarios "$HERE/selftest" --results "$results" \
	>"$out" 2>&1 || rc=$?
# indented, so that the inner summary is not taken for this script's
sed 's/^/  | /' "$out"

passed=0
failed=0
check() {
	if eval "$2"; then
		echo "ok: $1"
		passed=$((passed + 1))
	else
		echo "NOT OK: $1"
		failed=$((failed + 1))
	fi
}
check "a failed verification is reported as FAIL" \
	"grep -qE '^FAIL 90-must-fail-corrupt \(memtouch check failed' '$out'"
check "memtouch names the corrupted page" \
	"grep -q 'result: FAIL bad_pages=1 ' '$results/90-must-fail-corrupt/src/memtouch.log'"
check "a hang is killed and reported as FAIL (timeout)" \
	"grep -qE '^FAIL 91-must-fail-hang \(timeout' '$out'"
check "the runner's last line is '0 passed, 2 failed'" \
	"[ \"\$(tail -n 1 '$out')\" = '0 passed, 2 failed' ]"
check "the runner exits non-zero" "[ $rc -ne 0 ]"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
