"""Host-supplied text never runs as script in either report (issue 10: a VM named
`<img src=x onerror=...>` ran script in pytest.html). A run is replayed from a
bundle whose hosts lie: a domain name, a hostname, an error text and a file's
contents carry markup. Both pages are opened in headless Chromium and the DOM it
built is read: the payload, had it run, would have added a <hvpwned> element.

A control proves the detector: the same payload in a page without escaping or CSP
does add the element. And a payload put into each page raw, past all escaping,
still runs nothing: the page's Content-Security-Policy stops it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.hostile_bundles import LAB, craft, recorded_files
from tests.integration.test_report_browser import rendered_dom

RUN = "document.body.appendChild(document.createElement('hvpwned'))"
DOMAIN = f"<img src=x onerror={RUN}>"                 # libvirt names may hold anything but '/'
HOSTNAME = f"<script>{RUN}</script>"
ERROR = f"<svg onload={RUN}></svg> connection refused"
FILE_LINE = f'vnc_listen = "<img src=y onerror={RUN}>"'
RAN = "<hvpwned>"


def hostile_files() -> dict[str, bytes]:
    files = recorded_files()
    weak = json.loads((LAB / "weak.json").read_text())
    weak["identity"]["hostname"] = HOSTNAME
    for d in weak["domains"]:
        if d["name"] == "weak-guest":
            d["name"] = DOMAIN
    for old in ("domain:weak-guest:inactive", "domain:weak-guest:live"):
        art = weak["artifacts"].pop(old)
        art["key"] = old.replace("weak-guest", DOMAIN)
        weak["artifacts"][art["key"]] = art
    conf = weak["artifacts"]["file:/etc/libvirt/qemu.conf"]
    conf["stdout"] = conf["stdout"].replace('vnc_listen = "0.0.0.0"', FILE_LINE)
    files["snapshots/weak.json"] = json.dumps(weak).encode()
    broken = {"host": "broken", "status": "error", "error": ERROR, "identity": {"hostname": HOSTNAME}}
    files["snapshots/broken.json"] = json.dumps(broken).encode()
    meta = json.loads(files["run.json"])
    meta["hosts"].append("broken")
    files["run.json"] = json.dumps(meta).encode()
    return files


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    path = craft(tmp / "hostile.tar.gz", hostile_files())
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN",
                           "--tb=no", f"--reports-dir={tmp / 'reports'}", "--run-id=hostile",
                           f"--replay={path}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "reports" / "hostile"


def test_the_detector_sees_a_payload_that_runs(tmp_path):
    page = tmp_path / "unsafe.html"
    page.write_text(f"<!DOCTYPE html><html><body><p>{DOMAIN}</p>{HOSTNAME}</body></html>")
    assert RAN in rendered_dom(tmp_path, page.as_uri())


@pytest.mark.parametrize("page", ["pytest.html", "report.html"])
def test_hostile_names_run_no_script_in_either_report(hostile_run, tmp_path, page):
    text = (hostile_run / page).read_text()
    assert "hvpwned" in text, "the payloads must be in the page for the test to mean anything"
    dom = rendered_dom(tmp_path, (hostile_run / page).as_uri())
    assert RAN not in dom
    # the page still rendered: its own script ran and showed the hostile VM's verdicts
    if page == "pytest.html":
        assert 'class="col-control"' in dom and "hv-evidence" in dom
        assert "&lt;img src=x onerror=" in dom      # the domain name, shown as text
    else:
        assert 'id="overall-compliance"' in dom and "&lt;img src=x onerror=" in dom
    assert "&lt;script&gt;" in dom or "&lt;svg onload=" in dom


@pytest.mark.parametrize("page", ["pytest.html", "report.html"])
def test_markup_past_all_escaping_is_stopped_by_the_csp(hostile_run, tmp_path, page):
    text = (hostile_run / page).read_text()
    assert 'http-equiv="Content-Security-Policy"' in text
    raw = text.replace("<body>", f"<body>{DOMAIN}{HOSTNAME}", 1)
    assert raw != text
    copy = tmp_path / page
    copy.write_text(raw)
    assert RAN not in rendered_dom(tmp_path, copy.as_uri())
