#!/usr/bin/env python3
"""Benchmark results: one JSON line per run, then the medians as a table,
a JSON file and a PNG chart.  No dependency beyond python3 (the PNG is drawn
here with zlib and a 3x5 pixel font).

  report.py criu-stats KEY < base64(stats image)   -> KEY in ms
  report.py run-line --mode M ... --json FILE      -> one run's JSON line
  report.py run-summary < line                     -> one line for humans
  report.py summarize RUNS.jsonl DIR               -> DIR/{table.txt,results.json,chart.png}
"""
import argparse
import base64
import json
import statistics
import struct
import sys
import zlib


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


def run_line(a):
    r = {"link": a.link, "mib": int(a.mib), "dirty": a.dirty, "rate_pps": int(a.rate),
         "content": a.content, "mode": a.mode, "rep": int(a.rep),
         "wall_s": int(a.wall) / 1e6, "gap_ms": num(a.gap_ms),
         "verified": None if a.verify == "null" else a.verify == "true"}
    ok = a.gap_ms not in ("", "null") and a.verify == "true"
    reason = a.reason
    if a.mode == "cold":
        dt, frozen, restore, wire, raw, its = (a.cold.split(",") + [""] * 6)[:6]
        r.update(downtime_ms=num(dt) and num(dt) / 1000, predicted_ms=None,
                 frozen_ms=num(frozen), restore_ms=num(restore),
                 wire_mib=num(wire) and num(wire) / 1048576,
                 raw_mib=num(raw) and num(raw) / 1048576,
                 iterations=num(its), stop_reason="no pre-copy", total_s=r["wall_s"])
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
            r.update(downtime_ms=rep["downtime_us"] / 1000,
                     predicted_ms=rep["predicted_downtime_us"] / 1000,
                     frozen_ms=rep["frozen_us"] / 1000, restore_ms=rep["restore_us"] / 1000,
                     wire_mib=rep["wire_bytes"] / 1048576, raw_mib=rep["raw_bytes"] / 1048576,
                     iterations=len([i for i in rep["iterations"] if not i["final"]]),
                     stop_reason=rep["stop_reason"], total_s=rep["total_us"] / 1e6,
                     iteration_pages=[i["pages"] for i in rep["iterations"]],
                     throttle_pct=rep.get("throttle_pct", 0),
                     limit_ms=rep.get("downtime_limit_us", 0) / 1000,
                     overrun_ms=rep.get("downtime_overrun_us", 0) / 1000,
                     error=rep.get("error", ""))
    r["ok"] = ok
    r["reason"] = reason
    print(json.dumps(r))


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def run_summary():
    r = json.loads(sys.stdin.read())
    if not r["ok"]:
        print("  FAILED: %s" % r["reason"])
        return
    print("  gap %s ms, downtime %s ms (predicted %s), total %s s, %s iterations (%s), "
          "wire %s MiB, frozen %s ms, restore %s ms" % (
              fmt(r["gap_ms"]), fmt(r["downtime_ms"]), fmt(r["predicted_ms"]),
              fmt(r["total_s"], "%.1f"), fmt(r["iterations"]), r["stop_reason"],
              fmt(r["wire_mib"], "%.1f"), fmt(r["frozen_ms"]), fmt(r["restore_ms"])))


# ---- summary ----------------------------------------------------------------

FIGS = ["gap_ms", "downtime_ms", "predicted_ms", "total_s", "iterations", "wire_mib",
        "raw_mib", "frozen_ms", "restore_ms", "throttle_pct"]
MODES = ["cold", "fixed", "phaul"]


def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def ratio(a, b):
    return None if a is None or not b else a / b


