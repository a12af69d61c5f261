"""Drift: changed verdicts, new failures first, with the evidence that moved."""

from __future__ import annotations

import json

import pytest

from hvconform.deliver import bundle
from hvconform.deliver import drift


def rec(control, host, status, sha="a", excerpt="x = 1", vm=None, severity="medium"):
    return {"control": control, "host": host, "vm": vm, "status": status, "severity": severity,
            "title": control, "reason": None,
            "evidence": [{"source": "cat -- /etc/x", "sha256": sha * 64, "excerpt": excerpt}]}


def doc(*verdicts, run_id="r"):
    return {"run": {"id": run_id}, "verdicts": list(verdicts)}


def test_only_changed_statuses_count_and_new_failures_come_first():
    before = doc(rec("A-001", "h", "pass"), rec("A-002", "h", "fail"),
                 rec("A-003", "h", "pass", severity="low"), rec("A-004", "h", "fail", sha="b"),
                 rec("A-005", "h", "pass"), run_id="old")
    after = doc(rec("A-001", "h", "pass", sha="c"),           # evidence moved, verdict did not
                rec("A-002", "h", "pass", sha="d", excerpt="x = 2"),   # fixed
                rec("A-003", "h", "fail", sha="e", severity="low"),    # new failure, low
                rec("A-004", "h", "fail", sha="f"),                    # still failing
                rec("A-005", "h", "error"))                            # new failure, medium
    d = drift.compare(before, after, "old.json")
    assert [(c["control"], c["before"], c["after"], c["new_failure"]) for c in d["changes"]] == [
        ("A-005", "pass", "error", True), ("A-003", "pass", "fail", True),
        ("A-002", "fail", "pass", False)]
    assert d["new_failures"] == 2 and d["baseline"] == "old.json" and d["baseline_run"] == "old"
    fixed = d["changes"][2]
    assert fixed["evidence"] == [{"source": "cat -- /etc/x", "before_sha256": "a" * 64,
                                  "after_sha256": "d" * 64, "before_excerpt": "x = 1",
                                  "after_excerpt": "x = 2"}]
    assert d["changes"][0]["evidence"] == []   # same artifact, different verdict: nothing moved


def test_targets_in_one_run_only_are_changes():
    before = doc(rec("A-001", "h", "pass", vm="old-vm"))
    after = doc(rec("A-001", "h", "fail", vm="new-vm"))
    got = {(c["vm"], c["before"], c["after"], c["new_failure"])
           for c in drift.compare(before, after)["changes"]}
    assert got == {("new-vm", None, "fail", True), ("old-vm", "pass", None, False)}


def test_a_waiver_running_out_is_a_new_failure():
    assert drift.is_new_failure("waived", "fail") and not drift.is_new_failure("fail", "error")


def test_baseline_from_results_json_or_bundle(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(doc(rec("A-001", "h", "pass"))))
    assert drift.load_baseline(run / "results.json")["verdicts"][0]["control"] == "A-001"
    path = bundle.write(run, {}, bundle.signer_from(None))
    assert drift.load_baseline(path)["verdicts"][0]["status"] == "pass"


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"), ("{", "not JSON"), ('{"x": 1}', "not a results.json")])
def test_unusable_baselines_are_named(tmp_path, content, message):
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(drift.BaselineError, match=message):
        drift.load_baseline(path)
