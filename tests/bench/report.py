#!/usr/bin/env python3
"""Benchmark results: one JSON line per run, then the medians as a table,
the targets' verdicts, a JSON file and a PNG chart.  The chart needs
matplotlib (Debian's python3-matplotlib); without it the table and the JSON
are written all the same and the chart is skipped, saying so.

  report.py criu-stats KEY < base64(stats image)   -> KEY in ms
  report.py run-line --mode M ... --json FILE --figures FILE
                                                   -> one run's JSON line
  report.py run-summary < line                     -> one line for humans
  report.py summarize RUNS.jsonl DIR               -> DIR/{table.txt,results.json,chart.png}
"""
import argparse
import base64
import json
import statistics
import struct
import sys


# ---- CRIU stats images (engine/criu_stats.proto) ---------------------------

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def pb_fields(b):
    """field number -> value (varints) or bytes (length-delimited)"""
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = struct.unpack_from("<I", b, i)[0], i + 4
        elif wt == 1:
            v, i = struct.unpack_from("<Q", b, i)[0], i + 8
        else:
            raise ValueError("wire type %d" % wt)
        out[num] = v
    return out


STATS = {"frozen_time": (1, 2), "freezing_time": (1, 1), "memdump_time": (1, 3),
         "memwrite_time": (1, 4), "restore_time": (2, 4), "forking_time": (2, 3)}


def criu_stats(key):
    data = base64.b64decode(sys.stdin.read())
    entry, field = STATS[key]
    # [service magic] stats magic, u32 size, stats_entry
    for off in (8, 4):
        try:
            n = struct.unpack_from("<I", data, off)[0]
            msg = pb_fields(data[off + 4:off + 4 + n])
            sub = pb_fields(msg[entry])
            print("%.1f" % (sub[field] / 1000.0))  # CRIU keeps usec
            return
        except (KeyError, ValueError, IndexError, struct.error):
            continue
    print("null")


# ---- one run ----------------------------------------------------------------

def num(s):
    return None if s in (None, "", "null") else float(s)


def read_figures(path):
    """KEY VALUE lines a raw mode wrote (tests/bench/modes.sh)"""
    out = {}
    try:
        for line in open(path):
            k, _, v = line.strip().partition(" ")
            if k:
                out[k] = v.strip()
    except OSError:
        pass
    return out


def read_progress(path):
    """memtouch's progress lines (KEY=VALUE fields) the runner kept: two on
    the first guest before the migration, the last one on dst after it"""
    out = []
    try:
        for line in open(path):
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if "time" in f and "dirtied" in f:
                out.append(f)
    except OSError:
        pass
    return out


def workload_figures(path):
    """What the workload itself saw: its page-dirtying rate alone (base_pps,
    between the first two samples), the work it lost from the migration's
    start to the sample on dst (lost_s: seconds of that rate not done; a
    throttle, the gap, the CPU CRIU and phaul took, fault waits all count),
    its page writes that stalled on dst (stalls, stall_ms, maxstall_ms:
    memtouch counts a write of 1 ms or more, since it arrived there) and the
    longest time it wrote no page around the migration (wgap_ms). A failed
    run's last sample is on the first guest: its work lost while phaul
    tried."""
    p = read_progress(path)
    out = {"base_pps": None, "lost_s": None, "work_pct": None, "stalls": None,
           "stall_ms": None, "maxstall_ms": None, "wgap_ms": None}
    if len(p) < 3:
        return out
    t = [float(x["time"]) for x in p]
    d = [int(x["dirtied"]) for x in p]
    if t[1] > t[0] and d[1] > d[0] and t[2] > t[1]:
        base = (d[1] - d[0]) / (t[1] - t[0])
        win = t[2] - t[1]
        out.update(base_pps=base, lost_s=max(0.0, win - (d[2] - d[1]) / base),
                   work_pct=100.0 * (d[2] - d[1]) / (base * win))
    if "stall_ms" in p[-1]:
        out.update(stalls=int(p[-1]["stalls"]), stall_ms=float(p[-1]["stall_ms"]),
                   maxstall_ms=float(p[-1]["maxstall_ms"]))
    if float(p[-1].get("write_gap_ms", 0)) > 0:
        out["wgap_ms"] = float(p[-1]["write_gap_ms"])
    return out


