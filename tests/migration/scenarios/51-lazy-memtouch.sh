# shellcheck shell=bash disable=SC2154
# Lazy restore (the default) from the flat store: a 64 MiB memtouch moves
# over tcp after several pre-copy iterations, runs on dst before its memory
# is in place and verifies every page there. The report says lazy, memory
# complete, how many pages came on fault and in the background (their sum
# is every lazy page), the store's I/O, and a restore shorter than the
# eager one of a second, identical workload migrated with --restore eager.
# timeout: 420

. "$MIG_HERE/phaul-lib.sh"

phaul_memtouch 64 tcp
cp "$RESULT_DIR/migrate.json" "$RESULT_DIR/lazy.json"
phaul_json_check "$RESULT_DIR/lazy.json" '
assert rep["restore_mode"] == "lazy", rep["restore_mode"]
assert rep["memory_complete"] and rep["lazy_pages_missing"] == 0, rep
assert rep["lazy_pages_total"] >= 16000, rep["lazy_pages_total"]
assert rep["lazy_pages_fault"] + rep["lazy_pages_background"] == rep["lazy_pages_total"], rep
assert rep["memory_complete_us"] >= rep["restore_us"], rep
assert rep["store_io"] in ("io_uring", "pwrite"), rep
' || fail "the lazy report is not right"
for p in $(gpgrep dst "^memtouch"); do on_dst "kill $p"; done
on_dst "rm -f $WL_DIR/memtouch/progress"

phaul_memtouch 64 tcp --restore eager
cp "$RESULT_DIR/migrate.json" "$RESULT_DIR/eager.json"
phaul_json_check "$RESULT_DIR/eager.json" '
assert rep["restore_mode"] == "eager", rep["restore_mode"]
assert not rep["memory_complete"] and rep["lazy_pages_total"] == 0, rep
' || fail "the eager report is not right"
lazy=$(sed -n 's/.*"restore_us":\([0-9]*\).*/\1/p' "$RESULT_DIR/lazy.json" | tail -1)
eager=$(sed -n 's/.*"restore_us":\([0-9]*\).*/\1/p' "$RESULT_DIR/eager.json" | tail -1)
note "restore: lazy $((lazy / 1000)) ms, eager $((eager / 1000)) ms"
[ "$lazy" -lt "$eager" ] || fail "the lazy restore ($lazy us) is not shorter than the eager one ($eager us)"
