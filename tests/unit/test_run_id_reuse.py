"""The same run id used twice, at once or one after the other, no longer mixes two
runs' snapshots into one bundle that verifies (issue 10): a run folder is claimed
(made, atomically) by one run only, and a taken id is refused with one line."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pytest

from hvconform import audit
from hvconform.model import run as run_mod
from hvconform.model.safe_names import UnsafeName
from tests.conftest import ROOT
from tests.hostile_bundles import craft, recorded_files, tree


def test_the_same_run_id_one_after_the_other_is_refused(tmp_path):
    rid, first = run_mod.claim(tmp_path, "nightly")
    assert (rid, first) == ("nightly", tmp_path / "nightly") and first.is_dir()
    (first / "snapshots").mkdir()
    (first / "snapshots" / "old-host.json").write_text("{}")
    with pytest.raises(run_mod.RunIdTaken, match="run id 'nightly' is taken"):
        run_mod.claim(tmp_path, "nightly")
    assert tree(first) == {"snapshots/old-host.json"}


def _claim(args):
    reports, rid = args
    try:
        return str(run_mod.claim(reports, rid)[1])
    except run_mod.RunIdTaken:
        return None


def test_the_same_run_id_at_once_is_claimed_by_one_run_only(tmp_path):
    with multiprocessing.get_context("fork").Pool(8) as pool:
        got = pool.map(_claim, [(tmp_path, "same")] * 32)
    assert [g for g in got if g] == [str(tmp_path / "same")]


def test_without_a_run_id_a_free_one_is_drawn(tmp_path, monkeypatch):
    ids = iter(["t-1", "t-1", "t-2"])
    monkeypatch.setattr(run_mod, "new_run_id", lambda: next(ids))
    assert run_mod.claim(tmp_path)[0] == "t-1"
    assert run_mod.claim(tmp_path)[0] == "t-2"   # t-1 is taken: drawn again


@pytest.mark.parametrize("rid", ["..", "../x", "/tmp/x", "a/b", "-x", ""])
def test_a_run_id_is_a_safe_name(tmp_path, rid):
    with pytest.raises(UnsafeName):
        run_mod.claim(tmp_path / "reports", rid or None) if rid else run_mod.claim(tmp_path, "/")


def test_rejudge_refuses_a_run_id_in_use(tmp_path):
    path = craft(tmp_path / "b.tar.gz", recorded_files())
    (tmp_path / "out" / "taken").mkdir(parents=True)
    with pytest.raises(run_mod.RunIdTaken):
        audit.rejudge(path, tmp_path / "out", "taken")
    assert tree(tmp_path / "out") == set()


def test_pytest_refuses_a_run_id_whose_folder_exists_and_leaves_it_alone(tmp_path):
    path = craft(tmp_path / "b.tar.gz", recorded_files())
    taken = tmp_path / "reports" / "taken"
    (taken / "snapshots").mkdir(parents=True)
    (taken / "snapshots" / "other.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           f"--reports-dir={tmp_path / 'reports'}", "--run-id=taken",
                           f"--replay={path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "--run-id: run id 'taken' is taken" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert tree(taken) == {"snapshots/other.json"}
