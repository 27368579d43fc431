# Sourced by the host test scripts (hooks.sh, package.sh, cli.sh) from the
# repo root: tests/lib.sh's temp dir $T (named after NAME), counters and
# expect, plus the closing "N passed, N failed" line.
TAG=${NAME:-host}
. tests/lib.sh
summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