def postcopy_last(path):
    """The last {"event":"postcopy",...} of a run (state done or lost), or None"""
    last = None
    try:
        for line in open(path):
            if line.startswith("{") and '"event":"postcopy"' in line:
                last = json.loads(line)
    except (OSError, ValueError):
        pass
    return last


def run_line(a):
    r = {"link": a.link, "mib": int(a.mib), "dirty": a.dirty, "rate_pps": int(a.rate),
         "content": a.content, "mode": a.mode, "rep": int(a.rep),
         "wall_s": int(a.wall) / 1e6, "gap_ms": num(a.gap_ms),
         "verified": None if a.verify == "null" else a.verify == "true"}
    ok = a.gap_ms not in ("", "null") and a.verify == "true"
    reason = a.reason
    r.update(workload_figures(a.progress) if a.progress else {})
    r.update(throttle_s=None, postcopy_state=None, postcopy_pages=None,
             postcopy_requests=None, postcopy_s=None)
    fig = read_figures(a.figures) if a.figures else {}
    if fig:
        # a raw CRIU mode: its own figures, no pre-copy, no prediction
        def mib(k):
            return num(fig.get(k)) and num(fig.get(k)) / 1048576
        r.update(downtime_ms=num(fig.get("downtime_ms")), predicted_ms=None,
                 frozen_ms=num(fig.get("frozen_ms")), restore_ms=num(fig.get("restore_ms")),
                 memory_complete_ms=num(fig.get("memory_complete_ms")),
                 restore_mode=fig.get("restore_mode"),
                 wire_mib=mib("wire_bytes"), raw_mib=mib("raw_bytes"),
                 iterations=num(fig.get("iterations")), stop_reason="no pre-copy",
                 total_s=r["wall_s"])
    else:
        rep = None
        try:
            for line in open(a.json):
                if line.startswith("{") and '"event":"report"' in line:
                    rep = json.loads(line)
        except OSError:
            pass
        if rep is None:
            ok = False
            reason = reason or "no report from phaul"
        else:
            if not rep["ok"]:
                ok = False
                reason = "phaul: %s" % rep.get("error")
            lazy = rep.get("restore_mode") == "lazy"
            r.update(downtime_ms=rep["downtime_us"] / 1000,
                     predicted_ms=rep["predicted_downtime_us"] / 1000,
                     frozen_ms=rep["frozen_us"] / 1000, restore_ms=rep["restore_us"] / 1000,
                     restore_mode=rep.get("restore_mode"),
                     memory_complete_ms=(rep["memory_complete_us"] / 1000
                                         if lazy and rep.get("memory_complete") else None),
                     lazy_pages_total=rep.get("lazy_pages_total"),
                     lazy_pages_fault=rep.get("lazy_pages_fault"),
                     lazy_pages_background=rep.get("lazy_pages_background"),
                     store_io=rep.get("store_io"),
                     wire_mib=rep["wire_bytes"] / 1048576, raw_mib=rep["raw_bytes"] / 1048576,
                     iterations=len([i for i in rep["iterations"] if not i["final"]]),
                     stop_reason=rep["stop_reason"], total_s=rep["total_us"] / 1e6,
                     iteration_pages=[i["pages"] for i in rep["iterations"]],
                     throttle_pct=rep.get("throttle_pct", 0),
                     throttle_s=rep.get("throttle_us", 0) / 1e6,
                     limit_ms=rep.get("downtime_limit_us", 0) / 1000,
                     overrun_ms=rep.get("downtime_overrun_us", 0) / 1000,
                     error=rep.get("error", ""))
            pc = postcopy_last(a.json)
            if pc is not None:
                # post-copy (or hybrid's switch to it): from the switch until
                # the source was released (state done) or the CT lost
                r.update(postcopy_state=pc.get("state"),
                         postcopy_pages=pc.get("pages_served"),
                         postcopy_requests=pc.get("requests"),
                         postcopy_s=pc.get("since_switch_us", 0) / 1e6)
                if pc.get("state") != "done":
                    ok = False
                    reason = reason or "post-copy ended %s" % pc.get("state")
    r["ok"] = ok
    r["reason"] = reason
    print(json.dumps(r))


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def run_summary():
    r = json.loads(sys.stdin.read())
    if not r["ok"]:
        print("  FAILED: %s" % r["reason"])
        print("  workload while phaul tried: %s s of work lost (%s %% done); throttled %s s "
              "up to %s %%" % (fmt(r.get("lost_s"), "%.1f"), fmt(r.get("work_pct")),
                              fmt(r.get("throttle_s"), "%.1f"), fmt(r.get("throttle_pct"))))
        return
    print("  gap %s ms, downtime %s ms (predicted %s), total %s s, %s iterations (%s), "
          "wire %s MiB, frozen %s ms, restore %s ms (%s), memory complete %s ms" % (
              fmt(r["gap_ms"]), fmt(r["downtime_ms"]), fmt(r["predicted_ms"]),
              fmt(r["total_s"], "%.1f"), fmt(r["iterations"]), r["stop_reason"],
              fmt(r["wire_mib"], "%.1f"), fmt(r["frozen_ms"]), fmt(r["restore_ms"]),
              r.get("restore_mode") or "-", fmt(r.get("memory_complete_ms"))))
    print("  workload: write gap %s ms, %s pages/s alone, %s s of work lost (%s %% done), "
          "stalled %s ms on dst "
          "(%s writes, longest %s ms); throttled %s s up to %s %%%s" % (
              fmt(r.get("wgap_ms")), fmt(r.get("base_pps")), fmt(r.get("lost_s"), "%.1f"),
              fmt(r.get("work_pct")),
              fmt(r.get("stall_ms")), fmt(r.get("stalls")), fmt(r.get("maxstall_ms")),
              fmt(r.get("throttle_s"), "%.1f"), fmt(r.get("throttle_pct")),
              "" if r.get("postcopy_state") is None else
              "; post-copy %s after %s s, %s pages in %s requests" % (
                  r["postcopy_state"], fmt(r["postcopy_s"], "%.1f"),
                  fmt(r["postcopy_pages"]), fmt(r["postcopy_requests"]))))


