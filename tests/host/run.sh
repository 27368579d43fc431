#!/bin/bash
# Host-side end-to-end tests of the phaul binary: CLI, config, `check` on
# this host (whose kernel CRIU 3.17 cannot run on), and `check HOST` against
# a real agent over tcp on loopback and over ssh through a real sshd.
# Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TAG=host
. tests/lib.sh

# wait_grep PATTERN FILE: a log line written by another process, within 5 s
# (the agent logs refusals at most once a second, and the rest after a pause).
wait_grep() {
	local i
	for i in $(seq 50); do
		grep -q -- "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

conf=$T/phaul.conf
cat >"$conf" <<EOC
[phaul]
work_dir = $T/wd
secret_file = $T/secret
timeout = 20
EOC
export PHAUL_CONFIG=$conf
head -c 32 /dev/urandom | base64 >"$T/secret"
chmod 600 "$T/secret"

# --- CLI and config ---
expect "help lists the commands" 0 'migrate CT HOST' "$PHAUL" --help
expect "version" 0 '^phaul [0-9]+\.' "$PHAUL" --version
expect "unknown command is a usage error" 2 "unknown command 'frobnicate'" "$PHAUL" frobnicate
printf '[phaul]\nbogus_key = 1\n' >"$T/bad.conf"
expect "unknown config key names file and line" 2 "bad.conf:2.*unknown key 'bogus_key'" \
	"$PHAUL" -c "$T/bad.conf" check
printf '[migrate]\ndowntime_limit_ms = soon\n' >"$T/bad2.conf"
expect "bad config value is refused" 2 "bad value 'soon' for 'downtime_limit_ms'" \
	"$PHAUL" -c "$T/bad2.conf" check
expect "missing config file given with -c" 2 "cannot open config" \
	"$PHAUL" -c "$T/nope.conf" check
# fs-sync never writes over the whole host: fs_root "/" stops the agent at start-up
expect "agent refuses fs_root /" 2 "bad value '/' for 'fs_root'.*never / itself" \
	"$PHAUL" -o fs_root=/ agent --listen 127.0.0.1:1
printf '[agent]\nfs_root = /srv/ct //\n' >"$T/root.conf"
expect "agent refuses fs_root / in a list" 2 "root.conf:2.*'fs_root'" \
	"$PHAUL" -c "$T/root.conf" agent --listen 127.0.0.1:1

# --- this host: CRIU 3.17 cannot initialise on its kernel ---
expect "local check says plainly why this host cannot migrate" 1 \
	"cannot checkpoint or restore: CRIU [0-9.]+ on kernel [^ ]+: .+" "$PHAUL" check

# --- tcp agent on loopback ---
port=$(free_port)
"$PHAUL" agent --listen "127.0.0.1:$port" >"$T/agent.log" 2>&1 &
pids+=($!)
if wait_port "$port"; then
	expect "tcp: check against a host that cannot run CRIU is refused with the table" 3 \
		"criu-check +FAILED +FAILED +FAIL" "$PHAUL" -t tcp check "127.0.0.1:$port"
	grep -q "check 'criu-check' failed" "$T/out" && ok "tcp: refusal names the failing check" ||
		bad "tcp: refusal names the failing check"
	head -c 32 /dev/urandom | base64 >"$T/wrong"
	chmod 600 "$T/wrong"
	expect "tcp: wrong secret is refused" 1 "refused our shared secret" \
		"$PHAUL" -t tcp -o secret_file="$T/wrong" check "127.0.0.1:$port"
	wait_grep "failed shared-secret authentication" "$T/agent.log" &&
		ok "tcp: agent logs the failed authentication" ||
		{ cp "$T/agent.log" "$T/out"; bad "tcp: agent logs the failed authentication"; }
	chmod 644 "$T/wrong"
	expect "tcp: world-readable secret is refused, a configuration error" 2 "must not be accessible by group or others" \
		"$PHAUL" -t tcp -o secret_file="$T/wrong" check "127.0.0.1:$port"
	mkfifo -m 600 "$T/fifo"
	expect "tcp: a FIFO as secret file is refused at once, not waited on" 2 \
		"secret file .*fifo is not a regular file" \
		timeout 10 "$PHAUL" -t tcp -o secret_file="$T/fifo" check "127.0.0.1:$port"
else
	bad "tcp agent did not start listening"
	cp "$T/agent.log" "$T/out"
fi
# --- tcp agent: caps on peers, idle limit ---
. tests/host/bounds.sh
# --- tcp agent: post-copy link recovery, the resume token ---
. tests/host/pclink.sh

expect "tcp: nobody listening gives a clear error" 1 "connecting to 127.0.0.1:1 over tcp" \
	"$PHAUL" -t tcp check 127.0.0.1:1

# --- ssh: a real sshd on loopback runs `phaul agent --stdio` ---
if [ -x /usr/sbin/sshd ]; then
	mkdir -p /run/sshd "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/other_host_key"
	cp "$T/ssh/id_ed25519.pub" "$T/ssh/authorized_keys"
	sport=$(free_port)
	cat >"$T/ssh/sshd_config" <<EOC
ListenAddress 127.0.0.1
Port $sport
HostKey $T/ssh/host_key
AuthorizedKeysFile $T/ssh/authorized_keys
PidFile $T/ssh/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
SetEnv PHAUL_CONFIG=$conf
EOC
	/usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" >"$T/sshd.log" 2>&1 &
	pids+=($!)
	echo "[127.0.0.1]:$sport $(cut -d' ' -f1,2 "$T/ssh/host_key.pub")" >"$T/ssh/known_hosts"
	echo "[127.0.0.1]:$sport $(cut -d' ' -f1,2 "$T/ssh/other_host_key.pub")" >"$T/ssh/bad_known_hosts"
	: >"$T/ssh/empty_known_hosts"
	sshopt=(-t ssh -o identity="$T/ssh/id_ed25519" -o "agent_cmd=$PHAUL agent --stdio")
	if wait_port "$sport"; then
		expect "ssh: check through sshd and a remote agent gives the table" 3 \
			"criu-check +FAILED +FAILED +FAIL" \
			"$PHAUL" "${sshopt[@]}" -o known_hosts="$T/ssh/known_hosts" check "root@127.0.0.1:$sport"
		expect "ssh: unknown host key is refused with its fingerprint" 1 "SHA256:[A-Za-z0-9+/]{43}" \
			"$PHAUL" "${sshopt[@]}" -o known_hosts="$T/ssh/empty_known_hosts" check "root@127.0.0.1:$sport"
		expect "ssh: changed host key is refused" 1 "CHANGED" \
			"$PHAUL" "${sshopt[@]}" -o known_hosts="$T/ssh/bad_known_hosts" check "root@127.0.0.1:$sport"
		expect "ssh: remote command that is not an agent fails clearly" 1 "exit status|closed" \
			"$PHAUL" -t ssh -o identity="$T/ssh/id_ed25519" -o agent_cmd=/bin/false \
			-o known_hosts="$T/ssh/known_hosts" check "root@127.0.0.1:$sport"
	else
		bad "sshd did not start"
		cp "$T/sshd.log" "$T/out"
	fi
fi

# --- peer strings are data: a hostname with escapes and a newline forges nothing ---
eport=$(free_port)
unshare -u python3 -c 'import os, socket, sys
socket.sethostname("evil\x1b[2K\nsrc: info: migration committed")
os.execv(sys.argv[1], sys.argv[1:])' "$PHAUL" agent --listen "127.0.0.1:$eport" >"$T/evil.log" 2>&1 &
pids+=($!)
if wait_port "$eport"; then
	expect "peer strings: the peer's hostname is shown escaped" 3 \
		'connected to evil\\x1b\[2K\\nsrc: info: migration committed' \
		"$PHAUL" -t tcp check "127.0.0.1:$eport"
	if grep -q $'\033' "$T/out" || grep -q '^src: info: migration committed' "$T/out"; then
		bad "peer strings: no escape or forged line reaches the output"
	else
		ok "peer strings: no escape or forged line reaches the output"
	fi
else
	bad "agent in a UTS namespace did not start"
	cp "$T/evil.log" "$T/out"
fi

# --- migrate refuses what it cannot do safely, before anything changes ---
setsid sleep 300 & # a session leader, as CRIU wants the root of a tree
victim=$!
pids+=($victim)
sleep 300 &
nonleader=$!
pids+=($nonleader)
expect "pre-flight: a root that does not lead its session is refused before anything" 3 \
	"check 'session' failed on .*pid $nonleader.*setsid, or migrate it with --shell-job" \
	"$PHAUL" -t tcp migrate "pid:$nonleader" 127.0.0.1:1
expect "pre-flight: --shell-job lets it through to the connection" 1 \
	"connecting to 127.0.0.1:1 over tcp" \
	"$PHAUL" -t tcp migrate --shell-job "pid:$nonleader" 127.0.0.1:1
expect "migrate: no signal thread (Ctrl-C would be ignored) is refused" 1 \
	"cannot start the signal thread" env PHAUL_FAULT_SIGNAL_THREAD=1 \
	"$PHAUL" -t tcp migrate "pid:$victim" 127.0.0.1:1

# --- pre-flight: rsync where fs-sync needs it, on both hosts ---
rport=$(free_port)
PHAUL_RSYNC=/nonexistent/rsync "$PHAUL" agent --listen "127.0.0.1:$rport" >"$T/norsync.log" 2>&1 &
pids+=($!)
mkdir -p "$T/data"
if wait_port "$rport"; then
	expect "pre-flight: a destination without rsync is a failed check when --sync is given" 3 \
		"rsync +found +MISSING +FAIL: destination [^:]+: rsync missing; required: rsync on both hosts" \
		"$PHAUL" -t tcp migrate --dry-run --sync "$T/data" "pid:$victim" "127.0.0.1:$rport"
else
	bad "agent without rsync did not start"
fi

# --- one migration per CT: a second run of the same CT is refused, naming the first ---
hport=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); c = s.accept(); time.sleep(60)' \
	"$hport" >/dev/null 2>&1 &
