"""Ansible inventories read through the real `ansible-inventory` (ansible-core,
requirements-ansible.txt): INI, YAML, group_vars/host_vars folders and an executable
dynamic inventory, mapped onto our hosts and checked by our rules; bad input is a clear
error, and one host's bad variable never costs the other hosts their audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hvconform.collect.collector import collect_host
from hvconform.inputs import ansible_run
from hvconform.inputs.ansible_inventory import ANSIBLE, OURS, kind_of
from hvconform.inputs.inventory import InventoryError, load, select
from tests.conftest import ROOT

VAULTED = """\
ansible_user: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  63653861396331656239656135376332383437643836333731313935306337626434616532393261
  3530613464373434373562346238623431313639376637320a343762656231383831623638643963
  31643065383662363262643763636334303134656666383231346539363866393766343737353338
  3836373032666633380a323435643734643433326265343035313564666537386162346132323361
  3431
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder to write inventories in, as the current directory (Ansible's relative
    paths start there), with a key and a known_hosts file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "id_ed25519").write_text("not a real key, never read by these tests\n")
    (tmp_path / "known_hosts").write_text("")
    return tmp_path


def write(base: Path, name: str, text: str) -> Path:
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def by_name(inv):
    return {h.name: h for h in inv.hosts}


INI = """\
[compute]
hv-a ansible_host=10.0.0.1 ansible_user=hvaudit ansible_port=2222 ansible_become=yes hvconform_facts="{'tenant': 'acme', 'security_level': 'high'}"
hv-b ansible_host=hv-b.example.net hvconform_vms="['web-01', {'name': 'db-01', 'tenant': 'acme'}]"

[edge]
hv-c

[lab:children]
compute
edge

[lab:vars]
ansible_user=root
ansible_ssh_private_key_file=id_ed25519
hvconform_known_hosts=known_hosts
ansible_ssh_common_args='-o ControlMaster=auto -o ProxyJump=hvaudit@bastion.example.net:2200'
"""


def test_ini_with_children_groups_maps_connection_variables(site):
    inv = load(write(site, "hosts.ini", INI))
    assert inv.format == ANSIBLE and not inv.problems()
    hosts = by_name(inv)
    a, b, c = hosts["hv-a"], hosts["hv-b"], hosts["hv-c"]
    assert (a.address, a.ssh.user, a.ssh.port, a.sudo) == ("10.0.0.1", "hvaudit", 2222, True)
    assert a.facts == {"tenant": "acme", "security_level": "high"}
    assert a.ssh.identity_file == site / "id_ed25519" and a.ssh.known_hosts == site / "known_hosts"
    assert a.ssh.jump_host == "hvaudit@bastion.example.net:2200"
    assert (b.address, b.ssh.user, b.sudo) == ("hv-b.example.net", "root", False)
    assert b.vms == {"web-01": {}, "db-01": {"tenant": "acme"}}
    assert c.address == "hv-c"   # no ansible_host: the inventory name, as Ansible does
    assert a.groups == ["compute", "lab"] and c.groups == ["edge", "lab"]
    # children groups resolve to their hosts, so --limit takes them
    assert [h.name for h in select(inv, "lab")] == ["hv-a", "hv-b", "hv-c"]
    assert [h.name for h in select(inv, "edge,hv-a")] == ["hv-a", "hv-c"]
    with pytest.raises(InventoryError, match="no host or group named 'edg'.*did you mean 'edge'"):
        select(inv, "edg")


def test_yaml_inventory_with_group_vars_and_host_vars_folders(site):
    write(site, "inv/hosts.yml", """\
        all:
          children:
            compute:
              hosts:
                hv-a: {ansible_host: 10.0.0.1}
                hv-b: {ansible_host: 10.0.0.2, ansible_port: "2022"}
        """)
    write(site, "inv/group_vars/all.yml", """\
        ansible_user: hvaudit
        ansible_ssh_private_key_file: id_ed25519
        hvconform_known_hosts: known_hosts
        hvconform_sudo: true
        hvconform_policy: {patch_sla_days: 14}
        """)
    write(site, "inv/host_vars/hv-b.yml", """\
        hvconform_sudo: false
        hvconform_labels: {rack: r12}
        hvconform_policy: {patch_sla_days: 7}
        """)
    for given in ("inv", "inv/hosts.yml"):   # the folder, or the file beside its *_vars
        inv = load(given)
        a, b = by_name(inv)["hv-a"], by_name(inv)["hv-b"]
        assert inv.format == ANSIBLE and not inv.problems()
        assert (a.sudo, a.policy, a.ssh.user) == (True, {"patch_sla_days": 14}, "hvaudit")
        # Ansible's precedence: the host's own variables win, a mapping is replaced whole
        assert (b.sudo, b.policy, b.labels, b.ssh.port) == (False, {"patch_sla_days": 7},
                                                           {"rack": "r12"}, 2022)


