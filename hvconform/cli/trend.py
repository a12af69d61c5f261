"""`python -m hvconform trend RUN_DIRS_OR_BUNDLES... [--history DIR] [--html trend.html]
[--csv trend.csv] [--pubkey KEY.pub]`: compliance per host and per domain over many runs,
with the failures each run added and fixed, as one HTML page and a CSV.

Each bundle is verified before it is read; one that does not verify (or cannot be
read) is named on stderr and skipped, and the others are still trended. Runs are
ordered by their start time. Exit codes: 0 every input trended, 1 written but some
input skipped, 2 nothing could be trended (nothing written).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hvconform.deliver import bundle, trend, trend_html

HELP = "compliance per host and domain over many runs (HTML chart and CSV)"


def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="*", type=Path, metavar="RUN_DIR_OR_BUNDLE",
                        help="run folders (reports/<run>/), bundles (.tar.gz) or unpacked bundles")
    parser.add_argument("--history", type=Path, metavar="DIR",
                        help="also every run folder and .tar.gz bundle in DIR (e.g. reports/)")
    parser.add_argument("--html", type=Path, default=Path("trend.html"),
                        help="where to write the page (default: trend.html)")
    parser.add_argument("--csv", type=Path, default=Path("trend.csv"),
                        help="where to write the CSV (default: trend.csv)")
    parser.add_argument("--pubkey", help="Ed25519 public key the bundles must be signed with "
                                         "(OpenSSH .pub or PEM); default: each bundle's own")


def run(args) -> int:
    try:
        pubkey = bundle.load_public_key(args.pubkey) if args.pubkey else None
        paths = trend.expand(args.inputs, args.history)
    except (bundle.BundleError, trend.Skipped) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print("error: nothing to trend: give run folders or bundles, or --history DIR", file=sys.stderr)
        return 2
    found = trend.read(paths, pubkey)
    for line in found.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if not found.runs:
        print(f"error: none of the {len(paths)} input(s) could be trended", file=sys.stderr)
        return 2
    t = trend.build(found.runs)
    html = trend_html.write(t, args.html, found.skipped)
    csv = trend.write_csv(t, args.csv)
    first, last = t.steps[0], t.steps[-1]
    print(f"trend of {len(t.steps)} run(s), {first.run.started_text} to {last.run.started_text}: "
          f"compliance {trend.percent(first.overall) or 'n/a'}% -> {trend.percent(last.overall) or 'n/a'}%")
    print(f"html: {html}\ncsv:  {csv}")
    return 1 if found.skipped else 0