pids+=($!)
wait_port "$hport"
"$PHAUL" -t tcp migrate --dry-run "pid:$victim" "127.0.0.1:$hport" >"$T/first.log" 2>&1 &
first=$!
pids+=($first)
for i in $(seq 50); do grep -qs "^$first " "$T/wd/locks/pid-$victim.lock" && break; sleep 0.1; done
expect "lock: a second migrate of the same CT is refused, naming the first run" 1 \
	"pid:$victim is being migrated by another phaul run \(pid and CT: $first pid:$victim" \
	"$PHAUL" -t tcp migrate --dry-run "pid:$victim" 127.0.0.1:1
kill "$first" 2>/dev/null
wait "$first" 2>/dev/null
expect "lock: released when the first run ends" 1 "connecting to 127.0.0.1:1 over tcp" \
	"$PHAUL" -t tcp migrate --dry-run "pid:$victim" 127.0.0.1:1

# --- pre-flight: the CT's open files, cwd and mappings must exist on the destination ---
# The agent runs in a mount namespace where a tmpfs hides $T/only-src: for it
# that directory is empty but for typed.log, a directory where the source has a file.
mkdir -p "$T/only-src"
(cd "$T/only-src" && exec setsid sleep 300 >out.log) &
holder=$!
pids+=($holder)
setsid sleep 300 >"$T/only-src/typed.log" &
typed=$!
pids+=($typed)
fport=$(free_port)
unshare -m --propagation private sh -c \
	'mount -t tmpfs phaul-hide "$1" && mkdir "$1/typed.log" && shift && exec "$@"' \
	sh "$T/only-src" "$PHAUL" agent --listen "127.0.0.1:$fport" >"$T/hide.log" 2>&1 &
