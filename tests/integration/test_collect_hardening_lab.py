"""Issue 10 (collection) and 11 (item 4) on the lab's real sshd and libvirtd: caps and
timeouts that end the commands on the host, jump chains and their keys, hostile domain
and pool names, cloned hosts. Tests that change a host hold the lab lock exclusively."""

from __future__ import annotations

import dataclasses
import fcntl
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from hvconform.collect import batch, collector
from hvconform.collect.batch import Batch
from hvconform.collect.collector import _round, collect_all, collect_host
from hvconform.collect.transport import TransportError, fingerprint, open_transport
from hvconform.inputs.catalog import load as load_catalog
from hvconform.model.identity import conflicts
from hvconform.model.snapshot import Snapshot
from tests.conftest import ROOT
from tests.integration.test_bundle_lab import lab_lock

CATALOG = load_catalog()
STATE = ROOT / "lab" / "state"


def host(lab, name, rename=None, **ssh):
    h = next(h for h in lab.hosts if h.name == name)
    h = dataclasses.replace(h, ssh=dataclasses.replace(h.ssh, **ssh)) if ssh else h
    return dataclasses.replace(h, name=rename) if rename else h


def on(h, script: str) -> subprocess.CompletedProcess:
    """Run a shell script on a lab host as its audit user (with sudo where it has it)."""
    return subprocess.run(["ssh", "-i", str(STATE / "id_ed25519"), "-o", f"UserKnownHostsFile={STATE / 'known_hosts'}",
                           "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", f"{h.ssh.user}@{h.address}",
                           ("sudo -n " if h.sudo else "") + "sh -s"],
                          input=script, capture_output=True, text=True, timeout=60)


def running(h, needle: str) -> list[str]:
    """The host's processes whose command line holds `needle` (not this check itself)."""
    out = on(h, "ps -eo pid=,args=").stdout
    return [line for line in out.splitlines() if needle in line and "ps -eo" not in line]


