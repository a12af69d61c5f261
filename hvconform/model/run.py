"""A run's folder: reports/<run-id>/ with run.json, snapshots/, blobs/ (the larger
outputs, each stored once by its sha256: model/snapshot.py) and sent/.

The controller writes it once, after collection; xdist workers and later readers
(report, replay) only read it. Everything in it is plain JSON.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.model.snapshot import BLOBS, Snapshot


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass
class Run:
    run_id: str
    run_dir: Path
    inventory: str = ""
    started: str = ""
    accepted_new_host_keys: bool = False
    snapshots: dict[str, Snapshot] = field(default_factory=dict)

    def save(self, sent: dict[str, list]) -> None:
        for name, snap in self.snapshots.items():
            snap.save(self.run_dir / "snapshots" / f"{name}.json", self.run_dir / BLOBS)
            _write(self.run_dir / "sent" / f"{name}.json", sent.get(name, []))
        _write(self.run_dir / "run.json", {
            "id": self.run_id, "inventory": self.inventory, "started": self.started,
            "accepted_new_host_keys": self.accepted_new_host_keys,
            "hosts": list(self.snapshots)})

    @classmethod
    def load(cls, run_dir: Path) -> "Run":
        run_dir = Path(run_dir)
        meta = json.loads((run_dir / "run.json").read_text())
        snaps = {h: Snapshot.load(run_dir / "snapshots" / f"{h}.json", run_dir / BLOBS)
                 for h in meta["hosts"]}
        return cls(meta["id"], run_dir, meta["inventory"], meta["started"],
                   meta["accepted_new_host_keys"], snaps)


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
