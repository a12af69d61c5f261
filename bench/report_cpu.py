"""The auditor's CPU for report.html and its host pages, from a run's results.json: the
call the audit makes at its end (deliver/run_folder.finish: results.json already
loaded, this checkout's catalog), alone.

    .venv/bin/python bench/report_cpu.py reports/<run>/results.json [-o DIR] [--no-catalog]

Prints one JSON line: {"hosts", "verdicts", "cpu_s", "cpu_ms_per_host", "wall_s"}.
One rendering a process, as in a run (what is remembered while rendering starts
empty); on a shared machine run it a few times and take the smallest.
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

from hvconform.deliver.report import html  # noqa: E402
from hvconform.inputs import catalog as catalog_mod  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="folder to render into (default: a temporary one, removed)")
    parser.add_argument("--no-catalog", action="store_true")
    args = parser.parse_args(argv)
    doc = json.loads(args.results.read_text())
    catalog = None if args.no_catalog else catalog_mod.load()
    with tempfile.TemporaryDirectory() as where:
        out = (args.output or Path(where)) / "report.html"
        cpu, wall = time.process_time(), time.monotonic()
        html.write(args.results, out, catalog, doc)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    hosts = len(doc.get("hosts", []))
    print(json.dumps({"hosts": hosts, "verdicts": len(doc.get("verdicts", [])), "cpu_s": round(cpu, 2),
                      "cpu_ms_per_host": round(1000 * cpu / max(hosts, 1), 1), "wall_s": round(wall, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
