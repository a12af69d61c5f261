"""Snapshot: everything collected from one host, as plain data.

A snapshot is what judging reads and what a bundle carries; it never holds a live
object, so it survives JSON, xdist and replay unchanged.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import os
import re
import threading
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
        """The stored bytes the sha256 is of (binascii.Error if stdout_base64 is not base64)."""
        if self.stdout_base64 is not None:
            return base64.b64decode(self.stdout_base64, validate=True)
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
        """The first domain called `name`. Looked up in a dict made once per list of
        domains: each per-VM verdict looks its VM up, so a scan made judging a host
        quadratic in its VMs."""
        made = self.__dict__.get("_domains_by_name")    # not a field: never saved
        if made is None or made[0] is not self.domains or made[1] != len(self.domains):
            by_name: dict[str, Domain] = {}
            for d in self.domains:
                by_name.setdefault(d.name, d)
            made = self.__dict__["_domains_by_name"] = (self.domains, len(self.domains), by_name)
        return made[2].get(name)

    def add(self, artifact: Artifact) -> None:
        self.artifacts[artifact.key] = artifact

    # -- plain data ------------------------------------------------------------
    def to_dict(self) -> dict:
        """dataclasses.asdict, without its deep copy of every value (this is called
        once per host and its artifacts are plain strings and numbers)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["identity"], data["facts"], data["policy"] = (
            copy.deepcopy(self.identity), copy.deepcopy(self.facts), copy.deepcopy(self.policy))
        data["qemu_pids"] = list(self.qemu_pids)
        data["domains"] = [dict(d.__dict__) for d in self.domains]
        data["artifacts"] = {k: dict(a.__dict__) for k, a in self.artifacts.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict, blob=None) -> "Snapshot":
        """`blob`: where the stored blobs are (see save), for artifacts kept there: a
        Blobs, shared by the snapshots of one run or bundle, or `blob(name) -> bytes`."""
        data = dict(data)
        blobs = blob if blob is None or isinstance(blob, Blobs) else Blobs(blob)
        data["domains"] = [Domain(**d) for d in data.get("domains", [])]
        data["artifacts"] = {k: Artifact(**_inline(a, blobs)) for k, a in data.get("artifacts", {}).items()}
        return cls(**data)

    def save(self, path: Path, blobs: Path | None = None) -> None:
        """As JSON at `path`. With `blobs` (the run folder's blobs/), each stdout of
        BLOB_MIN characters or more is stored there once, named by its sha256, and the
        artifact says `"blob": <sha256>` instead of carrying it: the same file on a
        thousand hosts is one file in the run folder and in its bundle."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        if blobs is not None:
            for art in data["artifacts"].values():
                if len(art["stdout"]) >= BLOB_MIN:
                    art["blob"] = store_blob(blobs, art.pop("stdout"))
        # one artifact a line, and no indentation: json's C encoder (indent= is pure
        # Python, and was a third of a fleet's cost of saving snapshots)
        arts = data.pop("artifacts")
        head = _SORTED.encode(data)
        lines = [f"{_string(k)}: {_SORTED.encode(a)}" for k, a in sorted(arts.items())]
        path.write_text(head[:-1] + (", " if data else "") + '"artifacts": {\n'
                        + ",\n".join(lines) + "\n}}\n")

    @classmethod
    def load(cls, path: Path, blobs: "Path | Blobs | None" = None) -> "Snapshot":
        """A saved snapshot; its blobs from `blobs` (a folder, or a Blobs shared by the
        snapshots of one run), by default the run folder's (../blobs)."""
        path = Path(path)
        if not isinstance(blobs, Blobs):
            blobs = Blobs.folder(blobs if blobs is not None else path.parent.parent / BLOBS)
        return cls.from_dict(json.loads(path.read_text()), blobs)


# json.dumps(x, sort_keys=True) and json.dumps(str) without json.dumps making an
# encoder for each call (a fleet's snapshots have a quarter of a million artifacts)
_SORTED = json.JSONEncoder(sort_keys=True)
_string = json.encoder.encode_basestring_ascii


# -- content-addressed stdout (blobs/<sha256>) ---------------------------------------

BLOBS = "blobs"
BLOB_MIN = 512
_BLOB_NAME = re.compile(r"[0-9a-f]{64}\Z")


class BlobError(ValueError):
    """A snapshot names a blob that is not a sha256, is missing, or does not match it."""


def store_blob(folder: Path, text: str) -> str:
    """Write `text` as folder/<its sha256> unless it is there already; return the name."""
    data = text.encode("utf-8", "surrogateescape")
    name = hashlib.sha256(data).hexdigest()
    target = folder / name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(name + f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return name


class Blobs:
    """The blobs of one run folder or bundle, as `read(name) -> bytes` gives them: each
    read, checked against its name and decoded once, and its text shared by every
    snapshot that names it (the same file on a thousand hosts was a thousand strings
    in memory: 550 MB for 215 MB of blobs at 1,000 simulated hosts)."""

    def __init__(self, read):
        self._read = read
        self._texts: dict[str, str] = {}

    @classmethod
    def folder(cls, path: Path) -> "Blobs":
        return cls(lambda name: (Path(path) / name).read_bytes())

    def text(self, name: str, key) -> str:
        """The text of blob `name` (the artifact `key`'s, for the error); BlobError when
        it is missing or does not hash to its name."""
        text = self._texts.get(name)
        if text is None:
            try:
                data = self._read(name)
            except (OSError, KeyError) as exc:
                raise BlobError(f"artifact {key!r}: blob {name} is missing ({exc})") from None
            if hashlib.sha256(data).hexdigest() != name:
                raise BlobError(f"artifact {key!r}: blob {name} does not match its sha256")
            text = self._texts[name] = data.decode("utf-8", "surrogateescape")
        return text


def _inline(art: dict, blobs: Blobs | None) -> dict:
    """An artifact's dict with its stdout back in place of its blob name. The name comes
    from the snapshot file (a bundle's: hostile), so it must be a sha256, and what the
    blob holds must hash to it."""
    if "blob" not in art:
        return art
    art = dict(art)
    name = art.pop("blob")
    if not isinstance(name, str) or not _BLOB_NAME.match(name):
        raise BlobError(f"artifact {art.get('key')!r}: blob name is not a sha256: {str(name)[:80]!r}")
    if blobs is None:
        raise BlobError(f"artifact {art.get('key')!r}: its stdout is in blob {name}, and no blobs were given")
    art["stdout"] = blobs.text(name, art.get("key"))
    return art


def bundle_blobs(files: dict[str, bytes]) -> Blobs:
    """The blobs of a bundle's files (bundle.read), for all its snapshots."""
    return Blobs(lambda name: files[f"{BLOBS}/{name}"])


def from_files(files: dict[str, bytes], host: str, blobs: Blobs | None = None) -> Snapshot:
    """snapshots/<host>.json of a bundle's files (bundle.read), its blobs from blobs/."""
    return Snapshot.from_dict(json.loads(files[f"snapshots/{host}.json"]), blobs or bundle_blobs(files))