def test_executable_dynamic_inventory(site):
    script = write(site, "dynamic.py", f"""\
        #!{sys.executable}
        import json, sys
        if "--list" in sys.argv:
            print(json.dumps({{
                "compute": {{"hosts": ["hv-x", "hv-y"],
                            "vars": {{"hvconform_known_hosts": "known_hosts"}}}},
                "_meta": {{"hostvars": {{"hv-x": {{"ansible_host": "10.1.1.1"}},
                                        "hv-y": {{"ansible_connection": "local"}}}}}}}}))
        else:
            print("{{}}")
        """)
    script.chmod(0o755)
    inv = load(str(script))
    hosts = by_name(inv)
    assert inv.format == ANSIBLE and set(hosts) == {"hv-x", "hv-y"}
    assert hosts["hv-x"].address == "10.1.1.1" and hosts["hv-x"].connection == "ssh"
    assert hosts["hv-y"].connection == "local" and hosts["hv-y"].groups == ["compute"]


def test_a_broken_inventory_is_one_clear_error(site):
    write(site, "broken.ini", "[compute\nhv-a ansible_host=\n")
    with pytest.raises(InventoryError) as caught:
        load("broken.ini")
    (error,) = caught.value.errors
    assert error.startswith("broken.ini: cannot read as an Ansible inventory: ansible-inventory "
                            "failed (exit 1)") and "Failed to parse" in error, error


def test_missing_ansible_inventory_names_the_package(site, monkeypatch):
    write(site, "hosts.ini", "[compute]\nhv-a\n")
    monkeypatch.setenv("PATH", str(site / "no-bin"))
    monkeypatch.delenv("HVCONFORM_ANSIBLE_INVENTORY", raising=False)
    monkeypatch.setattr(sys, "executable", str(site / "no-bin" / "python"))
    with pytest.raises(InventoryError) as caught:
        load("hosts.ini")
    (error,) = caught.value.errors
    assert "ansible-inventory not found" in error and "ansible-core" in error
    assert "requirements-ansible.txt" in error


def test_vault_value_is_the_hosts_own_located_error_and_the_others_stay_usable(site):
    write(site, "inv/hosts.ini", "[compute]\nhv-a\nhv-b\n\n[compute:vars]\n"
                                 "hvconform_known_hosts=known_hosts\n")
    write(site, "inv/host_vars/hv-a.yml", VAULTED)
    inv = load("inv")
    a, b = by_name(inv)["hv-a"], by_name(inv)["hv-b"]
    assert a.problem.startswith("inv: host hv-a: ansible_user: vault-encrypted")
    assert "(set on host hv-a: its inventory line or host_vars/hv-a)" in a.problem
    assert "$ANSIBLE_VAULT" not in a.problem   # the ciphertext is not repeated anywhere
    assert b.problem is None and b.address == "hv-b"
    # collection reports it without contacting anything
    snap, sent = collect_host(a, [])
    assert (snap.status, snap.error, sent) == ("error", a.problem, [])


def test_unknown_hvconform_variable_names_host_variable_and_group(site):
    write(site, "hosts.ini", """\
        [compute]
        hv-a hvconform_fact="{'tenant': 'x'}"
        hv-b

        [compute:vars]
        hvconform_known_hosts=known_hosts
        hvconform_polcy=x
        [edge]
        hv-c hvconform_known_hosts=known_hosts
        """)
    hosts = by_name(load("hosts.ini"))
    assert hosts["hv-a"].problem == (
        "hosts.ini: host hv-a: hvconform_fact: unknown hvconform_ variable (did you mean "
        "'hvconform_facts'?); known: hvconform_facts, hvconform_vms, hvconform_policy, "
        "hvconform_labels, hvconform_sudo, hvconform_known_hosts, hvconform_libvirt_uri "
        "(set on host hv-a: its inventory line or host_vars/hv-a); hvconform_polcy: unknown "
        "hvconform_ variable (did you mean 'hvconform_policy'?); known: hvconform_facts, "
        "hvconform_vms, hvconform_policy, hvconform_labels, hvconform_sudo, "
        "hvconform_known_hosts, hvconform_libvirt_uri (from group compute: its vars or "
        "group_vars/compute)")
    assert "hvconform_polcy" in hosts["hv-b"].problem
    assert hosts["hv-c"].problem is None


