"""OSCAL assessment-results (1.2) from a run: an observation per verdict, and a finding
per control and outcome relating the observations of the targets with that outcome.

Sized for fleets (bench/README.md): compact JSON, written as a stream; an observation
links its evidence by hash (the excerpt that decided is in results.json and the
report); what is the control's, not the verdict's (severity, domain, remediation),
is in the catalog and results.json, not repeated in every finding. An observation's
description is "Expected: ...", "Actual: ..." and "Reason: ...", the last only when
it says something else than the Actual line.

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

import hashlib
import io
import json
import uuid
from pathlib import Path

from hvconform import __version__
from hvconform.deliver.bundle import sha256_bytes

OSCAL_VERSION = "1.2.1"
NS = "urn:hvconform"   # namespace of the properties OSCAL does not define
STATE = {"pass": ("satisfied", "pass")}   # everything else is not satisfied


def _uuid(run_id: str, *parts) -> str:
    """uuid.uuid5(NAMESPACE_URL, name) as a string, without the UUID object (a fleet
    has a million of them): sha1 of namespace and name, version 5 (the 13th digit),
    RFC 4122 variant (the top bits of the 17th digit 10)."""
    return _uuid_of(_prefix(run_id), "/".join(["" if p is None else str(p) for p in parts]))


def _prefix(run_id: str) -> bytes:
    """What every name of a run's uuids starts with, namespace included."""
    return _NAMESPACE + f"hvconform:{run_id}:".encode("utf-8")


def _uuid_of(prefix: bytes, name: str) -> str:
    x = hashlib.sha1(prefix + name.encode("utf-8")).hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
_NAMESPACE = uuid.NAMESPACE_URL.bytes


def _prop(name: str, value) -> dict | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return {"name": name, "ns": NS, "value": text} if text else None


def _prop_json(name: str, value) -> str:
    """_prop() as JSON, "" where _prop gives None; `name` is this module's, not a host's."""
    p = _prop(name, value)
    return f'{{"name":"{name}","ns":"{NS}","value":{_str(p["value"])}}}' if p else ""


def _props(**values) -> list[dict]:
    return [p for p in (_prop(k.replace("_", "-"), v) for k, v in values.items()) if p]


def _text(*parts) -> str:
    return "\n".join(p for p in parts if p) or "(none)"


