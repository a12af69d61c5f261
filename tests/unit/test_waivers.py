"""Waivers: located errors, scope by name and glob, expiry, unmatched waivers."""

from __future__ import annotations

import datetime as dt

import pytest

from hvconform.model import verdict as v
from hvconform.inputs import waivers

GOOD = """\
waivers:
  - control: QEMU-004
    scope: {hosts: [weak, "lab-*"], vms: ["legacy-*"]}
    justification: Legacy guest needs it until the migration
    approver: Jane Doe
    ticket: SEC-1234
    expires: 2027-03-31
  - control: HOST-009
    scope: {hosts: "*"}
    justification: Accepted for the lab
    approver: John Roe
    ticket: 42
    expires: "2020-01-01"
"""

DAY = dt.date(2026, 11, 23)


def load_text(tmp_path, text):
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return waivers.load(path), path


def failing():
    return v.failed("x = 1", "x = 0", reason="x is 0")


def test_a_valid_file_loads_with_dates_and_sources(tmp_path):
    ws, path = load_text(tmp_path, GOOD)
    assert [w.control for w in ws] == ["QEMU-004", "HOST-009"]
    assert ws[0].expires == dt.date(2027, 3, 31) and ws[1].expires == dt.date(2020, 1, 1)
    assert ws[1].ticket == "42" and ws[1].vms is None
    assert ws[0].source == f"{path}:2" and ws[1].source == f"{path}:8"


@pytest.mark.parametrize("host, vm, covered", [
    ("weak", "legacy-1", True), ("lab-7", "legacy-x", True), ("weak", "modern", False),
    ("weak", None, False), ("hardened", "legacy-1", False)])
def test_scope_matches_hosts_and_vms_by_name_or_glob(tmp_path, host, vm, covered):
    ws, _ = load_text(tmp_path, GOOD)
    assert ws[0].covers("QEMU-004", host, vm) is covered
    assert not ws[0].covers("QEMU-005", host, vm)


def test_without_vms_the_host_and_all_its_vms_are_in_scope(tmp_path):
    ws, _ = load_text(tmp_path, GOOD)
    assert ws[1].covers("HOST-009", "any", None) and ws[1].covers("HOST-009", "any", "vm1")


def test_a_valid_waiver_waives_a_failure_with_who_and_until_when(tmp_path):
    ws, _ = load_text(tmp_path, GOOD)
    got, rec = waivers.apply(ws, "QEMU-004", "weak", "legacy-1", failing(), DAY)
    assert got.status == v.WAIVED
    assert "waived until 2027-03-31 by Jane Doe, ticket SEC-1234" in got.reason
    assert "x is 0" in got.reason   # the failure it hides stays readable
    assert rec == {"approver": "Jane Doe", "expires": "2027-03-31", "ticket": "SEC-1234",
                   "justification": "Legacy guest needs it until the migration",
                   "expired": False}


def test_an_expired_waiver_leaves_the_failure_and_says_it_expired(tmp_path):
    ws, _ = load_text(tmp_path, GOOD)
    got, rec = waivers.apply(ws, "HOST-009", "weak", None, failing(), DAY)
    assert got.status == v.FAIL
    assert "waiver expired on 2020-01-01 (John Roe, ticket 42" in got.reason
    assert rec["expired"] is True


def test_a_waiver_holds_through_its_expiry_day(tmp_path):
    ws, _ = load_text(tmp_path, GOOD)
    on_the_day = waivers.apply(ws, "QEMU-004", "weak", "legacy-1", failing(), dt.date(2027, 3, 31))
    day_after = waivers.apply(ws, "QEMU-004", "weak", "legacy-1", failing(), dt.date(2027, 4, 1))
    assert on_the_day[0].status == v.WAIVED and day_after[0].status == v.FAIL


@pytest.mark.parametrize("verdict", [
    v.passed("a", "a"), v.error("host unreachable"), v.not_applicable("rhel only")])
def test_only_failures_are_waived(tmp_path, verdict):
    ws, _ = load_text(tmp_path, GOOD)
    assert waivers.apply(ws, "HOST-009", "weak", None, verdict, dt.date(2019, 1, 1)) == (verdict, None)


