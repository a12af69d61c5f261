"""One bundle given to a merge (hvconform.deliver.merge), verified and read as the
hostile input it is: anyone can sign an edited bundle with a key of their own, so
every value is checked before it is used, and a problem is one line naming the
bundle (MergeError).

    part = load_part("shards/2/bundle.tar.gz", pubkey)   # Part, or MergeError
    part.snapshots, part.shard, part.entry()             # entry(): for the merged manifest
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.deliver.safe_names import UnsafeName, host_file_stem
from hvconform.inputs import shard as shard_mod
from hvconform.model.run import overlay_files
from hvconform.model.snapshot import COLLECTED, Snapshot, bundle_blobs

MAX_HOSTS = 100_000          # per bundle, and in a shard's selection
MAX_TEXT = 500               # a run id, an inventory path, a time: short strings
WAIVERS = "waivers.yaml"


class MergeError(Exception):
    """Why the bundles cannot be merged: one line per problem, each naming its bundle."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


@dataclass
class Part:
    """One bundle, verified and read."""

    path: str
    manifest: dict
    run_id: str
    inventory: str           # the inventory's path as the shard's run.json says
    started: str
    accepted_new_host_keys: bool
    shard: dict | None       # run.json's shard record (inputs/shard.py), checked
    snapshots: dict[str, Snapshot]
    sent: dict[str, list]
    waivers: bytes | None
    incomplete: dict | None  # the manifest's, checked and summed up (see _incomplete)
    sha256: str | None       # of the .tar.gz (None for an unpacked folder)
    manifest_sha256: str     # of MANIFEST.json, which pins every file: the bundle's identity
    catalog_digest: str | None   # the catalog that judged the shard
    trusted_key: bool
    overlays: list = field(default_factory=list)   # [(path, bytes, member)]: the site overlays applied

    @property
    def label(self) -> str:
        return f"shard {self.shard['label']}" if self.shard else f"run {self.run_id}"

    def entry(self) -> dict:
        """This bundle in the merged manifest's `shards`."""
        sig = self.manifest["signature"]
        return {"bundle": self.path, "run": self.run_id, "sha256": self.sha256,
                "manifest_sha256": self.manifest_sha256,
                "signer": {"fingerprint": bundle.fingerprint(sig["public_key"]),
                           "key": sig.get("key"), "checked_against_given_key": self.trusted_key},
                "shard": self.shard["label"] if self.shard else None,
                "hosts": list(self.snapshots),
                "incomplete": self.incomplete}


def load_part(path, pubkey: str | None = None) -> Part:
    """Verify and read one bundle; MergeError (one line naming it) when it cannot be used."""
    where = str(path)
    report = bundle.verify(path, pubkey)
    if not report.ok:
        first = " ".join(str(report.problems[0]).split()) if report.problems else "unknown problem"
        first = first if len(first) <= 300 else first[:297] + "..."
        more = f" (and {len(report.problems) - 1} more: python -m hvconform verify {where})" \
            if len(report.problems) > 1 else ""
        raise MergeError([f"{where}: does not verify: {first}{more}"])
    try:
        files = bundle.read(path)
    except bundle.BundleError as exc:
        raise MergeError([f"{where}: {exc}"]) from None
    manifest = report.manifest
    try:
        meta = json.loads(files["run.json"])
        return _part(where, Path(path), manifest, meta, files, report.trusted_key)
    except UnsafeName as exc:
        raise MergeError([str(exc)]) from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise MergeError([f"{where}: not a run's bundle: {_short(exc)}"]) from None


