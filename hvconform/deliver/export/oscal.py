"""OSCAL assessment-results (1.2) from a run: one observation and one finding per verdict.

    doc = build(results_doc, snapshot_files)    # {"assessment-results": {...}}

How the evidence is linked: a finding (control, satisfied or not) names its
observation; the observation's relevant-evidence points (href "#uuid") at one
back-matter resource per artifact, which carries the artifact's sha256 and links
to the snapshot file holding it; each snapshot file is itself a resource whose
rlink carries the SHA-256 of the file as it is in the bundle. UUIDs are v5, derived
from the run id and the target, so the same results give the same document.
Validated against the OSCAL model by the project's own tests (compliance-trestle).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from hvconform import __version__
from hvconform.deliver.bundle import sha256_bytes

OSCAL_VERSION = "1.2.1"
NS = "urn:hvconform"   # namespace of the properties OSCAL does not define
STATE = {"pass": ("satisfied", "pass")}   # everything else is not satisfied


def _uuid(run_id: str, *parts) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "hvconform:" + run_id + ":" + "/".join(
        "" if p is None else str(p) for p in parts)))


def _prop(name: str, value) -> dict | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return {"name": name, "ns": NS, "value": text} if text else None


def _props(**values) -> list[dict]:
    return [p for p in (_prop(k.replace("_", "-"), v) for k, v in values.items()) if p]


def _text(*parts) -> str:
    return "\n".join(p for p in parts if p) or "(none)"


def build(doc: dict, snapshot_files: dict[str, bytes]) -> dict:
    """`snapshot_files`: host name -> bytes of snapshots/<host>.json as bundled."""
    run = doc["run"]
    run_id = run["id"]
    finished = run.get("finished") or run["started"]
    resources, items = [], []
    snap_res = {}
    for host, data in sorted(snapshot_files.items()):
        snap_res[host] = _uuid(run_id, "snapshot", host)
        resources.append({"uuid": snap_res[host], "title": f"Snapshot of {host}",
                          "description": "Everything collected from the host, as plain JSON",
                          "rlinks": [{"href": f"snapshots/{host}.json",
                                      "media-type": "application/json",
                                      "hashes": [{"algorithm": "SHA-256",
                                                  "value": sha256_bytes(data)}]}]})
    catalog_res = _uuid(run_id, "catalog")
    resources.append({"uuid": catalog_res, "title": "hvconform catalog",
                      "description": "The controls judged: catalog/<domain>/controls.yaml",
                      "props": _props(catalog_digest=doc["tool"].get("catalog_digest")),
                      "rlinks": [{"href": "catalog/"}]})
    for h in doc.get("hosts", []):
        ident = h.get("identity") or {}
        items.append({"uuid": _uuid(run_id, "item", h["name"]),
                      "description": f"Hypervisor host {h['name']}",
                      "props": _props(host=h["name"], hostname=ident.get("hostname"),
                                      machine_id=ident.get("machine_id"),
                                      ssh_host_key=ident.get("host_key"),
                                      collection=h.get("status"))})
    vms = sorted({(r["host"], r["vm"]) for r in doc["verdicts"] if r.get("vm")})
    items += [{"uuid": _uuid(run_id, "item", host, vm), "description": f"VM {vm} on {host}",
               "props": [{"name": "virtual", "value": "yes"}] + _props(host=host, vm=vm)}
              for host, vm in vms]

    artifacts, observations, findings = {}, [], []
    for rec in doc["verdicts"]:
        target = rec["host"] + (f"/{rec['vm']}" if rec.get("vm") else "")
        evidence = []
        for e in rec.get("evidence", []):
            key = (rec["host"], e["source"], e["sha256"])
            if key not in artifacts:
                artifacts[key] = _uuid(run_id, "artifact", *key)
                resources.append({
                    "uuid": artifacts[key], "title": e["source"],
                    "description": f"Output of `{e['source']}` on {rec['host']}, stored in its snapshot",
                    "props": _props(sha256=e["sha256"], collected_at=e.get("collected_at")),
                    "rlinks": [{"href": f"snapshots/{rec['host']}.json"}]})
            evidence.append({"href": f"#{artifacts[key]}",
                             "description": _text(f"{e['source']} (sha256 {e['sha256']})",
                                                  e.get("excerpt")),
                             "props": _props(sha256=e["sha256"])})
        obs_uuid = _uuid(run_id, "observation", rec["control"], rec["host"], rec.get("vm"))
        observation = {"uuid": obs_uuid, "title": f"{rec['control']} on {target}",
                       "description": _text(f"Expected: {rec.get('expected')}",
                                            f"Actual: {rec.get('actual')}",
                                            f"Reason: {rec.get('reason')}" if rec.get("reason") else None),
                       "methods": ["TEST"],
                       "subjects": [{"subject-uuid": _uuid(run_id, "item", rec["host"], rec.get("vm"))
                                     if rec.get("vm") else _uuid(run_id, "item", rec["host"]),
                                     "type": "inventory-item"}],
                       "collected": _collected(rec, run)}
        if evidence:
            observation["relevant-evidence"] = evidence
        observations.append(observation)
        state, reason = STATE.get(rec["status"], ("not-satisfied", "fail" if rec["status"] == "fail"
                                                  else "other"))
        waiver = rec.get("waiver") or {}
        finding = {"uuid": _uuid(run_id, "finding", rec["control"], rec["host"], rec.get("vm")),
                   "title": f"{rec['control']} {rec.get('title') or ''}".strip(),
                   "description": _text(f"{rec['control']} on {target}: {rec['status']}",
                                        rec.get("remediation") and f"Remediation: {rec['remediation']}"),
                   "props": _props(status=rec["status"], severity=rec.get("severity"),
                                   domain=rec.get("domain"), host=rec["host"], vm=rec.get("vm"),
                                   waiver_approver=waiver.get("approver"),
                                   waiver_ticket=waiver.get("ticket"),
                                   waiver_expires=waiver.get("expires")),
                   "target": {"type": "objective-id", "target-id": rec["control"],
                              "status": {"state": state, "reason": reason}},
                   "related-observations": [{"observation-uuid": obs_uuid}]}
        findings.append(finding)

    controls = sorted({r["control"] for r in doc["verdicts"]})
    result = {"uuid": _uuid(run_id, "result"), "title": f"hvconform run {run_id}",
              "description": _text(f"Inventory {run.get('inventory')}",
                                   f"Replayed from {run['replayed_from']}" if run.get("replayed_from") else None),
              "start": run["started"], "end": finished,
              "reviewed-controls": {"control-selections": [
                  {"include-controls": [{"control-id": c} for c in controls]} if controls
                  else {"include-all": {}}]}}
    if items:
        result["local-definitions"] = {"inventory-items": items}
    if observations:
        result["observations"] = observations
        result["findings"] = findings
    return {"assessment-results": {
        "uuid": _uuid(run_id, "assessment-results"),
        "metadata": {"title": f"hvconform assessment results, run {run_id}",
                     "last-modified": finished, "version": __version__,
                     "oscal-version": OSCAL_VERSION},
        "import-ap": {"href": f"#{catalog_res}"},
        "results": [result],
        "back-matter": {"resources": resources}}}


def _collected(rec: dict, run: dict) -> str:
    times = [e["collected_at"] for e in rec.get("evidence", []) if e.get("collected_at")]
    return min(times) if times else run["started"]


def write(doc: dict, run_dir: Path, path: Path) -> Path:
    snaps = {p.stem: p.read_bytes() for p in sorted((Path(run_dir) / "snapshots").glob("*.json"))}
    Path(path).write_text(json.dumps(build(doc, snaps), indent=1), encoding="utf-8")
    return Path(path)
