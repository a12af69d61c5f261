"""Collection and judging cost, measured against the lab (`lab/lab up` first).

    .venv/bin/python bench/collect_bench.py [--hosts 30] [--repeat 5]

Prints, per figure, what was measured. Targets (DESIGN.md): a constant number of
round trips per host whatever the number of controls; hosts collected
concurrently; judging cheap next to collection.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.inputs import catalog as catalog_mod  # noqa: E402
from hvconform.judge import engine
from hvconform.inputs import inventory
from hvconform.collect.collector import collect_all, collect_host  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=30, help="concurrent hosts (lab hosts repeated)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    inv = inventory.load(ROOT / "inventories" / "lab.yaml")
    cat = catalog_mod.load()
    all_needs = engine.needs(cat.controls)

    print(f"catalog: {len(cat.controls)} controls, {len(all_needs)} static artifacts to collect")
    for h in inv.hosts:
        times, trips, arts = [], set(), set()
        for _ in range(args.repeat):
            t = time.perf_counter()
            snap, _ = collect_host(h, cat.controls)
            times.append(time.perf_counter() - t)
            trips.add(snap.round_trips)
            arts.add(len(snap.artifacts))
            assert snap.status == "collected", snap.error
        none_snap, _ = collect_host(h, [])
        print(f"{h.name:9s} one host: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) over {args.repeat}; "
              f"round trips {sorted(trips)} with all controls, {none_snap.round_trips} with none; "
              f"artifacts {sorted(arts)}")

    many = [dataclasses.replace(h, name=f"{h.name}-{i}")
            for i in range(args.hosts // len(inv.hosts)) for h in inv.hosts]
    t = time.perf_counter()
    done = collect_all(many, cat, lambda h: {})
    wall = time.perf_counter() - t
    ok = sum(s.status == "collected" for s, _ in done.values())
    print(f"{len(many)} hosts concurrently: {wall:.2f} s wall, {ok} collected, "
          f"{wall / len(many) * 1000:.0f} ms per host")

    snaps = [s for s, _ in done.values()]
    t = time.perf_counter()
    n = 0
    for s in snaps:
        for c in cat.controls:
            for vm in ([d.name for d in s.domains] if c.applies_to == "vm" else [None]):
                engine.judge(c, s, vm)
                n += 1
    took = time.perf_counter() - t
    print(f"judging: {n} verdicts in {took:.2f} s ({n / took:.0f} verdicts/s, one core)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