def _part(where: str, path: Path, manifest: dict, meta, files: dict, trusted: bool) -> Part:
    if not isinstance(meta, dict):
        raise ValueError("run.json is not a mapping")
    hosts = _names(meta.get("hosts"), where, "run.json: hosts")
    shard = _shard(meta.get("shard"), hosts, where)
    snapshots, sent = {}, {}
    blobs = bundle_blobs(files)                      # one text per blob, for every host
    for name in hosts:
        data = files.get(f"snapshots/{name}.json")
        if data is None:
            raise ValueError(f"run.json lists host {name} but there is no snapshots/{name}.json")
        # outputs of 512+ characters are in the bundle's blobs/ (model/snapshot.py)
        snap = Snapshot.from_dict(_mapping(json.loads(data), f"snapshots/{name}.json"), blobs)
        if snap.host != name:
            raise ValueError(f"snapshots/{name}.json is the snapshot of another host "
                             f"({_short(snap.host)!r})")
        snapshots[name] = snap
        raw_sent = files.get(f"sent/{name}.json")
        sent[name] = json.loads(raw_sent) if raw_sent is not None else []
        if not isinstance(sent[name], list):
            raise ValueError(f"sent/{name}.json is not a list")
    run_id = _text(manifest.get("run"), "the manifest's run")
    if run_id != meta.get("id"):
        raise ValueError(f"the manifest's run {run_id!r} is not run.json's "
                         f"{_short(repr(meta.get('id')))}")
    _inventory_entry(manifest.get("inventory"))
    catalog_digest = manifest.get("catalog_digest")
    if catalog_digest is not None:
        catalog_digest = _text(catalog_digest, "the manifest's catalog_digest")
    accepted = meta.get("accepted_new_host_keys")
    if not isinstance(accepted, bool):
        raise ValueError("run.json: accepted_new_host_keys is not true or false")
    return Part(path=where, manifest=manifest, run_id=run_id,
                inventory=_text(meta.get("inventory"), "run.json: inventory", empty=True),
                started=_text(meta.get("started"), "run.json: started"),
                accepted_new_host_keys=accepted, shard=shard, snapshots=snapshots, sent=sent,
                waivers=files.get(WAIVERS), incomplete=_incomplete(manifest.get("incomplete"), snapshots),
                sha256=bundle.file_sha256(path) if path.is_file() else None,
                manifest_sha256=bundle.sha256_bytes(files[bundle.MANIFEST]), trusted_key=trusted,
                catalog_digest=catalog_digest, overlays=overlay_files(files))


def _names(value, where: str, what: str) -> list[str]:
    """A list of distinct host names, each safe as a file name."""
    if not isinstance(value, list) or len(value) > MAX_HOSTS:
        raise ValueError(f"{what} is not a list of at most {MAX_HOSTS} names")
    names = [host_file_stem(n, f"{where}: {what}") for n in value]
    if len(set(names)) != len(names):
        twice = sorted(n for n, times in Counter(names).items() if times > 1)
        raise ValueError(f"{what} names {', '.join(twice[:5])} twice")
    return names


def _shard(value, hosts: list[str], where: str) -> dict | None:
    """run.json's shard record, checked: K/N, the rule, the selection it is a share of."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("run.json: shard is not a mapping")
    index, count = value.get("index"), value.get("count")
    if not (type(index) is int and type(count) is int and 1 <= index <= count <= shard_mod.MAX_SHARDS):
        raise ValueError(f"run.json: shard {_short(index)}/{_short(count)} is not K/N with 1 <= K <= N")
    if value.get("algorithm") != shard_mod.ALGORITHM:
        raise ValueError(f"run.json: shard split by {_short(value.get('algorithm'))!r}, "
                         f"this merge knows {shard_mod.ALGORITHM!r}")
    selected = _names(value.get("selected"), where, "run.json: shard.selected")
    chosen = set(selected)
    outside = [h for h in hosts if h not in chosen]
    if outside:
        raise ValueError(f"run.json: hosts {', '.join(outside[:5])} are not in the shard's selection")
    return {"index": index, "count": count, "label": f"{index}/{count}",
            "algorithm": value["algorithm"], "selected": selected}


def _incomplete(value, snapshots: dict) -> dict | None:
    """A shard's `incomplete`, as the merged manifest lists it: why it stopped, the
    hosts it did not collect (from its snapshots) and how many cases it left
    unjudged (the merge judges them all again; the shard's own manifest lists them)."""
    if value is None:
        return None
    value = _mapping(value, "the manifest's incomplete")
    why = value.get("interrupted")
    if why is not None:
        why = _text(why, "the manifest's incomplete.interrupted")
    not_judged = value.get("cases_not_judged") or []
    if not isinstance(not_judged, list):
        raise ValueError("the manifest's incomplete.cases_not_judged is not a list")
    return {"interrupted": why,
            "hosts_not_collected": [h for h, snap in snapshots.items() if snap.status != COLLECTED],
            "cases_not_judged": len(not_judged)}


def _inventory_entry(value) -> None:
    """The manifest's inventory: {path, sha256 or null}; the merged manifest keeps it."""
    value = _mapping(value, "the manifest's inventory")
    _text(value.get("path"), "the manifest's inventory.path", empty=True)
    digest = value.get("sha256")
    if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise ValueError("the manifest's inventory.sha256 is not a sha256")
    if set(value) - {"path", "sha256"}:
        raise ValueError(f"the manifest's inventory has unknown keys {sorted(set(value) - {'path', 'sha256'})[:5]}")


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a mapping")
    return value


def _text(value, what: str, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or (not value and not empty):
        raise ValueError(f"{what} is not a string of 1 to {MAX_TEXT} characters")
    return value


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."

