"""`python -m hvconform trend` on three nights of the recorded lab (judged into signed
bundles, with changes between them), one real run of the lab and a forged bundle whose
host name is markup, opened in headless Chromium: the charts render, the numbers the
page shows are the CSV's, and the hostile name stays text."""

from __future__ import annotations

import csv
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.integration.test_report_browser import chromium, rendered_dom
from tests.unit.test_trend import HOSTILE, make_bundle, second_night


@pytest.fixture(scope="module")
def trended(lab_audit, tmp_path_factory):
    _, run_dir, _ = lab_audit
    folder = tmp_path_factory.mktemp("nights")
    inputs = [make_bundle(folder, "n2", "2025-06-02T02:00:00Z", second_night),
              make_bundle(folder, "n1", "2025-06-01T02:00:00Z"),
              run_dir,                                          # the real lab run, started now
              make_bundle(folder, "forged", "2025-06-03T02:00:00Z", rename={"weak": HOSTILE})]
    broken = folder / "broken.tar.gz"
    broken.write_bytes(inputs[0].read_bytes()[:-100])         # cut short: does not verify
    html, out = folder / "trend.html", folder / "trend.csv"
    proc = subprocess.run([sys.executable, "-m", "hvconform", "trend", *map(str, inputs), str(broken),
                           "--html", str(html), "--csv", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc, html, list(csv.DictReader(out.open())), run_dir, broken


def test_the_broken_bundle_is_named_and_the_rest_trended(trended):
    proc, _, rows, run_dir, broken = trended
    assert proc.returncode == 1, proc.stderr
    assert f"skipped: {broken}: the bundle does not verify" in proc.stderr
    runs = [r["run"] for r in rows if r["scope"] == "all"]
    assert runs == ["n1", "n2", "forged", run_dir.name]      # by start time, not by argument order


def test_the_numbers_shown_are_the_csvs(trended, tmp_path):
    _, html, rows, run_dir, _ = trended
    dom = rendered_dom(tmp_path, html.as_uri())
    shown = {}
    for run, what, name, pct in re.findall(
            r'<g class="cell" data-run="([^"]*)" data-(host|domain)="([^"]*)" data-compliance="([^"]*)"', dom):
        shown[run, what, name] = pct
    texts = re.findall(r'<g class="cell" data-run="[^"]*" data-(?:host|domain)="[^"]*" data-compliance="([^"]*)"'
                       r'[^>]*>.*?<text class="pct"[^>]*>([^<]*)</text>', dom, re.S)
    assert texts and all(text == (pct + "%" if pct else "n/a") for pct, text in texts if text != "–")
    expected = {(r["run"], r["scope"], r["name"]): r["compliance_percent"] for r in rows if r["scope"] != "all"}
    unescaped = {(run, what, name.replace("&amp;", "&").replace("&quot;", '"').replace("&lt;", "<")
                  .replace("&gt;", ">")): pct for (run, what, name), pct in shown.items()}
    assert unescaped == expected
    overall = dict(re.findall(r'<g class="point" data-run="([^"]*)" data-compliance="([^"]*)%"', dom))
    assert overall == {r["run"]: r["compliance_percent"] for r in rows if r["scope"] == "all"}
    steps = {run: (new, fixed) for run, new, fixed in re.findall(
        r'<tr data-run="([^"]*)">.*?data-new="(\d*)".*?data-fixed="(\d*)"', dom, re.S)}
    assert steps == {r["run"]: (r["new_failures"], r["fixed_failures"]) for r in rows if r["scope"] == "all"}
    for new, shown in re.findall(r'data-new="(\d+)"><details><summary class="t-fail">(\d+)<', dom):
        assert new == shown
    news = {run: new for run, (new, _) in steps.items()}
    assert int(news["n2"]) > 0


def test_the_hostile_host_name_is_text(trended, tmp_path):
    _, html, _, _, _ = trended
    dom = rendered_dom(tmp_path, html.as_uri())
    assert "<img" not in dom and "<script" not in dom          # no element came out of the name
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert re.search(r"<title>hvconform trend: 4 run\(s\)</title>", dom)   # the script did not run


def test_the_charts_render(trended, tmp_path):
    _, html, rows, _, _ = trended
    dom = rendered_dom(tmp_path, html.as_uri())
    assert len(re.findall(r'<g class="point"', dom)) == 4
    hosts = {r["name"] for r in rows if r["scope"] == "host"}
    assert len(re.findall(r'<g class="row" data-host=', dom)) == len(hosts) == 4
    shot = html.with_suffix(".png")
    chromium(tmp_path, "--window-size=1200,1400", "--virtual-time-budget=3000", f"--screenshot={shot}",
             html.as_uri())
    assert shot.exists() and shot.stat().st_size > 40_000    # a blank page is ~9 kB
