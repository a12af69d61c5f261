"""Isolation across the inventory, on the real lab: every finding comes from the
domains the lab's libvirt daemons hold (lab/domains/, lab/README.md "Domains"), each
record names the VMs and the shared resource, hardened passes what it can, the
inventory's vms: list is reconciled, and a VNC password never leaves the host."""

from __future__ import annotations

import json

import pytest

from hvconform.model.snapshot import Snapshot

VNC_PASSWORD = "hvIsoPw2"   # lab/domains/weak/weak-tenant-b.xml


@pytest.fixture(scope="module")
def results(lab_audit):
    return lab_audit[2]


def records(results, control, host=None, status=None):
    return [r for r in results["verdicts"] if r["control"] == control
            and (host is None or r["host"] == host) and (status is None or r["status"] == status)]


def finding(results, control, *vms, containing=""):
    """The one failing record of `control` naming exactly these VMs."""
    found = [r for r in records(results, control, status="fail")
             if sorted(r["vms"]) == sorted(vms) and containing in r["actual"]]
    assert len(found) == 1, [(r["vms"], r["actual"]) for r in records(results, control)]
    rec = found[0]
    for vm in vms:                                     # the reason names every VM concerned
        assert vm in rec["reason"], rec["reason"]
    assert rec["evidence"] and all(len(e["sha256"]) == 64 for e in rec["evidence"])
    return rec


def test_two_or_more_guests_really_run_on_weak(lab_audit):
    _, run_dir, _ = lab_audit
    snap = json.loads((run_dir / "snapshots" / "weak.json").read_text())
    running = {d["name"] for d in snap["domains"] if d["running"]}
    assert {"weak-guest", "weak-tenant-a", "weak-tenant-b"} <= running


NOVA_PROJECT = "2f6e1c1a-94a3-4f3c-8f0e-3c1e9a7d5b10"   # lab/domains/weak/weak-tenant-a.xml


def test_iso005_tenants_on_smt_siblings(results):
    rec = finding(results, "ISO-005", "weak/weak-tenant-a", "weak/weak-tenant-b")
    assert "core {0,1}" in rec["actual"] and "SMT on" in rec["actual"]
    assert rec["host"] == "weak"


def test_an_openstack_instance_takes_its_tenant_and_level_from_nova(results):
    """weak-tenant-a carries nova's metadata only: its tenant is its project, its level the
    inventory's mapping of its flavor; the findings name the project."""
    rec = finding(results, "ISO-005", "weak/weak-tenant-a", "weak/weak-tenant-b")
    assert f"weak/weak-tenant-a (tenant acme (nova project {NOVA_PROJECT}), level low (nova flavor m1.tiny, " \
           "policy))" in rec["actual"]
    rec = finding(results, "NET-016", "weak/weak-tenant-a", "weak/weak-tenant-b")
    assert "weak/weak-tenant-a (tenant acme" in rec["actual"]


def test_iso015_mixed_security_levels(results):
    finding(results, "ISO-015", "weak/weak-guest", "weak/weak-tenant-a", "weak/weak-passthrough",
            "weak/weak-tenant-b", "weak/weak-shared-disk", containing="VMs of 2 security levels share host weak")
    finding(results, "ISO-015", "default/default-guest", containing="has no security level")


def test_iso016_sensitive_vm_not_pinned_alone(results):
    finding(results, "ISO-016", "weak/weak-tenant-b", containing="emulator not pinned")
    finding(results, "ISO-016", "weak/weak-tenant-b", "weak/weak-tenant-a", containing="core {0,1}")


def test_iso023_shared_writable_disk(results):
    rec = finding(results, "ISO-023", "weak/weak-tenant-a", "weak/weak-shared-disk")
    assert "/var/lib/libvirt/images/weak-tenant-a.img on weak" in rec["actual"]


