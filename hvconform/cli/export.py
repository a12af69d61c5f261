"""`python -m hvconform export csv|oscal RESULTS_OR_BUNDLE [-o FILE]`: an export written
again from a results.json or a bundle (the run itself writes both into its folder).
Exit codes: 0 written, 3 the source cannot be read or is not a run's results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.deliver.export import oscal, verdicts_csv
from hvconform.model import results

HELP = "CSV or OSCAL from a results.json or a bundle"


def add_arguments(parser) -> None:
    parser.add_argument("format", choices=("csv", "oscal"))
    parser.add_argument("source", help="results.json (its run folder's snapshots/ are used) or a bundle")
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")


def run(args) -> int:
    try:
        text = _render(args)
    except (bundle.BundleError, OSError, ValueError, KeyError, TypeError, AttributeError,
            RecursionError) as exc:
        # a results.json or bundle from elsewhere: one line, never a traceback
        print(f"error: {args.source}: cannot export it: {type(exc).__name__}: "
              f"{str(exc)[:300]}", file=sys.stderr)
        return bundle.UNREADABLE
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _render(args) -> str:
    source = Path(args.source)
    if source.suffix == ".json":
        doc = results.loads(source.read_text())
        snaps = {p.stem: p.read_bytes() for p in sorted((source.parent / "snapshots").glob("*.json"))}
    else:
        files = bundle.read(source)
        doc = results.loads(files["results.json"])
        snaps = {Path(n).stem: data for n, data in files.items() if n.startswith("snapshots/")}
    return (verdicts_csv.render(doc) if args.format == "csv"
            else json.dumps(oscal.build(doc, snaps), indent=1))
