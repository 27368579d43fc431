# Sourced by tests/host/run.sh (uses its ok/bad/expect/free_port/wait_port,
# $PHAUL, $T, pids): post-copy link recovery through a real tcp agent
# (HOWTO.md "Link recovery"). A holder (the host peer standing for the
# agent session that holds a migration in post-copy: the real pclink,
# listening in the agent's work dir) gives its token; sources that prove
# the shared secret then Resume it: with another token (a stranger who can
# authenticate), for a migration nobody holds, and with the token. Only
# the last one attaches, and its record reaches the holder through the
# agent session's splice.
PEER=$PWD/build/tests/host-peer
rconf=$T/resume.conf
cat >"$rconf" <<EOC
[phaul]
work_dir = $T/rwd
secret_file = $T/secret
timeout = 20
EOC
mkdir -p "$T/rwd"
chmod 700 "$T/rwd"
rport=$(free_port)
PHAUL_CONFIG=$rconf "$PHAUL" agent --listen "127.0.0.1:$rport" >"$T/resume-agent.log" 2>&1 &
pids+=($!)
rmig=20261202-0600-4242-0badc0de
"$PEER" - "$T/rwd" holder "$rmig" 30 >"$T/holder.out" 2>&1 &
hpid=$!
pids+=($hpid)
for _ in $(seq 50); do [ -s "$T/holder.out" ] && break; sleep 0.1; done
tok=$(head -1 "$T/holder.out")
# the same token with its last bit flipped
last=$(printf '%x' $((0x${tok:62:2} ^ 1)))
wrong=${tok:0:62}$(printf '%02x' "0x$last")
if wait_port "$rport" && [ ${#tok} = 64 ]; then
	expect "resume: another token is refused, though the secret was proven" 1 \
		"refused: .*refused the resumed link \(wrong token\)" \
		"$PEER" "127.0.0.1:$rport" "$T/secret" resume "$rmig" "$wrong"
	expect "resume: a migration not in post-copy here is refused" 1 \
		"refused: .*no migration 20261202-0600-1-00000000 in post-copy here" \
		"$PEER" "127.0.0.1:$rport" "$T/secret" resume 20261202-0600-1-00000000 "$tok"
	expect "resume: a migration id that is a path is refused" 1 \
		"refused: Resume of a malformed migration id" \
		"$PEER" "127.0.0.1:$rport" "$T/secret" resume "../$rmig" "$tok"
	expect "resume: the migration's token attaches the link" 0 "^resumed" \
		"$PEER" "127.0.0.1:$rport" "$T/secret" resume "$rmig" "$tok"
	wait "$hpid"
	hrc=$?
	cp "$T/holder.out" "$T/out"
	[ "$hrc" = 0 ] && grep -q "holder: took a link, got 4 bytes" "$T/holder.out" &&
		ok "resume: the holder took that link once and got its record" ||
		bad "resume: the holder took that link once and got its record"
	grep -q "refused a resumed link for migration $rmig" "$T/holder.out" &&
		ok "resume: the holder logs the refused token" ||
		bad "resume: the holder logs the refused token"
	# the holder's first line is the test's own print of it; the rest is its log
	{ cat "$T/resume-agent.log"; tail -n +2 "$T/holder.out"; } | grep -qi "${tok:0:16}" &&
		bad "resume: the token is never logged" || ok "resume: the token is never logged"
else
	bad "resume: agent or holder did not start"
	cp "$T/resume-agent.log" "$T/out"
fi