def summarize(runs_file, out):
    runs = [json.loads(l) for l in open(runs_file) if l.strip()]
    cells, order = {}, []
    for r in runs:
        w = (r["link"], r["mib"], r["dirty"], r["content"])
        if w not in cells:
            cells[w] = {m: [] for m in MODES}
            order.append(w)
        cells[w][r["mode"]].append(r)

    rows = []
    for w in order:
        for m in MODES:
            rs = cells[w][m]
            if not rs:
                continue
            good = [r for r in rs if r["ok"]]
            row = {"link": w[0], "mib": w[1], "dirty": w[2], "rate_pps": rs[0]["rate_pps"],
                   "content": w[3], "mode": m, "runs": len(rs), "ok": len(good)}
            for k in FIGS:
                row[k] = med(good, k)
            row["stop_reasons"] = sorted({r.get("stop_reason", "") for r in good})
            row["failures"] = [r["reason"] for r in rs if not r["ok"]]
            rows.append(row)

    hdr = ("%-8s %5s %-6s %-7s %-5s %5s %8s %8s %8s %7s %5s %8s %8s %7s %7s %4s" %
           ("link", "MiB", "dirty", "content", "mode", "ok", "gap_ms", "down_ms", "pred_ms",
            "total_s", "iters", "wire_MiB", "raw_MiB", "frz_ms", "rst_ms", "thr%"))
    lines = ["medians over the successful runs of each mode (ok = successful/total)", hdr,
             "-" * len(hdr)]
    for r in rows:
        lines.append("%-8s %5d %-6s %-7s %-5s %2d/%-2d %8s %8s %8s %7s %5s %8s %8s %7s %7s %4s" % (
            r["link"], r["mib"], r["dirty"], r["content"], r["mode"], r["ok"], r["runs"],
            fmt(r["gap_ms"]), fmt(r["downtime_ms"]), fmt(r["predicted_ms"]),
            fmt(r["total_s"], "%.1f"), fmt(r["iterations"]), fmt(r["wire_mib"], "%.1f"),
            fmt(r["raw_mib"], "%.1f"), fmt(r["frozen_ms"]), fmt(r["restore_ms"]),
            fmt(r["throttle_pct"])))

    targets = check_targets(runs, rows)
    lines += ["", "targets (same-session medians):"]
    for t in targets:
        lines.append("  %-4s %s: %s" % (t["verdict"], t["target"], t["figures"]))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    open(out + "/table.txt", "w").write(text)
    json.dump({"rows": rows, "targets": targets, "runs": runs}, open(out + "/results.json", "w"),
              indent=1)
    chart(rows, out + "/chart.png")


def row_of(rows, mode, **kw):
    for r in rows:
        if r["mode"] == mode and all(r[k] == v for k, v in kw.items()):
            return r
    return None


def check_targets(runs, rows):
    t = []
    for r in rows:
        if r["mode"] != "phaul" or r["mib"] != 256 or r["dirty"] != "medium":
            continue
        cold = row_of(rows, "cold", link=r["link"], mib=256, dirty="medium", content=r["content"])
        q = ratio(r["gap_ms"], cold and cold["gap_ms"])
        q2 = ratio(r["downtime_ms"], cold and cold["downtime_ms"])
        t.append({"target": "downtime phaul <= 1/5 cold (256 MiB medium %s, link %s)" % (
            r["content"], r["link"]),
            "verdict": "?" if q is None else ("MET" if q <= 0.2 else "NOT"),
            "figures": "workload gap %s / %s ms = %s; phaul downtime_us %s / %s ms = %s" % (
                fmt(r["gap_ms"]), fmt(cold and cold["gap_ms"]), fmt(q, "%.2f"),
                fmt(r["downtime_ms"]), fmt(cold and cold["downtime_ms"]), fmt(q2, "%.2f"))})
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
            "verdict": "?" if q is None else ("MET" if q <= 0.5 else "NOT"),
            "figures": "%s / %s MiB = %s" % (fmt(r["wire_mib"], "%.1f"),
                                            fmt(fx and fx["wire_mib"], "%.1f"),
                                            fmt(q, "%.3f"))})
    errs = []
    for r in runs:
        if r["mode"] == "phaul" and r["ok"] and r.get("predicted_ms") and r.get("downtime_ms"):
            errs.append((abs(r["predicted_ms"] - r["downtime_ms"]) / r["downtime_ms"],
                         "%d%s%s:%.0f/%.0f" % (r["mib"], r["dirty"][0], r["content"][0],
                                               r["predicted_ms"], r["downtime_ms"])))
    if errs:
        within = sum(1 for e, _ in errs if e <= 0.25)
        t.append({"target": "predicted downtime within 25% of measured (phaul runs)",
                  "verdict": "MET" if within == len(errs) else "NOT",
                  "figures": "%d of %d runs within 25%%, median error %.0f%% "
                             "(predicted/measured ms: %s)" % (
                                 within, len(errs), 100 * statistics.median(e for e, _ in errs),
                                 " ".join(s for _, s in errs))})
    for r in runs:
        if r["dirty"] != "high" or r["mode"] == "cold":
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
                  "verdict": ("MET" if conv else "NOT") if r["mode"] == "phaul" else
                             ("converged" if conv else "did not converge"),
                  "figures": fig})
    return t


