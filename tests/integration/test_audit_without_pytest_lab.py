"""A real lab audit through pytest and the same bundle judged by a plain Python call
agree on every case: one set of cases, one judge, two front ends."""

from __future__ import annotations

from hvconform import audit
import json


def test_plain_rejudge_of_a_lab_bundle_equals_the_pytest_run(lab_audit, tmp_path):
    _, run_dir, results = lab_audit
    written = audit.rejudge(run_dir / "bundle.tar.gz", tmp_path, "plain")
    again = json.loads(written.results.read_text())

    def verdicts(doc):
        return {r["test"]: (r["status"], r["actual"]) for r in doc["verdicts"]}
    assert verdicts(again) == verdicts(results)
    assert len(again["verdicts"]) > 900
    assert again["inventory"] == results["inventory"]
