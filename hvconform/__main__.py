"""`python -m hvconform verify BUNDLE [--pubkey KEY.pub]`: is this evidence bundle intact?

Prints OK, or one line per file changed, added or removed, or that the signature
does not match. Exit codes: 0 OK, 1 files differ from the manifest, 2 the
signature does not match (or another key signed it), 3 not a readable bundle.
`python -m hvconform export csv|oscal RESULTS_OR_BUNDLE [-o FILE]` writes an export
from a results.json or a bundle (the run itself writes both into its folder).
`python -m hvconform report RESULTS [-o report.html] [--no-catalog]` renders the
auditor's report again from any results.json (a replay's, a bundle's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hvconform.deliver import bundle


def verify(args) -> int:
    try:
        pubkey = bundle.load_public_key(args.pubkey) if args.pubkey else None
    except bundle.BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return bundle.UNREADABLE
    report = bundle.verify(args.bundle, pubkey)
    for problem in report.problems:
        print(problem)
    if not report.ok:
        print(f"FAILED: {args.bundle}: {len(report.problems)} problem(s)")
        return report.code
    sig = report.manifest["signature"]
    who = (f"the given key {sig['fingerprint']}" if report.trusted_key else
           f"the bundle's own {sig['key']} key {sig['fingerprint']} (proves integrity, "
           f"not authorship: pass --pubkey with a key you trust)")
    print(f"OK: {args.bundle}: {report.checked} files match the manifest, signed by {who}")
    incomplete = report.manifest.get("incomplete")
    if incomplete:
        print(f"note: the run was incomplete: {incomplete.get('interrupted') or 'not interrupted'}; "
              f"hosts not collected: {[h['name'] + ' ' + h['status'] for h in incomplete['hosts_not_collected']]}; "
              f"{len(incomplete['cases_not_judged'])} case(s) not judged")
    return bundle.OK


def export(args) -> int:
    from hvconform.deliver.export import oscal
    from hvconform.deliver.export import verdicts_csv

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


def render_report(args) -> int:
    from hvconform.deliver.report import html as report_html
    from hvconform.inputs import catalog as catalog_mod

    if not args.results.is_file():
        print(f"error: {args.results}: no such file", file=sys.stderr)
        return 2
    catalog = None if args.no_catalog else catalog_mod.load()
    out = report_html.write(args.results, args.output or args.results.with_name("report.html"), catalog)
    print(f"report: {out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hvconform")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="check a bundle's files and signature")
    v.add_argument("bundle", help="bundle.tar.gz, or the folder it was unpacked to")
    v.add_argument("--pubkey", help="Ed25519 public key you trust (OpenSSH .pub or PEM)")
    v.set_defaults(func=verify)
    e = sub.add_parser("export", help="CSV or OSCAL from a results.json or a bundle")
    e.add_argument("format", choices=("csv", "oscal"))
    e.add_argument("source", help="results.json (its run folder's snapshots/ are used) or a bundle")
    e.add_argument("-o", "--output", help="file to write (default: standard output)")
    e.set_defaults(func=export)
    r = sub.add_parser("report", help="render the auditor's HTML report from a results.json")
    r.add_argument("results", type=Path, help="results.json of a run, a replay or a bundle")
    r.add_argument("-o", "--output", type=Path, default=None,
                   help="where to write the report (default: report.html beside results.json)")
    r.add_argument("--no-catalog", action="store_true",
                   help="use only what results.json says about each control, not this "
                        "checkout's catalog (its rationale, and the controls this run did not judge)")
    r.set_defaults(func=render_report)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
