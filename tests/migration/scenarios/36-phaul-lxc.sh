# shellcheck shell=bash disable=SC2154
# phaul migrate lxc:ct1 over ssh: an LXC container (busybox rootfs in a
# directory, own network namespace, veth on br0 at 10.99.1.10) running a
# memtouch that dirties pages all along. liblxc pre-dumps and dumps it
# through phaul's page relay, its dir (config and rootfs) is rsynced, and
# liblxc restores it on dst. Then: RUNNING on dst, STOPPED on src, the
# rootfs identical but for the workload's files, every page verified, the
# address answers on dst's bridge. (Over ssh the agent's stdio is the
# channel: the container's monitor, forked on dst by the restore, must not
# keep it, or the session would never end. 37 covers tcp.) The example LXC
# hooks of configs/hooks/lxc run on both guests: pre-restore finds the
# config and rootfs on dst, post-dump keeps the config in src's work dir.
# timeout: 420

. "$MIG_HERE/phaul-lib.sh"
phaul_fs_root

lxc_ct_create 32 || fail "container did not start on src"
[ "$(lxc_state src)" = RUNNING ] || fail "ct1 on src is $(lxc_state src)"
on_src "ping -c 1 -W 2 $LXC_IP >/dev/null" || fail "$LXC_IP does not answer on src"

hooks=/etc/phaul/example-hooks
for role in src dst; do
	tar -C "$MIG_HERE/../../configs/hooks/lxc" -cf - . |
		on_guest $role "rm -rf $hooks && mkdir -p $hooks && tar -C $hooks -xf - &&
			chown -R 0:0 $hooks && chmod -R go-w $hooks"
done
# dst's agent: the hooks, and fs-sync allowed below LXC's lxcpath (fs_root is
# empty by default, which refuses the container's dir)
agent="phaul -o hooks_dir=$hooks -o fs_root=/var/lib/lxc agent --stdio"
on_src "timeout 300 phaul -o hooks_dir=$hooks -o 'agent_cmd=$agent' \
	migrate --json --keep-images lxc:$LXC_CT root@dst 2>/tmp/migrate-36.err" \
	>"$RESULT_DIR/migrate.json" ||
	{ cat "$RESULT_DIR/migrate.json"; on_src "cat /tmp/migrate-36.err"; phaul_logs
	  fail "phaul migrate failed"; }
on_src "cat /tmp/migrate-36.err" >"$RESULT_DIR/migrate.err"
# the agent's info lines stay in its session log on dst (the source shows
# them only at debug level)
on_dst "grep -q 'lxc:$LXC_CT: config and rootfs .* in place' /var/lib/phaul/runs/in-*/agent.log" ||
	fail "the example pre-restore hook did not report on dst (dst's runs/in-*/agent.log)"
on_src "ls /var/lib/phaul/*/lxc-$LXC_CT.config /var/lib/phaul/*/*/lxc-$LXC_CT.config 2>/dev/null | grep -q ." ||
	fail "the example post-dump hook left no copy of the config in src's work dir"
note "example LXC hooks ran: pre-restore on dst, post-dump on src"
phaul_logs
grep -v '"event":"report"' "$RESULT_DIR/migrate.json" | grep -v '"check"'

wait_until 20 "the ssh agent on dst gone" eval '[ -z "$(gpgrep dst "^phaul .*agent")" ]' ||
	fail "the agent on dst did not end"
st=$(lxc_state dst)
[ "$st" = RUNNING ] || fail "ct1 on dst is $st, not RUNNING"
st=$(lxc_state src)
[ "$st" = STOPPED ] || fail "ct1 on src is $st, not STOPPED"
on_src "! ping -c 1 -W 1 $LXC_IP >/dev/null" || fail "$LXC_IP still answers on src"
wait_until 20 "$LXC_IP answering on dst" on_dst "ping -c 1 -W 1 $LXC_IP >/dev/null" ||
	{ lxc_net_diag dst; fail "$LXC_IP does not answer on dst"; }
addr=$(on_dst "lxc-attach -n $LXC_CT -- /bin/ip -4 addr show eth0" | awk '$1 == "inet" { print $2 }')
[ "$addr" = "$LXC_IP/24" ] || fail "eth0 in ct1 on dst has '$addr', not $LXC_IP/24"
note "eth0 in ct1 on dst: $addr"

lxc_rootfs_sums src >"$RESULT_DIR/sums-src"
lxc_rootfs_sums dst >"$RESULT_DIR/sums-dst"
diff "$RESULT_DIR/sums-src" "$RESULT_DIR/sums-dst" || fail "ct1's dir differs between src and dst"
note "ct1's dir: $(wc -l <"$RESULT_DIR/sums-dst") files identical (rootfs/wl excluded)"

t=$(on_dst "sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $LXC_DIR/rootfs/wl/progress")
wait_until 20 "memtouch making progress on dst" \
	on_dst "[ \$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' $LXC_DIR/rootfs/wl/progress) -gt $t ]" ||
	fail "memtouch in ct1 does not run on dst"
lxc_wl_check dst || fail "memtouch verification in ct1 on dst failed"
phaul_json_check "$RESULT_DIR/migrate.json" '
assert rep["ok"] and rep["ct"] == "lxc:ct1" and rep["transport"] == "ssh", rep
assert rep["fs_syncs"] >= 3, rep["fs_syncs"]
assert len(its) >= 1, "no pre-copy iteration"
print("iterations=%d fs_syncs=%d downtime_ms=%.0f" % (len(its), rep["fs_syncs"], rep["downtime_us"] / 1000))
' || fail "report check failed"
on_dst "lxc-stop -n $LXC_CT -k" || true
