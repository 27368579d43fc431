# shellcheck shell=bash disable=SC2154
# phaul migrate of a real server: redis-server on src takes writes from
# kvclient (a separate tree that stays on src) during pre-copy; a pre-dump
# hook on src stops the client and waits for redis to close its connection
# before the freeze (no established TCP connection migrates); redis's data
# dir is --sync'ed. On dst every write redis acknowledged must be there, and
# redis must take new ones.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

kv=/var/lib/kv
hooks=/tmp/hooks-35
pid=$(wl_redis_start "$kv") || fail "redis and its client did not start"
note "redis-server pid $pid on src"

on_src "mkdir -p $hooks && cat >$hooks/pre-dump && chmod 755 $hooks/pre-dump" <<EOH
#!/bin/sh
# stop the client and let redis close its end before the freeze
touch $kv/stop
n=0
while pidof kvclient >/dev/null || netstat -tn | grep ':6379 ' | grep -qE 'ESTABLISHED|CLOSE_WAIT'; do
	n=\$((n + 1)); [ \$n -lt 200 ] || { echo "client did not stop" >&2; exit 1; }
	usleep 100000
done
echo "client stopped after \$(wc -l <$kv/acks) acknowledged writes" >&2
EOH
on_dst "mkdir -p $SCEN_LOG"
phaul_fs_root
on_src "phaul -o hooks_dir=$hooks migrate --json --sync $WL_DIR/redis pid:$pid root@dst" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; phaul_logs; fail "phaul migrate failed"; }
grep '"iteration"\|"fs-sync"' "$RESULT_DIR/migrate.json" | cut -c1-160

phaul_gone src "$pid" || fail "redis-server $pid still runs on src"
note "src: $(on_src "wc -l <$kv/acks") acknowledged writes"
wl_redis_check_dst "$kv"