# ---- summary ----------------------------------------------------------------

FIGS = ["gap_ms", "downtime_ms", "predicted_ms", "total_s", "iterations", "wire_mib",
        "raw_mib", "frozen_ms", "restore_ms", "memory_complete_ms", "throttle_pct",
        "throttle_s", "stall_ms", "stalls", "maxstall_ms", "lost_s", "work_pct", "postcopy_s",
        "limit_ms", "wgap_ms"]
# how the workload was slowed: a row whose runs all failed takes these from
# its failed runs (the work lost while phaul tried, then gave up)
SLOW_FIGS = ["throttle_s", "throttle_pct", "lost_s", "work_pct"]
# the modes in tests/bench/run's order; a mode not listed here is shown after them
MODES = ["cold", "fixed", "phaul", "phaul-overrun", "phaul-eager", "postcopy", "hybrid",
         "floor"]
# post-copy's modes, judged against auto-converge (phaul) in the high cell
POST_MODES = ["postcopy", "hybrid"]
# the required cell and the targets, as ratios within one run
REQ_MIB, REQ_DIRTY = 256, "medium"
GAP_RATIO = 1 / 20.0       # phaul's workload-seen gap <= 1/20 of cold's
RESTORE_RATIO = 1.5        # phaul's restore <= 1.5x the floor's


def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def ratio(a, b):
    return None if a is None or not b else a / b


def mode_order(runs):
    seen = {r["mode"] for r in runs}
    return [m for m in MODES if m in seen] + sorted(seen - set(MODES))