BAD_VALUES = [
    ("hv-a ansible_port=99999", "ansible_port", "expected an integer from 1 to 65535, got 99999"),
    ("hv-a ansible_host='-oProxyCommand=x'", "ansible_host",
     "expected a host name or IP address, got '-oProxyCommand=x'"),
    ("hv-a ansible_become=maybe", "ansible_become", "expected true or false, got 'maybe'"),
    ("hv-a ansible_connection=winrm", "ansible_connection", "'winrm': hvconform reaches hosts over"),
    ("hv-a ansible_user='{{ lookup(\"env\", \"USER\") }}'", "ansible_user", "is a Jinja template"),
    ("hv-a ansible_ssh_private_key_file=missing_key", "ansible_ssh_private_key_file",
     "no such file: "),
    ("hv-a ansible_become=true ansible_become_method=su", "ansible_become_method",
     "'su': hvconform becomes root with `sudo -n` only"),
    ("hv-a hvconform_facts=\"{'security_level': 'high', 'colour': 'red'}\"", "hvconform_facts.colour",
     "unknown key"),
    ("hv-a hvconform_vms=\"[{'tenant': 'x'}]\"", "hvconform_vms[0]", "a VM needs a name"),
    ("hv-a hvconform_policy=\"{'patch_sla_days': 'soon'}\"", "hvconform_policy.patch_sla_days",
     "expected an integer like the default"),
    ("hv-a ansible_ssh_common_args='-o ProxyCommand=\"nc %h %p\"'", "ansible_ssh_common_args",
     "-o proxycommand: not supported here; use -o ProxyJump="),
    ("hv-a ansible_ssh_extra_args='-J a,b'", "ansible_ssh_extra_args", "one jump host only"),
    ("hv-a hvconform_known_hosts=nowhere", "hvconform_known_hosts", "no such file: "),
]


def test_each_bad_value_is_located_on_its_host_with_our_rules(site):
    """One inventory, one bad value per host (one ansible-inventory run for all)."""
    lines = [line.replace("hv-a", f"hv-{i}", 1) for i, (line, _, _) in enumerate(BAD_VALUES)]
    write(site, "hosts.ini", "[compute]\n" + "\n".join(lines) + "\nhv-ok\n\n[compute:vars]\n"
                             "hvconform_known_hosts=known_hosts\n")
    hosts = by_name(load("hosts.ini"))
    for i, (_, variable, message) in enumerate(BAD_VALUES):
        problem = hosts[f"hv-{i}"].problem or ""
        assert problem.startswith(f"hosts.ini: host hv-{i}: {variable}: "), problem
        assert message in problem, problem
    assert hosts["hv-ok"].problem is None


def test_known_hosts_is_as_strict_as_with_our_yaml(site, monkeypatch):
    """Without hvconform_known_hosts or UserKnownHostsFile, ssh's default file; missing: an error."""
    monkeypatch.setenv("HOME", str(site / "home"))
    write(site, "hosts.ini", "[compute]\nhv-a\nhv-b ansible_ssh_common_args='-o "
                             "UserKnownHostsFile=known_hosts -o StrictHostKeyChecking=no'\n")
    hosts = by_name(load("hosts.ini"))
    assert "hvconform_known_hosts: not set, and ssh's default does not exist: " \
           f"{site / 'home/.ssh/known_hosts'}" in hosts["hv-a"].problem
    # StrictHostKeyChecking=no is not honoured: the file is still required and checked
    assert hosts["hv-b"].problem is None and hosts["hv-b"].ssh.known_hosts == site / "known_hosts"


def test_libvirt_host_in_an_ansible_inventory(site):
    write(site, "hosts.ini", "[compute]\nhv-l hvconform_libvirt_uri=qemu+libssh://hvaudit@hv-l/system "
                             "hvconform_known_hosts=known_hosts ansible_ssh_private_key_file=id_ed25519\n"
                             "hv-bad hvconform_libvirt_uri=qemu+tcp://hv-bad/system\n")
    hosts = by_name(load("hosts.ini"))
    assert hosts["hv-l"].connection == "libvirt" and hosts["hv-l"].address == "hv-l"
    assert hosts["hv-l"].uri == (f"qemu+libssh://hvaudit@hv-l/system?no_tty=1&keyfile={site}/"
                                 f"id_ed25519&known_hosts={site}/known_hosts")
    assert "hvconform_libvirt_uri: transport 'tcp' refused" in hosts["hv-bad"].problem


def test_which_format_a_path_is(site):
    assert kind_of(str(ROOT / "inventories" / "lab.yaml"))[0] == OURS
    assert kind_of(str(ROOT / "inventories" / "lab-ansible" / "hosts.ini"))[0] == ANSIBLE
    assert kind_of(str(ROOT / "inventories" / "lab-ansible"))[0] == ANSIBLE
    write(site, "ansible.yml", "all:\n  hosts:\n    hv-a:\n")
    assert kind_of("ansible.yml")[0] == ANSIBLE
    assert kind_of("ansible:x.yaml") == (ANSIBLE, "x.yaml", "the ansible: prefix")
    assert kind_of("hvconform:x.yaml") == (OURS, "x.yaml", "the hvconform: prefix")


