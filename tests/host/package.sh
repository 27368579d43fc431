#!/bin/bash
# What the operator installs: `make install`/`uninstall` into a DESTDIR, the
# systemd units (systemd-analyze verify), the man page (man -l), --version,
# and the Debian package built from a copy of this tree (dpkg-buildpackage,
# no tests inside: DEB_BUILD_OPTIONS=nocheck), its file list and control data.
# Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
NAME=pkg
. tests/host/lib.sh
# check NAME CMD...: CMD succeeds (its output in $T/out)
check() {
	local name=$1; shift
	if "$@" >"$T/out" 2>&1 </dev/null; then ok "$name"; else bad "$name"; fi
}
has() { grep -Eq -- "$1" "$2"; }

rm -f build/phaul.deb # never a stale package for the VM stage
make -s build/phaul >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

# --- version: the commit it was built from ---
commit=$(git rev-parse --short=12 HEAD 2>/dev/null)
check "--version names the git commit" has "^phaul [0-9.]+ \(commit $commit" \
	<(build/phaul --version)

# --- the man page renders and documents what it must ---
MANWIDTH=80 man -l man/phaul.8 >"$T/man.txt" 2>"$T/man.err"
if [ -s "$T/man.txt" ] && [ ! -s "$T/man.err" ] && has '^EXIT STATUS' "$T/man.txt" &&
	has '^SYNOPSIS' "$T/man.txt" && has 'phaul migrate \[OPTIONS\] CT HOST' "$T/man.txt"; then
	ok "man -l renders phaul(8) without warnings"
else
	cp "$T/man.err" "$T/out"; bad "man -l renders phaul(8) without warnings"
fi

# --- bash completion: commands, each command's options (from its --help), values ---
comp() {
	PATH=$ROOT/build:$PATH bash -c '. /usr/share/bash-completion/bash_completion
		. configs/phaul.bash-completion
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<<"$*"
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_phaul phaul "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; echo "${COMPREPLY[*]}"' _ "$@"
}
if [ -f /usr/share/bash-completion/bash_completion ]; then
	[ "$(comp phaul mig)" = migrate ] && [ "$(comp phaul migrate pid:1 --dr)" = --dry-run ] &&
		[ "$(comp phaul -t t)" = tcp ] && [ "$(comp phaul check --force cp)" = cpu ] &&
		[ "$(comp phaul agent --li)" = --listen ] && ok "bash completion: commands, options, values" ||
		{ echo "got: $(comp phaul mig) / $(comp phaul migrate pid:1 --dr)" >"$T/out"
		  bad "bash completion: commands, options, values"; }
else
	echo "bash-completion is not installed (make deps)" >"$T/out"; bad "bash completion"
fi

# --- make install / uninstall ---
D=$T/dest
check "make install into DESTDIR" make -s install DESTDIR="$D" PREFIX=/usr
for f in usr/bin/phaul etc/phaul/phaul.conf usr/share/man/man8/phaul.8 \
	usr/share/bash-completion/completions/phaul usr/lib/systemd/system/phaul-agent.service \
	usr/lib/systemd/system/phaul-agent.socket usr/lib/systemd/system/phaul-agent@.service \
	usr/share/doc/phaul/examples/hooks/lxc/pre-restore.d/10-lxc-config; do
	[ -e "$D/$f" ] || echo "missing $f" >>"$T/inst-missing"
done
[ -s "$T/inst-missing" ] && { cp "$T/inst-missing" "$T/out"; bad "install puts every file"; } ||
	ok "install puts binary, config, man page, completion, units, example hooks"
[ "$(stat -c %a "$D/var/lib/phaul")" = 700 ] && ok "install: work dir is 0700" ||
	bad "install: work dir is 0700"
