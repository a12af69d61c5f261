"""The evidence bundle: written whole, verified file by file, signature checked."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tarfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hvconform.deliver import bundle
from tests.conftest import ROOT


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run-1"
    (d / "snapshots").mkdir(parents=True)
    (d / "sent").mkdir()
    (d / "catalog" / "qemu").mkdir(parents=True)
    (d / "run.json").write_text('{"id": "run-1"}')
    (d / "results.json").write_text('{"verdicts": []}')
    (d / "snapshots" / "weak.json").write_text('{"host": "weak"}')
    (d / "sent" / "weak.json").write_text("[]")
    (d / "catalog" / "qemu" / "controls.yaml").write_text("controls: []\n")
    (d / "report.html").write_text("<html>")          # a rendering: not bundled
    (d / "stray.txt").write_text("not part of a run")  # nor anything unknown
    return d


def write(run_dir, signer=None):
    return bundle.write(run_dir, {"run": "run-1", "catalog_digest": "c" * 64},
                        signer or bundle.signer_from(None))


def repack(path, change, out=None):
    """Rewrite the bundle with `change(files)` applied to {name: bytes}, into `out`
    (default: tampered.tar.gz beside it)."""
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    change(files)
    out = out or path.with_name("tampered.tar.gz")
    with tarfile.open(out, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def flip(files, name):
    data = bytearray(files[name])
    data[len(data) // 2] ^= 0x01
    files[name] = bytes(data)


def test_a_fresh_bundle_verifies_and_lists_every_run_file(run_dir):
    path = write(run_dir)
    assert path == run_dir / "bundle.tar.gz"
    report = bundle.verify(path)
    assert report.ok and report.code == bundle.OK, report.problems
    assert sorted(report.manifest["files"]) == [
        "catalog/qemu/controls.yaml", "results.json", "run.json", "sent/weak.json",
        "snapshots/weak.json"]
    assert report.manifest["files"]["run.json"] == bundle.sha256_bytes(b'{"id": "run-1"}')
    assert report.manifest["signature"]["key"] == "per-run" and not report.trusted_key
    with tarfile.open(path) as tar:
        assert all(n.startswith("run-1/") for n in tar.getnames())


@pytest.mark.parametrize("name", ["run.json", "results.json", "snapshots/weak.json",
                                  "sent/weak.json", "catalog/qemu/controls.yaml"])
def test_one_flipped_byte_names_that_file(run_dir, name):
    tampered = repack(write(run_dir), lambda f: flip(f, f"run-1/{name}"))
    report = bundle.verify(tampered)
    assert report.code == bundle.FILES_DIFFER
    assert [(p.kind, p.path) for p in report.problems] == [("changed", name)]


@pytest.mark.parametrize("name", ["MANIFEST.json", "MANIFEST.sig"])
def test_a_changed_manifest_or_signature_is_a_signature_mismatch(run_dir, name):
    tampered = repack(write(run_dir), lambda f: flip(f, f"run-1/{name}"))
    report = bundle.verify(tampered)
    assert report.code == bundle.BAD_SIGNATURE
    assert any(p.kind == "signature" and name in p.path for p in report.problems), report.problems


def test_added_and_removed_files_are_named(run_dir):
    def change(files):
        del files["run-1/sent/weak.json"]
        files["run-1/snapshots/extra.json"] = b"{}"
    report = bundle.verify(repack(write(run_dir), change))
    assert report.code == bundle.FILES_DIFFER
    assert [(p.kind, p.path) for p in report.problems] == [
        ("removed", "sent/weak.json"), ("added", "snapshots/extra.json")]


def test_a_re_signed_manifest_passes_alone_but_not_against_the_auditors_key(run_dir, tmp_path):
    """Why a per-run key proves integrity only: whoever edits can re-sign."""
    auditor = Ed25519PrivateKey.generate()
    path = write(run_dir, bundle.Signer(auditor, "auditor"))

    def forge(files):
        flip(files, "run-1/results.json")
        manifest = json.loads(files["run-1/MANIFEST.json"])
        manifest["files"]["results.json"] = bundle.sha256_bytes(files["run-1/results.json"])
        forger = bundle.signer_from(None)
        manifest["signature"]["public_key"] = forger.public_key
        manifest["signature"]["fingerprint"] = bundle.fingerprint(forger.public_key)
        data = json.dumps(manifest).encode()
        files["run-1/MANIFEST.json"] = data
        files["run-1/MANIFEST.sig"] = base64.b64encode(forger.key.sign(data))
    forged = repack(path, forge)
    assert bundle.verify(forged).ok
    trusted = bundle.openssh_public(auditor.public_key())
    report = bundle.verify(forged, trusted)
    assert report.code == bundle.BAD_SIGNATURE and "not by the given key" in str(report.problems[0])
    assert bundle.verify(path, trusted).ok


def test_an_auditor_key_file_signs_openssh_or_pem(run_dir, tmp_path):
    key = Ed25519PrivateKey.generate()
    ssh = tmp_path / "id_ed25519"
    ssh.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                      serialization.NoEncryption()))
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pub = tmp_path / "id_ed25519.pub"
    pub.write_text(bundle.openssh_public(key.public_key()) + " auditor@site\n")
    for key_file in (ssh, pem):
        signer = bundle.signer_from(key_file)
        assert signer.origin == "auditor"
        report = bundle.verify(write(run_dir, signer), bundle.load_public_key(pub))
        assert report.ok and report.trusted_key
        assert report.manifest["signature"]["fingerprint"].startswith("SHA256:")


def test_unusable_keys_are_named(tmp_path):
    bad = tmp_path / "rsa"
    bad.write_text("not a key")
    with pytest.raises(bundle.BundleError, match=f"{bad}: not a usable private key"):
        bundle.signer_from(bad)
    with pytest.raises(bundle.BundleError, match="cannot read"):
        bundle.signer_from(tmp_path / "missing")


def test_not_a_bundle_is_unreadable(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really")
    assert bundle.verify(junk).code == bundle.UNREADABLE


def test_an_unpacked_bundle_verifies_too(run_dir, tmp_path):
    out = bundle.extract(write(run_dir), tmp_path / "unpacked")
    assert bundle.verify(out).ok
    (out / "results.json").write_text("{}")
    assert [p.path for p in bundle.verify(out).problems] == ["results.json"]


def test_the_verify_command_prints_and_exits_by_kind_of_problem(run_dir):
    path = write(run_dir)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "hvconform", "verify", *map(str, args)],
                              cwd=ROOT, capture_output=True, text=True)
    ok = cli(path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:") and "integrity" in ok.stdout
    changed = cli(repack(path, lambda f: flip(f, "run-1/snapshots/weak.json")))
    assert changed.returncode == 1 and "CHANGED snapshots/weak.json" in changed.stdout
    resigned = cli(repack(path, lambda f: flip(f, "run-1/MANIFEST.json")))
    assert resigned.returncode == 2 and "SIGNATURE" in resigned.stdout
    assert cli(run_dir / "missing.tar.gz").returncode == 3


def test_a_bundle_is_never_left_half_written(run_dir, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(bundle.tarfile.TarFile, "addfile", boom)
    with pytest.raises(KeyboardInterrupt):
        write(run_dir)
    assert not (run_dir / "bundle.tar.gz").exists()
    assert not (run_dir / "bundle.tar.gz.partial").exists()


def test_the_export_command_reads_a_bundle(run_dir):
    (run_dir / "results.json").write_text(json.dumps({
        "tool": {"name": "hvconform", "version": "0", "catalog_digest": "c" * 64},
        "run": {"id": "run-1", "started": "2026-11-23T14:51:56Z", "finished": "2026-11-23T14:52:00Z"},
        "hosts": [], "verdicts": [{"control": "QEMU-001", "host": "weak", "vm": None,
                                   "status": "fail", "evidence": []}]}))
    path = write(run_dir)
    out = subprocess.run([sys.executable, "-m", "hvconform", "export", "csv", str(path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.splitlines()[1].startswith("QEMU-001,,,,weak,,fail")
    oscal = subprocess.run([sys.executable, "-m", "hvconform", "export", "oscal", str(path)],
                           cwd=ROOT, capture_output=True, text=True)
    finding = json.loads(oscal.stdout)["assessment-results"]["results"][0]["findings"][0]
    assert finding["target"]["target-id"] == "QEMU-001"
