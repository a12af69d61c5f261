"""How long each file a run writes takes to open or load, as its reader would.

    .venv/bin/python bench/open_times.py reports/<run-id>

Prints one JSON line: file -> seconds (wall; the CPU seconds too where the reader is
this process). Readers: json.loads with Python's defaults (results.json, OSCAL, a
snapshot) and hvconform's own reader of results.json (results.loads: the same parse
with the garbage collector paused, which is most of the difference), xml.etree
(junit.xml), csv (results.csv, commands.tsv), `python -m hvconform verify` (the bundle),
headless Chromium to the rendered page (report.html, the largest host page).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.model import results  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def timed(fn):
    wall, cpu = time.monotonic(), time.process_time()
    fn()
    return {"wall_s": round(time.monotonic() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def browser(url: str) -> dict:
    exe = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as profile:
        wall = time.monotonic()
        dom = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=300).stdout
    return {"wall_s": round(time.monotonic() - wall, 2), "rendered": "</html>" in dom}


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        for _ in csv.reader(f, delimiter="\t" if path.suffix == ".tsv" else ","):
            pass


def main(argv=None) -> int:
    run_dir = Path((argv or sys.argv[1:])[0])
    out = {}
    out["results.json"] = timed(lambda: json.loads((run_dir / "results.json").read_text()))
    out["results.json (results.loads)"] = timed(lambda: results.loads((run_dir / "results.json").read_text()))
    out["assessment-results.json"] = timed(
        lambda: json.loads((run_dir / "assessment-results.json").read_text()))
    out["junit.xml"] = timed(lambda: ET.parse(run_dir / "junit.xml"))
    out["results.csv"] = timed(lambda: read_csv(run_dir / "results.csv"))
    out["commands.tsv"] = timed(lambda: read_csv(run_dir / "commands.tsv"))
    biggest = max((run_dir / "snapshots").glob("*.json"), key=lambda p: p.stat().st_size)
    out["snapshots/<largest>.json"] = timed(lambda: json.loads(biggest.read_text()))
    wall = time.monotonic()
    verify = subprocess.run([sys.executable, "-m", "hvconform", "verify", str(run_dir / "bundle.tar.gz")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    out["bundle.tar.gz (verify)"] = {"wall_s": round(time.monotonic() - wall, 2), "ok": verify.returncode == 0}
    out["report.html (Chromium)"] = browser((run_dir / "report.html").resolve().as_uri())
    pages = sorted((run_dir / "report-hosts").glob("*.html"), key=lambda p: p.stat().st_size)
    if pages:
        out["report-hosts/<largest> (Chromium)"] = browser(pages[-1].resolve().as_uri())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
