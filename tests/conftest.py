"""Fixtures of the project's own tests (not the audit suites).

Integration tests need the lab (`lab/lab up`, done by `make test`); they fail
with that instruction when it is down, rather than skip silently.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LAB_INVENTORY = ROOT / "inventories" / "lab.yaml"

# A backup's age is measured from each run's own collection (judge/functions/
# backup_recency.py): two runs collected minutes apart say "0.8 h" and "0.9 h" of the
# same backup. Tests comparing such runs leave the age out; the backup's time stays.
_AGE = re.compile(r"-?\d+\.\d h before collection")


def timeless(text):
    """`text` with each backup age replaced by N (None stays None)."""
    return text if not isinstance(text, str) else _AGE.sub("N h before collection", text)


def status_and_actual(doc) -> dict:
    """{test id: (status, actual without ages)} of a results.json document: what two
    runs of the same hosts must agree on (shards merged against one run)."""
    return {r["test"]: (r["status"], timeless(r["actual"])) for r in doc["verdicts"]}


def merged(bundles, out: Path) -> dict:
    """`python -m hvconform merge BUNDLES -o out`, which must succeed: its results.json."""
    proc = subprocess.run([sys.executable, "-m", "hvconform", "merge", *map(str, bundles), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((Path(out) / "results.json").read_text())


def lab_is_up() -> bool:
    return subprocess.run([str(ROOT / "lab" / "lab"), "status", "--quiet"],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def lab():
    if not lab_is_up():
        pytest.fail("the lab is not up: run `lab/lab up` (as root) first; `make test` does")
    from hvconform.inputs import inventory

    return inventory.load(LAB_INVENTORY)


def run_suite(*args, reports_dir: Path, run_id: str | None = None, timeout=900, env=None):
    """Run the audit suite in a child pytest, as a user would; return (proc, run_dir).
    `env`: variables to set in the child (e.g. a Kubernetes Job's)."""
    run_id = run_id or "t-" + uuid.uuid4().hex[:8]
    # option=value: pytest takes a bare path argument for a test path when it picks
    # its rootdir, before it knows our options (see README, "Auditing other hosts")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--run-id={run_id}",
           f"--reports-dir={reports_dir}", *args]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}, **(env or {})}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, reports_dir / run_id


@pytest.fixture(scope="session")
def lab_audit(lab, tmp_path_factory):
    """One audit of the whole lab with two xdist workers, shared by the tests that read it."""
    reports = tmp_path_factory.mktemp("reports")
    proc, run_dir = run_suite(f"--inventory={LAB_INVENTORY}", "-n", "2",
                              reports_dir=reports)
    assert proc.returncode == 1, f"expected findings (exit 1):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads((run_dir / "results.json").read_text())
    return proc, run_dir, results
