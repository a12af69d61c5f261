"""`lab up` is idempotent: on a lab that is up it changes nothing (same hosts,
same PID 1s). `down` twice is exercised by .ci/run's exit trap."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT


def status():
    out = subprocess.run([str(ROOT / "lab" / "lab"), "status"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return sorted(line.split()[:4] for line in out.stdout.splitlines() if line.strip())


def test_up_on_a_running_lab_changes_nothing(lab):
    before = status()
    up = subprocess.run([str(ROOT / "lab" / "lab"), "up"], capture_output=True, text=True)
    assert up.returncode == 0, up.stdout + up.stderr
    assert status() == before
