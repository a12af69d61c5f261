"""docs/TRACEABILITY.md is generated from the catalog and kept current; the index
answers "where is <reference> checked?"."""

from pathlib import Path

from hvconform.inputs import catalog
from hvconform.deliver import traceability
from hvconform.inputs.catalog import Control

REPO = Path(__file__).resolve().parents[2]


def control(cid, refs, applies_to="host", domain="isolation", kind="sysctl", **kw):
    return Control(id=cid, domain=domain, title=f"title of {cid}", severity="high",
                   applies_to=applies_to, check={"kind": kind}, rationale="", remediation="",
                   references=refs, **kw)


def test_committed_traceability_is_current():
    committed = (REPO / "docs" / "TRACEABILITY.md").read_text()
    assert committed == traceability.markdown(), (
        f"docs/TRACEABILITY.md is stale (the catalog or profiles changed): "
        f"run `{traceability.REGENERATE}` and commit it")


def test_index_lists_each_reference_id_once_with_every_control_citing_it():
    a = control("ISO-001", {"pp_virt": ["FPT_VIV_EXT.1", "FDP_VMS_EXT.1"], "nist": "SC-4"})
    b = control("QEMU-006", {"pp_virt": ["FPT_VIV_EXT.1 (no degradation of other VMs)"],
                             "seed": "1 (seccomp)"})
    index = traceability.by_reference([a, b])
    assert index["pp_virt"]["FPT_VIV_EXT.1"] == [a, b]
    assert index["pp_virt"]["FDP_VMS_EXT.1"] == [a]
    assert index["nist"] == {"SC-4": [a]}
    assert "seed" not in index  # prose sections are shown per row only


def test_reference_ids_drop_notes_but_keep_enhancement_numbers():
    rid = traceability.reference_id
    assert rid("nist", "AC-3(3)") == "AC-3(3)"
    assert rid("stig", "RHEL-09-212050 (pti)") == "RHEL-09-212050"
    assert rid("cis", "RHEL9 1.5.1") == "RHEL9 1.5.1"
    assert rid("libvirt", "docs/formatdomain.rst 'Memory Tuning'") == "formatdomain.rst"


def test_nist_ids_sort_numerically():
    refs = {"nist": ["AC-12", "AC-3", "AC-3(3)", "AU-2"]}
    assert list(traceability.by_reference([control("HOST-001", refs)])["nist"]) == [
        "AC-3", "AC-3(3)", "AC-12", "AU-2"]


def test_node_id_pattern_names_the_per_vm_target():
    assert (traceability.test_node(control("ISO-017", {}, applies_to="vm", kind="domain_xml"))
            == "suites/isolation/test_isolation.py::test_domain_xml[<host>/<vm>-ISO-017]")
    assert (traceability.test_node(control("HOST-009", {}, domain="host", kind="sshd_config"))
            == "suites/host/test_host.py::test_sshd_config[<host>-HOST-009]")
    assert (traceability.test_node(control("ISO-023", {}, applies_to="inventory", kind="fleet"))
            == "suites/isolation/test_isolation.py::test_fleet[<finding>-ISO-023]")


def test_every_control_and_every_reference_is_in_the_table():
    text = traceability.markdown()
    cat = catalog.load()
    for c in cat.controls:
        assert f"| **{c.id}** " in text, c.id
        assert traceability.test_node(c) in text, c.id
        for key, value in traceability.reference_values(c.references):
            assert traceability.reference_id(key, value).replace("|", "\\|") in text, (c.id, key, value)


def test_manual_controls_say_what_to_look_at(tmp_path):
    c = control("HOST-021", {"nist": "SI-2"}, manual="compare the guest OS list with the baseline")
    cat = catalog.Catalog([c], "0" * 64)
    text = traceability.markdown(cat, requirements=tmp_path / "absent.md")
    assert "| manual |" in text
    assert "| HOST-021 title of HOST-021 | compare the guest OS list with the baseline |" in text


def test_requirements_not_yet_encoded_are_named(tmp_path):
    req = tmp_path / "REQUIREMENTS.md"
    req.write_text("| ID | Requirement |\n|---|---|\n| HOST-001 | a |\n| HOST-002 | b |\n")
    cat = catalog.Catalog([control("HOST-001", {}, domain="host")], "0" * 64)
    assert "Not encoded yet (1): HOST-002" in traceability.markdown(cat, requirements=req)
