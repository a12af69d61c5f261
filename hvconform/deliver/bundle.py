"""The evidence bundle: one signed .tar.gz per run that a reviewer can verify and replay.

    path = write(run_dir, meta, signer_from(None))   # reports/<run>/bundle.tar.gz
    report = verify(path)                            # report.ok, report.problems

Inside, under one folder named after the run: the run's plain data (run.json,
results.json, snapshots/, sent/, commands.tsv, the catalog, site overlays and waivers
used, the exports) and MANIFEST.json, which lists every other file with its sha256 and says
what the run was (tool version, catalog and inventory digests, each host's
identity, what was not collected). MANIFEST.sig is the Ed25519 signature of
MANIFEST.json's exact bytes. The signing key is the auditor's (a file) or, when
none is given, made for this run alone and then forgotten: its public key is in
the manifest, so such a bundle proves it was not changed after it was signed, not
who signed it. Only a key the reviewer already trusts (verify's `pubkey`) proves that.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from isal import igzip

from hvconform.deliver import bundle_archive
from hvconform.model import safe_names

FORMAT = "hvconform-bundle/1"
NAME = "bundle.tar.gz"
MANIFEST, SIGNATURE = "MANIFEST.json", "MANIFEST.sig"
KEY_ENV, PASSPHRASE_ENV = "HVCONFORM_BUNDLE_KEY", "HVCONFORM_BUNDLE_KEY_PASSPHRASE"

# What a bundle carries from the run folder (report.html is a rendering of
# results.json and is handed over beside the bundle, not in it).
TOP_FILES = ("run.json", "results.json", "junit.xml", "results.csv",
             "assessment-results.json", "commands.tsv", "waivers.yaml")
TREES = ("snapshots", "blobs", "sent", "catalog", "overlays")

# verify's verdicts, and the exit codes of `python -m hvconform verify`
OK, FILES_DIFFER, BAD_SIGNATURE, UNREADABLE = 0, 1, 2, 3  # a duplicate member: FILES_DIFFER


class BundleError(Exception):
    """A key or a bundle that cannot be used, with the place named."""


# -- keys ----------------------------------------------------------------------

@dataclass
class Signer:
    key: Ed25519PrivateKey
    origin: str  # "auditor" (a key file the reviewer may trust) or "per-run"

    @property
    def public_key(self) -> str:
        return openssh_public(self.key.public_key())


def signer_from(path: str | os.PathLike | None) -> Signer:
    """The auditor's Ed25519 key at `path` (OpenSSH or PEM; a passphrase from
    $HVCONFORM_BUNDLE_KEY_PASSPHRASE), else a key made for this run only."""
    if not path:
        return Signer(Ed25519PrivateKey.generate(), "per-run")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the signing key: {exc.strerror}") from None
    passphrase = os.environ.get(PASSPHRASE_ENV)
    password = passphrase.encode() if passphrase else None
    loader = (serialization.load_ssh_private_key if b"OPENSSH PRIVATE KEY" in data
              else serialization.load_pem_private_key)
    try:
        key = loader(data, password=password)
    except (ValueError, TypeError) as exc:
        hint = f" (set {PASSPHRASE_ENV} for an encrypted key)" if not password else ""
        raise BundleError(f"{path}: not a usable private key: {exc}{hint}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path}: the signing key must be Ed25519, not {type(key).__name__}")
    return Signer(key, "auditor")


def openssh_public(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def fingerprint(public_key: str) -> str:
    """As ssh-keygen -l prints it: SHA256:<base64 of the key blob, unpadded>."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def load_public_key(path: str | os.PathLike) -> str:
    """An Ed25519 public key file (OpenSSH .pub line or PEM) as an OpenSSH line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the public key: {exc.strerror}") from None
    loader = (serialization.load_pem_public_key if data.lstrip().startswith(b"-----")
              else serialization.load_ssh_public_key)
    try:
        key = loader(data.strip())
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{path}: not a public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path}: not an Ed25519 public key")
    return openssh_public(key)


# -- writing -------------------------------------------------------------------

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike) -> str | None:
    """sha256 of a file's bytes, or None when it cannot be read."""
    try:
        return file_sha256(Path(path))
    except OSError:
        return None


def member_paths(run_dir: Path) -> list[str]:
    """The run folder's files that go into the bundle, as paths relative to it."""
    out = [name for name in TOP_FILES if (run_dir / name).is_file()]
    for tree in TREES:
        out += [p.relative_to(run_dir).as_posix() for p in sorted((run_dir / tree).rglob("*"))
                if p.is_file()]
    return out


