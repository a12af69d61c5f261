"""The auditor report's numbers (hvconform.deliver.report.model), from results.json documents
written here: counts per host and domain, manual never counted as pass, waivers,
isolation, drift, filters and the traceability index."""

from __future__ import annotations

from hvconform.inputs.catalog import Catalog, Control
from hvconform.deliver.report import model


def rec(control, host, status, vm=None, domain="qemu", severity="medium", **extra):
    return {"control": control, "title": f"title of {control}", "domain": domain,
            "severity": severity, "host": host, "vm": vm, "status": status,
            "expected": "x", "actual": "y", "reason": extra.pop("reason", None),
            "remediation": "fix it", "references": extra.pop("references", {}),
            "evidence": [], "test": f"suites/{domain}/test_{domain}.py::test_function[{host}-{control}]",
            **extra}


def doc(*verdicts, **top):
    return {"tool": {"name": "hvconform", "version": "0", "catalog_digest": "0" * 64},
            "run": {"id": "r1", "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:01Z"},
            "hosts": [{"name": "a", "status": "collected", "error": None, "identity": {}},
                      {"name": "b", "status": "collected", "error": None, "identity": {}}],
            "verdicts": list(verdicts), **top}


def control(cid, domain="qemu", applies_to="host", refs=None):
    return Control(id=cid, domain=domain, title=f"title of {cid}", severity="high",
                   applies_to=applies_to, check={"kind": "function"}, rationale="because",
                   remediation="", references=refs or {})


def test_manual_waived_and_error_are_never_counted_as_pass():
    r = model.build(doc(rec("QEMU-001", "a", "pass"), rec("QEMU-002", "a", "manual"),
                        rec("QEMU-003", "a", "waived"), rec("QEMU-004", "a", "error"),
                        rec("QEMU-005", "a", "not_applicable")))
    a = r.hosts[0].tally
    assert (a.counts["pass"], a.counts["manual"], a.assessed) == (1, 1, 4)
    assert a.compliance == 0.25 and a.percent == "25%"


def test_counts_per_host_and_per_domain():
    r = model.build(doc(rec("QEMU-001", "a", "pass"), rec("QEMU-001", "b", "fail"),
                        rec("LIBV-002", "a", "fail", domain="libvirt"),
                        rec("LIBV-002", "b", "fail", domain="libvirt"),
                        rec("QEMU-013", "b", "pass", vm="vm1")))
    hosts = {row.name: row.tally.counts for row in r.hosts}
    assert hosts["a"] == {"pass": 1, "fail": 1}
    assert hosts["b"] == {"pass": 1, "fail": 2}
    domains = {row.name: row.tally for row in r.domains}
    assert list(domains) == ["qemu", "libvirt"]   # catalog domain order, only those judged
    assert domains["qemu"].compliance == 2 / 3 and domains["libvirt"].compliance == 0
    assert r.overall.total == 5


def test_heatmap_has_a_cell_only_where_there_are_verdicts():
    r = model.build(doc(rec("QEMU-001", "a", "pass"), rec("LIBV-002", "b", "fail", domain="libvirt"),
                        rec("QEMU-009", "b", "not_applicable")))
    assert set(r.heatmap) == {("a", "qemu"), ("b", "libvirt"), ("b", "qemu")}
    assert r.heatmap[("a", "qemu")].bucket == "hm-10"
    assert r.heatmap[("b", "libvirt")].bucket == "hm-0"
    nothing_assessed = r.heatmap[("b", "qemu")]
    assert (nothing_assessed.compliance, nothing_assessed.percent, nothing_assessed.bucket) == (None, "n/a", "hm-na")


def test_failures_by_severity_count_fail_and_error_per_host():
    r = model.build(doc(rec("QEMU-001", "a", "fail", severity="high"),
                        rec("QEMU-002", "a", "error", severity="high"),
                        rec("QEMU-003", "b", "fail", severity="low"),
                        rec("QEMU-004", "b", "manual", severity="low")))
    assert r.severity == {"high": {"a": 2, "b": 0}, "medium": {"a": 0, "b": 0}, "low": {"a": 0, "b": 1}}


def test_failures_come_first_then_by_severity():
    r = model.build(doc(rec("QEMU-001", "a", "pass", severity="high"),
                        rec("QEMU-002", "a", "fail", severity="low"),
                        rec("QEMU-003", "a", "fail", severity="high"),
                        rec("QEMU-004", "a", "manual")))
    assert [v["control"] for v in r.verdicts] == ["QEMU-003", "QEMU-002", "QEMU-004", "QEMU-001"]


def test_waivers_applied_expired_and_unmatched():
    waiver = {"approver": "J. Doe", "expires": "2027-01-31", "justification": "legacy guest",
              "ticket": "SEC-1", "expired": False}
    expired = {**waiver, "expires": "2020-01-01", "expired": True}
    unmatched = {"control": "NET-001", "scope": {"hosts": ["c*"], "vms": None}, "reason": "no NET-001 verdict"}
    r = model.build(doc(rec("QEMU-001", "a", "waived", waiver=waiver),
                        rec("QEMU-002", "a", "fail", waiver=expired),
                        waivers={"file": "waivers.yaml", "unmatched": [unmatched]}))
    assert [v["control"] for v in r.waived] == ["QEMU-001"]
    assert [v["control"] for v in r.expired_waivers] == ["QEMU-002"]
    assert r.unmatched_waivers == [unmatched]
    assert r.overall.compliance == 0   # a waived failure is not a pass either


