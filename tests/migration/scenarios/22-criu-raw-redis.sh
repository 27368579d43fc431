# shellcheck shell=bash disable=SC2154
# Raw CRIU, no phaul: a real server.  redis-server on src takes writes from
# kvclient (a separate process tree that stays on src) during the pre-dump;
# the client stops and closes its connection before the final dump (no
# established TCP connection is migrated); after restore on dst every write
# redis acknowledged must be readable there, and redis must take new ones.
# timeout: 240

kv=/var/lib/kv
pid=$(wl_redis_start "$kv") || fail "redis and its client did not start"
note "redis-server pid $pid on src"

mig_before_dump() {
	on_src "touch $kv/stop"
	wait_until 20 "kvclient to stop" on_src "! pidof kvclient >/dev/null" || return 1
	# TIME_WAIT belongs to no process; redis's own end must be closed
	wait_until 20 "redis to close the client connection" \
		on_src "! netstat -tn | grep ':6379 ' | grep -qE 'ESTABLISHED|CLOSE_WAIT'" || return 1
	note "client stopped after $(on_src "wc -l <$kv/acks") acknowledged writes"
}
criu_raw_migrate "$pid" 1 "$WL_DIR/redis" || fail "raw CRIU migration failed"

on_src "test ! -e /proc/$pid" || fail "redis-server $pid still exists on src"
wl_redis_check_dst "$kv"