def summarize(runs_file, out):
    runs = [json.loads(l) for l in open(runs_file) if l.strip()]
    modes = mode_order(runs)
    cells, order = {}, []
    for r in runs:
        w = (r["link"], r["mib"], r["dirty"], r["content"])
        if w not in cells:
            cells[w] = {m: [] for m in modes}
            order.append(w)
        cells[w][r["mode"]].append(r)

    rows = []
    for w in order:
        for m in modes:
            rs = cells[w][m]
            if not rs:
                continue
            good = [r for r in rs if r["ok"]]
            row = {"link": w[0], "mib": w[1], "dirty": w[2], "rate_pps": rs[0]["rate_pps"],
                   "content": w[3], "mode": m, "runs": len(rs), "ok": len(good)}
            for k in FIGS:
                row[k] = med(good, k)
            row["attempt"] = not good
            if not good:
                for k in SLOW_FIGS:
                    row[k] = med(rs, k)
            row["restore_mode"] = "/".join(sorted({r.get("restore_mode") or "-" for r in good}))
            row["stop_reasons"] = sorted({r.get("stop_reason", "") for r in good})
            row["failures"] = [r["reason"] for r in rs if not r["ok"]]
            rows.append(row)

    cols = ("%-8s %5s %-6s %-7s %-11s %5s %-7s %8s %8s %8s %8s %7s %5s %8s %8s %7s %7s %7s"
            " %4s %6s %8s %6s")
    hdr = cols % ("link", "MiB", "dirty", "content", "mode", "ok", "restore", "gap_ms",
                  "wgap_ms", "down_ms", "pred_ms", "total_s", "iters", "wire_MiB", "raw_MiB", "frz_ms",
                  "rst_ms", "mem_ms", "thr%", "thr_s", "stall_ms", "lost_s")
    lines = ["medians over the successful runs of each mode (ok = successful/total; a row "
             "none of whose runs succeeded: thr%, thr_s, lost_s of its attempts)", hdr,
             "-" * len(hdr)]
    for r in rows:
        lines.append(cols % (
            r["link"], r["mib"], r["dirty"], r["content"], r["mode"],
            "%d/%d" % (r["ok"], r["runs"]), r["restore_mode"],
            fmt(r["gap_ms"]), fmt(r["wgap_ms"]), fmt(r["downtime_ms"]), fmt(r["predicted_ms"]),
            fmt(r["total_s"], "%.1f"), fmt(r["iterations"]), fmt(r["wire_mib"], "%.1f"),
            fmt(r["raw_mib"], "%.1f"), fmt(r["frozen_ms"]), fmt(r["restore_ms"]),
            fmt(r["memory_complete_ms"]), fmt(r["throttle_pct"]),
            fmt(r["throttle_s"], "%.1f"), fmt(r["stall_ms"]), fmt(r["lost_s"], "%.1f")))

    targets = check_targets(runs, rows)
    lines += ["", "targets (medians of the same run; PASS, FAIL, or N/A without a baseline):"]
    for t in targets:
        lines.append("  %-4s %s: %s" % (t["verdict"], t["target"], t["figures"]))
    note = chart(rows, modes, out + "/chart.png")
    lines += ["", "chart: %s" % note]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    open(out + "/table.txt", "w").write(text)
    json.dump({"rows": rows, "targets": targets, "chart": note, "runs": runs},
              open(out + "/results.json", "w"), indent=1)


def row_of(rows, mode, **kw):
    for r in rows:
        if r["mode"] == mode and all(r[k] == v for k, v in kw.items()):
            return r
    return None


def verdict(q, limit):
    return "N/A" if q is None else ("PASS" if q <= limit else "FAIL")


