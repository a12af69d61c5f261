"""A replay judged by different check code says so: the catalog digest covers the
judging code, not only controls.yaml, so old evidence judged with new logic is never
passed off as the original verdicts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from hvconform.deliver import bundle, run_folder
from tests.conftest import ROOT
from tests.unit.test_audit_without_pytest import CAT, lab_run
from hvconform import audit


def copy_of_the_project(dest):
    for name in ("hvconform", "fixtures", "suites"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pytest.ini"):
        shutil.copyfile(ROOT / name, dest / name)
    return dest


def test_replay_with_changed_check_code_reports_the_catalog_changed(tmp_path):
    run = lab_run(tmp_path / "recorded")
    written = run_folder.finish(run, audit.judge_run(run, CAT), bundle.signer_from(None), CAT)
    other = copy_of_the_project(tmp_path / "other")
    # one function behaves differently: no release is supported any more
    source = next(p for p in (other / "hvconform" / "judge" / "functions").glob("*.py")
                  if "def supported_release(" in p.read_text())
    text = source.read_text()
    assert 'allowed = policy["supported_releases"]' in text
    source.write_text(text.replace('allowed = policy["supported_releases"]', "allowed = []"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN",
                           "--tb=no", f"--replay={written.bundle}", "--run-id=again",
                           f"--reports-dir={tmp_path / 'reports'}"],
                          cwd=other, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "CATALOG CHANGED since the bundle" in proc.stdout
    doc = json.loads((tmp_path / "reports" / "again" / "results.json").read_text())
    changed = doc["run"]["catalog_changed"]
    assert changed and changed["bundle"] == CAT.digest and changed["current"] != CAT.digest
    assert {r["status"] for r in doc["verdicts"] if r["control"] == "HOST-001"} == {"fail"}


def test_replay_with_the_same_code_reports_no_change(tmp_path):
    run = lab_run(tmp_path / "recorded")
    written = run_folder.finish(run, audit.judge_run(run, CAT), bundle.signer_from(None), CAT)
    doc = json.loads(audit.rejudge(written.bundle, tmp_path, "same").results.read_text())
    assert doc["run"]["catalog_changed"] is None
