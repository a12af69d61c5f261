"""Bundles as an adversary would make them: any member names and contents, a manifest
that lists them, signed with a key of the adversary's own (so verify says OK unless
the reviewer names the key they trust). The recorded lab run is the usual start."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from pathlib import Path

from hvconform.deliver import bundle
from tests.conftest import ROOT

LAB = ROOT / "tests" / "data" / "lab-snapshots"
HOSTS = ("hardened", "default", "weak")


def recorded_files(hosts=HOSTS) -> dict[str, bytes]:
    """A genuine run's replayable members: run.json, snapshots/, sent/."""
    files = {f"snapshots/{h}.json": (LAB / f"{h}.json").read_bytes() for h in hosts}
    files.update({f"sent/{h}.json": b"[]" for h in hosts})
    started = json.loads(files[f"snapshots/{hosts[0]}.json"])["started"]
    files["run.json"] = json.dumps({"id": "recorded", "inventory": "inventories/lab.yaml",
                                    "started": started, "accepted_new_host_keys": False,
                                    "hosts": list(hosts)}).encode()
    return files


def manifest_for(files: dict[str, bytes], signer: bundle.Signer, **extra) -> dict:
    return {"format": bundle.FORMAT, "run": "recorded", "catalog_digest": None,
            "inventory": {"path": "inventories/lab.yaml", "sha256": None}, "hosts": [],
            "files": {n: bundle.sha256_bytes(d) for n, d in files.items()},
            "signature": {"algorithm": "ed25519", "key": signer.origin,
                          "public_key": signer.public_key,
                          "fingerprint": bundle.fingerprint(signer.public_key)},
            **extra}


def signed(manifest: dict, signer: bundle.Signer) -> dict[str, bytes]:
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return {bundle.MANIFEST: data, bundle.SIGNATURE: base64.b64encode(signer.key.sign(data)) + b"\n"}


def craft(path: Path, files: dict[str, bytes], signer: bundle.Signer | None = None,
          root: str = "recorded", members: list[tuple[str, bytes]] | None = None,
          **manifest_extra) -> Path:
    """A .tar.gz whose manifest lists `files` and is signed by `signer` (a new key by
    default); `members` (name, bytes) are written first, unlisted and unchecked, as is."""
    signer = signer or bundle.signer_from(None)
    everything = {**files, **signed(manifest_for(files, signer, **manifest_extra), signer)}
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [*(members or []), *((f"{root}/{n}", d) for n, d in everything.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return Path(path)


def public_key_file(path: Path, signer: bundle.Signer) -> Path:
    Path(path).write_text(signer.public_key + "\n")
    return Path(path)


def tree(root: Path) -> set[str]:
    """Every file below `root`, relative to it: what a test compares before and after."""
    return {p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file()}