grep -q '@BINDIR@' "$D"/usr/lib/systemd/system/* && bad "install: units name the binary" ||
	ok "install: units name the binary"
echo "# mine" >>"$D/etc/phaul/phaul.conf"
make -s install DESTDIR="$D" PREFIX=/usr >"$T/out" 2>&1
if grep -q '^# mine$' "$D/etc/phaul/phaul.conf" && grep -q "kept $D/etc/phaul/phaul.conf" "$T/out"; then
	ok "install never overwrites an existing file under /etc, and says so"
else
	bad "install never overwrites an existing file under /etc, and says so"
fi
make -s uninstall DESTDIR="$D" PREFIX=/usr >"$T/out" 2>&1
left=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
if [ "$left" = "./etc/phaul/phaul.conf " ] && [ -d "$D/var/lib/phaul" ]; then
	ok "uninstall removes all but the config and the work dir"
else
	echo "left: $left" >"$T/out"; bad "uninstall removes all but the config and the work dir"
fi

# --- the systemd units: verify clean (the man page found for Documentation=) ---
mkdir -p "$T/units" "$T/man/man8"
cp man/phaul.8 "$T/man/man8/"
for u in phaul-agent.service phaul-agent.socket phaul-agent@.service; do
	sed "s|@BINDIR@|$ROOT/build|g" "configs/$u" >"$T/units/$u"
done
(cd "$T/units" && MANPATH=$T/man SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
	./phaul-agent.service ./phaul-agent.socket ./phaul-agent@.service) >"$T/out" 2>&1
if [ $? -eq 0 ] && [ ! -s "$T/out" ]; then ok "systemd-analyze verify: the three units are clean"
else bad "systemd-analyze verify: the three units are clean"; fi
# the service refuses to start without a secret, clearly, and is not restarted
printf '[phaul]\nsecret_file = %s/none\nwork_dir = %s/w\n' "$T" "$T" >"$T/nosecret.conf"
build/phaul -c "$T/nosecret.conf" agent --listen 127.0.0.1:1 >"$T/out" 2>&1
rc=$?
if [ $rc -eq 2 ] && has "secret file $T/none.*head -c 32 /dev/urandom" "$T/out" &&
	grep -q '^RestartPreventExitStatus=2' configs/phaul-agent.service; then
	ok "agent without a secret exits 2 naming the file and how to make one; not restarted"
else
	echo "(exit $rc)" >>"$T/out"; bad "agent without a secret exits 2 naming the file and how to make one; not restarted"
fi

# --- the Debian package, built from a copy of the tree ---
if ! command -v dpkg-buildpackage >/dev/null; then
	echo "dpkg-buildpackage missing (make deps)" >"$T/out"; bad "deb: build"
else
	mkdir -p "$T/src/phaul"
	git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$T/src/phaul" -xf -
	(cd "$T/src/phaul" && DEB_BUILD_OPTIONS=nocheck PHAUL_COMMIT="$commit" \
		dpkg-buildpackage -us -uc -b) >"$T/deb.log" 2>&1
	deb=$(ls "$T"/src/phaul_*.deb 2>/dev/null | head -1)
	# make check's VM stage installs phaul into the guests from this package
	[ -z "$deb" ] || cp "$deb" build/phaul.deb
	if [ -n "$deb" ]; then ok "deb: dpkg-buildpackage -us -uc -b builds $(basename "$deb")"
	else cp "$T/deb.log" "$T/out"; bad "deb: dpkg-buildpackage -us -uc -b"; fi
fi
if [ -n "${deb:-}" ]; then
	dpkg-deb -c "$deb" >"$T/list"
	for f in ./usr/bin/phaul ./etc/phaul/phaul.conf ./usr/share/man/man8/phaul.8.gz \
		./usr/share/bash-completion/completions/phaul ./lib/systemd/system/phaul-agent.service \
		./lib/systemd/system/phaul-agent.socket ./lib/systemd/system/phaul-agent@.service \
		./usr/share/doc/phaul/copyright ./usr/share/doc/phaul/examples/hooks/README.md \
		./usr/share/doc/phaul/examples/hooks/openvz/post-restore.d/10-vz-register; do
		grep -q " $f\$" "$T/list" || echo "missing $f" >>"$T/missing"
	done
	[ -s "$T/missing" ] && { cp "$T/missing" "$T/out"; bad "deb: lists every file"; } ||
		ok "deb: lists binary, conffile, man page, completion, units, copyright, hooks"
	grep -Eq '^drwx------ .* \./var/lib/phaul/$' "$T/list" && ok "deb: /var/lib/phaul is 0700" ||
		{ grep var/lib "$T/list" >"$T/out"; bad "deb: /var/lib/phaul is 0700"; }
	dpkg-deb -I "$deb" >"$T/info"
	if has '^ Depends:.*criu.*rsync|^ Depends:.*rsync.*criu' "$T/info" &&
		has '^ Recommends: liblxc1' "$T/info"; then
		ok "deb: depends on criu and rsync, recommends liblxc1"
	else cp "$T/info" "$T/out"; bad "deb: depends on criu and rsync, recommends liblxc1"; fi
	dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$T/out" 2>&1
	has '^/etc/phaul/phaul.conf$' "$T/out" && ok "deb: the config is a conffile" ||
		bad "deb: the config is a conffile"
	dpkg-deb -x "$deb" "$T/x"
	MANWIDTH=80 man -l "$T/x/usr/share/man/man8/phaul.8.gz" >"$T/out" 2>&1 &&
		has '^EXIT STATUS' "$T/out" && ok "deb: man -l renders the shipped page" ||
		bad "deb: man -l renders the shipped page"
	"$T/x/usr/bin/phaul" --version >"$T/out" 2>&1
	has "\(commit $commit" "$T/out" && ok "deb: the packaged phaul --version names the commit" ||
		bad "deb: the packaged phaul --version names the commit"
fi

summary