class _Document:
    """The parts of the document, in the order they are written: items first, then an
    observation per verdict, each made on its own (write() streams them), the findings
    and the back-matter resources the observations named on the way."""

    def __init__(self, doc: dict, snapshot_files: dict[str, bytes]):
        self.doc, self.run = doc, doc["run"]
        self.run_id = self.run["id"]
        self._prefix = _prefix(self.run_id)
        self.finished = self.run.get("finished") or self.run["started"]
        # the back-matter: the snapshots' and the catalog's resources, then one per
        # artifact an observation named, as JSON (a fleet has tens of thousands)
        self.resources, self.artifact_resources, self.artifacts = [], [], {}
        self._targets, self._items = {}, {}
        for host, data in sorted(snapshot_files.items()):
            self.resources.append({"uuid": self.uuid("snapshot", host), "title": f"Snapshot of {host}",
                                   "description": "Everything collected from the host, as plain JSON",
                                   "rlinks": [{"href": f"snapshots/{host}.json",
                                               "media-type": "application/json",
                                               "hashes": [{"algorithm": "SHA-256",
                                                           "value": sha256_bytes(data)}]}]})
        self.catalog_res = self.uuid("catalog")
        self.resources.append({"uuid": self.catalog_res, "title": "hvconform catalog",
                               "description": "The controls judged: catalog/<domain>/controls.yaml",
                               "props": _props(catalog_digest=doc["tool"].get("catalog_digest")),
                               "rlinks": [{"href": "catalog/"}]})

    def uuid(self, *parts) -> str:
        return _uuid(self.run_id, *parts)

    def target_uuids(self, rec: dict) -> tuple[str, str]:
        """(observation, subject) uuids of a record: the finding needs the first again."""
        key = (rec["control"], rec["host"], rec.get("vm"))
        hit = self._targets.get(key)
        if hit is None:
            control, host, vm = key
            # uuid("observation", *key) without the general case's list
            name = f"observation/{control}/{host}/{'' if vm is None else vm}"
            hit = self._targets[key] = (_uuid_of(self._prefix, name), self._item(host, vm))
        return hit

    def _item(self, host: str, vm: str | None) -> str:
        """The inventory item's uuid of a host, or of a VM (when `vm`), made once."""
        key = (host, vm or None)
        if key not in self._items:
            self._items[key] = self.uuid("item", host, vm) if vm else self.uuid("item", host)
        return self._items[key]

    def items(self) -> list[dict]:
        items = []
        for h in self.doc.get("hosts", []):
            ident = h.get("identity") or {}
            items.append({"uuid": self.uuid("item", h["name"]),
                          "description": f"Hypervisor host {h['name']}",
                          "props": _props(host=h["name"], hostname=ident.get("hostname"),
                                          machine_id=ident.get("machine_id"),
                                          ssh_host_key=ident.get("host_key"),
                                          collection=h.get("status"))})
        vms = sorted({(r["host"], r["vm"]) for r in self.doc["verdicts"] if r.get("vm")})
        items += [{"uuid": self.uuid("item", host, vm), "description": f"VM {vm} on {host}",
                   "props": [{"name": "virtual", "value": "yes"}] + _props(host=host, vm=vm)}
                  for host, vm in vms]
        return items

    def observation(self, rec: dict) -> str:
        """The observation of a record as compact JSON, as json.dumps writes the object
        {"uuid", "title", "description", "methods", "subjects", "collected",
        "relevant-evidence" (if any)}, but put together from pieces: a fleet has a
        million evidence links and subjects, most of them the same few per host, so each
        is encoded once (the dict and its json.dumps were most of this file's CPU).
        Host text goes through _str, json's own string encoder: the same escaping."""
        host, items = rec["host"], rec.get("evidence", [])
        evidence = [self._evidence(host, e) for e in items]
        obs_uuid, subject = self.target_uuids(rec)
        title = f"{rec['control']} on {_target(rec)}"
        text = (f'{{"uuid":"{obs_uuid}","title":{_str(title)},"description":{_str(_description(rec))},'
                f'"methods":["TEST"],"subjects":[{{"subject-uuid":"{subject}","type":"inventory-item"}}],'
                f'"collected":{_str(_collected(items, self.run))}')
        return text + (',"relevant-evidence":[' + ",".join(evidence) + "]}" if evidence else "}")

    def _evidence(self, host: str, e: dict) -> str:
        """A relevant-evidence link, as JSON: the artifact's resource is made (once) on
        the way. The hashed artifact is the evidence; what in it decided (the excerpt)
        is in results.json and the report, not repeated here for every verdict."""
        key = (host, e["source"], e["sha256"])
        link = self.artifacts.get(key)
        if link is None:
            resource, source = self.uuid("artifact", *key), _str(e["source"])
            props = ",".join(filter(None, (_prop_json("sha256", e["sha256"]),
                                           _prop_json("collected-at", e.get("collected_at")))))
            self.artifact_resources.append(
                f'{{"uuid":"{resource}","title":{source},"props":[{props}],'
                f'"rlinks":[{{"href":{_str(f"snapshots/{host}.json")}}}]}}')
            link = self.artifacts[key] = f'{{"href":"#{resource}","description":{source}}}'
        return link

    def findings(self) -> list[dict]:
        """One finding per control and outcome (and waiver), relating the observation of
        every target with that outcome: the same verdicts as one finding per verdict, in
        a thousand times fewer objects at fleet size (bench/README.md)."""
        groups: dict[tuple, list] = {}
        for rec in self.doc["verdicts"]:
            waiver = rec.get("waiver") or {}
            key = (rec["control"], rec["status"], waiver.get("approver"), waiver.get("ticket"),
                   waiver.get("expires"))
            groups.setdefault(key, [rec]).append(self.target_uuids(rec)[0])
        out = []
        for (control, status, approver, ticket, expires), (first, *observations) in groups.items():
            state, reason = STATE.get(status, ("not-satisfied", "fail" if status == "fail" else "other"))
            targets = len(observations)
            out.append({"uuid": self.uuid("finding", control, status, approver, ticket, expires),
                        "title": f"{control} {first.get('title') or ''}".strip(),
                        "description": f"{control}: {status} on {targets} target(s)"
                                       + (f", e.g. {_target(first)}" if targets > 1 else f", {_target(first)}"),
                        "props": _props(status=status, targets=targets, waiver_approver=approver,
                                        waiver_ticket=ticket, waiver_expires=expires),
                        "target": {"type": "objective-id", "target-id": control,
                                   "status": {"state": state, "reason": reason}},
                        "related-observations": [{"observation-uuid": u} for u in observations]})
        return out

    def result_head(self) -> dict:
        controls = sorted({r["control"] for r in self.doc["verdicts"]})
        run = self.run
        result = {"uuid": self.uuid("result"), "title": f"hvconform run {self.run_id}",
                  "description": _text(f"Inventory {run.get('inventory')}",
                                       f"Replayed from {run['replayed_from']}" if run.get("replayed_from") else None),
                  "start": run["started"], "end": self.finished,
                  "reviewed-controls": {"control-selections": [
                      {"include-controls": [{"control-id": c} for c in controls]} if controls
                      else {"include-all": {}}]}}
        items = self.items()
        if items:
            result["local-definitions"] = {"inventory-items": items}
        return result

    def head(self) -> dict:
        return {"uuid": self.uuid("assessment-results"),
                "metadata": {"title": f"hvconform assessment results, run {self.run_id}",
                             "last-modified": self.finished, "version": __version__,
                             "oscal-version": OSCAL_VERSION},
                "import-ap": {"href": f"#{self.catalog_res}"}}


