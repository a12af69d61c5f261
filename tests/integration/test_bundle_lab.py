"""Bundles from real lab runs: verify, tampering named file by file, replay with no
network, waivers, drift after a real configuration change, interrupted runs."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from hvconform.deliver import bundle
from hvconform.inputs.policy import DEFAULTS
from tests.conftest import LAB_INVENTORY, ROOT, run_suite
from tests.unit.test_bundle import repack

LAB_LOCK = "/tmp/hvlab.lock"
WAIVERS = """\
waivers:
  - control: BKP-001
    scope: {hosts: [weak]}
    justification: Backups are out of scope in the lab
    approver: Lab Owner
    ticket: LAB-1
    expires: 2099-12-31
  - control: BKP-003
    scope: {hosts: ["we*"]}
    justification: Accepted last year
    approver: Lab Owner
    ticket: LAB-2
    expires: 2020-01-01
  - control: QEMU-999
    scope: {hosts: "*"}
    justification: A typo in the control id
    approver: Lab Owner
    ticket: LAB-3
    expires: 2099-12-31
"""


@contextmanager
def lab_lock(mode=fcntl.LOCK_SH):
    """The lab lock of the shared lab (see ../shared BRIEF: audits hold it shared,
    changes to a host exclusively), so no lab change lands in the middle of a run."""
    with open(LAB_LOCK, "a") as lock:
        fcntl.flock(lock, mode)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def key(rec):
    return rec["control"], rec["host"], rec["vm"]


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def verify_cli(path, *args):
    return subprocess.run([sys.executable, "-m", "hvconform", "verify", str(path), *args],
                          cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def bundled(lab, tmp_path_factory):
    """One audit of the whole lab with waivers; its run folder and bundle."""
    tmp = tmp_path_factory.mktemp("bundled")
    waivers = tmp / "waivers.yaml"
    waivers.write_text(WAIVERS)
    with lab_lock():
        proc, run_dir = run_suite(f"--inventory={LAB_INVENTORY}", "-n", "2",
                                  f"--waivers={waivers}", reports_dir=tmp / "reports")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, run_dir, run_dir / "bundle.tar.gz"


def test_a_lab_run_writes_a_bundle_that_verifies(bundled):
    proc, run_dir, path = bundled
    assert f"bundle:  {path}" in proc.stdout
    cli = verify_cli(path)
    assert cli.returncode == 0 and cli.stdout.startswith("OK:"), cli.stdout + cli.stderr
    manifest = bundle.verify(path).manifest
    doc = results(run_dir)
    names = set(manifest["files"])
    assert {"run.json", "results.json", "junit.xml", "results.csv", "assessment-results.json",
            "commands.tsv", "waivers.yaml"} <= names
    assert {f"snapshots/{h}.json" for h in ("hardened", "default", "weak")} <= names
    assert {f"sent/{h}.json" for h in ("hardened", "default", "weak")} <= names
    assert "catalog/qemu/controls.yaml" in names
    assert manifest["catalog_digest"] == doc["tool"]["catalog_digest"]
    assert manifest["tool"]["version"] == doc["tool"]["version"]
    assert manifest["inventory"]["sha256"] == bundle.file_digest(LAB_INVENTORY)
    for host in manifest["hosts"]:
        ident = host["identity"]
        assert host["status"] == "collected" and ident["hostname"] == host["name"]
        assert ident["host_key"].startswith("ssh-ed25519 SHA256:") and ident["host_key_verified"]
        assert len(ident["machine_id"]) == 32
    assert manifest["incomplete"] is None
    # the command log has every command with its time and exit code
    rows = (run_dir / "commands.tsv").read_text().splitlines()
    assert rows[0] == "host\tsent_at\tcollected_at\trc\tbatch_rc\tcommand"
    assert any(r.startswith("weak\t") and r.endswith("\tcat -- /etc/libvirt/qemu.conf") for r in rows)


def test_no_secret_reaches_the_bundle(bundled):
    _, _, path = bundled
    key_text = (ROOT / "lab" / "state" / "id_ed25519").read_text()
    body = key_text.split("-----")[2].strip().splitlines()[1]   # a line of the key itself
    for data in bundle.read(path).values():
        assert body.encode() not in data


def test_flipping_one_byte_in_any_file_names_that_file(bundled, tmp_path):
    _, run_dir, path = bundled
    root = run_dir.name
    names = sorted(bundle.read(path))
    assert len(names) > 20
    for name in names:
        def flip(files, member=f"{root}/{name}"):
            data = bytearray(files[member])
            data[len(data) // 2] ^= 0x20
            files[member] = bytes(data)
        report = bundle.verify(repack(path, flip, out=tmp_path / "t.tar.gz"))
        if name in (bundle.MANIFEST, bundle.SIGNATURE):
            assert report.code == bundle.BAD_SIGNATURE, name
            assert any(name in p.path for p in report.problems), (name, report.problems)
        else:
            assert report.code == bundle.FILES_DIFFER, name
            assert [(p.kind, p.path) for p in report.problems] == [("changed", name)]
    cli = verify_cli(repack(path, lambda f: f.update({f"{root}/results.json": b"{}"}),
                            out=tmp_path / "t.tar.gz"))
    assert cli.returncode == 1 and "CHANGED results.json" in cli.stdout


def test_added_and_removed_files_are_named(bundled, tmp_path):
    _, run_dir, path = bundled
    root = run_dir.name

    def change(files):
        del files[f"{root}/snapshots/weak.json"]
        files[f"{root}/snapshots/intruder.json"] = b"{}"
    cli = verify_cli(repack(path, change, out=tmp_path / "t.tar.gz"))
    assert cli.returncode == 1
    assert "REMOVED snapshots/weak.json" in cli.stdout and "ADDED snapshots/intruder.json" in cli.stdout


def test_waivers_waive_expire_and_report_what_matched_nothing(bundled):
    proc, run_dir, _ = bundled
    doc = results(run_dir)
    by_key = {key(r): r for r in doc["verdicts"]}
    waived = by_key[("BKP-001", "weak", None)]
    assert waived["status"] == "waived"
    assert waived["waiver"] == {"approver": "Lab Owner", "ticket": "LAB-1", "expires": "2099-12-31",
                                "justification": "Backups are out of scope in the lab",
                                "expired": False}
    expired = by_key[("BKP-003", "weak", None)]
    assert expired["status"] == "fail" and expired["waiver"]["expired"] is True
    assert "waiver expired on 2020-01-01" in expired["reason"]
    assert by_key[("BKP-001", "default", None)]["status"] == "fail"   # out of scope
    assert [u["control"] for u in doc["waivers"]["unmatched"]] == ["QEMU-999"]
    assert "unmatched waiver QEMU-999" in proc.stdout
    assert "expired waiver: BKP-003 on weak expired 2020-01-01" in proc.stdout


def test_replay_offline_reproduces_every_verdict(bundled, tmp_path):
    """In a network namespace of its own (no interface but a downed loopback), so
    any attempt to reach a host would fail."""
    _, run_dir, path = bundled
    run_id = "replay-1"
    cmd = ["unshare", "-n", sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           f"--run-id={run_id}", f"--reports-dir={tmp_path}", f"--replay={path}", "-n", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "no host contacted" in proc.stdout and "collecting" not in proc.stdout
    original, replayed = results(run_dir), results(tmp_path / run_id)
    assert replayed["run"]["replayed_from"] == str(path.resolve())
    assert replayed["run"]["replayed_run"] == original["run"]["id"]
    assert replayed["run"]["catalog_changed"] is None

    def verdicts(doc):
        return {key(r): (r["status"], r.get("waiver"), r["expected"], r["actual"], r["evidence"])
                for r in doc["verdicts"]}
    assert verdicts(replayed) == verdicts(original)
    assert len(replayed["verdicts"]) > 300
    assert bundle.verify(tmp_path / run_id / "bundle.tar.gz").ok


def test_replay_with_a_newer_catalog_says_so(bundled, tmp_path):
    """A bundle made with another catalog (its digest differs): the current
    catalog's verdicts on the old evidence, and results.json says the catalog changed."""
    _, run_dir, path = bundled
    old = tmp_path / "old-run"
    bundle.extract(path, old)
    (old / "MANIFEST.json").unlink()
    (old / "MANIFEST.sig").unlink()
    manifest = bundle.verify(path).manifest
    old_digest = "0" * 64
    meta = {k: v for k, v in manifest.items() if k not in ("files", "signature", "format", "created")}
    bundle.write(old, {**meta, "catalog_digest": old_digest}, bundle.signer_from(None))
    proc, replay_dir = run_suite(f"--replay={old / 'bundle.tar.gz'}", reports_dir=tmp_path / "r")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = results(replay_dir)
    assert doc["run"]["catalog_changed"]["bundle"] == old_digest
    assert doc["run"]["catalog_changed"]["current"] == doc["tool"]["catalog_digest"]
    assert "CATALOG CHANGED since the bundle" in proc.stdout
    assert {key(r): r["status"] for r in doc["verdicts"]} == \
        {key(r): r["status"] for r in results(run_dir)["verdicts"]}


