"""`python -m hvconform export csv|oscal RESULTS_OR_BUNDLE [-o FILE]`: an export written
again from a results.json or a bundle (the run itself writes both into its folder)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.deliver.export import oscal, verdicts_csv

HELP = "CSV or OSCAL from a results.json or a bundle"


def add_arguments(parser) -> None:
    parser.add_argument("format", choices=("csv", "oscal"))
    parser.add_argument("source", help="results.json (its run folder's snapshots/ are used) or a bundle")
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")


def run(args) -> int:
    source = Path(args.source)
    if source.suffix == ".json":
        doc = json.loads(source.read_text())
        snaps = {p.stem: p.read_bytes() for p in sorted((source.parent / "snapshots").glob("*.json"))}
    else:
        files = bundle.read(source)
        doc = json.loads(files["results.json"])
        snaps = {Path(n).stem: data for n, data in files.items() if n.startswith("snapshots/")}
    text = (verdicts_csv.render(doc) if args.format == "csv"
            else json.dumps(oscal.build(doc, snaps), indent=1))
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
