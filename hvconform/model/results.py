"""results.json: one record per verdict and the document around them, as
../shared/results.schema.json says. Plain functions of plain data, so a pytest run, a
replay, a merge of shards or a re-render all write the same document.

    rec = record(control, "weak", "vm1", verdict, test="suites/...::test_x[weak/vm1-QEMU-013]")
    doc = document(run, catalog.digest, [rec, ...], finished=now())
    write(doc, run.run_dir / "results.json")
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from hvconform import __version__
from hvconform.model import identity

FILENAME = "results.json"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record(control, host: str, vm: str | None, verdict, waiver: dict | None = None,
           vms: list | None = None, test: str | None = None) -> dict:
    """The record of one verdict. `waiver`: the waiver that waived it or had expired
    (hvconform.inputs.waivers); `vms`: every VM an inventory-wide (isolation) verdict
    concerns, as host/vm; `test`: the pytest node id of the case."""
    rec = {"control": control.id, "title": control.title, "domain": control.domain,
           "severity": control.severity, "host": host, "vm": vm,
           "status": verdict.status, "expected": verdict.expected or control.expected,
           "actual": verdict.actual, "reason": verdict.reason,
           "remediation": control.remediation, "references": control.references,
           "evidence": [e.__dict__ for e in verdict.evidence]}
    if waiver:
        rec["waiver"] = waiver
    if getattr(control, "overlay", None):     # a site's own control (hvconform/inputs/overlay.py)
        rec["overlay"] = control.overlay
    if getattr(control, "tailoring", None):   # excluded or severity changed by an overlay
        rec["tailoring"] = control.tailoring
    if vms is not None:
        rec["vms"] = vms
    if test is not None:
        rec["test"] = test
    return rec


@dataclass
class Replayed:
    """Where a replayed run's evidence came from (hvconform.deliver.replay)."""

    bundle: str                    # the bundle's path
    run_id: str                    # the run that collected it
    catalog_digest: str | None     # what judged it then
    inventory: dict | None = None  # the manifest's inventory entry (path and digest)


@dataclass
class Merged:
    """Where a merged run's evidence came from (hvconform.deliver.merge): its shards."""

    shards: list[dict]             # each: bundle, run, shard label (or None), hosts
    catalog_digest: str | None     # what judged them then (the same for every shard)


@dataclass
class Extras:
    """What a run adds to its verdicts besides the run itself; every field optional."""

    profile: str | None = None
    replayed: Replayed | None = None
    interrupted: str | None = None
    not_judged: list[str] = field(default_factory=list)
    waivers_file: str | None = None
    unmatched_waivers: list[dict] = field(default_factory=list)
    vm_reconciliation: list[dict] | None = None
    overlays: list[dict] = field(default_factory=list)   # judge.tailoring.Applied.as_dict()
    merged: Merged | None = None


def document(run, catalog_digest: str, records, extras: Extras | None = None,
             finished: str | None = None) -> dict:
    """The whole results.json of `run` (hvconform.model.run.Run) with these records."""
    x = extras or Extras()
    replay = x.replayed
    # the catalog that judged the evidence first (a replay's bundle, a merge's shards)
    earlier = replay.catalog_digest if replay else x.merged.catalog_digest if x.merged else None
    shard = getattr(run, "shard", None)
    doc = {
        "tool": {"name": "hvconform", "version": __version__, "catalog_digest": catalog_digest},
        "run": {"id": run.run_id, "started": run.started, "finished": finished or now(),
                "inventory": run.inventory, "profile": x.profile,
                "replayed_from": replay.bundle if replay else None,
                "replayed_run": replay.run_id if replay else None,
                "catalog_changed": (
                    {"bundle": earlier, "current": catalog_digest,
                     "note": "verdicts are the current catalog's, judged on the bundle's evidence"}
                    if (replay or x.merged) and earlier != catalog_digest else None),
                # a shard run (--shard K/N): which share; a merge: the shards it joined
                "shard": ({k: shard[k] for k in ("index", "count", "label")} if shard else None),
                "merged_from": ([{k: m[k] for k in ("bundle", "run", "shard")} for m in x.merged.shards]
                                if x.merged else None),
                "accepted_new_host_keys": run.accepted_new_host_keys,
                "interrupted": x.interrupted, "not_judged": sorted(x.not_judged)},
        "hosts": [{"name": s.host, "status": s.status, "error": s.error,
                   "identity": s.identity, "round_trips": s.round_trips}
                  for s in run.snapshots.values()],
        # hosts sharing an SSH host key, machine-id or hostname: listed twice, or clones
        "identity_conflicts": identity.conflicts(run.snapshots),
        "verdicts": sorted(records, key=lambda r: (r["host"], r["control"], r["vm"] or "")),
        "waivers": {"file": x.waivers_file, "as_of": run.started[:10],
                    "unmatched": x.unmatched_waivers},
    }
    if x.vm_reconciliation is not None:
        doc["inventory"] = {"vms": x.vm_reconciliation}
    # the site overlays judged with: what each added, tailored and set (their bytes are
    # in the bundle's overlays/; tool.catalog_digest covers them)
    doc["catalog"] = {"overlays": list(x.overlays)}
    return doc


def write(doc: dict, path: Path) -> Path:
    """Compact JSON, one verdict a line, written as a stream: a fleet's results.json is
    hundreds of MB, which indentation made a third larger and slower to load."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {k: v for k, v in doc.items() if k != "verdicts"}
    with open(path, "w", encoding="utf-8") as out:
        out.write(_dumps(head)[:-1] + ("," if head else "") + '\n"verdicts":[\n')
        for i, rec in enumerate(doc.get("verdicts", [])):
            out.write(("," if i else "") + _dumps(rec) + "\n")
        out.write("]}\n")
    return path


def loads(data: str | bytes):
    """A results.json (or any large JSON document) parsed with the garbage collector
    paused: parsing builds millions of containers, none of them garbage, and each full
    collection on the way walked all built so far. A 1,000-host results.json (379 MB):
    8.0 s with the collector, 2.0 s without (bench/README.md). Raises as json.loads."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return json.loads(data)
    finally:
        if paused:
            gc.enable()


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))
