#!/bin/bash
# The example stage hooks in configs/hooks/ (HOWTO "Stage hooks"): each is
# present, executable, and does what its README says, run as phaul runs a
# hook ("HOOK STAGE", the PHAUL_* environment) against a scratch LXC path
# and OpenVZ config dir; vzctl and logger are stand-ins on PATH that record
# their arguments. Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
H=$PWD/configs/hooks
NAME=hooks
. tests/host/lib.sh
# run_hook NAME WANT_RC PATTERN HOOK STAGE VAR=VALUE...: as phaul runs it
run_hook() {
	local name=$1 want=$2 pat=$3 hook=$4 stage=$5; shift 5
	env -i PATH="$T/bin:/usr/sbin:/usr/bin:/sbin:/bin" LXC_PATH="$T/lxc" \
		VZ_CONF_DIR="$T/vz" CALLS="$T/calls" PHAUL_STAGE="$stage" PHAUL_WORK_DIR="$T/wd" \
		"$@" "$H/$hook" "$stage" >"$T/out" 2>&1 </dev/null
	local rc=$?
	if [ "$rc" -eq "$want" ] && { [ -z "$pat" ] || grep -Eq -- "$pat" "$T/out"; }; then ok "$name"
	else echo "    (exit $rc, wanted $want; pattern '$pat')" >>"$T/out"; bad "$name"; fi
}

# every hook the READMEs document exists and is executable
for f in lxc/pre-restore.d/10-lxc-config lxc/post-dump.d/10-lxc-note lxc/on-failure.d/10-log \
	openvz/pre-restore.d/10-vz-conf openvz/post-restore.d/10-vz-register openvz/on-success \
	openvz/on-failure.d/10-log; do
	if [ -f "$H/$f" ] && [ -x "$H/$f" ] && git ls-files --error-unmatch "configs/hooks/$f" >/dev/null 2>&1
	then ok "exists, executable, in git: $f"
	else echo "missing, not executable or not tracked" >"$T/out"; bad "exists, executable, in git: $f"; fi
done

mkdir -p "$T/bin" "$T/lxc/web1/rootfs" "$T/lxc/ext" "$T/srv/ext" "$T/vz" "$T/wd"
for stub in vzctl logger; do
	printf '#!/bin/sh\necho "%s $*" >>"$CALLS"\n' "$stub" >"$T/bin/$stub"
	chmod +x "$T/bin/$stub"
done
echo "lxc.uts.name = web1" >"$T/lxc/web1/config"
printf 'lxc.rootfs.path = dir:%s/srv/ext\n' "$T" >"$T/lxc/ext/config"
LXC=(PHAUL_CT=lxc:web1 PHAUL_CT_TYPE=lxc PHAUL_CT_ID=web1)

# --- LXC ---
run_hook "lxc pre-restore: config and rootfs in place pass" 0 "lxc:web1: config and rootfs" \
	lxc/pre-restore.d/10-lxc-config pre-restore "${LXC[@]}" PHAUL_SIDE=destination
run_hook "lxc pre-restore: with only PHAUL_CT (what the destination's agent sets)" 0 \
	"lxc:web1: config and rootfs" lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT=lxc:web1
run_hook "lxc pre-restore: a pid: CT with only PHAUL_CT passes untouched" 0 "" \
	lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT=pid:42
run_hook "lxc pre-restore: a dir: rootfs outside LXCPATH is found" 0 "srv/ext" \
	lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT_TYPE=lxc PHAUL_CT_ID=ext
run_hook "lxc pre-restore: a missing config fails the stage" 1 "lxc:gone: no config at" \
	lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT_TYPE=lxc PHAUL_CT_ID=gone
rmdir "$T/srv/ext"
run_hook "lxc pre-restore: a missing rootfs fails the stage" 1 "rootfs .*srv/ext is not a directory" \
	lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT_TYPE=lxc PHAUL_CT_ID=ext
run_hook "lxc pre-restore: a name from the peer with a path in it is refused" 1 "refusing container name" \
	lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT_TYPE=lxc "PHAUL_CT_ID=../../etc"
