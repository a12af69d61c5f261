"""The auditor's CPU for each export file of the run folder, from a kept run: results.json,
commands.tsv, results.csv, OSCAL assessment-results.json and junit.xml, written as
the audit writes them at its end (results.json loaded, what was loaded out of the
garbage collector's sight as `cli/audit.py` keeps it), each alone.

    .venv/bin/python bench/export_cpu.py reports/<run> [-o DIR] [--only oscal,csv] [--repeat 3]

Prints one JSON line: writer -> least CPU seconds of --repeat writes (and all of them).
-o DIR keeps the files written (to `cmp` with another version's); by default they go
to a temporary folder, removed. Run two versions alternately in the same minutes: on a
shared machine CPU seconds move by a third from run to run.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.deliver import run_folder  # noqa: E402
from hvconform.deliver.export import junit, oscal, verdicts_csv  # noqa: E402
from hvconform.model import results  # noqa: E402

WRITERS = {
    "results.json": lambda doc, run, out: results.write(doc, out / "results.json"),
    "commands.tsv": lambda doc, run, out: run_folder.write_commands(out),
    "results.csv": lambda doc, run, out: verdicts_csv.write(doc, out / "results.csv"),
    "oscal": lambda doc, run, out: oscal.write(doc, out, out / "assessment-results.json"),
    "junit.xml": lambda doc, run, out: junit.write(doc, out / "junit.xml", seconds=1.0),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--only", default=",".join(WRITERS))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    run = args.run_dir.resolve()
    doc = results.loads((run / "results.json").read_bytes())
    gc.collect()
    gc.freeze()   # as the audit holds its records (cli/audit.py: _few_full_collections)
    gc.set_threshold(gc.get_threshold()[0], gc.get_threshold()[1], 1000)
    figures = {}
    with tempfile.TemporaryDirectory() as where:
        out = args.output or Path(where)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("snapshots", "sent"):   # what commands.tsv and OSCAL read
            if not (out / name).exists():
                (out / name).symlink_to(run / name)
        for name in args.only.split(","):
            times = []
            for _ in range(args.repeat):
                cpu = time.process_time()
                WRITERS[name](doc, run, out)
                times.append(round(time.process_time() - cpu, 2))
            figures[name] = {"cpu_s": min(times), "all": times}
    print(json.dumps({"hosts": len(doc.get("hosts", [])), "verdicts": len(doc["verdicts"]), **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
