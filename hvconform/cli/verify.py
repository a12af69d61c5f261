"""`python -m hvconform verify BUNDLE [--pubkey KEY.pub]`: is this evidence bundle intact?

Prints OK, or one line per file changed, added or removed, or that the signature
does not match. Exit codes: 0 OK, 1 files differ from the manifest, 2 the
signature does not match (or another key signed it), 3 not a readable bundle.
"""

from __future__ import annotations

import sys

from hvconform.deliver import bundle

HELP = "check a bundle's files and signature"


def add_arguments(parser) -> None:
    parser.add_argument("bundle", help="bundle.tar.gz, or the folder it was unpacked to")
    parser.add_argument("--pubkey", help="Ed25519 public key you trust (OpenSSH .pub or PEM)")


def run(args) -> int:
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