run_hook "lxc pre-restore: other CT types pass untouched" 0 "" \
	lxc/pre-restore.d/10-lxc-config pre-restore PHAUL_CT_TYPE=pid PHAUL_CT_ID=42
run_hook "lxc post-dump: the frozen CT's config is saved in the work dir" 0 "config saved" \
	lxc/post-dump.d/10-lxc-note post-dump "${LXC[@]}" PHAUL_SIDE=source
cmp -s "$T/lxc/web1/config" "$T/wd/lxc-web1.config" && ok "lxc post-dump: the copy is the config" ||
	bad "lxc post-dump: the copy is the config"
for set in lxc openvz; do
	: >"$T/calls"
	run_hook "$set on-failure: logs the failure and never fails" 0 "lxc:web1 .*failed: restore on dst failed" \
		$set/on-failure.d/10-log on-failure "${LXC[@]}" PHAUL_SIDE=source PHAUL_SRC_HOST=src \
		PHAUL_DST_HOST=dst "PHAUL_ERROR=restore on dst failed"
	grep -q '^logger -t phaul -- migration of lxc:web1' "$T/calls" && ok "$set on-failure: to syslog" ||
		{ cp "$T/calls" "$T/out"; bad "$set on-failure: to syslog"; }
done

# --- OpenVZ-style ---
printf 'VE_PRIVATE="/vz/private/$VEID"\n' >"$T/vz/101.conf"
VZ=(PHAUL_CT=pid:4242 PHAUL_CT_TYPE=pid PHAUL_CT_ID=101)
run_hook "openvz pre-restore: the CT's config arrived" 0 "CT 101: config .*101.conf in place" \
	openvz/pre-restore.d/10-vz-conf pre-restore "${VZ[@]}" PHAUL_SIDE=destination
run_hook "openvz pre-restore: with only PHAUL_CT" 0 "CT 101: config" \
	openvz/pre-restore.d/10-vz-conf pre-restore PHAUL_CT=pid:101 PHAUL_SIDE=destination
run_hook "openvz pre-restore: no config fails the stage" 1 "CT 102: no config" \
	openvz/pre-restore.d/10-vz-conf pre-restore PHAUL_CT_ID=102 PHAUL_SIDE=destination
run_hook "openvz pre-restore: a non-numeric id from the peer is refused" 1 "refusing CT id" \
	openvz/pre-restore.d/10-vz-conf pre-restore "PHAUL_CT_ID=1;reboot" PHAUL_SIDE=destination
: >"$T/calls"
run_hook "openvz post-restore: registers the CT with vzctl" 0 "" \
	openvz/post-restore.d/10-vz-register post-restore "${VZ[@]}" PHAUL_SIDE=destination
grep -qx 'vzctl register /vz/private/101 101' "$T/calls" && ok "openvz post-restore: vzctl register PRIVATE ID" ||
	{ cp "$T/calls" "$T/out"; bad "openvz post-restore: vzctl register PRIVATE ID"; }
printf '#!/bin/sh\nexit 3\n' >"$T/bin/vzctl"
run_hook "openvz post-restore: a failed register fails the stage" 1 "vzctl register .* failed" \
	openvz/post-restore.d/10-vz-register post-restore "${VZ[@]}" PHAUL_SIDE=destination
printf '#!/bin/sh\necho "vzctl $*" >>"$CALLS"\n' >"$T/bin/vzctl"
: >"$T/calls"
run_hook "openvz on-success: nothing on the destination" 0 "" \
	openvz/on-success on-success "${VZ[@]}" PHAUL_SIDE=destination
[ ! -s "$T/calls" ] && ok "openvz on-success: no vzctl on the destination" ||
	{ cp "$T/calls" "$T/out"; bad "openvz on-success: no vzctl on the destination"; }
run_hook "openvz on-success: unregisters on the source" 0 "" \
	openvz/on-success on-success "${VZ[@]}" PHAUL_SIDE=source
grep -qx 'vzctl unregister 101' "$T/calls" && ok "openvz on-success: vzctl unregister ID" ||
	{ cp "$T/calls" "$T/out"; bad "openvz on-success: vzctl unregister ID"; }

summary