def test_a_still_valid_waiver_wins_over_an_expired_one(tmp_path):
    text = GOOD + """\
  - control: HOST-009
    scope: {hosts: [weak]}
    justification: Renewed
    approver: Jane Doe
    ticket: SEC-2
    expires: 2030-01-01
"""
    ws, _ = load_text(tmp_path, text)
    got, rec = waivers.apply(ws, "HOST-009", "weak", None, failing(), DAY)
    assert got.status == v.WAIVED and rec["ticket"] == "SEC-2"


def test_unmatched_waivers_say_why(tmp_path):
    ws, path = load_text(tmp_path, GOOD.replace("HOST-009", "HOST-999"))
    records = [{"control": "QEMU-004", "host": "default", "vm": "legacy-1"}]
    got = waivers.unmatched(ws, records, {"QEMU-004"})
    assert [(u["control"], u["reason"]) for u in got] == [
        ("QEMU-004", "no QEMU-004 verdict on a target in scope weak,lab-*/legacy-*"),
        ("HOST-999", "no control HOST-999 in the catalog")]
    assert got[0]["source"] == f"{path}:2"
    records.append({"control": "QEMU-004", "host": "weak", "vm": "legacy-2"})
    assert [u["control"] for u in waivers.unmatched(ws, records, {"QEMU-004"})] == ["HOST-999"]


@pytest.mark.parametrize("text, expected", [
    ("waivers:\n  - control: qemu-4\n", [
        ":2: waivers[0]: missing key 'scope'", ":2: waivers[0].control: 'qemu-4' is not a control id"]),
    (GOOD.replace("expires: 2027-03-31", "expires: next year"),
     [":7: waivers[0].expires: 'next year' is not a date (YYYY-MM-DD)"]),
    (GOOD.replace("    approver: Jane Doe\n", "    approver: ''\n    owner: me\n"),
     [":5: waivers[0].approver: must say something", ":6: waivers[0].owner: unknown key"]),
    (GOOD.replace('scope: {hosts: [weak, "lab-*"], vms: ["legacy-*"]}', "scope: {vms: [a], host: b}"),
     [":3: waivers[0].scope.host: unknown key (known: hosts, vms)",
      ":3: waivers[0].scope: missing key 'hosts'"]),
    (GOOD.replace("scope: {hosts: \"*\"}", "scope: {hosts: []}"),
     [":9: waivers[1].scope.hosts: expected a name or glob"]),
    ("waivers:\n  - [a, b]\n", [":2: waivers[0]: a waiver must be a mapping"]),
    ("- control: X\n", [":1: expected a mapping with one key, 'waivers'"]),
    ("waivers: [\n", [":2: not valid YAML"]),
])
def test_malformed_waivers_give_located_errors(tmp_path, text, expected):
    with pytest.raises(waivers.WaiverError) as exc:
        load_text(tmp_path, text)
    path = str(tmp_path / "waivers.yaml")
    assert all(e.startswith(path + ":") for e in exc.value.errors), exc.value.errors
    for want in expected:
        assert any(want in e for e in exc.value.errors), (want, exc.value.errors)


def test_every_problem_is_reported_at_once(tmp_path):
    text = "waivers:\n  - control: X\n  - control: QEMU-001\n    expires: soon\n"
    with pytest.raises(waivers.WaiverError) as exc:
        load_text(tmp_path, text)
    assert any("waivers[0]" in e for e in exc.value.errors)
    assert any("waivers[1].expires" in e for e in exc.value.errors)


def test_as_of_is_the_day_the_evidence_was_collected():
    assert waivers.as_of_date("2026-11-23T14:51:56Z") == dt.date(2026, 11, 23)


def test_messages_can_name_the_file_as_the_reader_knows_it(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(GOOD.replace("ticket: 42", "ticket: ''"))
    with pytest.raises(waivers.WaiverError, match=r"^b.tar.gz:waivers.yaml:12: waivers\[1\].ticket"):
        waivers.load(path, "b.tar.gz:waivers.yaml")
    with pytest.raises(waivers.WaiverError, match="cannot read"):
        waivers.load(tmp_path / "missing.yaml")