pids+=($!)
nocriu=criu-version,criu-check,cpu,pids # no CRIU here, one host: not the point
for i in $(seq 50); do [ -e "/proc/$holder/fd/1" ] && break; sleep 0.1; done
if wait_port "$fport"; then
	expect "files: a CT's open file missing on the destination fails the check" 3 \
		"files +[0-9]+ paths +1 missing +FAIL: 1 path the CT has open is missing on [^:]+: $T/only-src/out.log \(use --sync DIR or make them exist\)" \
		"$PHAUL" -t tcp migrate --dry-run --force "$nocriu" "pid:$holder" "127.0.0.1:$fport"
	grep -q "error: check 'files' failed: .*(source: [0-9]* paths, destination: 1 missing)" \
		"$T/out" && ok "files: the refusal names the check and both sides" ||
		bad "files: the refusal names the check and both sides"
	expect "files: a file that is a directory on the destination fails the check" 3 \
		"files +[0-9]+ paths +1 differ +FAIL: 1 path the CT has open differs in type or size on [^:]+: $T/only-src/typed.log" \
		"$PHAUL" -t tcp migrate --dry-run --force "$nocriu" "pid:$typed" "127.0.0.1:$fport"
	expect "files: --force files lets the dry run pass" 0 "checks passed; nothing migrated" \
		"$PHAUL" -t tcp migrate --dry-run --force "$nocriu,files" "pid:$holder" "127.0.0.1:$fport"
	expect "files: a --sync of the directory takes its paths off the list" 0 \
		"files +[0-9]+ paths? +all present +ok" \
		"$PHAUL" -t tcp migrate --dry-run --force "$nocriu" --sync "$T/only-src" \
		"pid:$holder" "127.0.0.1:$fport"
	kill -0 "$holder" && grep -q State:.S "/proc/$holder/status" &&
		ok "files: the refused CT runs on, never frozen" || bad "files: the refused CT runs on, never frozen"
