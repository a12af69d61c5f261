"""Snapshot: everything collected from one host, as plain data.

A snapshot is what judging reads and what a bundle carries; it never holds a live
object, so it survives JSON, xdist and replay unchanged.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

# Host statuses, as in results.schema.json.
COLLECTED, PARTIAL, UNREACHABLE, AUTH_FAILED, TIMEOUT, ERROR = (
    "collected", "partial", "unreachable", "auth_failed", "timeout", "error")


def sha256_text(text: str) -> str:
    """The hash of the bytes `text` stands for (undecodable bytes kept by surrogateescape)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def host_text(data: bytes) -> str:
    """A host's bytes as text that still holds every byte: what is not UTF-8 becomes
    lone surrogates (surrogateescape), which Artifact.settle() stores apart."""
    return data.decode("utf-8", "surrogateescape")


def readable(text: str) -> str:
    """`text` with each undecodable byte shown as U+FFFD: safe for JSON, HTML and terminals."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class Artifact:
    """One command's result on the target. `stdout` is stored after redaction and
    `sha256` is the hash of exactly what is stored, so a reviewer can re-hash it:
    the UTF-8 of `stdout`, or, when the host sent bytes that are not UTF-8,
    `stdout_base64` (those exact bytes, after redaction) while `stdout` shows each
    undecodable byte as U+FFFD for judging and reading."""

    key: str            # e.g. "file:/etc/libvirt/qemu.conf" (see collect.py for the forms)
    source: str         # the exact command line sent to the target
    rc: int
    stdout: str
    stderr: str = ""
    collected_at: str = ""
    sha256: str = ""
    redacted: bool = False
    stdout_base64: str | None = None   # only for output that is not UTF-8

    def __post_init__(self):
        if not self.sha256:
            self.sha256 = hashlib.sha256(self.raw()).hexdigest()

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def raw(self) -> bytes:
        """The stored bytes the sha256 is of."""
        if self.stdout_base64 is not None:
            return base64.b64decode(self.stdout_base64)
        return self.stdout.encode("utf-8", "surrogateescape")

    def settle(self) -> None:
        """After redaction: keep undecodable bytes apart (base64), so what is stored is
        plain JSON text and its sha256 is still that of the bytes the host sent."""
        raw = self.stdout.encode("utf-8", "surrogateescape")
        shown = raw.decode("utf-8", "replace")
        if shown != self.stdout:
            self.stdout, self.stdout_base64 = shown, base64.b64encode(raw).decode("ascii")
        self.stderr = readable(self.stderr)
        self.sha256 = hashlib.sha256(self.raw()).hexdigest()


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
