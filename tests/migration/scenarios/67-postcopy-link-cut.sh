# shellcheck shell=bash disable=SC2154
# Post-copy recovery: `phaul migrate --mode postcopy` of a 64 MiB memtouch
# over tcp, slowed to 4 MiB/s so that most pages are still on src when it
# runs on dst; then the link goes down for 8 s, well past both hosts' idle
# limit (3 s: without recovery the session, and the CT, would be lost),
# and comes back. phaul must reconnect (same tcp handshake, the
# migration's resume token), the pages flow again, and it ends well:
# exit 0, the JSON shows "reconnecting" then "running" then "done",
# memtouch verifies every page on dst, nothing is left on src, and dst's
# agent says the migration resumed on a new link.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

postcopy_link_cut tcp