def test_manual_items_keep_what_a_person_must_look_at():
    r = model.build(doc(rec("HOST-021", "a", "manual", reason="compare guest OS with the baseline")))
    assert [(v["control"], v["reason"]) for v in r.manual] == [("HOST-021", "compare guest OS with the baseline")]


def test_the_same_manual_question_on_several_targets_is_asked_once():
    look = "read each polkit rule"
    r = model.build(doc(rec("LIBV-010", "a", "manual", reason=look), rec("LIBV-010", "b", "manual", reason=look),
                        rec("LIBV-015", "a", "manual", reason="read the hooks")))
    assert [(v["control"], targets) for v, targets in r.manual_grouped] == [
        ("LIBV-010", ["a", "b"]), ("LIBV-015", ["a"])]


def test_isolation_holds_inventory_controls_and_records_with_vms():
    cat = Catalog([control("ISO-030", "isolation", applies_to="inventory"), control("QEMU-001")], "0" * 64)
    r = model.build(doc(rec("ISO-030", "a", "fail", domain="isolation"),
                        rec("ISO-026", "*", "fail", domain="isolation", vms=["a/vm1", "b/vm2"]),
                        rec("QEMU-001", "a", "fail")), cat)
    assert sorted(v["control"] for v in r.isolation) == ["ISO-026", "ISO-030"]
    assert "*" in r.host_names   # an inventory-wide finding gets its own row


def test_drift_lists_new_failures_first():
    changes = [{"control": "QEMU-001", "host": "a", "vm": None, "before": "fail", "after": "pass", "evidence": []},
               {"control": "QEMU-009", "host": "a", "vm": None, "before": "pass", "after": "fail", "evidence": []},
               {"control": "QEMU-005", "host": "b", "vm": None, "before": "pass", "after": "not_applicable",
                "evidence": []}]
    changes += [{"control": "QEMU-002", "host": "a", "vm": None, "before": None, "after": "pass"},
                {"control": "QEMU-003", "host": "a", "vm": None, "before": "fail", "after": "error"},
                {"control": "QEMU-004", "host": "a", "vm": None, "before": "fail", "after": "waived"}]
    r = model.build(doc(drift={"baseline": "old.json", "changes": changes}))
    assert [c["control"] for c in r.drift] == ["QEMU-003", "QEMU-009", "QEMU-001", "QEMU-002", "QEMU-004", "QEMU-005"]
    assert [model.drift_kind(c) for c in r.drift] == [
        "failing differently", "new failure", "fixed", "newly judged", "now waived", "changed"]
    assert [c["control"] for c in r.drift_regressions] == ["QEMU-003", "QEMU-009"]
    assert r.drift_other_kinds == {"fixed": 1, "newly judged": 1, "now waived": 1, "changed": 1}
    assert model.build(doc()).drift == []


def test_reference_filter_offers_each_framework_and_each_id():
    refs = {"pp_virt": ["FPT_VIV_EXT.1 (no degradation of other VMs)"], "nist": ["AC-12", "AC-3"]}
    r = model.build(doc(rec("QEMU-001", "a", "pass", references=refs)))
    values = [v for v, _ in r.filters["ref"]]
    assert values == ["pp_virt", "pp_virt:FPT_VIV_EXT.1", "nist", "nist:AC-3", "nist:AC-12"]
    assert [v for v, _ in r.filters["status"]] == ["fail,error", "pass"]


def test_traceability_index_joins_catalog_controls_and_this_runs_verdicts():
    cat = Catalog([control("QEMU-001", refs={"pp_virt": ["FPT_VIV_EXT.1"]}),
                   control("QEMU-006", refs={"pp_virt": "FPT_VIV_EXT.1"})], "0" * 64)
    r = model.build(doc(rec("QEMU-001", "a", "pass"), rec("QEMU-001", "b", "fail")), cat)
    entries = r.trace["pp_virt"]["FPT_VIV_EXT.1"]
    assert [e.control.id for e in entries] == ["QEMU-001", "QEMU-006"]
    assert entries[0].tally.counts == {"pass": 1, "fail": 1}
    assert entries[0].test == "suites/qemu/test_qemu.py::test_function[<host>-QEMU-001]"
    assert entries[0].tests == [("suites/qemu/test_qemu.py::test_function[a-QEMU-001]", "pass"),
                                ("suites/qemu/test_qemu.py::test_function[b-QEMU-001]", "fail")]
    assert entries[1].tally.total == 0   # in the catalog, not judged in this run


def test_without_a_catalog_the_index_comes_from_the_records():
    r = model.build(doc(rec("QEMU-013", "a", "pass", vm="vm1", references={"nist": "CM-7"})))
    (entry,) = r.trace["nist"]["CM-7"]
    assert entry.control.id == "QEMU-013"
    assert entry.test == "suites/qemu/test_qemu.py::test_function[<host>/<vm>-QEMU-013]"


def test_a_record_with_only_the_required_fields_is_enough():
    r = model.build({"tool": {"name": "hvconform", "version": "0"},
                     "run": {"id": "r", "started": "", "finished": ""},
                     "verdicts": [{"control": "QEMU-001", "host": "a", "status": "fail"}]})
    assert r.hosts[0].name == "a" and r.overall.counts == {"fail": 1}
