"""The audit's own steps without pytest: results.json from a bundle's snapshots by a
plain Python call, in a process that never imports pytest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from hvconform import audit
from hvconform.deliver import bundle, run_folder
from hvconform.inputs import catalog as catalog_mod
from hvconform.model.run import Run
from hvconform.model.snapshot import Snapshot
from tests.conftest import ROOT, SHARED

LAB = ROOT / "tests" / "data" / "lab-snapshots"
CAT = catalog_mod.load()


def lab_run(run_dir: Path) -> Run:
    snaps = {h: Snapshot.load(LAB / f"{h}.json") for h in ("hardened", "default", "weak")}
    run = Run("recorded", run_dir, inventory="inventories/lab.yaml",
              started=snaps["weak"].started, snapshots=snaps)
    run.save({})
    return run


def test_judge_run_gives_every_case_a_record_with_its_pytest_id(tmp_path):
    doc = audit.judge_run(lab_run(tmp_path / "recorded"), CAT)
    jsonschema.validate(doc, json.loads((SHARED / "results.schema.json").read_text()))
    tests = [r["test"] for r in doc["verdicts"]]
    assert len(tests) == len(set(tests)) > 900
    assert "suites/qemu/test_qemu.py::test_libvirt_conf[weak-QEMU-001]" in tests
    assert any(t.startswith("suites/isolation/test_isolation.py::test_fleet[weak/") for t in tests)
    assert {r["control"] for r in doc["verdicts"]} == {c.id for c in CAT.controls}


def test_results_from_a_bundle_in_a_process_without_pytest(tmp_path):
    run = lab_run(tmp_path / "recorded")
    first = audit.judge_run(run, CAT)
    written = run_folder.finish(run, first, bundle.signer_from(None), CAT)
    assert bundle.verify(written.bundle).ok
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from hvconform import audit\n"
        f"w = audit.rejudge({str(written.bundle)!r}, Path({str(tmp_path / 'again')!r}), 'again')\n"
        "assert not any(m == 'pytest' or m.startswith(('pytest.', '_pytest')) for m in sys.modules), "
        "sorted(m for m in sys.modules if 'pytest' in m)\n"
        "print(w.results)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    again = json.loads(Path(proc.stdout.strip()).read_text())
    assert again["run"]["replayed_run"] == "recorded" and again["run"]["catalog_changed"] is None

    def verdicts(doc):
        return {r["test"]: (r["status"], r["actual"], r["reason"]) for r in doc["verdicts"]}
    assert verdicts(again) == verdicts(first)
    assert (tmp_path / "again" / "again" / "bundle.tar.gz").is_file()
    assert (tmp_path / "again" / "again" / "report.html").is_file()
