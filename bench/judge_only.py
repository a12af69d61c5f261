"""Judging alone: the auditor's CPU of judging a run folder's snapshots
(hvconform.audit.judge_run: every case, waivers none), without collection or reports.

    .venv/bin/python bench/judge_only.py RUN_DIR [--isolated] [--verdicts FILE]

Prints one JSON line: {"hosts", "verdicts", "cpu_s", "cpu_ms_per_host"}; loading the
snapshots is not counted; judge_run keeps Python's full collections off what is loaded,
as the fleet front end does (hvconform.audit.few_full_collections). RUN_DIR is only read (a fleet.py --keep folder, for one).
`--isolated` empties the parse caches (judge/read/memo.py) after each host, so that no
host reuses another's parse: the simulated hosts (fleet_sim.py) share most of their
texts, a real fleet's hosts far fewer. `--verdicts FILE` writes every record, one JSON
line each, sorted by test id: `cmp` two of them to show a change kept every verdict.
Run it a few times and take the least: on a shared machine CPU seconds move by 10-20%.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.audit import judge_run  # noqa: E402
from hvconform.judge import tailoring  # noqa: E402
from hvconform.judge.read import memo  # noqa: E402
from hvconform.model.run import Run, read_overlays  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--isolated", action="store_true")
    parser.add_argument("--verdicts", type=Path)
    args = parser.parse_args(argv)
    run = Run.load(args.run_dir)
    catalog = tailoring.load(read_overlays(args.run_dir))
    cpu = time.process_time()
    doc = judge_run(run, catalog, on_host=(lambda host: memo.clear_all()) if args.isolated else None)
    cpu = time.process_time() - cpu
    if args.verdicts:
        with open(args.verdicts, "w") as out:
            for record in sorted(doc["verdicts"], key=lambda r: r["test"]):
                out.write(json.dumps(record, sort_keys=True) + "\n")
    hosts = len(run.snapshots)
    print(json.dumps({"hosts": hosts, "verdicts": len(doc["verdicts"]), "cpu_s": round(cpu, 2),
                      "cpu_ms_per_host": round(1000 * cpu / max(hosts, 1), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