else
	bad "agent in a mount namespace did not start"
	cp "$T/hide.log" "$T/out"
fi

# --- a throttle left by a killed phaul is lifted by the next start (here: the agent's) ---
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$cg2" ] && mkdir "$cg2/phaul.hosttest.$$" 2>/dev/null; then
	rmdir "$cg2/phaul.hosttest.$$"
	sleep 300 &
	tv=$!
	pids+=($tv)
	home=$(sed -n 's/^0:://p' "/proc/$tv/cgroup")
	mkdir "$cg2/phaul.throttle.$tv" && echo "$tv" >"$cg2/phaul.throttle.$tv/cgroup.procs"
	mkdir -p "$T/wd/throttle"
	# what a phaul killed mid-throttle leaves: its record, nobody holding it
	printf 'phaul-throttle 1\npid 999999\ncg /phaul.throttle.%d\ncreated 1\nhome %s\norig_max max 100000\n' \
		"$tv" "$home" >"$T/wd/throttle/pid-$tv.rec"
	"$PHAUL" agent --stdio </dev/null >/dev/null 2>"$T/out"
	if [ "$(sed -n 's/^0:://p' "/proc/$tv/cgroup")" = "$home" ] &&
		[ ! -e "$cg2/phaul.throttle.$tv" ] && [ ! -e "$T/wd/throttle/pid-$tv.rec" ] &&
		grep -q "lifted a throttle left by a phaul that stopped" "$T/out"; then
		ok "throttle: a killed phaul's throttle is lifted by the next agent start"
	else
		bad "throttle: a killed phaul's throttle is lifted by the next agent start"
	fi
	rmdir "$cg2/phaul.throttle.$tv" 2>/dev/null
fi

# --- a hostile relay between a real source and a real agent over tcp ---
tests/host/tcp-relay.sh "$PHAUL" >"$T/relay.log" 2>&1
sed '$d' "$T/relay.log"
if read -r p _ f _ < <(tail -1 "$T/relay.log") && [[ "$p$f" =~ ^[0-9]+$ ]]; then
	pass=$((pass + p)) fail=$((fail + f))
else
	bad "tests/host/tcp-relay.sh did not finish"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
