"""Every verdict the catalog gives on the recorded lab snapshots, the catalog's pass,
fail and not-applicable cases and libvirt's 150-file domain corpus, one JSON line each,
sorted: the yardstick for a change that must not change any verdict.

    PYTHONHASHSEED=0 .venv/bin/python -m tests.verdict_census > before.jsonl
    ... change ...
    PYTHONHASHSEED=0 .venv/bin/python -m tests.verdict_census > after.jsonl
    cmp before.jsonl after.jsonl

Evidence is compared as a set (its order is not a verdict), and the hashes of the
certificates the crypto cases generate afresh on every run are left out.

`--redact` passes every artifact of every snapshot through the current redaction
catalogue (hvconform.collect.redact) first, as collection would: comparing it with
the plain census names every verdict redaction changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hvconform.collect.redact import redact_artifact
from hvconform.inputs import catalog
from hvconform.judge import engine
from hvconform.judge.kinds import fleet
from hvconform.model.snapshot import Snapshot
from tests.cases import domain  # noqa: F401 (loads the case builders)
from tests.snapshots import snap
from tests.unit.test_catalog_cases import CASES, NOT_APPLICABLE

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "tests" / "data" / "lab-snapshots"
CORPUS = ROOT.parent / "shared" / "corpus" / "libvirt-domains"


def line(src: str, control_id: str, target, verdict) -> str:
    evidence = sorted([e.source, "*" if e.source.endswith(".pem") and src.startswith("case") else e.sha256,
                       e.excerpt] for e in verdict.evidence)
    return json.dumps({"src": src, "control": control_id, "target": target, "status": verdict.status,
                       "expected": verdict.expected, "actual": verdict.actual,
                       "reason": verdict.reason, "evidence": evidence}, sort_keys=True)


def _redacted(s: Snapshot) -> Snapshot:
    for artifact in s.artifacts.values():
        redact_artifact(artifact)
    return s


def census(redact: bool = False) -> list[str]:
    global snap
    cat = catalog.load()
    out = []
    made = snap
    if redact:
        snap = lambda **kw: _redacted(made(**kw))  # noqa: E731
    lab = {h: Snapshot.load(LAB / f"{h}.json") for h in ("hardened", "default", "weak")}
    if redact:
        lab = {h: _redacted(s) for h, s in lab.items()}
    for c in cat.controls:
        if c.applies_to == "inventory":
            for o in fleet.outcomes(c.check, lab):
                out.append(line("lab", c.id, f"{o.host}:{','.join(o.vms)}", o.verdict))
        for h, s in lab.items():
            for vm in ([d.name for d in s.domains] if c.applies_to == "vm" else [None]):
                out.append(line("lab", c.id, f"{h}/{vm}", engine.judge(c, s, vm)))
    for cid, (good, bad) in CASES.items():
        c = cat.by_id(cid)
        vm = "vm1" if c.applies_to == "vm" else None
        out.append(line("case-pass", cid, vm, engine.judge(c, snap(**good), vm)))
        out.append(line("case-fail", cid, vm, engine.judge(c, snap(**bad), vm)))
    for cid, kwargs in NOT_APPLICABLE.items():
        c = cat.by_id(cid)
        vm = "vm1" if c.applies_to == "vm" else None
        out.append(line("case-na", cid, vm, engine.judge(c, snap(**kwargs), vm)))
    for path in sorted(CORPUS.glob("*.xml")):
        s = snap(domains={"vm1": path.read_text()}, running={"vm1"})
        for c in cat.controls:
            if c.applies_to == "vm":
                out.append(line("corpus:" + path.name, c.id, "vm1", engine.judge(c, s, "vm1")))
            elif c.applies_to == "inventory":
                for o in fleet.outcomes(c.check, {"h1": s}):
                    out.append(line("corpus:" + path.name, c.id, f"{o.host}:{','.join(o.vms)}",
                                    o.verdict))
    snap = made
    return sorted(out)


if __name__ == "__main__":
    lines = census(redact="--redact" in sys.argv[1:])
    sys.stdout.write("\n".join(lines) + "\n")
    print(f"{len(lines)} verdicts", file=sys.stderr)