def test_kmac006_shared_static_label_and_unconfined_guests(results):
    rec = finding(results, "KMAC-006", "weak/weak-passthrough", "weak/weak-shared-disk")
    assert "s0:c10,c20" in rec["actual"]
    finding(results, "KMAC-006", "weak/weak-tenant-a", containing="without an sVirt/AppArmor label")


def test_net016_tenants_on_one_bridge(results):
    rec = finding(results, "NET-016", "weak/weak-tenant-a", "weak/weak-tenant-b")
    assert "bridge hvbr0" in rec["actual"] and "acme, globex" in rec["actual"]


def test_vnc_on_all_addresses_is_net005(results):
    [rec] = [r for r in records(results, "NET-005", "weak", "fail") if r["vm"] == "weak-tenant-b"]
    assert "0.0.0.0" in rec["actual"]


def test_a_vms_own_setting_overrides_weaks_qemu_conf(lab_audit, results):
    # weak's qemu.conf keeps VNC on loopback and guest RAM out of dumps; its guests
    # override both (lab/hosts/weak/qemu.conf.add, lab/domains/weak/*.xml)
    _, run_dir, _ = lab_audit
    snap = Snapshot.load(run_dir / "snapshots" / "weak.json")   # larger outputs are in blobs/
    qconf = snap.artifacts["file:/etc/libvirt/qemu.conf"].stdout
    assert not [line for line in qconf.splitlines() if line.startswith(("vnc_listen", "dump_guest_core"))]
    [net008] = records(results, "NET-008", "weak")
    assert net008["status"] == "fail" and "weak-legacy: VNC on 0.0.0.0" in net008["actual"]
    assert "weak-tenant-b: VNC on 0.0.0.0" in net008["actual"] and "qemu.conf vnc_listen =" not in net008["actual"]
    dumps = {r["vm"] for r in records(results, "QEMU-010", "weak", "fail")}
    assert dumps == {"weak-guest", "weak-legacy"}
    [guest] = [r for r in records(results, "QEMU-010", "weak") if r["vm"] == "weak-guest"]
    assert "its <memory dumpCore='on'>" in guest["actual"] and "running QEMU has dump-guest-core=on" in guest["actual"]
    [spice] = [r for r in records(results, "NET-005", "weak", "fail") if r["vm"] == "weak-spice"]
    assert "spice on 0.0.0.0 (qemu.conf spice_listen)" in spice["actual"]


@pytest.mark.parametrize("control", ["ISO-005", "ISO-015", "ISO-016", "ISO-023", "NET-016"])
def test_hardened_passes(results, control):
    assert [r["status"] for r in records(results, control, "hardened")] == ["pass"]


def test_hardened_cannot_pass_kmac006_without_selinux(results):
    [rec] = records(results, "KMAC-006", "hardened")
    assert rec["status"] == "fail" and "hardened/hardened-guest" in rec["vms"]


def test_inventory_vms_are_reconciled(lab_audit, results):
    entries = results["inventory"]["vms"]
    assert {"host": "weak", "vm": "weak-retired", "status": "not_found"} in entries
    assert {"host": "weak", "vm": "weak-passthrough", "status": "not_listed"} in entries
    assert not [e for e in entries if e["host"] == "hardened"]   # its list matches
    proc = lab_audit[0]
    assert "VMs listed in the inventory but not found: weak/weak-retired" in proc.stdout
    assert "VMs found but not listed in the inventory: weak/weak-passthrough" in proc.stdout


def test_the_vnc_password_reaches_no_file_of_the_run(lab_audit):
    _, run_dir, _ = lab_audit
    snap = Snapshot.load(run_dir / "snapshots" / "weak.json")   # larger outputs are in blobs/
    live = snap.artifacts["domain:weak-tenant-b:live"].stdout
    assert "listen='0.0.0.0'" in live                  # the graphics element was collected
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "results.json" for p in files) and any(p.parent.name == "sent" for p in files)
    for path in files:
        assert VNC_PASSWORD not in path.read_bytes().decode("utf-8", "replace"), path
