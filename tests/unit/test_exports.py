"""Exports: CSV of verdicts, OSCAL assessment-results validated against the OSCAL model
(compliance-trestle, in .venv-oscal: see tests/requirements-oscal.txt), junit.xml and
commands.tsv."""

from __future__ import annotations

import copy
import csv
import io
import json
import subprocess
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hvconform.deliver import run_folder
from hvconform.deliver.bundle import sha256_bytes
from hvconform.deliver.export import junit, oscal
from hvconform.deliver.export import verdicts_csv
from tests.conftest import ROOT

OSCAL_PYTHON = ROOT / ".venv-oscal" / "bin" / "python"
VALIDATE = """
import json, sys
from trestle.oscal.assessment_results import Model
try:
    Model.model_validate(json.load(sys.stdin))
except Exception as exc:
    print(exc); sys.exit(1)
print("valid")
"""

EVIDENCE = {"source": "cat -- /etc/libvirt/qemu.conf", "sha256": "ab" * 32,
            "excerpt": 'vnc_listen = "0.0.0.0"', "collected_at": "2026-11-23T14:51:56Z"}
RESULTS = {
    "tool": {"name": "hvconform", "version": "0.1.0", "catalog_digest": "cd" * 32},
    "run": {"id": "r1", "started": "2026-11-23T14:51:56Z", "finished": "2026-11-23T14:52:00Z",
            "inventory": "inventories/lab.yaml", "replayed_from": None},
    "hosts": [{"name": "weak", "status": "collected", "error": None,
               "identity": {"hostname": "weak", "machine_id": "3d12", "host_key": "ssh-ed25519 SHA256:x"}}],
    "verdicts": [
        {"control": "QEMU-001", "title": "VNC listens on loopback", "domain": "qemu",
         "severity": "high", "host": "weak", "vm": None, "status": "fail",
         "expected": "127.0.0.1", "actual": "=HYPERLINK(\"http://x\")", "reason": "open",
         "remediation": "Set vnc_listen.", "references": {}, "evidence": [EVIDENCE],
         "test": "suites/qemu/test_qemu.py::test_libvirt_conf[weak-QEMU-001]"},
        {"control": "QEMU-004", "title": "Guest runs unprivileged", "domain": "qemu",
         "severity": "medium", "host": "weak", "vm": "weak-guest", "status": "waived",
         "expected": "user != root", "actual": "root", "reason": "waived until 2027-01-01",
         "remediation": "", "references": {}, "evidence": [EVIDENCE],
         "waiver": {"approver": "Jane", "ticket": "SEC-1", "expires": "2027-01-01",
                    "justification": "legacy", "expired": False},
         "test": "t2"},
        {"control": "HOST-001", "title": "t", "domain": "host", "severity": "low", "host": "weak",
         "vm": None, "status": "pass", "expected": "a", "actual": "a", "reason": None,
         "remediation": "", "references": {}, "evidence": [], "test": "t3"}]}
SNAPSHOT = b'{"host": "weak"}'


def test_csv_has_one_row_per_verdict_with_waiver_and_hashed_evidence():
    rows = list(csv.DictReader(io.StringIO(verdicts_csv.render(RESULTS))))
    assert [(r["control"], r["host"], r["vm"], r["status"]) for r in rows] == [
        ("QEMU-001", "weak", "", "fail"), ("QEMU-004", "weak", "weak-guest", "waived"),
        ("HOST-001", "weak", "", "pass")]
    assert rows[1]["waiver_approver"] == "Jane" and rows[1]["waiver_expires"] == "2027-01-01"
    assert rows[0]["evidence"] == f"cat -- /etc/libvirt/qemu.conf={'ab' * 32}"
    assert rows[0]["test"].endswith("[weak-QEMU-001]")


def test_csv_cells_from_hosts_never_become_spreadsheet_formulas():
    rows = list(csv.DictReader(io.StringIO(verdicts_csv.render(RESULTS))))
    assert rows[0]["actual"] == "'=HYPERLINK(\"http://x\")"
    assert verdicts_csv._safe("-1") == "-1" and verdicts_csv._safe("-cmd") == "'-cmd"


@pytest.mark.parametrize("payload", [
    "-2+3+cmd|' /C calc'!A0", "-1+1", "- 1", "-1e3+cmd", "+1", "=1+1", "@SUM(1)", "\t=1", "\r=1",
    " =1+1", "  -2+cmd", "\uff1d1+1", "\uff0b1", "\uff0d2+cmd", "\uff20SUM(1)"])