def check_targets(runs, rows):
    t = []
    for r in rows:
        if r["mode"] != "phaul" or r["mib"] != REQ_MIB or r["dirty"] != REQ_DIRTY:
            continue
        cell = dict(link=r["link"], mib=r["mib"], dirty=r["dirty"], content=r["content"])
        where = "%d MiB %s %s, link %s" % (r["mib"], r["dirty"], r["content"], r["link"])
        cold = row_of(rows, "cold", **cell)
        eager = row_of(rows, "phaul-eager", **cell)
        floor = row_of(rows, "floor", **cell)
        q = ratio(r["gap_ms"], cold and cold["gap_ms"])
        q2 = ratio(r["downtime_ms"], cold and cold["downtime_ms"])
        qe = ratio(eager and eager["gap_ms"], cold and cold["gap_ms"])
        t.append({"target": "downtime phaul (lazy) <= 1/20 cold (%s)" % where,
                  "verdict": verdict(q, GAP_RATIO), "ratio": q, "limit": GAP_RATIO,
                  "figures": "workload gap %s / %s ms = %s; phaul downtime_us %s / %s ms = %s;"
                             " phaul-eager gap %s ms = %s of cold" % (
                                 fmt(r["gap_ms"]), fmt(cold and cold["gap_ms"]),
                                 fmt(q, "%.3f"), fmt(r["downtime_ms"]),
                                 fmt(cold and cold["downtime_ms"]), fmt(q2, "%.3f"),
                                 fmt(eager and eager["gap_ms"]), fmt(qe, "%.3f"))})
        q = ratio(r["restore_ms"], floor and floor["restore_ms"])
        t.append({"target": "restore phaul (lazy) <= 1.5x floor's lazy restore (%s)" % where,
                  "verdict": verdict(q, RESTORE_RATIO), "ratio": q, "limit": RESTORE_RATIO,
                  "figures": "CRIU restore %s / %s ms = %s; memory complete after %s ms "
                             "(floor %s ms); phaul-eager restore %s ms" % (
                                 fmt(r["restore_ms"]), fmt(floor and floor["restore_ms"]),
                                 fmt(q, "%.2f"), fmt(r["memory_complete_ms"]),
                                 fmt(floor and floor["memory_complete_ms"]),
                                 fmt(eager and eager["restore_ms"]))})
    for r in rows:
        if r["mode"] != "phaul" or r["content"] != "pattern":
            continue
        fx = row_of(rows, "fixed", link=r["link"], mib=r["mib"], dirty=r["dirty"],
                    content="pattern")
        if fx is None:
            continue  # a cell without fixed (1024 MiB)
        q = ratio(r["wire_mib"], fx and fx["wire_mib"])
        t.append({"target": "wire bytes phaul <= 1/2 fixed (%d MiB %s pattern, link %s)" % (
            r["mib"], r["dirty"], r["link"]),
            "verdict": verdict(q, 0.5), "ratio": q, "limit": 0.5,
            "figures": "%s / %s MiB = %s" % (fmt(r["wire_mib"], "%.1f"),
                                            fmt(fx and fx["wire_mib"], "%.1f"),
                                            fmt(q, "%.3f"))})
    t += post_targets(rows)
    errs = []
    for r in runs:
        if r["mode"] == "phaul" and r["ok"] and r.get("predicted_ms") and r.get("downtime_ms"):
            errs.append((abs(r["predicted_ms"] - r["downtime_ms"]) / r["downtime_ms"],
                         "%d%s%s:%.0f/%.0f" % (r["mib"], r["dirty"][0], r["content"][0],
                                               r["predicted_ms"], r["downtime_ms"])))
    if errs:
        within = sum(1 for e, _ in errs if e <= 0.25)
        t.append({"target": "predicted downtime within 25% of measured (phaul runs)",
                  "verdict": "PASS" if within == len(errs) else "FAIL",
                  "figures": "%d of %d runs within 25%%, median error %.0f%% "
                             "(predicted/measured ms: %s)" % (
                                 within, len(errs), 100 * statistics.median(e for e, _ in errs),
                                 " ".join(s for _, s in errs))})
    for r in runs:
        if r["dirty"] != "high" or r["mode"] not in ("phaul", "fixed"):
            continue
        pages = r.get("iteration_pages") or []
        if r["mode"] == "phaul":
            conv = (r["ok"] and r["stop_reason"] == "predicted downtime under the limit"
                    and r["downtime_ms"] <= r["limit_ms"])
            fig = ("limit %s ms, throttle up to %s%%, %s iterations, stopped: %s, "
                   "downtime %s ms (predicted %s), gap %s ms%s" % (
                       fmt(r.get("limit_ms")), fmt(r.get("throttle_pct")),
                       fmt(r.get("iterations")), r.get("stop_reason"),
                       fmt(r.get("downtime_ms")), fmt(r.get("predicted_ms")),
                       fmt(r.get("gap_ms")), "" if r["ok"] else "; " + r["reason"]))
        else:
            # converged = it stopped because the delta was small
            conv = r["ok"] and r.get("stop_reason", "").startswith("64 pages")
            fig = ("no limit, no throttle, %s iterations, stopped: %s, pages per iteration "
                   "%s, downtime %s ms, gap %s ms" % (
                       fmt(r.get("iterations")), r.get("stop_reason"),
                       "/".join(str(p) for p in pages), fmt(r.get("downtime_ms")),
                       fmt(r.get("gap_ms"))))
        t.append({"target": "high dirty rate converges under auto-converge where fixed does not "
                            "(%s, %d MiB %s, rep %d)" % (r["mode"], r["mib"], r["content"],
                                                         r["rep"]),
                  "verdict": ("PASS" if conv else "FAIL") if r["mode"] == "phaul" else
                             ("converged" if conv else "did not converge"),
                  "figures": fig})
    return t


