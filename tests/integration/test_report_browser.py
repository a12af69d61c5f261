"""The HTML report, opened in a real headless Chromium: the audit columns and the
evidence must be in the page the browser renders (pytest-html builds its table
with JavaScript, so reading the file's text would not prove it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args):
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: `make setup` installs it")
    profile = tmp_path / "profile"
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_report_renders_audit_columns_and_evidence(lab_audit, tmp_path):
    _, run_dir, results = lab_audit
    url = (run_dir / "report.html").as_uri()
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url).stdout
    for header in ("Control", "Title", "Severity", "Host", "VM", "Verdict"):
        assert f">{header}<" in dom, header
    fail = next(v for v in results["verdicts"] if v["status"] == "fail" and v["host"] == "weak")
    assert f'<td class="col-control">{fail["control"]}</td>' in dom
    assert fail["evidence"][0]["sha256"] in dom
    assert "hv-evidence" in dom
    assert 'id="hv-hosts"' in dom and "ssh-ed25519 SHA256:" in dom and "NOT VERIFIED" not in dom


def test_report_screenshot(lab_audit, tmp_path):
    _, run_dir, _ = lab_audit
    shot = run_dir / "report.png"
    chromium(tmp_path, "--window-size=1600,1200", "--virtual-time-budget=5000",
             f"--screenshot={shot}", (run_dir / "report.html").as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