def gone(h, needle: str, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while running(h, needle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def one(key: str, name: str, **args) -> Batch:
    b = Batch()
    b.add(key, name, **args)
    return b


def test_endless_output_is_capped_on_a_real_host(lab, monkeypatch):
    monkeypatch.setattr(collector, "PARALLEL", 1)    # one channel: hostname is read first
    weak = host(lab, "weak", max_command_output=1 << 20)
    b = Batch()
    b.add("file:/etc/hostname", "cat", path="/etc/hostname")
    b.add("file:/dev/zero", "cat", path="/dev/zero")
    transport, snap, started = open_transport(weak), Snapshot(host="weak"), time.monotonic()
    try:
        with pytest.raises(TransportError) as caught:
            _round(transport, b, snap, 120)
    finally:
        transport.close()
    assert time.monotonic() - started < 30
    assert "over the cap of 1 MiB per command (ssh.max_command_output) from `cat -- /dev/zero`" in str(caught.value)
    assert snap.get("file:/etc/hostname").stdout == "weak\n"
    assert gone(weak, "cat -- /dev/zero"), "the endless command still runs on the host"


def test_remote_command_ends_at_its_timeout(lab, tmp_path):
    """A cat of a FIFO never ends nor writes: closing the channel does not stop it, the
    host's `timeout` does (the lab hosts share the machine's /tmp, so they see the FIFO)."""
    fifo = tmp_path / f"fifo-{uuid.uuid4().hex[:8]}"
    subprocess.run(["mkfifo", str(fifo)], check=True)
    weak = host(lab, "weak")
    transport = open_transport(weak)
    try:
        with pytest.raises(TransportError) as caught:
            _round(transport, one(f"file:{fifo}", "cat", path=str(fifo)), Snapshot(host="weak"), 2)
    finally:
        transport.close()
    assert caught.value.status == "timeout" and f"still running: cat -- {fifo}" in str(caught.value)
    assert gone(weak, str(fifo)), "the command kept running on the host after its timeout"


def test_a_jump_chain_is_followed_whole(lab):
    """hardened through weak, weak through default: default is connected to first."""
    weak = host(lab, "weak", jump_host="default")
    target = host(lab, "hardened", jump_host="weak")
    snap, sent = collect_host(target, CATALOG.controls, {}, jump_hosts=[weak, host(lab, "default")])
    assert snap.status == "collected", snap.error
    assert snap.identity["hostname"] == "hardened" and len(sent) == 2
    hops = snap.identity["jump_hosts"]
    assert [(h["host"], h["address"], h["host_key_verified"]) for h in hops] == [
        ("default", "10.213.0.12", True), ("weak", "10.213.0.13", True)]
    assert snap.identity["host_key_verified"] is True
    # the far end really is used: when it cannot be reached, neither can the target
    dead_end = host(lab, "default", port=1)
    snap, _ = collect_host(target, CATALOG.controls, {}, jump_hosts=[weak, dead_end])
    assert snap.status == "unreachable" and "10.213.0.12:1" in snap.error, snap.error


def test_a_jump_chain_that_loops_is_refused(lab):
    weak = host(lab, "weak", jump_host="hardened")
    target = host(lab, "hardened", jump_host="weak")
    snap, sent = collect_host(target, CATALOG.controls, {}, jump_hosts=[weak])
    assert snap.status == "error" and snap.error == "jump hosts loop: hardened -> weak -> hardened"
    assert sent == []


def test_an_unknown_jump_host_key_is_recorded_and_the_target_not_verified(lab, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    weak = host(lab, "weak", known_hosts=empty)          # the jump host's key is unknown
    target = host(lab, "hardened", jump_host="weak")     # the target's key is known
    snap, _ = collect_host(target, CATALOG.controls, {}, jump_hosts=[weak])
    assert snap.status == "error" and "10.213.0.13:22: host key ssh-ed25519 SHA256:" in snap.error
    assert "not in known_hosts" in snap.error
    snap, _ = collect_host(target, CATALOG.controls, {}, accept_new_host_keys=True, jump_hosts=[weak])
    assert snap.status == "collected", snap.error
    (hop,) = snap.identity["jump_hosts"]
    assert hop["host"] == "weak" and hop["host_key_verified"] is False
    assert hop["host_key"] == weak_key()
    assert snap.identity["host_key_verified"] is False
    assert snap.identity["accepted_new_host_keys"] == ["weak"]


def weak_key() -> str:
    """weak's Ed25519 host key fingerprint, from the lab's own known_hosts."""
    import base64

    import paramiko
    for line in (STATE / "known_hosts").read_text().splitlines():
        address, kind, blob = line.split()[:3]
        if address == "10.213.0.13" and kind == "ssh-ed25519":
            return fingerprint(paramiko.PKey.from_type_string(kind, base64.b64decode(blob)))
    raise AssertionError("no ed25519 key of weak in lab/state/known_hosts")


def test_a_domain_named_like_an_option_is_collected_as_a_domain(lab, tmp_path):
    """`--xpath=name` was read by virsh as its --xpath option (then: no domain given)."""
    weak, name = host(lab, "weak"), "--xpath=name"
    xml = (f"<domain type=\"qemu\"><name>{name}</name><memory>65536</memory>"
           "<os><type arch=\"x86_64\">hvm</type></os></domain>")
    with lab_lock(fcntl.LOCK_EX):
        defined = on(weak, f"cat > /tmp/hv-opt.xml <<'XML'\n{xml}\nXML\n"
                           "virsh define /tmp/hv-opt.xml; rc=$?; rm -f /tmp/hv-opt.xml; exit $rc\n")
        assert defined.returncode == 0, defined.stderr
        try:
            snap, _ = collect_host(weak, CATALOG.controls, {})
        finally:
            on(weak, f"virsh undefine -- '{name}'")
    assert snap.status == "collected", snap.error
    art = snap.domain_xml(name)
    assert art.ok and f"<name>{name}</name>" in art.stdout, (art.rc, art.stderr)
    assert art.source == f"virsh -r -c qemu:///system dumpxml --inactive -- {name}"


def test_pool_names_with_blanks_and_globs_are_read_whole(lab, tmp_path):
    weak = host(lab, "weak")
    with lab_lock(fcntl.LOCK_EX):
        for i, pool in enumerate(("two words", "star*")):
            made = on(weak, f"virsh pool-define-as --name '{pool}' --type dir --target /tmp/hv-pool-{i}")
            assert made.returncode == 0, made.stderr
        try:
            snap = Snapshot(host="weak")
            transport = open_transport(weak)
            try:
                _round(transport, one("cmd:virsh_pool_xmls", "virsh_pool_xmls"), snap, 60)
            finally:
                transport.close()
        finally:
            for pool in ("two words", "star*"):
                on(weak, f"virsh pool-undefine -- '{pool}'")
    art = snap.get("cmd:virsh_pool_xmls")
    assert art.rc == 0, art.stderr
    assert "<name>two words</name>" in art.stdout and "<name>star*</name>" in art.stdout


def test_cloned_hosts_are_flagged_and_the_lab_hosts_are_distinct(lab):
    """The same host listed twice is one SSH key, one machine-id, one hostname; the lab's
    three hosts each have their own."""
    hosts = list(lab.hosts) + [host(lab, "weak", rename="weak-again")]
    collected = collect_all(hosts, CATALOG, lambda h: {})
    snaps = {name: snap for name, (snap, _) in collected.items()}
    assert all(s.status == "collected" for s in snaps.values()), {n: s.error for n, s in snaps.items()}
    found = conflicts(snaps)
    shared = [c for c in found if "claims" not in c]
    assert sorted(c["field"] for c in shared) == ["host_key", "hostname", "machine_id"]
    assert all(c["hosts"] == ["weak", "weak-again"] for c in shared)
    # and the copy says it is the inventory's weak
    assert [c for c in found if "claims" in c] == [
        {"field": "hostname", "value": "weak", "hosts": ["weak-again"], "claims": "weak"}]


def test_each_round_runs_on_parallel_channels_with_each_commands_time(lab):
    snap, sent = collect_host(host(lab, "weak"), CATALOG.controls, {})
    assert snap.status == "collected" and snap.round_trips == len(sent) == 2
    # round 1 holds apt and systemctl on 4; round 2's quick reads (~230 ms expected)
    # fill 2 (batch.MIN_PART_MS)
    assert [e["channels"] for e in sent] == [4, 2]
    for e in sent:
        assert len(e["command_seconds"]) == len(e["commands"]) and None not in e["command_seconds"]
    lines = [line for e in sent for line in e["commands"]]
    assert len(lines) == len(snap.artifacts)


def test_a_host_that_takes_fewer_channels_than_asked_is_still_collected(lab, monkeypatch):
    """sshd takes at most MaxSessions channels per connection (10 by default; hardened
    sites set fewer): with 8 parts per round and both rounds at once, the parts it
    refuses wait for a free channel instead of failing the host."""
    monkeypatch.setattr(collector, "PARALLEL", 8)
    monkeypatch.setattr(batch, "MIN_PART_MS", 0)     # round 2's quick reads split too
    snap, sent = collect_host(host(lab, "weak"), CATALOG.controls, {})
    assert snap.status == "collected", snap.error
    assert [e["channels"] for e in sent] == [8, 8]
    assert len(snap.artifacts) == sum(len(e["commands"]) for e in sent)