def test_csv_cells_like_minus_2_plus_3_plus_cmd_are_neutralised(payload):
    """Issue 10: a cell starting '-' and a digit was taken for a number and kept as is."""
    doc = copy.deepcopy(RESULTS)
    for key in ("actual", "reason", "expected"):
        doc["verdicts"][0][key] = payload
    doc["verdicts"][0]["vm"] = payload
    row = next(csv.DictReader(io.StringIO(verdicts_csv.render(doc), newline="")))
    for key in ("actual", "reason", "expected", "vm"):
        assert row[key] == "'" + payload, key


@pytest.mark.parametrize("number", ["-1", "-2.5", "0", "12"])
def test_csv_plain_numbers_stay_numbers(number):
    assert verdicts_csv._safe(number) == number


def oscal_validate(doc) -> subprocess.CompletedProcess:
    if not OSCAL_PYTHON.exists():
        pytest.fail(f"{OSCAL_PYTHON} is missing: `make setup` makes it (tests/requirements-oscal.txt)")
    return subprocess.run([str(OSCAL_PYTHON), "-c", VALIDATE], input=json.dumps(doc),
                          capture_output=True, text=True, timeout=120)


def test_oscal_export_is_valid_assessment_results():
    doc = oscal.build(RESULTS, {"weak": SNAPSHOT})
    proc = oscal_validate(doc)
    assert proc.returncode == 0 and "valid" in proc.stdout, proc.stdout + proc.stderr


def test_the_oscal_validator_rejects_what_is_not_oscal():
    doc = oscal.build(RESULTS, {"weak": SNAPSHOT})
    broken = copy.deepcopy(doc)
    del broken["assessment-results"]["results"][0]["findings"][0]["target"]
    assert oscal_validate(broken).returncode == 1
    extra = copy.deepcopy(doc)
    extra["assessment-results"]["results"][0]["verdicts"] = []
    assert oscal_validate(extra).returncode == 1


def test_findings_link_observations_and_hashed_evidence():
    ar = oscal.build(RESULTS, {"weak": SNAPSHOT})["assessment-results"]
    result = ar["results"][0]
    resources = {r["uuid"]: r for r in ar["back-matter"]["resources"]}
    observations = {o["uuid"]: o for o in result["observations"]}
    states = [(f["target"]["target-id"], f["target"]["status"]["state"]) for f in result["findings"]]
    assert states == [("QEMU-001", "not-satisfied"), ("QEMU-004", "not-satisfied"),
                      ("HOST-001", "satisfied")]
    finding = result["findings"][0]
    obs = observations[finding["related-observations"][0]["observation-uuid"]]
    artifact = resources[obs["relevant-evidence"][0]["href"].lstrip("#")]
    assert {"name": "sha256", "ns": oscal.NS, "value": "ab" * 32} in artifact["props"]
    snapshot = next(r for r in resources.values() if r["title"] == "Snapshot of weak")
    assert snapshot["rlinks"][0] == {"href": "snapshots/weak.json", "media-type": "application/json",
                                     "hashes": [{"algorithm": "SHA-256", "value": sha256_bytes(SNAPSHOT)}]}
    assert artifact["rlinks"][0]["href"] == snapshot["rlinks"][0]["href"]
    waived = result["findings"][1]
    assert {"name": "waiver-approver", "ns": oscal.NS, "value": "Jane"} in waived["props"]


def test_the_same_results_give_the_same_document():
    assert oscal.build(RESULTS, {"weak": SNAPSHOT}) == oscal.build(RESULTS, {"weak": SNAPSHOT})


@given(run_id=st.text(max_size=20), parts=st.lists(st.one_of(st.none(), st.text(max_size=12), st.integers()),
                                                    max_size=4))
def test_oscal_uuids_are_uuid5_of_their_name(run_id, parts):
    name = "hvconform:" + run_id + ":" + "/".join("" if p is None else str(p) for p in parts)
    assert oscal._uuid(run_id, *parts) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))


# Host text as hostile as it comes: quotes, backslashes, markup, line breaks, control
# characters, non-ASCII, a lone surrogate, the JSON line separators.
HOSTILE = st.text(alphabet=st.sampled_from(['"', "\\", "<", ">", "&", "'", "\n", "\r", "\t", "\x00",
                                             "\x1f", "\x7f", "é", "\u2028", "\u2029", "\ud800",
                                             "\U0001f600", "a", " ", "/", "#"]), max_size=12)
# what goes into a uuid's name too: UTF-8 has no lone surrogate (it raised before as now)
NAMED = HOSTILE.filter(lambda s: "\ud800" not in s)


