"""A run whose hosts run no VM has no per-VM cases: pytest's 'empty parameter set'
placeholders are no tests of the run, so the run is not called incomplete."""

from __future__ import annotations

import dataclasses
import json

from hvconform import audit
from hvconform.deliver import bundle, run_folder
from hvconform.model.run import Run
from hvconform.model.snapshot import Snapshot
from tests.conftest import run_suite
from tests.unit.test_audit_without_pytest import CAT, LAB


def test_a_replay_of_a_host_without_vms_is_complete(tmp_path):
    snap = Snapshot.load(LAB / "default.json")
    snap.domains, snap.qemu_pids = [], []
    listed = snap.artifacts["cmd:virsh_list_all"]
    snap.add(dataclasses.replace(listed, stdout="", sha256=""))
    snap.artifacts = {k: a for k, a in snap.artifacts.items() if not k.startswith("domain:")}
    run = Run("novms", tmp_path / "novms", inventory="inventories/lab.yaml", started=snap.started,
              snapshots={"default": snap})
    run.save({})
    written = run_folder.finish(run, audit.judge_run(run, CAT), bundle.signer_from(None), CAT,
                                render_report=False)
    proc, run_dir = run_suite(f"--replay={written.bundle}", "-p", "no:xdist", reports_dir=tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["run"]["not_judged"] == [] and doc["run"]["interrupted"] is None
    assert not any(r["vm"] for r in doc["verdicts"])
    assert "INCOMPLETE" not in proc.stdout and "empty parameter set" not in proc.stdout
