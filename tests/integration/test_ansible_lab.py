"""The lab audited through an Ansible INI inventory (inventories/lab-ansible/hosts.ini,
read by the real ansible-inventory): the same hosts, the same verdicts as through
inventories/lab.yaml; and an Ansible host with a bad variable is an error while the
other hosts are still audited."""

from __future__ import annotations

import json
import shutil

from hvconform.collect.collector import collect_all
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import inventory
from tests.conftest import ROOT, run_suite
from tests.unit.test_ansible_inventory import VAULTED

ANSIBLE_INVENTORY = "inventories/lab-ansible/hosts.ini"   # relative: Ansible's paths start at cwd


def test_audit_through_the_ansible_inventory_gives_the_yaml_audits_verdicts(lab_audit, tmp_path):
    _, _, ours = lab_audit
    proc, run_dir = run_suite(f"--inventory={ANSIBLE_INVENTORY}", "-n", "2", reports_dir=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"from {ANSIBLE_INVENTORY} (an Ansible inventory, read by ansible-inventory)" in proc.stdout
    theirs = json.loads((run_dir / "results.json").read_text())
    assert {h["name"]: h["status"] for h in theirs["hosts"]} == {
        "hardened": "collected", "default": "collected", "weak": "collected"}
    want = {r["test"]: r["status"] for r in ours["verdicts"]}
    got = {r["test"]: r["status"] for r in theirs["verdicts"]}
    assert set(got) == set(want)
    assert [t for t in got if got[t] != want[t]] == []
    assert theirs["inventory"]["vms"] == ours["inventory"]["vms"]   # hvconform_vms reconciled


def test_a_host_with_a_bad_variable_is_an_error_and_the_others_are_collected(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    copy = tmp_path / "lab-ansible"
    shutil.copytree(ROOT / "inventories" / "lab-ansible", copy)
    with open(copy / "hosts.ini", "a") as f:
        f.write("\n[broken]\nvaulted ansible_host=10.213.0.13\ntypo ansible_host=10.213.0.12 "
                "hvconform_polcy=\"{'patch_sla_days': 1}\"\n")
    (copy / "host_vars" / "vaulted.yml").write_text(VAULTED)
    inv = inventory.load(str(copy / "hosts.ini"))
    hosts = inventory.select(inv, "weak,broken")
    assert [h.name for h in hosts] == ["weak", "vaulted", "typo"]
    done = collect_all(hosts, catalog_mod.load(), lambda h: {**inv.policy, **h.policy})
    assert done["weak"][0].status == "collected"
    vaulted, typo = done["vaulted"][0], done["typo"][0]
    assert vaulted.status == "error" and "host vaulted: ansible_user: vault-encrypted" in vaulted.error
    assert typo.status == "error" and "hvconform_polcy: unknown hvconform_ variable" in typo.error
    assert done["vaulted"][1] == [] and done["typo"][1] == []   # never contacted
