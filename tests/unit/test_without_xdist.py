"""`pytest -p no:xdist` (or a machine without pytest-xdist) runs the audit (issue 10:
it ended in INTERNALERROR while a plugin defined xdist's hooks without marking them
optional). The run is a replay of the recorded lab, checked against the auditor's
key with --replay-pubkey: the whole audit, in one process, without xdist."""

from __future__ import annotations

import json
import subprocess
import sys

from hvconform.deliver import bundle
from tests.conftest import ROOT
from tests.hostile_bundles import craft, public_key_file, recorded_files


def test_pytest_without_xdist_audits_a_replay_signed_by_the_trusted_key(tmp_path):
    auditor = bundle.signer_from(None)
    path = craft(tmp_path / "lab.tar.gz", recorded_files(), auditor)
    pub = public_key_file(tmp_path / "auditor.pub", auditor)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
                           "-q", "-rN", "--tb=no", f"--reports-dir={tmp_path / 'reports'}",
                           "--run-id=r", f"--replay={path}", f"--replay-pubkey={pub}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert proc.returncode == 1, out[-3000:]   # the lab's weak host fails controls
    doc = json.loads((tmp_path / "reports" / "r" / "results.json").read_text())
    assert len(doc["verdicts"]) > 900 and doc["run"]["replayed_from"]
    assert bundle.verify(tmp_path / "reports" / "r" / "bundle.tar.gz").ok
