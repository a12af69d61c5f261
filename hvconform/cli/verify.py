"""`python -m hvconform verify BUNDLE [--pubkey KEY.pub]`: is this evidence bundle intact?

Prints OK, or one line per file changed, added, removed or present twice, or that
the signature does not match. Exit codes: 0 OK, 1 files differ from the manifest
(a member twice included), 2 the signature does not match (or another key signed
it, or the manifest's signature entry is broken), 3 not a readable bundle (also
one past the limits of hvconform/deliver/bundle_archive.py, or an unusable --pubkey).
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
    sig = report.manifest["signature"]   # verify checked its shape
    # the fingerprint is computed, not read: the manifest is the signer's own word
    print_ = bundle.fingerprint(sig["public_key"])
    who = (f"the given key {print_}" if report.trusted_key else
           f"the bundle's own {_oneline(sig['key'])[:20]} key {print_} (proves integrity, "
           f"not authorship: pass --pubkey with a key you trust)")
    print(f"OK: {args.bundle}: {report.checked} files match the manifest, signed by {who}")
    incomplete = report.manifest.get("incomplete")
    if incomplete:
        print(_oneline(incomplete_note(incomplete)))
    return bundle.OK


def incomplete_note(incomplete) -> str:
    """The manifest's `incomplete` entry as one line, whatever its shape (it is the
    signer's data: a bundle from elsewhere may hold anything there)."""
    if not isinstance(incomplete, dict):
        return f"note: the run was incomplete: {str(incomplete)[:200]}"
    hosts = incomplete.get("hosts_not_collected")
    hosts = [f"{h.get('name')} {h.get('status')}" if isinstance(h, dict) else str(h)
             for h in (hosts if isinstance(hosts, list) else [])]
    cases = incomplete.get("cases_not_judged")
    return (f"note: the run was incomplete: {incomplete.get('interrupted') or 'not interrupted'}; "
            f"hosts not collected: {hosts}; "
            f"{len(cases) if isinstance(cases, list) else 0} case(s) not judged")[:2000]


def _oneline(text) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