# ---- PNG chart --------------------------------------------------------------

FONT = {  # 3x5, rows top to bottom
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111",
    "F": "111100110100100", "G": "011100101101011", "H": "101101111101101",
    "I": "111010010010111", "J": "001001001101010", "K": "101101110101101",
    "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011",
    "R": "110101110101101", "S": "011100010001110", "T": "111010010010010",
    "U": "101101101101111", "V": "101101101101010", "W": "101101111111101",
    "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    " ": "000000000000000", ".": "000000000000010", "-": "000000111000000",
    "/": "001001010100100", ":": "000010000010000", "(": "001010010010001",
    ")": "100010010010100", "%": "101001010100101", "=": "000111000111000",
    ",": "000000000010100", "_": "000000000000111",
}
COLORS = {"cold": (90, 90, 90), "fixed": (70, 130, 200), "phaul": (230, 120, 30)}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def rect(self, x0, y0, x1, y1, c):
        for y in range(max(0, int(y0)), min(self.h, int(y1))):
            for x in range(max(0, int(x0)), min(self.w, int(x1))):
                i = (y * self.w + x) * 3
                self.px[i:i + 3] = bytes(c)

    def text(self, x, y, s, scale=2, c=(0, 0, 0)):
        for ch in str(s).upper():
            g = FONT.get(ch, FONT[" "])
            for k, bit in enumerate(g):
                if bit == "1":
                    gx, gy = k % 3, k // 3
                    self.rect(x + gx * scale, y + gy * scale, x + (gx + 1) * scale,
                              y + (gy + 1) * scale, c)
            x += 4 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(
                ">I", zlib.crc32(t + d) & 0xFFFFFFFF)
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
                ">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def chart(rows, path):
    groups = []
    for r in rows:
        k = (r["link"], r["mib"], r["dirty"], r["content"])
        if k not in groups:
            groups.append(k)
    gw = 150
    w, ph = 90 + gw * len(groups) + 20, 260
    c = Canvas(max(w, 560), 2 * ph + 120)
    c.text(10, 8, "PHAUL BENCH: MEDIANS PER MODE AND WORKLOAD", 3)
    x = 10
    for m in MODES:
        c.rect(x, 34, x + 14, 48, COLORS[m])
        c.text(x + 20, 36, m, 2)
        x += 110
    panels = [("gap_ms", "DOWNTIME SEEN BY THE WORKLOAD (MS)", "%.0f"),
              ("wire_mib", "BYTES ON THE WIRE (MIB)", "%.1f")]
    for p, (key, title, f) in enumerate(panels):
        top = 60 + p * (ph + 10)
        c.text(10, top, title, 2)
        y0, y1 = top + 30, top + ph - 40     # bar area
        vals = [r[key] for r in rows if r[key] is not None]
        vmax = max(vals) if vals else 1
        vmax = vmax * 1.1 or 1
        c.rect(80, y1, w - 10, y1 + 2, (0, 0, 0))
        c.rect(80, y0, 82, y1, (0, 0, 0))
        c.text(10, y0, f % (vmax / 1.1), 2)
        c.text(60, y1 - 10, "0", 2)
        for g, k in enumerate(groups):
            gx = 90 + g * gw
            for j, m in enumerate(MODES):
                r = row_of(rows, m, link=k[0], mib=k[1], dirty=k[2], content=k[3])
                bx = gx + j * 44
                if not r or r[key] is None:
                    c.text(bx + 8, y1 - 14, "X", 2, (200, 0, 0))
                    continue
                h = (y1 - y0) * r[key] / vmax
                c.rect(bx, y1 - h, bx + 36, y1, COLORS[m])
                c.text(bx, y1 - h - 12, f % r[key], 1 if len(f % r[key]) > 4 else 2)
            c.text(gx, y1 + 8, "%dM %s" % (k[1], k[2]), 2)
            c.text(gx, y1 + 22, "%s %s" % (k[3], k[0]), 2)
    c.png(path)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "criu-stats":
        criu_stats(sys.argv[2])
    elif cmd == "run-line":
        ap = argparse.ArgumentParser()
        for o in ("link", "mib", "dirty", "rate", "content", "mode", "rep", "wall", "gap-ms",
                  "verify", "reason", "json", "cold"):
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
