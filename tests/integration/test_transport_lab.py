"""Transport and collection against real sshd hosts of the lab: host keys, errors
that name their cause, sudo, timeouts, and one bad host never stopping the rest."""

from __future__ import annotations

import dataclasses
import subprocess

from hvconform.collect import commands
from hvconform.inputs import inventory
from hvconform.inputs.catalog import load as load_catalog
from hvconform.collect.collector import collect_all, collect_host
from tests.conftest import ROOT

NEEDS = load_catalog().controls  # collect for the whole catalog


def host(lab, name, **ssh):
    h = next(h for h in lab.hosts if h.name == name)
    return dataclasses.replace(h, ssh=dataclasses.replace(h.ssh, **ssh)) if ssh else h


def test_every_line_sent_is_a_declared_read_only_command(lab):
    snap, sent = collect_host(host(lab, "weak"), NEEDS)
    assert snap.status == "collected", snap.error
    assert snap.round_trips == len(sent) == 2
    lines = [line for entry in sent for line in entry["commands"]]
    assert len(lines) == len(snap.artifacts)
    assert all(commands.allowed(line) for line in lines)
    assert snap.domains and snap.qemu_pids


def test_sudo_host_collects_as_root(lab):
    snap, _ = collect_host(host(lab, "hardened"), NEEDS)
    assert snap.status == "collected", snap.error
    assert snap.get("cmd:sshd_effective").ok  # needs root for the host keys


def test_unknown_host_key_is_refused_unless_accepted(lab, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    snap, _ = collect_host(host(lab, "weak", known_hosts=empty), NEEDS)
    assert snap.status == "error" and "not in known_hosts" in snap.error
    snap, _ = collect_host(host(lab, "weak", known_hosts=empty), NEEDS, accept_new_host_keys=True)
    assert snap.status == "collected" and snap.identity["host_key_verified"] is False


def test_wrong_key_is_an_auth_failure(lab, tmp_path):
    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    snap, _ = collect_host(host(lab, "weak", identity_file=key), NEEDS)
    assert snap.status == "auth_failed", snap.error


def test_sudo_that_would_prompt_is_a_clear_error():
    inv = inventory.load(ROOT / "inventories" / "lab-nosudo.yaml")
    snap, _ = collect_host(inv.hosts[0], NEEDS)
    assert snap.status == "error" and "sudo -n refused" in snap.error and "hvnosudo" in snap.error


def test_command_timeout(lab):
    snap, _ = collect_host(host(lab, "weak", command_timeout=0.001), NEEDS)
    assert snap.status == "timeout", snap.error


def test_one_bad_host_never_stops_the_others(lab, tmp_path):
    gone = dataclasses.replace(host(lab, "weak"), name="gone", address="127.0.0.1",
                               ssh=dataclasses.replace(host(lab, "weak").ssh, port=1))
    done = []
    result = collect_all([gone, host(lab, "default")], load_catalog(), lambda h: {},
                         on_done=lambda s: done.append(s.host))
    assert result["gone"][0].status == "unreachable" and "127.0.0.1:1" in result["gone"][0].error
    assert result["default"][0].status == "collected"
    assert sorted(done) == ["default", "gone"]


def test_jump_host_named_in_the_inventory(lab):
    """hardened reached through weak's sshd (a direct-tcpip channel), keys checked for both."""
    target = dataclasses.replace(host(lab, "hardened"),
                                 ssh=dataclasses.replace(host(lab, "hardened").ssh, jump_host="weak"))
    snap, sent = collect_host(target, NEEDS, jump_hosts=[host(lab, "weak")])
    assert snap.status == "collected", snap.error
    assert snap.identity["hostname"] == "hardened" and len(sent) == 2
    assert [h["host"] for h in snap.identity["jump_hosts"]] == ["weak"]
    assert snap.identity["host_key_verified"] is True
