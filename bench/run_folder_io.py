"""Loading and saving a kept run folder: Run.load (every snapshot, its blobs inlined) and
Run.save (every snapshot and its blobs written again), the auditor's CPU of each.

    .venv/bin/python bench/run_folder_io.py RUN_DIR [--repeat 3]

RUN_DIR is a `fleet.py --keep` folder; it is only read (the save goes to a temporary
folder). Prints one JSON line: {"hosts", "load_cpu_s", "load_peak_rss_mib" (this
process after loading: the snapshots in memory), "save_cpu_ms_per_host" (least of
--repeat)}. Run it in a fresh process each time: peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.model.run import Run  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    cpu = time.process_time()
    run = Run.load(args.run_dir)
    load_cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sent = {name: json.loads((args.run_dir / "sent" / f"{name}.json").read_text()) for name in run.snapshots}
    best = None
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as where:
            run.run_dir = Path(where) / "run"
            cpu = time.process_time()
            run.save(sent)
            spent = time.process_time() - cpu
            best = spent if best is None else min(best, spent)
    print(json.dumps({"hosts": len(run.snapshots), "load_cpu_s": round(load_cpu, 2),
                      "load_peak_rss_mib": round(peak, 1),
                      "save_cpu_ms_per_host": round(1000 * best / len(run.snapshots), 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
