"""Both HTML reports of a lab run, opened in a real headless Chromium: the auditor's
report.html (hvconform.deliver.report: summary numbers, a filter applied by its own
JavaScript) and pytest-html's pytest.html (the audit columns and the evidence,
which pytest-html builds with JavaScript). Reading the files' text would prove
neither: what counts is the page the browser renders."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
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


# -- a fleet's report: the summary, and each host's verdicts one click away ------------

FLEET_HOSTS = 1000


@pytest.fixture(scope="module")
def fleet_report(tmp_path_factory):
    """report.html of 1,000 hosts (~300,000 verdicts): the recorded lab hosts' verdicts,
    judged once and given to 1,000 host names, rendered as a fleet's run renders it."""
    from hvconform import audit
    from hvconform.deliver.report import html
    from hvconform.inputs import catalog as catalog_mod
    from hvconform.model.run import Run
    from hvconform.model.snapshot import Snapshot
    from tests.conftest import ROOT

    lab = ROOT / "tests" / "data" / "lab-snapshots"
    where = tmp_path_factory.mktemp("fleet-report")
    snaps = {h: Snapshot.load(lab / f"{h}.json") for h in ("hardened", "default", "weak")}
    run = Run("recorded", where / "recorded", started=snaps["weak"].started, snapshots=snaps)
    catalog = catalog_mod.load()
    one = audit.judge_run(run, catalog)
    templates = [[r for r in one["verdicts"] if r["host"] == h] for h in snaps]
    hosts, verdicts = [], []
    for i in range(FLEET_HOSTS):
        name, source = f"sim-{i:04d}", list(snaps)[i % 3]
        hosts.append({**next(h for h in one["hosts"] if h["name"] == source), "name": name})
        verdicts += [{**r, "host": name, "test": r["test"].replace(f"[{source}", f"[{name}")}
                     for r in templates[i % 3]]
    doc = {**one, "hosts": hosts, "verdicts": verdicts}
    out = html.write(where / "results.json", where / "report.html", catalog, doc)
    return out, doc


def test_fleet_report_opens_to_its_summary_in_seconds(fleet_report, tmp_path):
    out, doc = fleet_report
    started = time.monotonic()
    dom = rendered_dom(tmp_path, out.as_uri())
    took = time.monotonic() - started
    assert took < 20, f"report.html of {FLEET_HOSTS} hosts took {took:.1f} s in Chromium"  # ~2 s idle
    verdicts = doc["verdicts"]
    assert f'id="overall-compliance">{compliance(verdicts)}<' in dom
    counts = Counter(v["status"] for v in verdicts)
    assert re.search(rf'id="count-fail"><div class="value">{counts["fail"]}</div>', dom)
    rows = re.findall(r'<tr data-host="(sim-\d{4})" data-page="(report-hosts/[^"]+)">', dom)
    assert len(rows) == FLEET_HOSTS
    assert '<details class="verdict' not in dom                 # the verdicts are on host pages
    assert out.stat().st_size < 10 * 1024 * 1024


def test_fleet_report_a_host_is_one_click_away(fleet_report, tmp_path):
    out, doc = fleet_report
    dom = rendered_dom(tmp_path, out.as_uri())
    page = re.search(r'<tr data-host="sim-0005" data-page="([^"]+)">.*?<a href="([^"]+)"', dom, re.S)
    assert page.group(1) == page.group(2)                       # the host's name links its page
    host_dom = rendered_dom(tmp_path, (out.parent / page.group(1)).as_uri())
    mine = [v for v in doc["verdicts"] if v["host"] == "sim-0005"]
    assert len(shown_verdicts(host_dom)) == len(mine)
    assert "sim-0006" not in host_dom.split('id="details"', 1)[1]
    # a shared link to report.html#host=...&status=fail opens that host's page, filtered
    filtered = rendered_dom(tmp_path, out.as_uri() + "#host=sim-0005&status=fail")
    shown = shown_verdicts(filtered)
    assert len(shown) == len([v for v in mine if v["status"] == "fail"]) > 0
    assert all('data-status="fail"' in t for t in shown)
