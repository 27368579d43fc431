# shellcheck shell=bash disable=SC2154
# Post-copy recovery over ssh: scenario 67 with the ssh transport. The
# cut ends the source's ssh session and the agent sshd started for it;
# phaul logs in again (libssh2, the same key), the new agent hands the
# migration's resume token to the session that holds the post-copy
# (WORK_DIR/mig-in-ID.resume), the pages flow again and it ends well:
# exit 0, every page verified on dst, nothing left on src.
# timeout: 300

. "$MIG_HERE/phaul-lib.sh"

postcopy_link_cut ssh