def test_a_wrong_guess_is_impossible_to_miss(site):
    # an Ansible YAML inventory whose top-level group is called `hosts` reads as ours ...
    write(site, "odd.yml", "hosts:\n  hosts:\n    hv-a: {ansible_host: 10.0.0.1}\n")
    with pytest.raises(InventoryError) as caught:
        load("odd.yml")
    assert "odd.yml was read as hvconform's own inventory format (a top-level hosts: mapping); " \
           "if it is an Ansible inventory, give it as ansible:odd.yml" in str(caught.value)
    # ... and the prefix reads it as Ansible's
    inv = load("ansible:odd.yml")
    assert inv.format == ANSIBLE and [h.name for h in inv.hosts] == ["hv-a"]
    # our own format given to ansible-inventory finds no hosts: the error says what to do
    with pytest.raises(InventoryError, match="found no hosts .*give it as hvconform:"):
        load(f"ansible:{ROOT / 'inventories' / 'lab-nosudo.yaml'}")


def test_the_lab_as_ansible_inventory_resolves_to_the_same_hosts_as_lab_yaml():
    ours = by_name(load(ROOT / "inventories" / "lab.yaml"))
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)   # its paths are relative to the checkout's root, as Ansible's are
        theirs = load("inventories/lab-ansible/hosts.ini")
    finally:
        os.chdir(cwd)
    assert list(by_name(theirs)) == list(ours)
    for name, host in by_name(theirs).items():
        same = ("connection", "address", "ssh", "sudo", "facts", "vms")
        assert [getattr(host, k) for k in same] == [getattr(ours[name], k) for k in same], name
        assert host.policy == load(ROOT / "inventories" / "lab.yaml").policy
        assert host.groups == ["compute", "lab"]


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hvconform", "inventory", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_inventory_command_prints_resolved_hosts_for_both_formats(site):
    write(site, "hosts.ini", INI + "[bad]\nhv-v hvconform_sudo=perhaps\n")
    proc = run_cli("hosts.ini", "--limit", "compute,bad", cwd=site)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == "ansible" and [h["name"] for h in doc["hosts"]] == ["hv-a", "hv-b", "hv-v"]
    a = doc["hosts"][0]
    assert {k: a[k] for k in ("address", "port", "user", "sudo", "groups", "facts", "vms")} == {
        "address": "10.0.0.1", "port": 2222, "user": "hvaudit", "sudo": True,
        "groups": ["compute", "lab"], "facts": {"tenant": "acme", "security_level": "high"},
        "vms": None}
    assert "hvconform_sudo: expected true or false, got 'perhaps'" in doc["hosts"][2]["problem"]
    assert proc.stderr.startswith("error: hosts.ini: host hv-v: hvconform_sudo:")
    ours = run_cli("inventories/lab.yaml", "--limit", "weak", cwd=ROOT)
    assert ours.returncode == 0, ours.stderr
    weak = json.loads(ours.stdout)["hosts"][0]
    assert (weak["address"], weak["user"], weak["port"], weak["sudo"]) == ("10.213.0.13", "root", 22, False)
    assert "weak-retired" in weak["vms"] and json.loads(ours.stdout)["format"] == "hvconform"
    broken = run_cli("ansible:missing.ini", cwd=site)
    assert broken.returncode == 2 and broken.stderr.startswith("error: missing.ini: cannot read")


def test_run_bounded_kills_a_hanging_inventory_and_caps_output(site):
    with pytest.raises(ansible_run.AnsibleRunError, match="did not finish within 0.5s"):
        ansible_run.run_bounded([sys.executable, "-c", "import time; time.sleep(30)"],
                                dict(os.environ), 0.5, 1000)
    with pytest.raises(ansible_run.AnsibleRunError, match="printed more than"):
        ansible_run.run_bounded([sys.executable, "-c", "print('x' * (3 << 20))"],
                                dict(os.environ), 30, 1 << 20)


def test_ansibles_complaint_never_carries_a_password_into_our_error(site):
    write(site, "hosts.ini", "[compute\nhv-a ansible_password=hunter2 ansible_become_pass='s3 cr3t'\n")
    with pytest.raises(InventoryError) as caught:
        load("hosts.ini")
    assert "hunter2" not in str(caught.value) and "s3 cr3t" not in str(caught.value)
    assert ansible_run.summary(b"[ERROR]: line: x ansible_password=hunter2; y\n") == \
        "line: x ansible_password=[REDACTED]; y"
