"""A site overlay on the live lab: inventories/site-overlay.example.yaml and a second
overlay that moves a policy path, with two xdist workers (which apply the overlays from
the run folder). SITE-001 passes on hardened and fails on weak, HOST-020 is tailored out,
what to collect follows the overlay's policy, the bundle carries both files, a replay
applies them again, and report.html shows the site's section in a real browser."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from hvconform import audit
from hvconform.deliver import bundle
from tests.conftest import LAB_INVENTORY, ROOT, SHARED, run_suite
from tests.integration.test_report_browser import rendered_dom

EXAMPLE = ROOT / "inventories" / "site-overlay.example.yaml"
SITE_PATHS = "/etc/hvconform/site-backup-paths"


@pytest.fixture(scope="module")
def overlaid(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("overlaid")
    second = folder / "paths.yaml"
    second.write_text(f"overlay: paths\npolicy: {{backup_manifest: {SITE_PATHS}}}\n")
    proc, run_dir = run_suite(f"--inventory={LAB_INVENTORY}", f"--overlay={EXAMPLE}", f"--overlay={second}",
                              "-m", "host", "-n", "2", reports_dir=folder)
    assert proc.returncode == 1, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return run_dir, json.loads((run_dir / "results.json").read_text()), second


def by(results, control):
    return {r["host"]: r for r in results["verdicts"] if r["control"] == control}


def test_the_site_control_passes_on_hardened_and_fails_on_weak(overlaid):
    _, results, _ = overlaid
    site = by(results, "SITE-001")
    assert {h: r["status"] for h, r in site.items()} == {"hardened": "pass", "default": "fail", "weak": "fail"}
    assert site["weak"]["test"] == "suites/site/test_site.py::test_sshd_config[weak-SITE-001]"
    assert "clientaliveinterval" in site["weak"]["evidence"][0]["excerpt"]
    jsonschema.validate(results, json.loads((SHARED / "results.schema.json").read_text()))


def test_tailoring_is_recorded_in_the_verdicts(overlaid):
    _, results, _ = overlaid
    for host, rec in by(results, "HOST-020").items():
        assert rec["status"] == "not_applicable", host
        assert rec["reason"].startswith("tailored out: microcode is delivered") and "approved by J. Doe (CISO)" in rec["reason"]
    assert {r["severity"] for r in by(results, "HOST-012").values()} == {"medium"}
    assert {r["tailoring"]["severity_from"] for r in by(results, "HOST-012").values()} == {"low"}
    assert [o["name"] for o in results["catalog"]["overlays"]] == ["example-site", "paths"]


def test_collection_follows_the_overlay_policy(overlaid):
    run_dir, _, _ = overlaid
    snap = json.loads((run_dir / "snapshots" / "hardened.json").read_text())
    assert f"file:{SITE_PATHS}" in snap["artifacts"]             # read because the overlay names it
    assert "backup_manifest" not in snap["policy"]               # the snapshot keeps the inventory's


def test_the_bundle_carries_the_overlays_and_a_replay_applies_them(overlaid, tmp_path):
    run_dir, results, second = overlaid
    assert bundle.verify(run_dir / "bundle.tar.gz").ok
    files = bundle.read(run_dir / "bundle.tar.gz")
    assert files["overlays/1.yaml"] == EXAMPLE.read_bytes() and files["overlays/2.yaml"] == second.read_bytes()
    again = json.loads(audit.rejudge(run_dir / "bundle.tar.gz", tmp_path, "again").results.read_text())
    assert again["run"]["catalog_changed"] is None
    host = {r["test"]: r["status"] for r in again["verdicts"] if r["domain"] == "host"}
    assert host == {r["test"]: r["status"] for r in results["verdicts"]}


def test_the_report_shows_what_the_site_added_and_tailored(overlaid, tmp_path):
    run_dir, _, _ = overlaid
    dom = rendered_dom(tmp_path, (run_dir / "report.html").as_uri())
    section = re.search(r'<h3 id="overlays">.*?<h3 id="manual">', dom, re.S).group(0)
    assert re.search(r'<tr data-control="SITE-001">.*?2 fail.*?1 pass', section, re.S)
    assert re.search(r'<tr data-control="HOST-020">.*?excluded.*?J\. Doe \(CISO\).*?RISK-2041', section, re.S)
    assert re.search(r'<tr data-control="HOST-012">.*?severity low → <b>medium</b>', section, re.S)