def slowed(r):
    """How long and how hard a row's workload was slowed, in words"""
    return ("%s s of work lost; throttled %s s up to %s %%; stalled on faults %s ms "
            "(%s writes, longest %s ms)" % (
                fmt(r["lost_s"], "%.1f"), fmt(r["throttle_s"], "%.1f"),
                fmt(r["throttle_pct"]), fmt(r["stall_ms"]), fmt(r["stalls"]),
                fmt(r["maxstall_ms"])))


def post_targets(rows):
    """Post-copy and hybrid against auto-converge (phaul's default, the
    baseline) in the high-dirty cell; every mode's gap against cold's in
    the 256 MiB medium-dirty cells. The high cell's gap is memtouch's
    write gap (wgap_ms): its tick gap also holds a tick's --spin work."""
    t = []
    for w in sorted({(r["link"], r["mib"], r["content"]) for r in rows if r["dirty"] == "high"}):
        cell = dict(link=w[0], mib=w[1], dirty="high", content=w[2])
        where = "%d MiB high %s, link %s" % (w[1], w[2], w[0])
        # the baseline: auto-converge that migrated (phaul under its limit,
        # else phaul-overrun), else phaul's failed attempts
        cands = [x for x in (row_of(rows, m, **cell) for m in ("phaul", "phaul-overrun"))
                 if x is not None]
        r = next((x for x in cands if x["ok"]), cands[0] if cands else None)
        if r is None:
            continue
        # phaul-overrun may not throttle at all: with the overrun allowed its
        # loop can stop (and dump over the limit) before auto-converge starts
        base = "baseline %s" % r["mode"] if r["ok"] else \
            "baseline %s (did not migrate: %s)" % (r["mode"], "; ".join(r["failures"]))
        for m in POST_MODES:
            p = row_of(rows, m, **cell)
            if p is None:
                continue
            t.append({"target": "%s migrates the high-dirty workload (%s)" % (m, where),
                      "verdict": "PASS" if p["ok"] else "FAIL",
                      "figures": "%d of %d runs; %s" % (
                          p["ok"], p["runs"], "; ".join(
                              "%s %d of %d" % (x["mode"], x["ok"], x["runs"]) for x in cands))
                      + ("" if p["ok"] else "; " + "; ".join(p["failures"]))})
            if not p["ok"]:
                continue
            q = ratio(p["wgap_ms"], r["wgap_ms"])
            t.append({"target": "workload's write gap %s <= %s's (%s)" % (m, r["mode"], where),
                      "verdict": verdict(q, 1.0), "ratio": q, "limit": 1.0,
                      "figures": "%s / %s ms = %s (tick gap %s / %s ms, downtime_us %s / %s ms)"
                                 % (fmt(p["wgap_ms"]), fmt(r["wgap_ms"]), fmt(q, "%.3f"),
                                    fmt(p["gap_ms"]), fmt(r["gap_ms"]), fmt(p["downtime_ms"]),
                                    fmt(r["downtime_ms"]))})
            q = ratio(p["total_s"], r["total_s"])
            t.append({"target": "total time %s <= %s's (%s)" % (m, r["mode"], where),
                      "verdict": verdict(q, 1.0), "ratio": q, "limit": 1.0,
                      "figures": "%s / %s s = %s (%s: post-copy %s s of it)" % (
                          fmt(p["total_s"], "%.1f"), fmt(r["total_s"], "%.1f"),
                          fmt(q, "%.2f"), m, fmt(p["postcopy_s"], "%.1f"))})
            q = ratio(p["lost_s"], r["lost_s"])
            t.append({"target": "work the workload lost, %s <= %s's (%s)" % (
                m, r["mode"], where), "verdict": verdict(q, 1.0), "ratio": q, "limit": 1.0,
                "figures": "%s / %s s = %s; %s: %s; %s: %s" % (
                    fmt(p["lost_s"], "%.1f"), fmt(r["lost_s"], "%.1f"), fmt(q, "%.2f"),
                    m, slowed(p), base, slowed(r))})
            if m == "hybrid":
                ok = bool(not p["throttle_pct"] and p["downtime_ms"] is not None
                          and p["limit_ms"] and p["downtime_ms"] <= p["limit_ms"])
                t.append({"target": "hybrid ends without throttling, under the downtime "
                                    "limit (%s)" % where,
                          "verdict": "PASS" if ok else "FAIL",
                          "figures": "throttle up to %s %%, downtime %s ms, limit %s ms" % (
                              fmt(p["throttle_pct"]), fmt(p["downtime_ms"]),
                              fmt(p["limit_ms"]))})
    for r in rows:
        if r["mode"] != "cold" or r["mib"] != REQ_MIB or r["dirty"] != REQ_DIRTY:
            continue
        cell = dict(link=r["link"], mib=r["mib"], dirty=r["dirty"], content=r["content"])
        where = "%d MiB %s %s, link %s" % (r["mib"], r["dirty"], r["content"], r["link"])
        parts = []
        for x in rows:
            if all(x[k] == v for k, v in cell.items()) and x["mode"] != "cold":
                parts.append("%s %s ms = %s" % (x["mode"], fmt(x["gap_ms"]),
                                                fmt(ratio(x["gap_ms"], r["gap_ms"]), "%.3f")))
        for m in POST_MODES:
            p = row_of(rows, m, **cell)
            if p is None:
                continue
            q = ratio(p["gap_ms"], r["gap_ms"])
            t.append({"target": "workload gap %s <= 1/20 cold (%s)" % (m, where),
                      "verdict": verdict(q, GAP_RATIO), "ratio": q, "limit": GAP_RATIO,
                      "figures": "%s / %s ms = %s; every mode's gap / cold's %s ms: %s" % (
                          fmt(p["gap_ms"]), fmt(r["gap_ms"]), fmt(q, "%.3f"),
                          fmt(r["gap_ms"]), "; ".join(parts))})
    return t


