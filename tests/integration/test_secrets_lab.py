"""Secrets planted in the weak host (lab/hosts/weak/qemu.conf.add, a domain's
graphics passwd) reach no file of a run: snapshot, sent log, results, report."""

from __future__ import annotations

from hvconform.model.snapshot import Snapshot

SECRETS = ("hvlab-vnc-conf-secret", "hvVncPw8")  # VNC passwords are 8 characters at most


def test_no_secret_reaches_any_file_of_the_run(lab_audit):
    _, run_dir, _ = lab_audit
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {path}"


def test_the_secret_was_there_and_is_marked_redacted(lab_audit):
    _, run_dir, _ = lab_audit
    snap = Snapshot.load(run_dir / "snapshots" / "weak.json")   # larger outputs are in blobs/
    conf = snap.artifacts["file:/etc/libvirt/qemu.conf"]
    assert conf.redacted is True
    assert 'vnc_password = "[REDACTED]"' in conf.stdout
