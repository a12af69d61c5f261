"""Identical outputs stored once (hvconform.model.snapshot: blobs/<sha256>): in the run
folder and in its bundle, and read back by a run, a replay and a merge; a snapshot's
blob name is hostile input (a bundle's), checked before any file is read."""

from __future__ import annotations

import hashlib
import json

import pytest

from hvconform.deliver import bundle, replay
from hvconform.model.run import Run
from hvconform.model.snapshot import BLOB_MIN, Artifact, BlobError, Blobs, Snapshot, from_files

CONF = "# qemu.conf\n" + "user = \"qemu\"\n" * 100       # the same on every host
assert len(CONF) >= BLOB_MIN


def snap(host: str) -> Snapshot:
    s = Snapshot(host=host, started="2026-01-01T00:00:00Z")
    s.add(Artifact("file:/etc/libvirt/qemu.conf", "cat -- /etc/libvirt/qemu.conf", 0, CONF))
    s.add(Artifact("cmd:hostname", "hostname", 0, host + "\n"))                # small: inline
    s.add(Artifact("cmd:ps", "ps -eo pid=", 0, f"{host}\n" * 300))             # large, its own
    return s


def run_of(tmp_path, hosts=("a", "b", "c")) -> Run:
    run = Run("r1", tmp_path / "r1", inventory="inv.yaml", started="2026-01-01T00:00:00Z",
              snapshots={h: snap(h) for h in hosts})
    run.save({})
    return run


def test_an_output_shared_by_hosts_is_one_file(tmp_path):
    run = run_of(tmp_path)
    blobs = sorted(p.name for p in (run.run_dir / "blobs").iterdir())
    conf = hashlib.sha256(CONF.encode()).hexdigest()
    assert conf in blobs and len(blobs) == 1 + 3          # the conf once, each ps
    saved = json.loads((run.run_dir / "snapshots" / "a.json").read_text())["artifacts"]
    assert saved["file:/etc/libvirt/qemu.conf"]["blob"] == conf
    assert "stdout" not in saved["file:/etc/libvirt/qemu.conf"]
    assert saved["cmd:hostname"]["stdout"] == "a\n"
    again = Run.load(run.run_dir)
    assert {h: s.to_dict() for h, s in again.snapshots.items()} == \
        {h: s.to_dict() for h, s in run.snapshots.items()}


def test_the_bundle_carries_each_blob_once_and_replays(tmp_path):
    run = run_of(tmp_path)
    path = bundle.write(run.run_dir, {"run": "r1"}, bundle.signer_from(None))
    report = bundle.verify(path)
    assert report.ok
    assert sum(name.startswith("blobs/") for name in report.manifest["files"]) == 4
    loaded = replay.load(path, "r2", tmp_path / "r2")
    assert loaded.run.snapshots["b"].file("/etc/libvirt/qemu.conf").stdout == CONF
    assert from_files(bundle.read(path), "c").get("cmd:ps").stdout == "c\n" * 300


def test_hosts_loaded_together_share_one_text_of_a_blob_read_once(tmp_path):
    run = run_of(tmp_path)
    conf = "file:/etc/libvirt/qemu.conf"
    loaded = Run.load(run.run_dir).snapshots
    assert loaded["a"].artifacts[conf].stdout is loaded["c"].artifacts[conf].stdout
    path = bundle.write(run.run_dir, {"run": "r1"}, bundle.signer_from(None))
    replayed = replay.load(path, "r2", tmp_path / "r2").run.snapshots
    assert replayed["a"].artifacts[conf].stdout is replayed["b"].artifacts[conf].stdout
    assert replayed["a"].get("cmd:ps").stdout != replayed["b"].get("cmd:ps").stdout
    files, reads = bundle.read(path), []
    blobs = Blobs(lambda name: reads.append(name) or files[f"blobs/{name}"])
    for host in "abc":
        from_files(files, host, blobs)
    assert len(reads) == len(set(reads)) == 4                  # the conf once, each ps


@pytest.mark.parametrize("name", ["../../etc/passwd", "a" * 63, "A" * 64, 7, None])
def test_a_blob_name_that_is_not_a_sha256_is_refused_before_any_read(name):
    data = {"host": "x", "artifacts": {"k": {"key": "k", "source": "s", "rc": 0, "blob": name}}}
    read = []
    with pytest.raises(BlobError, match="not a sha256"):
        Snapshot.from_dict(data, lambda n: read.append(n) or b"")
    assert read == []


def test_a_blob_that_does_not_match_its_name_or_is_missing_is_an_error(tmp_path):
    name = hashlib.sha256(b"real").hexdigest()
    data = {"host": "x", "artifacts": {"k": {"key": "k", "source": "s", "rc": 0, "blob": name}}}
    with pytest.raises(BlobError, match="does not match"):
        Snapshot.from_dict(data, lambda n: b"forged")
    with pytest.raises(BlobError, match="missing"):
        Snapshot.from_dict(data, {}.__getitem__)


def test_replay_of_a_bundle_whose_blob_is_gone_says_so(tmp_path):
    run = run_of(tmp_path)
    conf = hashlib.sha256(CONF.encode()).hexdigest()
    (run.run_dir / "blobs" / conf).unlink()     # then signed as it is: the manifest agrees
    path = bundle.write(run.run_dir, {"run": "r1"}, bundle.signer_from(None))
    assert bundle.verify(path).ok
    with pytest.raises(replay.ReplayError, match=f"blob {conf} is missing"):
        replay.load(path, "r2", tmp_path / "r2")
