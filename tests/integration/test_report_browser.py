"""Both HTML reports of a lab run, opened in a real headless Chromium: the auditor's
report.html (hvconform.deliver.report: summary numbers, a filter applied by its own
JavaScript) and pytest-html's pytest.html (the audit columns and the evidence,
which pytest-html builds with JavaScript). Reading the files' text would prove
neither: what counts is the page the browser renders."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

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


def rendered_dom(tmp_path, url: str) -> str:
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url).stdout
    assert "</html>" in dom, f"Chromium rendered nothing for {url}"
    return dom


def shown_verdicts(dom: str) -> list[str]:
    """Opening tags of the verdicts the page shows (the filter hides the others)."""
    tags = re.findall(r'<details class="verdict [^"]*"[^>]*>', dom)
    assert tags, "no verdict in the rendered report"
    return [t for t in tags if not re.search(r"\shidden\b", t)]


def compliance(verdicts) -> str:
    counts = Counter(v["status"] for v in verdicts)
    assessed = len(verdicts) - counts["not_applicable"]
    return f"{counts['pass'] * 100 / assessed:.0f}%"


# -- the auditor's report ------------------------------------------------------

def test_auditor_report_summary_in_the_browser(lab_audit, tmp_path):
    _, run_dir, results = lab_audit
    verdicts = results["verdicts"]
    dom = rendered_dom(tmp_path, (run_dir / "report.html").as_uri())
    assert f'id="overall-compliance">{compliance(verdicts)}<' in dom
    counts = Counter(v["status"] for v in verdicts)
    for status in ("fail", "error", "manual", "waived", "pass", "not_applicable"):
        assert re.search(rf'id="count-{status}"><div class="value">{counts[status]}</div>', dom), status
    for host in ("hardened", "default", "weak"):
        row = re.search(rf'<tr data-host="{host}">.*?</tr>', dom, re.S).group(0)
        assert compliance([v for v in verdicts if v["host"] == host]) in row, host
    assert len(shown_verdicts(dom)) == len(verdicts)   # no filter: all shown
    for section in ("heatmap-table", "severity-table", "waivers", "manual", "isolation", "traceability"):
        assert f'id="{section}"' in dom, section


def test_auditor_report_filter_from_the_address(lab_audit, tmp_path):
    _, run_dir, results = lab_audit
    wanted = [v for v in results["verdicts"] if v["host"] == "weak" and v["status"] == "fail"]
    assert wanted, "the weak lab host must fail something"
    dom = rendered_dom(tmp_path, (run_dir / "report.html").as_uri() + "#host=weak&status=fail")
    shown = shown_verdicts(dom)
    assert len(shown) == len(wanted)
    assert all('data-host="weak"' in t and 'data-status="fail"' in t for t in shown)
    assert f'id="shown">{len(wanted)}<' in dom
    # and a framework reference: every verdict citing the PP for Virtualization
    pp = [v for v in results["verdicts"] if "pp_virt" in (v.get("references") or {})]
    dom = rendered_dom(tmp_path, (run_dir / "report.html").as_uri() + "#ref=pp_virt")
    assert len(shown_verdicts(dom)) == len(pp) > 0


def test_auditor_report_screenshot(lab_audit, tmp_path):
    _, run_dir, _ = lab_audit
    shot = run_dir / "report.png"
    chromium(tmp_path, "--window-size=1400,2200", "--virtual-time-budget=5000",
             f"--screenshot={shot}", (run_dir / "report.html").as_uri())
    assert shot.exists() and shot.stat().st_size > 50_000   # a blank page is ~9 kB


# -- pytest-html's report ------------------------------------------------------

def test_pytest_html_renders_audit_columns_and_evidence(lab_audit, tmp_path):
    _, run_dir, results = lab_audit
    dom = rendered_dom(tmp_path, (run_dir / "pytest.html").as_uri())
    for header in ("Control", "Title", "Severity", "Host", "VM", "Verdict"):
        assert f">{header}<" in dom, header
    fail = next(v for v in results["verdicts"] if v["status"] == "fail" and v["host"] == "weak")
    assert f'<td class="col-control">{fail["control"]}</td>' in dom
    assert fail["evidence"][0]["sha256"] in dom
    assert "hv-evidence" in dom
    assert 'id="hv-hosts"' in dom and "ssh-ed25519 SHA256:" in dom and "NOT VERIFIED" not in dom
    # self-contained: no stylesheet beside it
    assert not (run_dir / "assets").exists() and 'href="assets/' not in (run_dir / "pytest.html").read_text()


def test_pytest_html_screenshot(lab_audit, tmp_path):
    _, run_dir, _ = lab_audit
    shot = run_dir / "pytest.png"
    chromium(tmp_path, "--window-size=1600,1200", "--virtual-time-budget=5000",
             f"--screenshot={shot}", (run_dir / "pytest.html").as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
