# shellcheck shell=bash
# The benchmark's modes (tests/bench/run). A mode is one function:
#
#   mode_NAME PID DIR     (NAME's "-" written "_": phaul-eager -> mode_phaul_eager)
#
# run in a bash process of its own, under the run's deadline, with this file
# (and so the harness's lib.sh and phaul-lib.sh) sourced. The workload (a
# memtouch, pid PID) runs on the guest MODE_START[NAME] names (default src);
# the mode must leave it running on dst, and return 0 if it did. The cell is
# in the environment: BENCH_MIB, BENCH_DIRTY (low, medium, high),
# BENCH_CONTENT, BENCH_HIGH_LIMIT_MS (the downtime limit phaul must meet in
# the high cell). Its figures go to DIR:
#   - a phaul mode: phaul's --json events in DIR/migrate.json
#     (bench_phaul does that);
#   - any other: DIR/figures, one "KEY VALUE" line per figure, from
#     downtime_ms frozen_ms restore_ms memory_complete_ms wire_bytes
#     raw_bytes iterations restore_mode gap_key (the memtouch progress field
#     that holds the workload-seen gap: migration_gap_ms by default,
#     maxgap_ms for a mode that stays on one guest).
# Adding a mode: write mode_NAME here, add NAME to MODES in run and in
# report.py (the table's order); MODE_START[NAME]=dst if its workload
# starts on dst. The workload's own figures (work lost, page writes that
# stalled on dst) come from its progress file, whatever the mode.
#
# shellcheck source=../migration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../migration/lib.sh"
# shellcheck source=../migration/phaul-lib.sh
. "$MIG_HERE/phaul-lib.sh"

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's python3 (its python3-matplotlib draws the chart), else any
BENCH_PY=python3
[ -x /usr/bin/python3 ] && BENCH_PY=/usr/bin/python3
# shellcheck disable=SC2034 # read by run
declare -A MODE_START=([floor]=dst)

# stats_ms ROLE FILE KEY: a field of a CRIU stats image on the guest, in ms
stats_ms() {
	on_guest "$1" "base64 <$2 2>/dev/null" | "$BENCH_PY" "$BENCH_HERE/report.py" criu-stats "$3"
}

# cold: stop-and-copy by hand: raw `criu dump` (no pre-dump) to a CRIU page
# server on dst, the other images tarred over ssh, eager `criu restore`.
# Downtime: the dump plus the copy + restore step, timed from the host.
mode_cold() {
	local pid=$1 dir=$2 dt
	: >"$dir/steps"
	MIG_STATS=$dir/steps criu_raw_migrate "$pid" 0 "$WL_DIR/memtouch" || return 1
	dt=$(awk '$1 == "dump" || $1 == "copy+restore" { s += $4 } END { printf "%.0f", s * 1000 }' \
		"$dir/steps")
	{
		echo "downtime_ms $dt"
		echo "wire_bytes $(on_dst "du -sb $MIG_IMAGES/1 | cut -f1")"
		echo "raw_bytes $(on_dst "du -sb $MIG_IMAGES/1 | cut -f1")"
		echo "iterations 0"
		echo "restore_mode eager"
		echo "frozen_ms $(stats_ms src "$MIG_IMAGES/1/stats-dump" frozen_time)"
		echo "restore_ms $(stats_ms dst "$MIG_IMAGES/1/stats-restore" restore_time)"
	} >"$dir/figures"
}

# bench_phaul PID DIR LIMIT OPTION...: phaul -t tcp migrate --json OPTION...
# of PID to dst through a fresh tcp agent; with LIMIT "limit", in the high
# cell, with the downtime limit it must meet. Over tcp, like CRIU's page
# server in cold (ssh would make the relay CPU-bound here); its records are
# sealed.
bench_phaul() {
	local pid=$1 dir=$2 limit=$3 gopts=""
	shift 3
	if [ "$limit" = limit ] && [ "$BENCH_DIRTY" = high ]; then
		gopts="-o allow_downtime_overrun=no"
		set -- "$@" --downtime-limit "$BENCH_HIGH_LIMIT_MS"
	fi
	phaul_tcp_agent
	on_src "phaul -t tcp $gopts migrate --json $* pid:$pid $DST_IP 2>$SCEN_LOG/phaul.err" \
		>"$dir/migrate.json"
}

