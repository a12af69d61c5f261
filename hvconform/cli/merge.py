"""`python -m hvconform merge BUNDLES... -o DIR`: the bundles of an audit split with
--shard K/N (or of plain runs over disjoint hosts of one inventory) joined into one
run: each bundle verified, every snapshot judged again together (the isolation
analyses across hosts see every host), and one results.json, report.html and
signed bundle written in DIR, whose manifest lists the shards.

Exit codes: 0 merged; 1 refused, nothing written (one line per problem: a bundle
that does not verify, shards that overlap or differ in catalog, inventory, split
or waivers, an unsafe host name, DIR not empty); 3 merged, but incomplete (a shard
was interrupted or is missing: its hosts show as errors, the manifest's
`incomplete` says which). No pytest in this process.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

from hvconform import audit
from hvconform.deliver import bundle
from hvconform.deliver.merge import MergeError
from hvconform.inputs.waivers import WaiverError
from hvconform.judge.tailoring import OverlayError

HELP = "join the bundles of a sharded audit (--shard K/N) into one run"
MERGED, REFUSED, INCOMPLETE = 0, 1, 3


def add_arguments(parser) -> None:
    parser.add_argument("bundles", nargs="+", help="the shards' bundle.tar.gz (or unpacked folders)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                        help="the merged run's folder (absent or empty)")
    parser.add_argument("--pubkey", help="Ed25519 public key every shard must be signed with "
                                         "(OpenSSH .pub or PEM), as verify checks it")
    parser.add_argument("--waivers", metavar="FILE",
                        help="waivers to apply instead of the shards' own (which must otherwise "
                             "be the same file in every shard)")
    parser.add_argument("--bundle-key", metavar="PATH",
                        help="the auditor's Ed25519 private key that signs the merged bundle "
                             "(default: $HVCONFORM_BUNDLE_KEY, else a key made for this run)")
    parser.add_argument("--run-id", help="the merged run's id (default: time-based)")


def run(args) -> int:
    try:
        pubkey = bundle.load_public_key(args.pubkey) if args.pubkey else None
        signer = bundle.signer_from(args.bundle_key or os.environ.get(bundle.KEY_ENV))
        merged = audit.merge(args.bundles, args.output, args.run_id, pubkey, signer, args.waivers)
    except MergeError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return REFUSED
    except (bundle.BundleError, WaiverError, OverlayError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return REFUSED
    doc, written = merged.results, merged.written
    shards = [s["shard"] or s["run"] for s in doc["run"]["merged_from"]]
    counts = Counter(v["status"] for v in doc["verdicts"])
    print(f"merged {len(shards)} bundle(s) ({', '.join(shards)}): {len(doc['hosts'])} host(s), "
          + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if doc["run"]["catalog_changed"]:
        c = doc["run"]["catalog_changed"]
        print(f"CATALOG CHANGED since the shards ({c['bundle'][:12]} -> {c['current'][:12]}): {c['note']}")
    print(f"results: {written.results}")
    print(f"report:  {written.report}")
    print(f"bundle:  {written.bundle} (verify: python -m hvconform verify {written.bundle})")
    if merged.incomplete:
        inc = merged.incomplete
        print(f"INCOMPLETE: {inc['interrupted'] or 'not interrupted'}; hosts not collected: "
              f"{', '.join(h['name'] for h in inc['hosts_not_collected']) or 'none'}; shards missing: "
              f"{', '.join(inc['shards_missing']) or 'none'}", file=sys.stderr)
        return INCOMPLETE
    return MERGED
