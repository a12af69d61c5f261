"""`python -m hvconform report RESULTS [-o report.html] [--no-catalog]`: the auditor's
report rendered again from any results.json (a replay's, a bundle's)."""

from __future__ import annotations

import sys
from pathlib import Path

from hvconform.deliver.report import html as report_html
from hvconform.inputs import catalog as catalog_mod

HELP = "render the auditor's HTML report from a results.json"


def add_arguments(parser) -> None:
    parser.add_argument("results", type=Path, help="results.json of a run, a replay or a bundle")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="where to write the report (default: report.html beside results.json)")
    parser.add_argument("--no-catalog", action="store_true",
                        help="use only what results.json says about each control, not this "
                             "checkout's catalog (its rationale, and the controls this run did not judge)")


def run(args) -> int:
    if not args.results.is_file():
        print(f"error: {args.results}: no such file", file=sys.stderr)
        return 2
    catalog = None if args.no_catalog else catalog_mod.load()
    out = report_html.write(args.results, args.output or args.results.with_name("report.html"), catalog)
    print(f"report: {out}")
    return 0
