#!/bin/bash
# Everything `make check` runs, stage by stage. Each stage ends with its own
# "N passed, N failed" line; the last line here is the sum over all stages.
#
#   PHAUL_SKIP_VM=1   skip the VM migration harness (host-only run)
#   FUZZ_SECONDS=N    time per fuzz target (default 10)
#   JOBS=N            parallel compile jobs for its builds (default: the cores)
set -u
cd "$(dirname "$0")/.."
mkdir -p build/logs
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

total_p=0 total_f=0 failed_stages=""

stage() {
	local name=$1; shift
	local log=build/logs/$name.log
	local start=$SECONDS
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line p f
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	p=$(sed -E 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	p=${p:-0} f=${f:-0}
	[ -n "$line" ] || p=$((rc == 0)) f=$((rc != 0))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -eq 0 ] || failed_stages="$failed_stages $name"
	echo "=== $name: $p passed, $f failed ($((SECONDS - start))s)"
	total_p=$((total_p + p)) total_f=$((total_f + f))
}

fuzz_all() {
	make -s -j"$JOBS" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}" || return 1
	local n
	n=$(find build-fuzz/fuzz -maxdepth 1 -name 'fuzz_*' -type f | wc -l)
	echo "$n passed, 0 failed"
}

sim_all() {
	make -s -j"$JOBS" sim || return 1
	./build/sim/balance_sim
}

san_all() {
	make -s -j"$JOBS" san || return 1
	./tests/run-unit.sh build-san/tests/test_*
}

stage unit ./tests/run-unit.sh build/tests/test_*
stage sanitizers san_all
stage fuzz fuzz_all
stage host ./tests/host/run.sh
stage recover ./tests/host/recover.sh
stage control ./tests/host/control.sh
stage forensics ./tests/host/forensics.sh
stage balance ./tests/balance/run.sh
stage balance-prometheus ./tests/balance/prometheus.sh
stage balance-sim sim_all
stage cli ./tests/host/cli.sh
stage hooks ./tests/host/hooks.sh
stage package ./tests/host/package.sh
if [ "${PHAUL_SKIP_VM:-0}" != 1 ]; then
	# the guests run phaul as installed from the package stage's .deb
	deb=; [ -f build/phaul.deb ] && deb=$PWD/build/phaul.deb
	stage vm-harness env PHAUL_VM_DEB="$deb" ./tests/migration/run --keep-going
	stage vm-selftest ./tests/migration/selftest.sh
fi

[ -z "$failed_stages" ] || echo "failed stages:$failed_stages"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
