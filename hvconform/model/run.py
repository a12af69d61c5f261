"""A run's folder: reports/<run-id>/ with run.json, snapshots/, blobs/ (the larger
outputs, each stored once by its sha256: model/snapshot.py), sent/ and overlays/.

The controller claims it (`claim`: made here, never reused), writes it once, after
collection; xdist workers and later readers (report, replay) only read it.
Everything in it is plain JSON, and every file name in it goes through
hvconform.model.safe_names.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.model import safe_names
from hvconform.model.snapshot import BLOBS, Blobs, Snapshot


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


class RunIdTaken(Exception):
    """A run id whose folder exists: a finished run's, or one running now."""


def claim(reports_dir: Path, run_id: str | None = None) -> tuple[str, Path]:
    """(run id, its new folder reports_dir/<run id>), the folder made here.

    Making the folder is the lock: mkdir either creates it or fails, atomically, so of
    two runs given one id (at once, or one after the other) only the first gets it,
    and no run ever writes into another's folder or bundles its snapshots. A given
    id that is taken raises RunIdTaken (or UnsafeName); without one, a new id is
    drawn until one is free."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        rid = run_id or new_run_id()
        run_dir = safe_names.inside(reports_dir, rid, what="run id")
        try:
            run_dir.mkdir()
        except FileExistsError:
            if run_id:
                raise RunIdTaken(f"run id {run_id!r} is taken: {run_dir} exists (a run "
                                 f"finished or running there); choose another --run-id") from None
            continue
        return rid, run_dir
    raise RunIdTaken(f"no free run id in {reports_dir} after 100 tries")


@dataclass
class Run:
    run_id: str
    run_dir: Path
    inventory: str = ""
    started: str = ""
    accepted_new_host_keys: bool = False
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    # a run of one shard (--shard K/N): hvconform.inputs.shard.Shard.record(), else None
    shard: dict | None = None

    def save(self, sent: dict[str, list]) -> None:
        for name, snap in self.snapshots.items():
            snap.save(safe_names.inside(self.run_dir, "snapshots", name, suffix=".json",
                                        what="host name"), self.run_dir / BLOBS)
            _write(safe_names.inside(self.run_dir, "sent", name, suffix=".json", what="host name"),
                   sent.get(name, []))
        _write(self.run_dir / "run.json", {
            "id": self.run_id, "inventory": self.inventory, "started": self.started,
            "accepted_new_host_keys": self.accepted_new_host_keys,
            "hosts": list(self.snapshots), "shard": self.shard})

    @classmethod
    def load(cls, run_dir: Path) -> "Run":
        run_dir = Path(run_dir)
        meta = json.loads((run_dir / "run.json").read_text())
        blobs = Blobs.folder(run_dir / BLOBS)        # one text per blob, for every host
        snaps = {h: Snapshot.load(safe_names.inside(run_dir, "snapshots", h, suffix=".json",
                                                    what="host name"), blobs)
                 for h in meta["hosts"]}
        return cls(meta["id"], run_dir, meta["inventory"], meta["started"],
                   meta["accepted_new_host_keys"], snaps, meta.get("shard"))


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


# overlays/: the site overlays the run judged with (hvconform/inputs/overlay.py), copied
# byte for byte as 1.yaml, 2.yaml, ... in the order given, and where each came from.
OVERLAYS = "overlays"
OVERLAY_SOURCES = "sources.json"


def save_overlays(run_dir: Path, overlays) -> None:
    """`overlays`: [(path as given, bytes)], in order. Writes nothing when there are none."""
    folder = Path(run_dir) / OVERLAYS
    if not overlays:
        return
    sources = []
    for i, (path, text) in enumerate(overlays, 1):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.yaml").write_bytes(text)
        sources.append({"file": f"{i}.yaml", "path": str(path)})
    _write(folder / OVERLAY_SOURCES, sources)


def overlay_files(files: dict) -> list[tuple[str, bytes, str]]:
    """The overlays in a run folder's or bundle's `files` ({"overlays/1.yaml": bytes, ...}):
    [(path as first given, bytes, where they are now)], in order; [] when there are none."""
    listed = files.get(f"{OVERLAYS}/{OVERLAY_SOURCES}")
    if listed is None:
        return []
    out = []
    try:
        for entry in json.loads(listed):
            name = f"{OVERLAYS}/{entry['file']}"
            path = entry["path"]
            if not isinstance(path, str) or len(path) > 4096 or any(ord(c) < 32 for c in path):
                raise ValueError(f"a path that no file system gave: {str(path)[:60]!r}")
            if name not in files:
                raise ValueError(f"lists {entry['file']!r}, which is not there")
            out.append((entry["path"], files[name], name))
    except (ValueError, KeyError, TypeError) as exc:   # a bundle is someone else's data
        raise ValueError(f"{OVERLAYS}/{OVERLAY_SOURCES}: not a list of {{file, path}}: {exc}") from None
    return out


def read_overlays(run_dir: Path) -> list[tuple[str, bytes, str]]:
    """overlay_files() of a run folder on disk."""
    folder = Path(run_dir) / OVERLAYS
    if not folder.is_dir():
        return []
    return overlay_files({f"{OVERLAYS}/{p.name}": p.read_bytes() for p in folder.iterdir() if p.is_file()})
