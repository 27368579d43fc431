# shellcheck shell=bash disable=SC2154
# Negative self-test of the harness (not a default scenario): memtouch is
# told to damage a page before verifying, so its check must report FAIL and
# this scenario must be reported as failed.  selftest.sh asserts that.
# timeout: 60

wl_start src memtouch memtouch --mib 8 --rate 100 --corrupt-after-check-request >/dev/null
wl_check src memtouch 30 || fail "memtouch check failed (as it must)"
echo "memtouch check passed: the harness cannot see a corrupted page"