# ---- chart (matplotlib) -----------------------------------------------------

COLORS = {"restore": "#e07b39", "rest": "#4a7fb5", "gap": "black", "mem": "#7fbf7f",
          "wire": "#888888", "lost": "#b54a4a", "throttle": "#d9b440", "stall": "#8a5fb5"}


def grouped_bars(ax, slots, w, bottom, vfmt, series):
    """Side by side per slot, one bar per series (label, colour, value of a
    row), values above them, log scale from bottom; the legend on top."""
    from matplotlib.patches import Patch
    top, n = bottom * 10, len(series)
    for xi, r in slots:
        for i, (_, col, val) in enumerate(series):
            v = val(r)
            if v:
                dx = (i - (n - 1) / 2) * w / n
                ax.bar(xi + dx, v, w / n, color=col)
                ax.text(xi + dx, v * 1.15, vfmt % v, ha="center", va="bottom", fontsize=7)
                top = max(top, v)
    ax.set_yscale("log")
    ax.set_ylim(bottom, top * 20)
    ax.legend(handles=[Patch(color=col, label=lab) for lab, col, _ in series],
              loc="upper center", ncol=n, fontsize=8)


def chart(rows, modes, path):
    """Draw chart.png; returns what happened, for the table."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
        from matplotlib.lines import Line2D
    except ImportError as e:
        return "skipped (%s: install python3-matplotlib)" % e
    groups = []
    for r in rows:
        k = (r["link"], r["mib"], r["dirty"], r["content"])
        if k not in groups:
            groups.append(k)
    # one slot per (workload, mode) that has a row, a gap between workloads
    slots, x, ticks, glabels = [], 0.0, [], []
    for k in groups:
        first = x
        for m in modes:
            r = row_of(rows, m, link=k[0], mib=k[1], dirty=k[2], content=k[3])
            if r is not None:
                slots.append((x, r))
                ticks.append((x, m))
                x += 1
        glabels.append(((first + x - 1) / 2, "%d MiB %s-dirty %s, %s" % (k[1], k[2], k[3], k[0])))
        x += 0.8
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(4, 1, figsize=(max(8, 1.1 * x + 2), 18),
                                             gridspec_kw={"height_ratios": [3, 2, 2, 2]})
    fig.suptitle("phaul bench: medians per workload and mode", fontsize=14)
    w = 0.7
    # 1: downtime, restore below the rest of it (freeze, final dump, transfer)
    top = 1
    for xi, r in slots:
        down, rst = r["downtime_ms"], r["restore_ms"]
        if not r["ok"] or down is None:
            ax1.text(xi, 1, "no run\nsucceeded", ha="center", va="bottom", color="red",
                     fontsize=8)
            continue
        rst = min(rst or 0, down)
        ax1.bar(xi, rst, w, color=COLORS["restore"])
        ax1.bar(xi, down - rst, w, bottom=rst, color=COLORS["rest"])
        label = "%.0f ms" % down
        if r["gap_ms"] is not None:
            ax1.plot(xi, r["gap_ms"], marker="D", color=COLORS["gap"], markersize=6)
            label += "\ngap %.0f" % r["gap_ms"]
        if rst:
            label += "\nrst %.0f" % rst
        peak = max(down, r["gap_ms"] or 0)
        ax1.text(xi, peak * 1.15, label, ha="center", va="bottom", fontsize=7.5)
        top = max(top, peak)
    ax1.set_yscale("log")
    ax1.set_ylim(10, top * 40)
    ax1.set_ylabel("downtime, ms (log)")
    ax1.set_title("downtime (the CT stopped)", fontsize=11)
    ax1.legend(handles=[Patch(color=COLORS["restore"], label="restore (CRIU)"),
                        Patch(color=COLORS["rest"], label="freeze + final dump + transfer"),
                        Line2D([], [], marker="D", color=COLORS["gap"], linestyle="",
                               label="gap the workload saw")], loc="upper center", ncol=3,
               fontsize=8)
    # 2: restore against the time until memory is complete (lazy modes)
    grouped_bars(ax2, slots, w, 10, "%.0f", [
        ("restore (CRIU)", COLORS["restore"], lambda r: r.get("restore_ms")),
        ("memory complete", COLORS["mem"], lambda r: r.get("memory_complete_ms"))])
    ax2.set_ylabel("ms (log)")
    ax2.set_title("restore, and memory complete (lazy: from the restore's start)", fontsize=11)
    # 3: bytes on the wire
    top = 1
    for xi, r in slots:
        v = r.get("wire_mib")
        if v:
            ax3.bar(xi, v, w, color=COLORS["wire"])
            ax3.text(xi, v * 1.15, "%.1f" % v, ha="center", va="bottom", fontsize=7.5)
            top = max(top, v)
        elif v == 0:
            ax3.text(xi, 0.15, "0 (local)", ha="center", va="bottom", fontsize=7.5)
    ax3.set_yscale("log")
    ax3.set_ylim(0.1, top * 5)
    ax3.set_ylabel("MiB (log)")
    ax3.set_title("bytes on the wire", fontsize=11)
    # 4: how long and how hard the workload was slowed, in seconds
    grouped_bars(ax4, slots, w, 0.01, "%.1f", [
        ("work lost", COLORS["lost"], lambda r: r.get("lost_s")),
        ("throttled (auto-converge)", COLORS["throttle"], lambda r: r.get("throttle_s")),
        ("page writes stalled on dst", COLORS["stall"],
         lambda r: r.get("stall_ms") and r["stall_ms"] / 1000)])
    ax4.set_ylabel("s (log)")
    ax4.set_title("the workload slowed: work lost (at its own rate before), throttled, "
                  "waiting on faults", fontsize=11)
    for ax in (ax1, ax2, ax3, ax4):
        ax.set_xticks([t for t, _ in ticks])
        ax.set_xticklabels([m for _, m in ticks], fontsize=9)
        ax.set_xlim(-0.6, x - 1.2)
        ax.grid(axis="y", which="major", alpha=0.3)
        for gx, g in glabels:
            ax.annotate(g, (gx, 0), xycoords=("data", "axes fraction"), xytext=(0, -24),
                        textcoords="offset points", ha="center", va="top", fontsize=9,
                        fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.subplots_adjust(hspace=0.45)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return "chart.png (matplotlib %s)" % matplotlib.__version__


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "criu-stats":
        criu_stats(sys.argv[2])
    elif cmd == "run-line":
        ap = argparse.ArgumentParser()
        for o in ("link", "mib", "dirty", "rate", "content", "mode", "rep", "wall", "gap-ms",
                  "verify", "reason", "json", "figures", "progress"):
            ap.add_argument("--" + o, default="")
        run_line(ap.parse_args(sys.argv[2:]))
    elif cmd == "run-summary":
        run_summary()
    elif cmd == "summarize":
        summarize(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
