# shellcheck shell=bash disable=SC2154
# The harness itself: ssh between the guests over the link both ways with
# strict host key checking, by name and by address, and CRIU usable on both.
# timeout: 120

for role in src dst; do
	out=$(on_guest "$role" 'criu check 2>&1') || true
	echo "$role: criu check: $out"
	grep -q 'Looks good' <<<"$out" || fail "criu check on $role: $out"
done

for pair in "src dst $DST_IP" "dst src $SRC_IP"; do
	read -r -a pair <<<"$pair"
	set -- "${pair[@]}"
	for target in "$2" "$3"; do
		got=$(on_guest "$1" "ssh -o ControlPath=none -o BatchMode=yes -o StrictHostKeyChecking=yes $target hostname") ||
			fail "ssh $1 -> $target failed"
		[ "$got" = "$2" ] || fail "ssh $1 -> $target reached '$got'"
		echo "ssh $1 -> $target: ok ($got)"
	done
done

# an unknown host key must be refused (strict checking really is on)
if on_src "ssh -o ControlPath=none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null dst true" 2>/dev/null; then
	fail "ssh accepted an unknown host key"
fi

# link up, modules for CRIU loaded
on_src "ping -c 1 -W 2 $DST_IP >/dev/null" || fail "no ping src -> dst"
for m in unix_diag nf_tables sch_netem; do
	on_dst "grep -q '^$m ' /proc/modules" || fail "module $m not loaded on dst"
done


# copy helpers and guest-to-guest scp (sftp) round trip
head -c 100000 /dev/urandom >"$RESULT_DIR/blob"
to_src "$RESULT_DIR/blob" /tmp/blob
on_src "scp -q /tmp/blob dst:/tmp/blob2"
from_dst /tmp/blob2 "$RESULT_DIR/blob.back"
cmp "$RESULT_DIR/blob" "$RESULT_DIR/blob.back" || fail "file changed on its way host -> src -> dst -> host"
rm -f "$RESULT_DIR/blob" "$RESULT_DIR/blob.back"
echo "copy host -> src -> dst -> host: ok"
echo "harness ok"
