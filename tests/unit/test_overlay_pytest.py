"""Overlays through pytest (fixtures/targets.py, options, suites/site/): a bad overlay stops
the run before any host is contacted; a replay applies the bundle's again; `-m site` and
`-m <domain>` select a site's controls. Child pytest runs on the recorded lab, no host."""

from __future__ import annotations

import json

import pytest

from hvconform import audit
from hvconform.deliver import bundle, run_folder
from hvconform.judge import tailoring
from hvconform.model.run import save_overlays
from tests.conftest import run_suite
from tests.unit.test_overlay import EXAMPLE, lab_run


@pytest.fixture(scope="module")
def overlaid_bundle(tmp_path_factory):
    """The recorded lab judged with the example overlay, as a signed bundle."""
    cat = tailoring.load([(str(EXAMPLE), None)])
    run = lab_run(tmp_path_factory.mktemp("b") / "overlaid")
    save_overlays(run.run_dir, [(a.path, a.text) for a in cat.overlays])
    return run_folder.finish(run, audit.judge_run(run, cat), bundle.signer_from(None), cat,
                             render_report=False).bundle


def test_a_malformed_overlay_stops_the_run_with_located_errors(tmp_path):
    bad = tmp_path / "site.yaml"
    bad.write_text("controls:\n  - id: HOST-001\n    domain: host\n"
                   "tailoring:\n  - {control: NOPE-001, exclude: true, reason: r, approver: a}\n")
    proc, run_dir = run_suite("--collect-only", f"--overlay={bad}", reports_dir=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"{bad}:2: controls[0]: id HOST-001: HOST is hvconform's prefix" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (run_dir / "snapshots").exists()


def test_an_inventory_and_an_overlay_setting_one_value_stop_the_run(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"overlays: [{EXAMPLE}]\npolicy: {{backup_rpo_hours: 48}}\nhosts: {{me: {{connection: local}}}}\n")
    proc, run_dir = run_suite("--collect-only", f"--inventory={inv}", reports_dir=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"{inv}: policy.backup_rpo_hours: 48, but an overlay sets 12: set it in one place" in proc.stderr
    assert not (run_dir / "snapshots").exists()


def test_a_replay_applies_the_bundles_overlay_and_markers_select_site_controls(overlaid_bundle, tmp_path):
    proc, run_dir = run_suite(f"--replay={overlaid_bundle}", "-m", "site", "-p", "no:xdist",
                              reports_dir=tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["run"]["catalog_changed"] is None and doc["run"]["not_judged"] == []
    assert {(r["test"], r["status"]) for r in doc["verdicts"]} == {
        ("suites/site/test_site.py::test_sshd_config[hardened-SITE-001]", "pass"),
        ("suites/site/test_site.py::test_sshd_config[default-SITE-001]", "fail"),
        ("suites/site/test_site.py::test_sshd_config[weak-SITE-001]", "fail")}
    assert [o["name"] for o in doc["catalog"]["overlays"]] == ["example-site"]
    assert "got empty parameter set" not in proc.stdout

    proc, run_dir = run_suite(f"--replay={overlaid_bundle}", "-m", "host and severity_medium", "-p", "no:xdist",
                              reports_dir=tmp_path)
    tests = {r["control"] for r in json.loads((run_dir / "results.json").read_text())["verdicts"]}
    assert {"SITE-001", "HOST-012", "HOST-020"} <= tests      # HOST-012: medium by the overlay

    proc, run_dir = run_suite(f"--replay={overlaid_bundle}", "--no-overlay", "-m", "host", "-p", "no:xdist",
                              reports_dir=tmp_path)
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["run"]["catalog_changed"] is not None and doc["catalog"]["overlays"] == []
    assert "SITE-001" not in {r["control"] for r in doc["verdicts"]}
    assert not (run_dir / "overlays").exists()
    assert "overlays/1.yaml" not in bundle.read(run_dir / "bundle.tar.gz")