def _description(rec: dict) -> str:
    """Expected, actual and the reason, a line each; no Reason line where it would say
    what the Actual line says (many checks give the failing fact as both: an
    isolation finding's list of VMs was written twice)."""
    actual = f"{rec.get('actual')}"
    text = f"Expected: {rec.get('expected')}\nActual: {actual}"
    reason = rec.get("reason")
    return f"{text}\nReason: {reason}" if reason and f"{reason}" != actual else text


def _str(value) -> str:
    """A value as json.dumps writes it: a str by json's own (C) string encoder, which is
    what json.dumps calls for one, without the encoder made for each call."""
    return _encode_str(value) if type(value) is str else _dumps(value)


_encode_str = json.encoder.encode_basestring_ascii


def _target(rec: dict) -> str:
    return rec["host"] + (f"/{rec['vm']}" if rec.get("vm") else "")


def build(doc: dict, snapshot_files: dict[str, bytes]) -> dict:
    """`snapshot_files`: host name -> bytes of snapshots/<host>.json as bundled. The
    document write() writes, parsed: one way of making it."""
    out = io.StringIO()
    _write(doc, snapshot_files, out)
    return json.loads(out.getvalue())


def _collected(evidence: list, run: dict) -> str:
    times = [e["collected_at"] for e in evidence if e.get("collected_at")]
    return min(times) if times else run["started"]


CHUNK = 256


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def write(doc: dict, run_dir: Path, path: Path) -> Path:
    """The document written as a stream (observations and findings a few hundred at a
    time): a fleet's verdicts are never one object in memory."""
    snaps = {p.stem: p.read_bytes() for p in sorted((Path(run_dir) / "snapshots").glob("*.json"))}
    with open(path, "w", encoding="utf-8") as out:
        _write(doc, snaps, out)
    return Path(path)


def _write(doc: dict, snapshot_files: dict[str, bytes], out) -> None:
    d = _Document(doc, snapshot_files)
    result = d.result_head()
    out.write('{"assessment-results":' + _dumps(d.head())[:-1] + ',"results":[')
    out.write(_dumps(result)[:-1])
    verdicts = doc["verdicts"]
    if verdicts:
        out.write(',\n"observations":[\n')
        # a few hundred a line, each line one write
        for i in range(0, len(verdicts), CHUNK):
            out.write(("," if i else "") + ",".join([d.observation(r) for r in verdicts[i:i + CHUNK]]) + "\n")
        out.write('],\n"findings":[\n')
        for i, finding in enumerate(d.findings()):
            out.write(("," if i else "") + _dumps(finding) + "\n")
        out.write("]")
    out.write('}],\n"back-matter":{"resources":[' + ",".join([_dumps(r) for r in d.resources]
                                                              + d.artifact_resources) + "]}}}\n")
