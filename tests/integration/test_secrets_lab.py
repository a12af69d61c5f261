"""Secrets planted in the lab (lab/hosts/weak/qemu.conf.add, a domain's graphics passwd,
hardened's borgmatic passphrase, weak's restic password) reach no file of a run:
snapshot, sent log, results, report, nor any member of the bundle."""

from __future__ import annotations

import tarfile

from hvconform.model.snapshot import Snapshot

SECRETS = ("hvlab-vnc-conf-secret", "hvVncPw8",  # VNC passwords are 8 characters at most
           "hvlab-borg-passphrase-not-real",     # lab/hosts/hardened/files/etc/borgmatic/config.yaml
           "hvlab-weak-restic-password-not-real")  # lab/hosts/weak/files/etc/restic/restic.env


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


def test_no_secret_reaches_any_member_of_the_bundle(lab_audit):
    _, run_dir, _ = lab_audit
    with tarfile.open(run_dir / "bundle.tar.gz") as bundle:
        members = [m for m in bundle.getmembers() if m.isfile()]
        assert members
        for member in members:
            text = bundle.extractfile(member).read().decode("utf-8", "replace")
            for secret in SECRETS:
                assert secret not in text, f"{secret} in the bundle's {member.name}"


def test_backup_passphrases_were_read_and_withheld_on_the_host(lab_audit):
    """The settings holding them were collected, the secret withheld where it was read:
    collection never saw it (hvconform/collect/settings_filters.py), so no redaction ran."""
    _, run_dir, _ = lab_audit
    # Snapshot.load: outputs of 512 characters or more are in blobs/
    hardened = Snapshot.load(run_dir / "snapshots" / "hardened.json").artifacts
    borgmatic = hardened["cmd:borgmatic_configs"]
    assert 'encryption_passphrase: "[withheld]"' in borgmatic.stdout and not borgmatic.redacted
    weak = Snapshot.load(run_dir / "snapshots" / "weak.json").artifacts
    assert "RESTIC_PASSWORD=[withheld]" in weak["cmd:restic_settings"].stdout
