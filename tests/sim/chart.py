#!/usr/bin/python3
"""Chart of a balance_sim run: spread and moves per round, one panel per trace.

    tests/sim/chart.py DIR      reads DIR/{steady,diurnal,spike,noisy}.csv,
                                writes DIR/chart.png (python3-matplotlib)
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

THRESHOLD = 0.20
TRACES = ["steady", "diurnal", "spike", "noisy"]


def main():
    d = sys.argv[1]
    fig, axes = plt.subplots(len(TRACES), 1, figsize=(10, 11), constrained_layout=True)
    for ax, name in zip(axes, TRACES):
        with open(f"{d}/{name}.csv") as f:
            rows = list(csv.DictReader(f))
        r = [int(x["round"]) for x in rows]
        ax.plot(r, [float(x["spread"]) for x in rows], color="tab:blue", lw=1,
                label="spread (max-min)/max")
        ax.axhline(THRESHOLD, color="tab:red", ls="--", lw=1, label="threshold")
        ax.set_ylabel("spread")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{name}: {sum(int(x['moves']) for x in rows)} moves, "
                     f"ping-pong {rows[-1]['pingpong']}")
        ax2 = ax.twinx()
        ax2.bar(r, [int(x["moves"]) for x in rows], color="tab:green", alpha=0.4,
                width=1.0, label="moves")
        ax2.set_ylabel("moves per round")
        ax2.set_ylim(0, 10)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    axes[-1].set_xlabel("round (one balance run every 10 minutes)")
    fig.suptitle("phaul balance fleet simulation: 100 hosts, 1000 CTs, max_moves 8")
    fig.savefig(f"{d}/chart.png", dpi=80)


if __name__ == "__main__":
    main()
