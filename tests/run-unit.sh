#!/bin/bash
# Run cmocka test binaries; print each one's verdict and, last, the totals
# as "N passed, N failed" (cmocka's own summary lines are summed).
set -u
passed=0 failed=0 skipped=0
for t in "$@"; do
	out=$("$t" 2>&1 | tr -d '\000'; exit "${PIPESTATUS[0]}")
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or exited before cmocka's summary
	fi
	if [ "$f" -ne 0 ]; then
		echo "FAIL $(basename "$t") ($p passed, $f failed)"
		sed 's/^/    /' <<<"$out" | tail -40
	else
		if [ "$s" -gt 0 ]; then s_txt=", $s skipped"; else s_txt=""; fi
		echo "ok   $(basename "$t") ($p passed$s_txt)"
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
