"""Replay of a bundle an adversary made (issue 10, "Writes and code execution"):
names from its run.json never become paths outside the run folder, the signature is
checked against the key the reviewer gives, and a malformed bundle is one located
line, never a traceback or INTERNALERROR."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hvconform.deliver import bundle, replay
from tests.conftest import ROOT
from tests.hostile_bundles import craft, public_key_file, recorded_files, tree


def pytest_replay(tmp_path, *args, timeout=300):
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN", "--tb=short",
           f"--reports-dir={tmp_path / 'reports'}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def with_host_named(name: str) -> dict[str, bytes]:
    """The recorded run, with weak's snapshot and sent log under `name` (a tar member
    name cannot hold NUL: that name is only in run.json)."""
    files = recorded_files()
    meta = json.loads(files["run.json"])
    meta["hosts"] = ["hardened", "default", name]
    files["run.json"] = json.dumps(meta).encode()
    if "\0" not in name:
        files[f"snapshots/{name}.json"] = files.pop("snapshots/weak.json")
        files[f"sent/{name}.json"] = files.pop("sent/weak.json")
    return files


@pytest.mark.parametrize("name", ["../../escaped", "../other-run/snapshots/weak", "/tmp/hv-abs/x",
                                  "a/b", "..", "-rf", "nul\0byte", "x" * 300])
def test_replay_trusts_no_host_name_from_run_json_as_a_file_name(tmp_path, name):
    reports = tmp_path / "reports"
    other = reports / "other-run"
    (other / "snapshots").mkdir(parents=True)
    (other / "snapshots" / "weak.json").write_text("{}")
    path = craft(tmp_path / "crafted.tar.gz", with_host_named(name))
    before = tree(tmp_path)
    assert bundle.verify(path).ok   # re-signed with its own key: verify alone cannot tell
    with pytest.raises(replay.ReplayError) as caught:
        replay.load(path, "r2", reports / "r2")
    assert "run.json: hosts[2]: host name" in str(caught.value)
    assert "\n" not in str(caught.value)
    # nothing written anywhere but (at most) the new run's own, still empty, folder
    assert tree(tmp_path) - before == set()
    assert (other / "snapshots" / "weak.json").read_text() == "{}"


def test_replay_never_writes_outside_its_own_run_folder(tmp_path):
    path = craft(tmp_path / "ok.tar.gz", recorded_files())
    before = tree(tmp_path)
    loaded = replay.load(path, "r2", tmp_path / "reports" / "r2")
    written = tree(tmp_path) - before
    assert written and all(p.startswith("reports/r2/") for p in written), written
    assert set(loaded.run.snapshots) == {"hardened", "default", "weak"}


def test_replay_of_a_run_json_naming_a_host_without_a_snapshot_is_a_located_error(tmp_path):
    files = recorded_files()
    del files["snapshots/weak.json"]
    path = craft(tmp_path / "ghost.tar.gz", files)
    with pytest.raises(replay.ReplayError, match=r"run.json: hosts\[2\]: 'weak' has no "
                                                 r"snapshots/weak.json in the bundle"):
        replay.load(path, "r2", tmp_path / "r2")


@pytest.mark.parametrize("change, message", [
    (lambda f: f.update({"run.json": b"not json"}), "run.json: not JSON"),
    (lambda f: f.update({"run.json": b"[]"}), "run.json: expected a mapping"),
    (lambda f: f.pop("run.json"), "no run.json"),
    (lambda f: f.update({"run.json": json.dumps({**json.loads(f["run.json"]), "hosts": "weak"}).encode()}),
     "run.json: hosts: expected a list, got a string"),
    (lambda f: f.update({"run.json": json.dumps({**json.loads(f["run.json"]),
                                                 "hosts": ["weak", "weak"]}).encode()}),
     "run.json: hosts[1]: 'weak' is listed twice"),
    (lambda f: f.update({"run.json": json.dumps({**json.loads(f["run.json"]), "started": 3}).encode()}),
     "run.json: started: expected a string"),
    (lambda f: f.update({"snapshots/weak.json": b"\xff\xfe"}), "snapshots/weak.json: not JSON"),
    (lambda f: f.update({"snapshots/weak.json": b'{"host": "weak", "artifacts": []}'}),
     "snapshots/weak.json: artifacts: expected a mapping"),
    (lambda f: f.update({"snapshots/weak.json": b'{"host": "default"}'}),
     "snapshots/weak.json: host: 'default', not the host run.json names ('weak')"),
    (lambda f: f.update({"snapshots/weak.json": b'{"host": "weak", "colour": 1}'}),
     "snapshots/weak.json: colour: unknown key"),
    (lambda f: f.update({"snapshots/weak.json": json.dumps({
        "host": "weak", "artifacts": {"k": {"key": "k", "source": "s", "rc": "0", "stdout": ""}}}).encode()}),
     "snapshots/weak.json: artifacts.k: rc: expected an integer"),
    (lambda f: f.update({"sent/weak.json": b'{"a": 1}'}), "sent/weak.json: expected a list"),
])
def test_replay_of_a_malformed_bundle_is_one_located_line(tmp_path, change, message):
    files = recorded_files()
    change(files)
    path = craft(tmp_path / "bad.tar.gz", files)
    with pytest.raises(replay.ReplayError) as caught:
        replay.load(path, "r2", tmp_path / "r2")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_replay_verifies_the_signature_against_the_key_the_reviewer_gives(tmp_path):
    auditor, forger = bundle.signer_from(None), bundle.signer_from(None)
    genuine = craft(tmp_path / "genuine.tar.gz", recorded_files(), auditor)
    forged = craft(tmp_path / "forged.tar.gz", recorded_files(), forger)
    assert replay.load(genuine, "a", tmp_path / "a", auditor.public_key).run.snapshots
    with pytest.raises(replay.ReplayError, match="not by the given key"):
        replay.load(forged, "b", tmp_path / "b", auditor.public_key)


# -- through pytest, as a reviewer runs it -----------------------------------------

def test_pytest_replay_pubkey_refuses_a_bundle_signed_by_another_key(tmp_path):
    auditor, forger = bundle.signer_from(None), bundle.signer_from(None)
    forged = craft(tmp_path / "forged.tar.gz", recorded_files(), forger)
    pub = public_key_file(tmp_path / "auditor.pub", auditor)
    proc = pytest_replay(tmp_path, f"--replay={forged}", f"--replay-pubkey={pub}", "--run-id=r")
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "not by the given key" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    assert not (tmp_path / "reports" / "r" / "results.json").exists()


def test_pytest_replay_of_a_host_without_a_snapshot_is_not_an_internalerror(tmp_path):
    files = recorded_files()
    del files["snapshots/weak.json"]
    path = craft(tmp_path / "ghost.tar.gz", files)
    proc = pytest_replay(tmp_path, f"--replay={path}", "--run-id=r")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out[-3000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out
    assert "'weak' has no snapshots/weak.json in the bundle" in proc.stderr


def test_pytest_replay_with_a_host_name_that_climbs_out_writes_nothing_outside(tmp_path):
    path = craft(tmp_path / "crafted.tar.gz", with_host_named("../../../escaped"))
    before = tree(tmp_path)
    proc = pytest_replay(tmp_path, f"--replay={path}", "--run-id=r")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out[-3000:]
    assert "host name '../../../escaped'" in proc.stderr and "Traceback" not in out
    assert {p for p in tree(tmp_path) - before if not p.startswith("reports/r/")} == set()