def members(run_dir: Path) -> dict[str, bytes]:
    """The run folder's files that go into the bundle, by path relative to it."""
    return {name: (run_dir / name).read_bytes() for name in member_paths(run_dir)}


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks (a fleet's results.json is hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Checked(io.RawIOBase):
    """A file read into the tar, hashed on the way: it must still be what the manifest says."""

    def __init__(self, path: Path, expected: str):
        self.f, self.path, self.expected = open(path, "rb"), path, expected
        self.digest = hashlib.sha256()

    def readable(self):
        return True

    def read(self, size=-1):
        data = self.f.read(size)
        self.digest.update(data)
        return data

    def finish(self) -> None:
        """After the tar took its bytes: nothing more, and the same digest."""
        if self.f.read(1) or self.digest.hexdigest() != self.expected:
            raise BundleError(f"{self.path}: changed while the bundle was written")

    def close(self):
        self.f.close()
        super().close()


# gzip by ISA-L (isal): the same gzip format, at level 1 about four times faster than
# zlib's level 1 and a little smaller (100 MB of results.json: 0.13 s against 0.56 s
# of CPU, 18.7 MB against 19.5 MB; bench/README.md). zlib's level 1 was itself chosen
# over the default 9, several times slower for a bundle a few percent smaller.
COMPRESSLEVEL = 1


def write(run_dir: Path, meta: dict, signer: Signer, out: Path | None = None) -> Path:
    """Sign and write the bundle of `run_dir`; `meta` goes into the manifest as is.
    Written beside and renamed into place, so a bundle on disk is always whole. Each
    file is streamed from disk (hashed first for the manifest, checked again on the
    way into the tar): a fleet's run folder is never held in memory."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / NAME
    names = member_paths(run_dir)
    digests = {name: file_sha256(run_dir / name) for name in names}
    manifest = {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **meta,
                "files": dict(sorted(digests.items())),
                "signature": {"algorithm": "ed25519", "key": signer.origin,
                              "public_key": signer.public_key,
                              "fingerprint": fingerprint(signer.public_key)}}
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    own = {MANIFEST: manifest_bytes,
           SIGNATURE: base64.b64encode(signer.key.sign(manifest_bytes)) + b"\n"}
    root = _root_name(run_dir.name)
    tmp = out.with_name(out.name + ".partial")
    try:
        with open(tmp, "wb") as raw, \
                igzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=COMPRESSLEVEL) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted([*own, *names]):
                info = tarfile.TarInfo(f"{root}/{name}")
                info.mode, info.mtime = 0o644, 0
                if name in own:
                    info.size = len(own[name])
                    tar.addfile(info, io.BytesIO(own[name]))
                    continue
                path = run_dir / name
                info.size = path.stat().st_size
                with _Checked(path, digests[name]) as f:
                    tar.addfile(info, f)
                    f.finish()
        os.replace(tmp, out)
    except BaseException:  # Ctrl-C too: no half bundle stays behind
        tmp.unlink(missing_ok=True)
        raise
    return out


def _root_name(run_id: str) -> str:
    return run_id if safe_names.is_safe(run_id) else "bundle"


# -- reading and verifying -----------------------------------------------------

def read(path: str | os.PathLike) -> dict[str, bytes]:
    """Every regular file of a bundle (.tar.gz, or the folder it was unpacked to),
    by path below its top folder, read within the limits of bundle_archive. Raises
    BundleError when it cannot be read, passes a limit, or holds a name twice."""
    out: dict[str, bytes] = {}
    try:
        for name, chunks in bundle_archive.walk(path):
            if name in out:
                raise BundleError(f"{path}: {name}: twice in the bundle (which copy is the "
                                  f"evidence?): refused")
            out[name] = b"".join(chunks)
    except bundle_archive.ArchiveError as exc:
        raise BundleError(f"{path}: {exc}") from None
    return out


def _digests(path) -> tuple[dict[str, str], dict[str, bytes], list[str]]:
    """verify's one pass over the archive: each member's sha256 (its bytes are never
    all held), the manifest and signature themselves, and the names seen twice."""
    digests, kept, twice = {}, {}, []
    for name, chunks in bundle_archive.walk(path):
        if name in digests:
            twice.append(name)
        if name in (MANIFEST, SIGNATURE):
            data = b"".join(chunks)
            kept.setdefault(name, data)
            digests.setdefault(name, sha256_bytes(data))
            continue
        h = hashlib.sha256()
        for chunk in chunks:
            h.update(chunk)
        digests.setdefault(name, h.hexdigest())
    return digests, kept, twice


@dataclass
class Problem:
    kind: str      # changed, added, removed, signature, unreadable
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.upper()} {self.path}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    checked: int = 0
    trusted_key: bool = False  # the signature was checked against a key the reviewer gave

    @property
    def code(self) -> int:
        kinds = {p.kind for p in self.problems}
        if "unreadable" in kinds:
            return UNREADABLE
        if "signature" in kinds:
            return BAD_SIGNATURE
        return FILES_DIFFER if kinds else OK

    @property
    def ok(self) -> bool:
        return self.code == OK


def verify(path: str | os.PathLike, pubkey: str | None = None) -> Report:
    """Check every file against the manifest and the manifest against its signature.
    `pubkey`: the OpenSSH line of the key the reviewer trusts; else the manifest's own.
    Never raises: a bundle that cannot be read is an `unreadable` problem."""
    report = Report()
    try:
        files, kept, twice = _digests(path)
    except bundle_archive.ArchiveError as exc:
        report.problems.append(Problem("unreadable", str(path), f"{path}: {exc}"))
        return report
    if MANIFEST not in kept or SIGNATURE not in kept:
        missing = [n for n in (MANIFEST, SIGNATURE) if n not in kept]
        report.problems += [Problem("removed", n, "no manifest or signature: not a bundle")
                            for n in missing]
        report.problems.append(Problem("unreadable", str(path), "cannot be verified"))
        return report
    manifest_bytes, signature = kept[MANIFEST], kept[SIGNATURE]
    del files[MANIFEST], files[SIGNATURE]
    try:
        manifest = json.loads(manifest_bytes)
        listed = dict(manifest["files"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        report.problems.append(Problem("signature", MANIFEST,
                                       f"not a manifest any more ({str(exc)[:100]}); it was changed"))
        return report
    broken = signature_block_problem(manifest.get("signature"))
    if broken:
        report.problems.append(Problem("signature", MANIFEST, broken))
        return report
    declared = manifest["signature"]["public_key"]
    report.manifest = manifest
    report.trusted_key = pubkey is not None
    key_text = pubkey or declared
    if pubkey and _key_blob(pubkey) != _key_blob(declared):
        report.problems.append(Problem(
            "signature", MANIFEST, f"signed by {fingerprint(declared)}, not by the given key "
                                   f"{fingerprint(pubkey)}"))
    elif not _signature_ok(key_text, signature, manifest_bytes):
        report.problems.append(Problem(
            "signature", f"{MANIFEST} / {SIGNATURE}",
            "the signature does not match: the manifest or its signature was changed"))
    report.problems += [Problem("duplicate", n, "a second member with this name: which copy "
                                                "is the evidence?") for n in sorted(set(twice))]
    for name, digest in sorted(listed.items()):
        if name not in files:
            report.problems.append(Problem("removed", name))
        elif files[name] != digest:
            report.problems.append(Problem("changed", name, "sha256 differs from the manifest"))
    report.problems += [Problem("added", n, "not in the manifest") for n in sorted(files)
                        if n not in listed]
    report.checked = len(listed)
    return report


_OPENSSH_ED25519 = re.compile(r"ssh-ed25519 [A-Za-z0-9+/]{68}\Z")


def signature_block_problem(sig) -> str | None:
    """What is wrong with a manifest's `signature` entry, or None: every field this
    module writes must be there, a string, and the fingerprint must be its key's."""
    if not isinstance(sig, dict):
        return "signature: missing, or not a mapping"
    for key in ("algorithm", "key", "public_key", "fingerprint"):
        if key not in sig:
            return f"signature.{key}: missing"
        if not isinstance(sig[key], str):
            if key == "public_key":
                return "signature.public_key: expected an OpenSSH ed25519 key line"
            return f"signature.{key}: expected a string"
    if sig["algorithm"] != "ed25519":
        return f"signature.algorithm: {sig['algorithm'][:40]!r}, not ed25519"
    if not _OPENSSH_ED25519.match(" ".join(sig["public_key"].split()[:2])):
        return "signature.public_key: expected an OpenSSH ed25519 key line ('ssh-ed25519 AAAA...')"
    if fingerprint(sig["public_key"]) != sig["fingerprint"]:
        return (f"signature.fingerprint: {sig['fingerprint'][:60]!r} is not the fingerprint of "
                f"its public_key")
    return None


def _key_blob(openssh_line: str) -> str:  # both lines were checked before they get here
    parts = openssh_line.split()
    return parts[1] if len(parts) > 1 else openssh_line


def _signature_ok(key_text: str, signature: bytes, data: bytes) -> bool:
    try:
        key = serialization.load_ssh_public_key(key_text.encode())
        key.verify(base64.b64decode(signature, validate=False), data)
        return True
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        return False


def extract(path: str | os.PathLike, dest: Path) -> Path:
    """Unpack a bundle's files into `dest` (no links, nothing outside it); return dest."""
    dest = Path(dest)
    for name, data in read(path).items():
        target = (dest / name).resolve()
        if dest.resolve() not in target.parents:
            raise BundleError(f"{path}: {name}: points outside the bundle")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest
