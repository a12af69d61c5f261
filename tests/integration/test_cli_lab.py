"""pytest's own selection works on the suite as a pytest user expects:
-m <domain>, -m severity_<level>, -k <CONTROL-ID>, and no --inventory = this machine."""

from __future__ import annotations

import re

import pytest

from hvconform.inputs import catalog as catalog_mod
from tests.conftest import LAB_INVENTORY, run_suite

CAT = catalog_mod.load()


def collected(tmp_path, *args):
    proc, _ = run_suite("--collect-only", "-q", *args, reports_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if "::" in line]


def control_of(test_id):
    return re.search(r"-([A-Z]+-\d{3})\]$", test_id)[1]


@pytest.mark.parametrize("domain", ["qemu", "network"])
def test_marker_per_domain(lab, tmp_path, domain):
    ids = collected(tmp_path, f"--inventory={LAB_INVENTORY}", "-m", domain)
    assert ids and {CAT.by_id(control_of(i)).domain for i in ids} == {domain}
    assert {control_of(i) for i in ids} == {c.id for c in CAT.of(domain)}


def test_marker_per_severity(lab, tmp_path):
    ids = collected(tmp_path, f"--inventory={LAB_INVENTORY}", "-m", "severity_high")
    assert {CAT.by_id(control_of(i)).severity for i in ids} == {"high"}
    assert {control_of(i) for i in ids} == {c.id for c in CAT.controls if c.severity == "high"}


def test_keyword_selects_one_control_on_every_host(lab, tmp_path):
    ids = collected(tmp_path, f"--inventory={LAB_INVENTORY}", "-k", "HOST-009")
    assert sorted(i.split("::")[1] for i in ids) == [
        "test_sshd_config[default-HOST-009]", "test_sshd_config[hardened-HOST-009]",
        "test_sshd_config[weak-HOST-009]"]


def test_collect_only_lists_every_requirement_id(lab, tmp_path):
    from tests.unit.test_catalog import requirement_rows
    ids = collected(tmp_path, f"--inventory={LAB_INVENTORY}")
    assert {control_of(i) for i in ids} == set(requirement_rows())


@pytest.mark.parametrize("profile", ["pp-virt", "openstack-compute", "multi-tenant", "baseline"])
def test_profile_selects_its_controls_and_combines_with_markers(lab, tmp_path, profile):
    from hvconform.inputs import profiles
    chosen = profiles.select(CAT, [profile])
    ids = collected(tmp_path, f"--inventory={LAB_INVENTORY}", "--profile", profile)
    assert {control_of(i) for i in ids} == chosen
    narrowed = collected(tmp_path, f"--inventory={LAB_INVENTORY}", "--profile", profile,
                         "-m", "severity_high", "-k", "not weak")
    assert {control_of(i) for i in narrowed} == {i for i in chosen
                                                 if CAT.by_id(i).severity == "high"}
    assert narrowed and not any("[weak" in i for i in narrowed)


def test_unknown_profile_is_a_usage_error(tmp_path):
    proc, _ = run_suite("--collect-only", "-q", "--profile", "nope", reports_dir=tmp_path)
    assert proc.returncode == 4 and "unknown profile 'nope'" in proc.stdout + proc.stderr


def test_limit_to_one_host(lab, tmp_path):
    ids = collected(tmp_path, f"--inventory={LAB_INVENTORY}", "--limit", "weak", "-k", "QEMU-013")
    assert ids and all("[weak/" in i for i in ids)


def test_without_inventory_the_suite_audits_this_machine(tmp_path):
    ids = collected(tmp_path, "-k", "KMAC-010")
    assert [i.split("::")[1] for i in ids] == ["test_sysctl[local-KMAC-010]"]


def test_a_broken_inventory_stops_before_any_connection(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  h1:\n    address: 10.213.0.13\n    ssh: {port: abc}\n")
    proc, _ = run_suite(f"--inventory={bad}", reports_dir=tmp_path)
    assert proc.returncode == 4  # pytest's usage error
    assert f"{bad}:4: hosts.h1.ssh.port" in proc.stderr
    assert "collecting" not in proc.stdout
