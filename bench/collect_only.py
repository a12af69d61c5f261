"""Collection alone, against the simulator: the auditor's CPU per host of collecting N
simulated hosts (SSH, framing, redaction), without judging or reports.

    .venv/bin/python bench/collect_only.py --hosts 100 [--workers 32]

Prints one JSON line: {"hosts", "cpu_ms_per_host", "wall_s", "texts_repeated",
"chars_repeated"}: the last two, the share of the artifacts' non-empty stdout and stderr
texts (and of their characters) that an earlier text of the run already had, which
collect/redact.py redacts once and the snapshots store once. The simulator runs in its
own process, so its CPU is not counted (bench/fleet_sim.py says what it simulates).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fleet import start_fleet  # noqa: E402
from hvconform.collect.collector import collect_all  # noqa: E402
from hvconform.inputs import catalog as catalog_mod  # noqa: E402
from hvconform.inputs import inventory as inventory_mod  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as where:
        proc, inventory = start_fleet(args.hosts, Path(where), 600)
        try:
            inv, catalog = inventory_mod.load(inventory), catalog_mod.load()
            cpu, wall = time.process_time(), time.monotonic()
            done = collect_all(inv.hosts, catalog, lambda h: inv.policy, workers=args.workers)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    failed = {name: snap.error for name, (snap, _) in done.items() if snap.status != "collected"}
    if failed:
        print(f"not collected: {failed}", file=sys.stderr)
        return 1
    seen, texts, chars, repeated, repeated_chars = set(), 0, 0, 0, 0
    for snap, _ in done.values():
        for art in snap.artifacts.values():
            for text in (art.stdout, art.stderr):
                if text:
                    texts, chars = texts + 1, chars + len(text)
                    if text in seen:
                        repeated, repeated_chars = repeated + 1, repeated_chars + len(text)
                    seen.add(text)
    print(json.dumps({"hosts": args.hosts, "cpu_ms_per_host": round(1000 * cpu / args.hosts, 1),
                      "wall_s": round(wall, 2), "texts_repeated": round(repeated / max(texts, 1), 3),
                      "chars_repeated": round(repeated_chars / max(chars, 1), 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
