#!/bin/bash
# Fuzz every target in build-fuzz/fuzz for SECONDS each, JOBS at a time
# (libFuzzer runs one thread: on 2 cores, 2 targets take the time of one).
# Each target's corpus grows in build-fuzz/corpus/NAME, seeded from
# tests/fuzz/corpus/NAME; its log is build-fuzz/NAME.log. Exits non-zero,
# with the tail of the failing targets' logs, when any target failed.
#
#   tests/fuzz/run.sh SECONDS [JOBS]
set -u
cd "$(dirname "$0")/../.."
secs=${1:?usage: run.sh SECONDS [JOBS]}
jobs=${2:-2}

one() {
	local f=$1 n seeds=
	n=$(basename "$f")
	mkdir -p "build-fuzz/corpus/$n"
	[ -d "tests/fuzz/corpus/$n" ] && seeds=tests/fuzz/corpus/$n
	echo "fuzz $n for ${secs}s"
	# shellcheck disable=SC2086 # no seeds: no argument
	if ! "$f" -max_total_time="$secs" -max_len=65536 "build-fuzz/corpus/$n" \
		$seeds 2>"build-fuzz/$n.log" >/dev/null; then
		echo "FAIL $n:"
		tail -40 "build-fuzz/$n.log"
		return 1
	fi
}
export -f one
export secs

targets=(build-fuzz/fuzz/fuzz_*)
[ -x "${targets[0]}" ] || { echo "no fuzz targets in build-fuzz/fuzz (make fuzz-build)" >&2; exit 1; }
# xargs exits 123 when any invocation failed
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'one "$1"' _ {}
