# shellcheck shell=bash
# link_shape / link_measure, which benchmarks rely on: the shaped link must
# be much slower than the raw one and near the asked rate.
# timeout: 180

raw=$(link_measure 16)
echo "unshaped: $raw"
link_shape 40mbit 2ms
shaped=$(link_measure 8)
echo "shaped to 40mbit: $shaped"
link_unshape
rate=$(sed -n 's/.*= \([0-9.]*\) MiB\/s/\1/p' <<<"$shaped")
# 40 Mbit/s = 4.77 MiB/s; allow for the shaper's burst and the TCG guests
awk -v r="$rate" 'BEGIN { exit !(r > 2.5 && r < 6.5) }' ||
	fail "shaped link gives $rate MiB/s, expected about 4.8"