def test_a_tampered_bundle_is_not_replayed(bundled, tmp_path):
    _, run_dir, path = bundled
    bad = repack(path, lambda f: f.update({f"{run_dir.name}/snapshots/weak.json": b"{}"}),
                 out=tmp_path / "bad.tar.gz")
    proc, _ = run_suite(f"--replay={bad}", reports_dir=tmp_path / "r")
    assert proc.returncode == 4 and "CHANGED snapshots/weak.json" in proc.stderr


def test_drift_after_a_real_config_change_on_one_lab_host(lab, tmp_path):
    """default gains a borgmatic configuration covering the required paths (its own
    /etc/borgmatic, bound from its tree), with a local repository and no passphrase:
    exactly BKP-001 on default changes (BKP-003, -005, -006 fail before and after, for
    other reasons); then it loses it again, and --fail-on new-failures turns that, and
    only that, into a failing exit."""
    config = ROOT / "lab" / "state" / "hosts" / "default" / "tree" / "etc" / "borgmatic" / "config.yaml"
    assert not config.exists(), f"{config} is left over from an earlier run"
    common = (f"--inventory={LAB_INVENTORY}", "--limit=default")
    with lab_lock(fcntl.LOCK_EX):
        try:
            proc1, run1 = run_suite(*common, reports_dir=tmp_path)
            assert proc1.returncode == 1, proc1.stdout[-3000:]
            config.write_text("location:\n    source_directories:\n"
                              + "".join(f"        - {p}\n" for p in DEFAULTS["backup_required_paths"])
                              + "    repositories:\n        - /var/backups/borg\n")
            proc2, run2 = run_suite(*common, f"--baseline={run1 / 'bundle.tar.gz'}",
                                    "--fail-on=new-failures", reports_dir=tmp_path)
        finally:
            config.unlink(missing_ok=True)
        proc3, run3 = run_suite(*common, f"--baseline={run2 / 'bundle.tar.gz'}",
                                "--fail-on=new-failures", reports_dir=tmp_path)
    fixed = results(run2)["drift"]
    assert proc2.returncode == 0, proc2.stdout[-3000:]   # failures remain, none is new
    assert fixed["baseline_run"] == run1.name and fixed["new_failures"] == 0
    assert [(c["control"], c["host"], c["vm"], c["before"], c["after"]) for c in fixed["changes"]] == [
        ("BKP-001", "default", None, "fail", "pass")]
    evidence = fixed["changes"][0]["evidence"]
    [gone] = [e for e in evidence if e["after_sha256"] is None]     # the site-file fallback, no longer read
    [came] = [e for e in evidence if e["before_sha256"] is None]    # borgmatic's own configuration
    assert gone["source"] == "cat -- /etc/hvconform/backup-paths" and "No such file" in gone["before_excerpt"]
    assert came["source"].startswith("for f in /etc/borgmatic/config.yaml")
    assert "/etc/borgmatic/config.yaml:3: - /etc/libvirt" in came["after_excerpt"]
    assert "BKP-001 on default: fail -> pass" in proc2.stdout

    broken = results(run3)["drift"]
    assert proc3.returncode == 1
    assert [(c["control"], c["host"], c["before"], c["after"], c["new_failure"])
            for c in broken["changes"]] == [("BKP-001", "default", "pass", "fail", True)]
    assert "NEW FAILURE BKP-001 on default: pass -> fail" in proc3.stdout


