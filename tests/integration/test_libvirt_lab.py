"""libvirt-only hosts against the real lab: read-only libvirt over qemu+libssh2 (the
lab's own known_hosts, through known_hosts=) and over qemu+ssh (OpenSSH in batch mode,
which checks ~/.ssh/known_hosts: run here in a private mount namespace whose ~/.ssh is a
temporary folder, so the auditor's own ~/.ssh is never read or written). What the API
gives equals what virsh gives over SSH; the checks judge it unchanged or end as
"not collected: libvirt-only connection"; a bad URI never stops the other hosts."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hvconform.collect.collector import collect_all, collect_host
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import inventory, libvirt_uri
from hvconform.judge import engine, libvirt_only
from hvconform.judge.read.libvirt_networks import net_states
from hvconform.model.snapshot import Snapshot
from tests.conftest import ROOT, run_suite

CAT = catalog_mod.load()
LIBVIRT_INVENTORY = ROOT / "inventories" / "lab-libvirt.yaml"
STATE = ROOT / "lab" / "state"
SAME_TEXT = ("cmd:hostname", "cmd:virsh_capabilities", "cmd:virsh_net_dumpxml_all", "cmd:virsh_pool_xmls")
SAME_LINES = ("cmd:virsh_list_all", "cmd:virsh_list_running", "cmd:virsh_list_autostart")


@pytest.fixture(scope="module")
def lv():
    return inventory.load(LIBVIRT_INVENTORY)


def assert_same_as_ssh(ssh, api):
    """What the libvirt API gave equals what virsh printed over SSH, key by key."""
    assert [(d.name, d.running) for d in api.domains] == [(d.name, d.running) for d in ssh.domains]
    domain_keys = [k for k in api.artifacts if k.startswith("domain:")]
    assert len(domain_keys) == len([k for k in ssh.artifacts if k.startswith("domain:")]) > 0
    for key in domain_keys:
        assert api.get(key).stdout == ssh.get(key).stdout, key
    for key in domain_keys + list(SAME_TEXT):
        # virsh ends some documents with blank lines of its own; the document is the same
        assert api.get(key).stdout.rstrip("\n") == ssh.get(key).stdout.rstrip("\n"), key
        assert api.get(key).source.startswith("libvirt: vir"), key
    for key in SAME_LINES:
        assert api.get(key).stdout.split() == ssh.get(key).stdout.split(), key
    assert net_states(api)[0] == net_states(ssh)[0]


@pytest.mark.parametrize("name", ["weak", "default"])
def test_the_api_gives_what_virsh_gives_and_the_checks_judge_it_unchanged(lab, lv, name):
    ssh, _ = collect_host(lab.host(name), CAT.controls, lab.policy)
    api, sent = collect_host(lv.host(name), CAT.controls, lv.policy)
    assert ssh.status == "collected" and api.status == "collected", api.error
    assert api.identity["connection"] == "libvirt" and api.identity["hostname"] == name
    assert all(c.startswith("libvirt: vir") for entry in sent for c in entry["commands"])
    assert_same_as_ssh(ssh, api)
    judged_alike = 0
    for control in (c for c in CAT.controls if c.applies_to != "inventory"):
        for vm in [d.name for d in ssh.domains] if control.applies_to == "vm" else [None]:
            want, got = engine.judge(control, ssh, vm), engine.judge(control, api, vm)
            if got.status == "error" and got.reason.startswith(libvirt_only.REASON):
                assert control.kind != "domain_xml", (control.id, vm, got.reason)
                continue
            assert got.status == want.status, (control.id, vm, got, want)
            judged_alike += 1
    assert judged_alike >= 20


def in_private_ssh_dir(ssh_dir, code: str):
    """Python `code` run with ~/.ssh (where OpenSSH looks for known_hosts) replaced by
    `ssh_dir`, in a mount namespace of its own: nothing outside it sees the change."""
    own = Path.home() / ".ssh"
    own.mkdir(mode=0o700, exist_ok=True)   # the mount point: where ssh itself would make it
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount --bind "$1" "$2" && cd "$3" && exec "$4" -c "$5"', "sh",
         str(ssh_dir), str(own), str(ROOT), sys.executable, code],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


COLLECT_OVER_QEMU_SSH = """
import dataclasses, json
from hvconform.inputs import catalog, inventory
from hvconform.collect.collector import collect_host
lv = inventory.load("inventories/lab-libvirt.yaml")
host = dataclasses.replace(lv.host("weak"), uri={uri!r})
snap, _ = collect_host(host, catalog.load().controls, lv.policy)
print(json.dumps(snap.to_dict()))
"""


def test_qemu_ssh_runs_openssh_in_batch_mode_with_strict_host_keys(lab, lv, tmp_path):
    uri, problems = libvirt_uri.check("qemu+ssh://root@10.213.0.13/system", tmp_path,
                                      identity_file=STATE / "id_ed25519")
    assert not problems and "no_tty=1" in uri
    own_ssh = sorted(Path.home().glob(".ssh/*"))   # the auditor's own: never touched
    ssh_dir = tmp_path / "ssh"
    ssh_dir.mkdir(mode=0o700)
    shutil.copy(STATE / "known_hosts", ssh_dir / "known_hosts")
    proc = in_private_ssh_dir(ssh_dir, COLLECT_OVER_QEMU_SSH.format(uri=uri))
    assert proc.returncode == 0, proc.stderr[-2000:]
    over_ssh = Snapshot.from_dict(json.loads(proc.stdout))
    assert over_ssh.status == "collected", over_ssh.error
    api, _ = collect_host(lv.host("weak"), CAT.controls, lv.policy)   # qemu+libssh2
    assert_same_as_ssh(api, over_ssh)
    # an unknown host key: OpenSSH in batch mode refuses it, nothing is written anywhere
    (ssh_dir / "known_hosts").write_text("")
    proc = in_private_ssh_dir(ssh_dir, COLLECT_OVER_QEMU_SSH.format(uri=uri))
    refused = Snapshot.from_dict(json.loads(proc.stdout))
    assert refused.status == "error" and "Host key verification failed" in refused.error, refused.error
    assert (ssh_dir / "known_hosts").read_text() == ""
    assert sorted(Path.home().glob(".ssh/*")) == own_ssh


def test_an_unknown_host_key_over_libssh2_is_refused_without_a_prompt(lv, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = lv.host("weak")
    bad = dataclasses.replace(host, uri=host.uri.replace(str(STATE / "known_hosts"), str(empty)))
    assert str(empty) in bad.uri
    snap, _ = collect_host(bad, CAT.controls)
    assert snap.status == "error" and "Accept SSH host key" in snap.error
    assert "hvconform answers no prompt" in snap.error and empty.read_text() == ""


def test_unreachable_uris_are_clean_errors_and_the_other_hosts_are_audited(lv):
    weak = lv.host("weak")
    refused = dataclasses.replace(weak, name="refused", uri=weak.uri.replace("10.213.0.13", "127.0.0.1:1"))
    silent = dataclasses.replace(weak, name="silent", uri=weak.uri.replace("10.213.0.13", "10.213.0.99"),
                                 ssh=dataclasses.replace(weak.ssh, connect_timeout=3.0))
    done = collect_all([refused, silent, weak], CAT, lambda h: lv.policy)
    assert done["weak"][0].status == "collected"
    assert done["refused"][0].status == "unreachable" and "127.0.0.1:1" in done["refused"][0].error
    assert done["silent"][0].status in ("unreachable", "timeout"), done["silent"][0].error
    assert "10.213.0.99" in done["silent"][0].error


def test_audit_of_the_lab_through_libvirt_only(lab, tmp_path):
    proc, run_dir = run_suite(f"--inventory={LIBVIRT_INVENTORY}", "-n", "2", reports_dir=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    hosts = {h["name"]: h for h in results["hosts"]}
    assert hosts["weak"]["status"] == hosts["default"]["status"] == "collected"
    # hardened lets only the libvirt group use its read-only socket (unix_sock_ro_perms):
    # a clean error for that host, the others audited
    assert hosts["hardened"]["status"] == "error" and "socket" in hosts["hardened"]["error"]
    for rec in results["verdicts"]:
        if rec["host"] in ("weak", "default") and rec["status"] == "pass":
            control = CAT.by_id(rec["control"])
            assert control.kind in ("domain_xml", "function", "fleet"), rec["control"]
    errors = [r for r in results["verdicts"] if r["host"] == "weak" and r["status"] == "error"]
    assert errors and all(libvirt_only.REASON in r["reason"] for r in errors)
    failing = {r["control"] for r in results["verdicts"] if r["host"] == "weak" and r["status"] == "fail"}
    assert {c.id for c in CAT.controls if c.kind == "domain_xml"} & failing