# fixed: P.Haul's fixed policy on phaul's relay and engine, no zstd, no
# limit; its restore is phaul's default (lazy)
mode_fixed() { bench_phaul "$1" "$2" nolimit --policy fixed --no-compress; }

# phaul: the defaults (prediction, zstd, auto-converge, lazy restore)
mode_phaul() { bench_phaul "$1" "$2" limit; }

# phaul-eager: the defaults but every page in place before the CT runs
mode_phaul_eager() { bench_phaul "$1" "$2" limit --restore eager; }

# phaul-overrun: the defaults as the guests have them, also in the high
# cell: auto-converge under the default downtime limit, the overrun allowed
# (when its loop stops phaul dumps, over the limit if it must). The
# auto-converge baseline that migrates whatever the host's load; phaul in
# the high cell must meet its limit or give up.
mode_phaul_overrun() { bench_phaul "$1" "$2" nolimit; }

# postcopy: --mode postcopy (no pre-copy: freeze once, restore on dst with
# every private page lazy, the pages pulled through phaul's channel, faults
# first, the rest pushed). No downtime limit: its downtime does not depend
# on the dirty rate, and there is no loop a limit could stop.
mode_postcopy() { bench_phaul "$1" "$2" nolimit --mode postcopy; }

# hybrid: --mode hybrid: pre-copy, and where the stop rule finds the dirty
# set will not converge under the limit (where phaul would throttle or
# refuse), post-copy of what is left; in the high cell under the same limit
# as phaul (elsewhere the guests' default, 300 ms)
mode_hybrid() { bench_phaul "$1" "$2" limit --mode hybrid; }

# floor: what lazy restore can do at best on these guests, with no network:
# on dst alone, one full `criu dump` to tmpfs, then `criu lazy-pages -D`
# on that image and `criu restore --lazy-pages`, as the restore's floor.
# Downtime: dump + restore (their wall times in the guest); memory
# complete: from the restore's start until the lazy-pages daemon, having
# pushed every page, exits. The guest's busybox date has no sub-second
# field: times come from /proc/uptime (10 ms steps); restore_ms and
# frozen_ms from CRIU's stats images, as for every other mode.
mode_floor() {
	local pid=$1 dir=$2 d=$MIG_IMAGES/floor out
	out=$(on_dst "set -e; rm -rf $d; mkdir -p $d; cd $d
		up() { cut -d' ' -f1 /proc/uptime; }
		t0=\$(up)
		criu dump -t $pid -D $d -o dump.log -v4 || { tail -20 dump.log >&2; exit 1; }
		t1=\$(up)
		mkfifo ready
		criu lazy-pages -D $d -W $d --status-fd 3 -o lazy-pages.log -v4 \
			3>ready </dev/null >/dev/null 2>&1 &
		lp=\$!
		head -c 1 ready >/dev/null
		t2=\$(up)
		criu restore -d --lazy-pages -D $d -W $d -o restore.log -v4 ||
			{ tail -20 restore.log >&2; kill \$lp; exit 1; }
		t3=\$(up)
		touch restored
		wait \$lp || { tail -20 lazy-pages.log >&2; exit 1; }
		t4=\$(up)
		echo \"\$t0 \$t1 \$t2 \$t3 \$t4 \$(du -sb $d | cut -f1)\"") || return 1
	# the workload has ticked since the restore: its gap is in its progress
	wait_until 30 "memtouch ticking after the restore" \
		on_dst "[ $WL_DIR/memtouch/progress -nt $d/restored ]" || return 1
	on_dst "cp $d/*.log $SCEN_LOG/ 2>/dev/null; true"
	# shellcheck disable=SC2086
	set -- $out
	{
		awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v e="$5" 'BEGIN {
			printf "downtime_ms %.0f\n", 1000 * ((b - a) + (d - c))
			printf "memory_complete_ms %.0f\n", 1000 * (e - c) }'
		echo "raw_bytes $6"
		echo "wire_bytes 0"
		echo "iterations 0"
		echo "restore_mode lazy"
		echo "gap_key maxgap_ms"
		echo "frozen_ms $(stats_ms dst "$d/stats-dump" frozen_time)"
		echo "restore_ms $(stats_ms dst "$d/stats-restore" restore_time)"
	} >"$dir/figures"
}