def reference_observation(d, rec: dict) -> tuple[dict, list[dict]]:
    """What an observation and the artifacts' resources are as objects (the dicts the
    OSCAL writer once built and gave to json.dumps): the fast path must write the same."""
    target = rec["host"] + (f"/{rec['vm']}" if rec.get("vm") else "")
    evidence, resources = [], []
    for e in rec.get("evidence", []):
        resource = oscal._uuid(d.run_id, "artifact", rec["host"], e["source"], e["sha256"])
        resources.append({"uuid": resource, "title": e["source"],
                          "props": oscal._props(sha256=e["sha256"], collected_at=e.get("collected_at")),
                          "rlinks": [{"href": f"snapshots/{rec['host']}.json"}]})
        evidence.append({"href": f"#{resource}", "description": e["source"]})
    times = [e["collected_at"] for e in rec.get("evidence", []) if e.get("collected_at")]
    observation = {"uuid": oscal._uuid(d.run_id, "observation", rec["control"], rec["host"], rec.get("vm")),
                   "title": f"{rec['control']} on {target}",
                   "description": "\n".join(p for p in (f"Expected: {rec.get('expected')}",
                                                        f"Actual: {rec.get('actual')}",
                                                        f"Reason: {rec.get('reason')}"
                                                        if rec.get("reason") and rec["reason"] != rec.get("actual")
                                                        else None)
                                            if p),
                   "methods": ["TEST"],
                   "subjects": [{"subject-uuid": oscal._uuid(d.run_id, "item", rec["host"], rec.get("vm"))
                                 if rec.get("vm") else oscal._uuid(d.run_id, "item", rec["host"]),
                                 "type": "inventory-item"}],
                   "collected": min(times) if times else d.run["started"]}
    if evidence:
        observation["relevant-evidence"] = evidence
    return observation, resources


@given(run_id=NAMED, host=NAMED, vm=st.one_of(st.none(), st.just(""), NAMED), text=HOSTILE,
       reason=st.one_of(st.none(), st.just(""), HOSTILE), source=NAMED,
       collected=st.one_of(st.none(), st.just(""), HOSTILE), expected=st.one_of(st.none(), st.integers(), HOSTILE))
def test_oscal_observations_written_as_text_are_what_json_dumps_writes(run_id, host, vm, text, reason, source,
                                                                       collected, expected):
    """The observations and artifact resources are put together as text (for speed at
    fleet size): byte for byte what json.dumps writes of the same objects, whatever the
    host sent."""
    evidence = [{"source": source, "sha256": "ab" * 32, "collected_at": collected},
                {"source": source + "2", "sha256": "cd" * 32}]
    rec = {"control": "QEMU-001", "host": host, "vm": vm, "status": "fail", "expected": expected,
           "actual": text, "reason": reason, "evidence": evidence}
    doc = {"tool": {}, "run": {"id": run_id, "started": "2026-11-23T14:51:56Z"}, "verdicts": [rec]}
    d = oscal._Document(doc, {})
    for record in (rec, {**rec, "evidence": []}, {**rec, "reason": text}, rec):   # the last from what is cached
        observation, resources = reference_observation(d, record)
        assert d.observation(record) == oscal._dumps(observation)
    assert d.artifact_resources == [oscal._dumps(r) for r in resources]


def test_oscal_build_is_the_written_file(tmp_path):
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "weak.json").write_bytes(SNAPSHOT)
    path = oscal.write(RESULTS, tmp_path, tmp_path / "assessment-results.json")
    assert json.loads(path.read_text()) == oscal.build(RESULTS, {"weak": SNAPSHOT})


CELL = st.one_of(st.none(), st.booleans(), st.integers(), HOSTILE,
                 st.text(alphabet=st.sampled_from([",", '"', "\r", "\n", " ", "=", "-", "+", "@", "1",
                                                   ".", "\t", "\uff1d", "a", "\x00"]), max_size=8))


def _by_csv_writer(doc: dict) -> str:
    """The reference: csv.writer writing the _safe() cells of each row()."""
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\r\n")
    writer.writerow(verdicts_csv.COLUMNS)
    for r in doc["verdicts"]:
        writer.writerow([verdicts_csv._safe(v) for v in verdicts_csv.row(r).values()])
    return expected.getvalue()


@given(values=st.lists(CELL, min_size=16, max_size=16), waived=st.booleans(),
       sources=st.lists(st.tuples(HOSTILE, HOSTILE), max_size=3))