def lab_inventory_copy(tmp_path, **weak_ssh) -> Path:
    """inventories/lab.yaml with absolute paths, weak's ssh settings changed."""
    doc = yaml.safe_load(LAB_INVENTORY.read_text())
    for k in ("identity_file", "known_hosts"):
        doc["defaults"]["ssh"][k] = str((LAB_INVENTORY.parent / doc["defaults"]["ssh"][k]).resolve())
    doc["hosts"]["weak"]["ssh"] = weak_ssh
    path = tmp_path / "lab-slow-weak.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_an_interrupted_run_still_writes_a_valid_bundle_that_says_what_is_missing(lab, tmp_path):
    """weak answers slower than its command timeout (a host hanging past it), and
    Ctrl-C comes after 20 judged cases."""
    inventory = lab_inventory_copy(tmp_path, command_timeout=0.01)
    env_before = os.environ.get("HVCONFORM_INTERRUPT_AFTER")
    os.environ["HVCONFORM_INTERRUPT_AFTER"] = "20"
    try:
        with lab_lock():
            proc, run_dir = run_suite(f"--inventory={inventory}", "-p",
                                      "tests.integration.interrupt_after", reports_dir=tmp_path)
    finally:
        if env_before is None:
            del os.environ["HVCONFORM_INTERRUPT_AFTER"]
        else:
            os.environ["HVCONFORM_INTERRUPT_AFTER"] = env_before
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]   # pytest: interrupted
    path = run_dir / "bundle.tar.gz"
    assert verify_cli(path).returncode == 0
    report = bundle.verify(path)
    incomplete = report.manifest["incomplete"]
    assert incomplete["interrupted"] == "interrupted (KeyboardInterrupt)"
    assert [(h["name"], h["status"]) for h in incomplete["hosts_not_collected"]] == [("weak", "timeout")]
    doc = results(run_dir)
    # 20 tests ran their body; weak's cases error in setup (never reach the body)
    assert 20 <= len(doc["verdicts"]) < 100 and len(incomplete["cases_not_judged"]) > 100
    assert set(incomplete["cases_not_judged"]) == set(doc["run"]["not_judged"])
    assert not {r["test"] for r in doc["verdicts"]} & set(doc["run"]["not_judged"])
    assert "INCOMPLETE: interrupted (KeyboardInterrupt)" in proc.stdout
    assert "note: the run was incomplete" in verify_cli(path).stdout


