"""The fleet front end (`python -m hvconform audit`) on the real lab, beside pytest's
own run of it: the same cases and outcomes, and, judged from the same evidence (pytest
--replay of the fleet run's bundle), the very same records."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import LAB_INVENTORY, ROOT, run_suite


def _by_test(doc, *fields):
    return {r["test"]: tuple(r.get(f) for f in fields) for r in doc["verdicts"]}


def test_fleet_front_end_on_the_lab_gives_pytest_records(lab_audit, tmp_path):
    _, _, pytest_results = lab_audit
    proc = subprocess.run([sys.executable, "-m", "hvconform", "audit", f"--inventory={LAB_INVENTORY}",
                           f"--reports-dir={tmp_path}", "--run-id=fleet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr[-3000:]          # the lab fails controls: exit 1
    for host in ("hardened", "default", "weak"):
        assert f"\n{host}: " in proc.stderr
    fleet_dir = tmp_path / "fleet"
    fleet = json.loads((fleet_dir / "results.json").read_text())
    # collected anew from the live lab: the same cases, ids and outcomes as pytest's run
    assert _by_test(fleet, "status") == _by_test(pytest_results, "status")
    assert fleet["inventory"] == pytest_results["inventory"]
    # the same evidence judged by pytest gives the same records, field for field
    replayed, replay_dir = run_suite(f"--replay={fleet_dir / 'bundle.tar.gz'}", reports_dir=tmp_path,
                                     run_id="replayed")
    assert replayed.returncode == 1, replayed.stdout[-3000:]
    again = json.loads((replay_dir / "results.json").read_text())
    assert {r["test"]: r for r in again["verdicts"]} == {r["test"]: r for r in fleet["verdicts"]}
    assert len(fleet["verdicts"]) > 900
