"""python -m hvconform.deliver.report <results.json> [-o report.html] [--no-catalog]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hvconform.inputs import catalog as catalog_mod
from hvconform.deliver.report import write


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hvconform.deliver.report",
                                     description="Render an hvconform results.json as the auditor's HTML report.")
    parser.add_argument("results", type=Path, help="results.json of a run, a replay or a bundle")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="where to write the report (default: report.html beside results.json)")
    parser.add_argument("--no-catalog", action="store_true",
                        help="use only what results.json says about each control, not this "
                             "checkout's catalog (its rationale, and the controls this run did not judge)")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        parser.error(f"{args.results}: no such file")
    catalog = None if args.no_catalog else catalog_mod.load()
    out = write(args.results, args.output or args.results.with_name("report.html"), catalog)
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