def test_ctrl_c_while_collecting_still_bundles_what_was_collected(lab, tmp_path):
    """A real SIGINT while one host hangs (a loopback socket of this test that
    accepts and never says a word, so the SSH handshake waits): the hosts already
    collected are judged, the hanging one is marked not collected, and the bundle
    verifies."""
    silent = socket.create_server(("127.0.0.1", 0))
    doc = yaml.safe_load(lab_inventory_copy(tmp_path).read_text())
    # a long connect timeout: on a loaded machine the other two hosts took longer than
    # the 8 s used before, weak timed out first, and the signal came after the run ended
    doc["hosts"]["weak"] = {"address": "127.0.0.1",
                            "ssh": {"port": silent.getsockname()[1], "connect_timeout": 90}}
    inventory = tmp_path / "lab-hanging-weak.yaml"
    inventory.write_text(yaml.safe_dump(doc))
    run_id = "ctrl-c"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--run-id={run_id}",
           f"--reports-dir={tmp_path}", f"--inventory={inventory}", "-q"]
    with lab_lock():
        # a shell's background job ignores SIGINT, and its children inherit that (Python
        # then leaves SIGINT ignored): the audit under test takes Ctrl-C as a terminal gives it
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        seen = []
        for line in proc.stdout:           # wait until the two live hosts are in
            seen.append(line)
            if sum(("hardened: ok" in s) or ("default: ok" in s) for s in seen) == 2:
                break
        proc.send_signal(signal.SIGINT)    # what Ctrl-C sends
        out = "".join(seen) + proc.communicate(timeout=120)[0]
    silent.close()
    assert proc.returncode == 2, out[-3000:]                     # pytest: interrupted
    assert "interrupted while collecting (Ctrl-C); hosts not collected: weak" in out
    path = tmp_path / run_id / "bundle.tar.gz"
    assert verify_cli(path).returncode == 0
    manifest = bundle.verify(path).manifest
    assert manifest["incomplete"]["interrupted"] == "interrupted while collecting (Ctrl-C)"
    assert [h["name"] for h in manifest["incomplete"]["hosts_not_collected"]] == ["weak"]
    records = results(tmp_path / run_id)["verdicts"]
    assert {r["host"] for r in records if r["status"] != "error"} == {"hardened", "default"}
    weak = [r for r in records if r["host"] == "weak"]
    assert weak and all("interrupted (Ctrl-C)" in r["reason"] for r in weak)