def test_csv_rows_written_without_csv_writer_are_what_csv_writer_writes(values, waived, sources):
    """The CSV's cells are quoted by verdicts_csv itself (and remembered where they
    repeat): the same bytes as csv.writer writing the _safe() cells of row()."""
    keys = ("control", "title", "domain", "severity", "host", "vm", "status", "expected", "actual",
            "reason", "test")
    rec = dict(zip(keys, values))
    rec["evidence"] = [{"source": s, "sha256": h} for s, h in sources]
    if waived:
        rec["waiver"] = dict(zip(("approver", "ticket", "expires", "expired"), values[11:]))
    doc = {"verdicts": [rec, dict(rec), {**rec, "actual": values[0]}]}   # again: from what is remembered
    assert verdicts_csv.render(doc) == _by_csv_writer(doc)


def test_csv_row_with_a_value_that_cannot_be_remembered_is_written_as_before():
    doc = copy.deepcopy(RESULTS)
    doc["verdicts"][0]["title"] = ["=a", "b,c"]   # not a results.json of ours
    assert verdicts_csv.render(doc) == _by_csv_writer(doc)


@given(value=st.one_of(st.none(), st.integers(), HOSTILE,
                       st.text(alphabet=st.sampled_from(['"', "'", "&", "<", ">", "\n", "\r", "\t", "\x01",
                                                         "\x0b", "\ufffe", "\uffff", "\ud800", "a", "-"]),
                               max_size=10)))
def test_junit_attributes_without_anything_to_escape_are_written_as_they_are(value):
    """junit's _attr() skips quoteattr where nothing needs escaping: the same text."""
    assert junit._attr(value) == quoteattr(junit._text(value))


def test_junit_from_hostile_verdicts_parses_and_keeps_their_text(tmp_path):
    doc = copy.deepcopy(RESULTS)
    hostile = 'a"b\'c<d>&e\nf\rg\th\x01i]]>é\u2028'
    doc["verdicts"][0]["reason"] = hostile
    doc["verdicts"][0]["test"] = f"suites/qemu/test_qemu.py::test_x[{hostile}]"
    root = ET.parse(junit.write(doc, tmp_path / "junit.xml")).getroot()
    case = next(root.iter("testcase"))
    kept = 'a"b\'c<d>&e\nf\rg\th#x01i]]>é\u2028'   # XML 1.0 cannot carry \x01: pytest's #x01
    assert case.get("name") == f"test_x[{kept}]" and case.get("classname") == "suites.qemu.test_qemu"
    assert case.find("failure").get("message").endswith(f"({kept})")


def test_commands_tsv_names_every_command_sent_with_its_results(tmp_path):
    (tmp_path / "sent").mkdir()
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "sent" / "weak.json").write_text(json.dumps([
        {"sent_at": "2026-11-23T14:51:56Z", "rc": 0, "commands": ["cat -- /etc/a\tb", "printf 'x\ny'"]},
        {"sent_at": "2026-11-23T14:51:57Z", "rc": None, "commands": ["virsh list"]}]))
    (tmp_path / "snapshots" / "weak.json").write_text(json.dumps({"artifacts": {
        "a": {"source": "cat -- /etc/a\tb", "rc": 1, "collected_at": "2026-11-23T14:51:58Z"}}}))
    (tmp_path / "sent" / "gone.json").write_text(json.dumps([
        {"sent_at": "2026-11-23T14:51:59Z", "rc": 255, "commands": ["uname -a"]}]))
    run_folder.write_commands(tmp_path)
    assert (tmp_path / "commands.tsv").read_text().splitlines() == [
        "host\tsent_at\tcollected_at\trc\tbatch_rc\tcommand",
        "gone\t2026-11-23T14:51:59Z\t-\t-\t255\tuname -a",
        "weak\t2026-11-23T14:51:56Z\t2026-11-23T14:51:58Z\t1\t0\tcat -- /etc/a b",
        "weak\t2026-11-23T14:51:56Z\t-\t-\t0\tprintf 'x y'",
        "weak\t2026-11-23T14:51:57Z\t-\t-\t-\tvirsh list"]


def test_oscal_description_says_a_reason_once():
    """No Reason line that repeats the Actual line; a reason that says more is kept."""
    doc = copy.deepcopy(RESULTS)
    doc["verdicts"][0]["reason"] = doc["verdicts"][0]["actual"]
    observations = oscal.build(doc, {"weak": SNAPSHOT})["assessment-results"]["results"][0]["observations"]
    assert observations[0]["description"] == 'Expected: 127.0.0.1\nActual: =HYPERLINK("http://x")'
    assert observations[1]["description"] == "Expected: user != root\nActual: root\nReason: waived until 2027-01-01"
    assert observations[2]["description"] == "Expected: a\nActual: a"
