"""One lab host's collection latency: wall time of collect_host, per round trip, and the
slowest commands (issue 11, item 4). Hold the lab lock; `lab/lab up` first.

    .venv/bin/python bench/host_latency.py [--host weak] [--repeat 7] [--top 8]

Prints one JSON line: {"host", "median_s", "min_s", "max_s", "round_trips",
"rounds_s" (median per round), "channels", "slowest" ([seconds, command] of the
median run; from the sent log's command_seconds, where the code records them),
"commands_s" (the median run's command seconds summed, per round: with "channels",
how much host time a round needed)}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.collect.collector import collect_host  # noqa: E402
from hvconform.inputs import catalog, inventory  # noqa: E402
from hvconform.inputs.policy import effective  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="weak")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    inv = inventory.load(ROOT / "inventories" / "lab.yaml")
    host = inv.host(args.host)
    controls, policy = catalog.load().controls, effective(inv.policy)
    collect_host(host, controls, policy)                      # warm: caches on both sides
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        snap, sent = collect_host(host, controls, policy)
        runs.append((time.perf_counter() - t, snap, sent))
        if snap.status != "collected":
            print(f"{args.host}: {snap.status}: {snap.error}", file=sys.stderr)
            return 1
    runs.sort(key=lambda r: r[0])
    wall, snap, sent = runs[len(runs) // 2]
    slowest = sorted(((s, line) for e in sent for s, line in zip(e.get("command_seconds") or [], e["commands"])
                      if s is not None), reverse=True)[:args.top]
    print(json.dumps({
        "host": args.host, "median_s": round(wall, 3), "min_s": round(runs[0][0], 3),
        "max_s": round(runs[-1][0], 3), "round_trips": snap.round_trips,
        "rounds_s": [round(statistics.median(r[2][i]["seconds"] for r in runs), 3)
                     for i in range(len(sent))],
        "channels": [e.get("channels", 1) for e in sent], "artifacts": len(snap.artifacts),
        "slowest": [[round(s, 3), line[:90]] for s, line in slowest],
        "commands_s": [round(sum(x for x in e.get("command_seconds") or [] if x is not None), 3)
                       for e in sent]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
