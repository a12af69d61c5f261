"""Snapshot: everything collected from one host, as plain data.

A snapshot is what judging reads and what a bundle carries; it never holds a live
object, so it survives JSON, xdist and replay unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

# Host statuses, as in results.schema.json.
COLLECTED, PARTIAL, UNREACHABLE, AUTH_FAILED, TIMEOUT, ERROR = (
    "collected", "partial", "unreachable", "auth_failed", "timeout", "error")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class Artifact:
    """One command's result on the target. `stdout` is stored after redaction and
    `sha256` is the hash of exactly what is stored, so a reviewer can re-hash it."""

    key: str            # e.g. "file:/etc/libvirt/qemu.conf" (see collect.py for the forms)
    source: str         # the exact command line sent to the target
    rc: int
    stdout: str
    stderr: str = ""
    collected_at: str = ""
    sha256: str = ""
    redacted: bool = False

    def __post_init__(self):
        if not self.sha256:
            self.sha256 = sha256_text(self.stdout)

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class Domain:
    """A libvirt domain as found on the host."""

    name: str
    running: bool


@dataclass
class Snapshot:
    host: str
    status: str = COLLECTED
    error: str | None = None
    identity: dict = field(default_factory=dict)   # hostname, machine_id, host_key
    facts: dict = field(default_factory=dict)      # site facts from the inventory
    policy: dict = field(default_factory=dict)     # site policy values, defaults applied
    domains: list[Domain] = field(default_factory=list)
    qemu_pids: list[int] = field(default_factory=list)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    round_trips: int = 0

    # -- reading ---------------------------------------------------------------
    def get(self, key: str) -> Artifact | None:
        return self.artifacts.get(key)

    def file(self, path: str) -> Artifact | None:
        return self.artifacts.get(f"file:{path}")

    def stat(self, path: str) -> Artifact | None:
        return self.artifacts.get(f"stat:{path}")

    def domain_xml(self, name: str, live: bool = False) -> Artifact | None:
        return self.artifacts.get(f"domain:{name}:{'live' if live else 'inactive'}")

    def domain(self, name: str) -> Domain | None:
        return next((d for d in self.domains if d.name == name), None)

    def add(self, artifact: Artifact) -> None:
        self.artifacts[artifact.key] = artifact

    # -- plain data ------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Snapshot":
        data = dict(data)
        data["domains"] = [Domain(**d) for d in data.get("domains", [])]
        data["artifacts"] = {k: Artifact(**a) for k, a in data.get("artifacts", {}).items()}
        return cls(**data)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> "Snapshot":
        return cls.from_dict(json.loads(Path(path).read_text()))
