"""Issue 10: collection bounded in bytes and time, whatever a host sends, on this machine
(connection: local runs the same batches through `sh`, as the lab's hosts do over SSH:
tests/integration/test_collect_hardening_lab.py). Each test is named after the issue's item."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from hvconform.collect import collector, commands
from hvconform.collect.batch import Batch
from hvconform.collect.channels import Limits, ProcessStream, Reader
from hvconform.collect.rounds import RoundTrips, SentLog
from hvconform.collect.collector import _round, collect_host, host_error, second_round
from hvconform.collect.transport import TransportError, open_transport
from hvconform.inputs import catalog, inventory
from hvconform.judge import engine
from hvconform.model.snapshot import Artifact, Domain, Snapshot

ROOT = Path(__file__).resolve().parents[2]


def local(**ssh):
    """This machine as a host (inventories/local.yaml), with these ssh settings."""
    h = inventory.load(ROOT / "inventories" / "local.yaml").hosts[0]
    return dataclasses.replace(h, ssh=dataclasses.replace(h.ssh, **ssh))


def batch(*items) -> Batch:
    b = Batch()
    for key, name, args in items:
        b.add(key, name, **args)
    return b


def cat(path) -> tuple:
    return (f"file:{path}", "cat", {"path": str(path)})


def test_endless_output_is_capped_per_command(tmp_path, monkeypatch):
    monkeypatch.setattr(collector, "PARALLEL", 1)    # one channel: a known order
    host = local(max_command_output=1 << 20)
    snap, started = Snapshot(host="local"), time.monotonic()
    b = batch(cat("/etc/hostname"), cat("/dev/zero"), cat("/etc/os-release"))
    with pytest.raises(TransportError) as caught:
        _round(open_transport(host), b, snap, 60)
    assert time.monotonic() - started < 20              # stopped at the cap, not at the timeout
    assert caught.value.status == "error"
    assert str(caught.value).startswith("output over the cap of 1 MiB per command "
                                        "(ssh.max_command_output) from `cat -- /dev/zero`")
    # what came complete before is kept; the capped output is not, nor what never ran
    assert set(snap.artifacts) == {"file:/etc/hostname"}


def test_endless_output_is_capped_per_host(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (700 << 10))
    host = local(max_host_output=1 << 20)             # two of `big` pass it, each alone does not
    with pytest.raises(TransportError) as caught:
        _round(open_transport(host), batch(cat(big), cat("/dev/zero")), Snapshot(host="local"), 60)
    assert "over the cap of 1 MiB per host (ssh.max_host_output)" in str(caught.value)


def test_a_host_over_its_cap_gets_an_error_verdict_naming_it_and_keeps_its_artifacts():
    host = local(max_host_output=64 << 10)            # the process table alone is more
    controls = catalog.load().controls
    snap, sent = collect_host(host, controls, {})
    assert snap.status == "error", snap.error
    assert "over the cap of 64 KiB per host (ssh.max_host_output)" in snap.error
    assert snap.artifacts and sent[0]["rc"] is None
    control = next(c for c in controls if c.id == "HOST-001")
    verdict = engine.judge(control, snap)
    assert verdict.status == "error" and "64 KiB per host" in verdict.reason


def _readers_of(path: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(path).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def test_remote_command_ends_at_its_timeout(tmp_path):
    """`cat` of a FIFO blocks forever: at the timeout the whole batch ends, grandchildren
    included, and the round returns (before: `sh` was killed, `cat` kept the pipes open
    and the collection hung)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    b = batch(cat("/etc/hostname"), cat(fifo))
    got = {}

    def collect():
        snap = Snapshot(host="local")
        try:
            _round(open_transport(local()), b, snap, 1.5)
        except TransportError as exc:
            got["error"], got["snap"] = exc, snap

    worker = threading.Thread(target=collect, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the round did not return after its timeout"
    assert got["error"].status == "timeout"
    assert f"still running: cat -- {fifo}" in str(got["error"])
    assert "file:/etc/hostname" in got["snap"].artifacts   # what finished is kept
    deadline = time.monotonic() + 10
    while _readers_of(fifo) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _readers_of(fifo) == []


def test_every_batch_runs_under_the_declared_timeout_wrapper():
    line = commands.wrap("PATH=x; cat -- '/a b'\n", 119.2, sudo=True)
    assert line == "sudo -n timeout -k 5 121 sh -c " + "'PATH=x; cat -- '\"'\"'/a b'\"'\"'\n'"
    assert commands.wrap("x", float("inf"), sudo=False).startswith("timeout -k 5 10000000 sh -c ")
    script = "PATH=x\nprintf '\\n%s B %s\\n' 'ab' 0\ncat -- '/it'\"'\"'s'\n"
    for sudo in (True, False):
        assert commands.unwrap(commands.wrap(script, 30, sudo)) == script
    assert commands.unwrap("sh -c 'x'") is None and commands.unwrap("timeout -k 5 3 sh -c a b") is None


def silent_host(tmp_path: Path, connect_timeout: float):
    """(a loopback port that accepts and never speaks SSH, an inventory of one host on it)."""
    from tests.unit.test_inventory import write_key, write_known_hosts

    silent = socket.create_server(("127.0.0.1", 0))
    write_key(tmp_path / "id")
    write_known_hosts(tmp_path / "known_hosts")
    inv = inventory.load_text(f"hosts:\n  quiet:\n    address: 127.0.0.1\n    ssh: {{port: "
                              f"{silent.getsockname()[1]}, identity_file: id, known_hosts: known_hosts, "
                              f"connect_timeout: {connect_timeout}}}\n", tmp_path / "inv.yaml")
    return silent, inv


def test_silent_listener_gives_a_timeout(tmp_path):
    """A port that accepts and never speaks SSH: a timeout naming it, not 'SSH failed:
    No existing session'."""
    silent, inv = silent_host(tmp_path, 1.5)
    try:
        snap, _ = collect_host(inv.hosts[0], [], {})
    finally:
        silent.close()
    assert snap.status == "timeout", snap.error
    assert "no SSH answer within 1.5s" in snap.error and "No existing session" not in snap.error


def test_non_utf8_output_keeps_the_sha256_of_the_bytes_sent(tmp_path):
    sent = b"caf\xe9 \xff\xfe ok \xc3\xa9\n"
    (tmp_path / "latin1").write_bytes(sent)
    snap = Snapshot(host="local")
    _round(open_transport(local()), batch(cat(tmp_path / "latin1")), snap, 30)
    art = snap.get(f"file:{tmp_path}/latin1")
    assert art.sha256 == hashlib.sha256(sent).hexdigest() and art.raw() == sent
    assert art.stdout == "caf\ufffd \ufffd\ufffd ok \u00e9\n"      # what judging reads
    stored = json.loads(json.dumps(snap.to_dict()))               # plain JSON, no surrogates
    again = Snapshot.from_dict(stored).get(art.key)
    assert again.raw() == sent and again.sha256 == art.sha256
    # UTF-8 output carries no second copy
    (tmp_path / "utf8").write_text("caf\u00e9\n")
    _round(open_transport(local()), batch(cat(tmp_path / "utf8")), snap, 30)
    plain = snap.get(f"file:{tmp_path}/utf8")
    assert plain.stdout_base64 is None and plain.sha256 == hashlib.sha256("caf\u00e9\n".encode()).hexdigest()


def test_non_utf8_output_is_redacted_in_its_stored_bytes_too(tmp_path):
    (tmp_path / "qemu.conf").write_bytes(b'vnc_password = "hunter2"\n# caf\xe9\n')
    snap = Snapshot(host="local")
    b = batch(("file:/etc/libvirt/qemu.conf", "cat", {"path": str(tmp_path / "qemu.conf")}))
    _round(open_transport(local()), b, snap, 30)
    art = snap.get("file:/etc/libvirt/qemu.conf")
    assert art.redacted and b"hunter2" not in art.raw() and "hunter2" not in art.stdout
    assert art.sha256 == hashlib.sha256(art.raw()).hexdigest()


def test_recorded_snapshots_without_stored_bytes_still_load():
    data = {"host": "old", "artifacts": {"cmd:x": {"key": "cmd:x", "source": "x", "rc": 0, "stdout": "a\n",
                                                   "sha256": hashlib.sha256(b"a\n").hexdigest()}}}
    art = Snapshot.from_dict(data).get("cmd:x")
    assert art.stdout_base64 is None and art.raw() == b"a\n"


def test_nul_byte_in_a_domain_name_costs_only_that_domain():
    """A host may print any name. One with a NUL cannot be an argument (it would cut the
    whole batch short); one with \\r or \\x1e is quoted and still asked for (before, those
    split the script's lines and the whole round was refused)."""
    snap = Snapshot(host="local")
    snap.domains = [Domain("good", True), Domain("bad\0name", True), Domain("cr\rname", False),
                    Domain("rs\x1ename", False)]
    b = second_round(snap)
    keys = [k for k, _ in b.items]
    assert keys == ["domain:good:inactive", "domain:good:live", "domain:cr\rname:inactive",
                    "domain:rs\x1ename:inactive"]
    _round(open_transport(local()), b, snap, 60)      # every frame came back: no PARTIAL
    assert set(keys) <= set(snap.artifacts)


class _KilledBatch(RoundTrips):
    """A host whose batch shell printed a private key on stderr and was killed (SIGKILL)
    before it framed a single command."""

    identity = {"connection": "ssh", "host_key": "ssh-ed25519 SHA256:x", "host_key_verified": True}

    def __init__(self, key_file: Path):
        self.key_file, self.host, self.sudo = key_file, None, False
        self.log, self.reader = SentLog(), Reader(Limits())

    def _open(self, script, timeout):
        return ProcessStream(["sh", "-c", f"echo Killed >&2; cat -- '{self.key_file}' >&2; kill -9 $$"])

    def close(self):
        pass


def test_stderr_of_a_killed_batch_never_puts_a_private_key_in_the_error_text(tmp_path):
    os.system(f"ssh-keygen -q -t rsa -b 3072 -N '' -f {tmp_path / 'k'}")
    key = (tmp_path / "k").read_bytes()
    body = key.decode().splitlines()[1:-1]        # every base64 line of the key
    with pytest.raises(TransportError) as caught:
        _round(_KilledBatch(tmp_path / "k"), batch(cat("/x")), Snapshot(host="h"), 5)
    text = str(caught.value)
    assert "gave no result" in text and "REDACTED" in text
    assert not [line for line in body if line in text] and "PRIVATE KEY-----" not in text
    assert not [line for line in body if line in host_error(f"SSH failed: {key.decode()}")]


def test_ctrl_c_that_lands_on_another_thread_stops_collection_at_once(tmp_path):
    """SIGINT goes to any thread of the process. Python handles it in the main thread
    only, when that thread next runs: collection waiting for a silent host (30 s
    connect timeout here) must still stop within a second or so, with what it has."""
    import signal

    silent, inv = silent_host(tmp_path, 30)
    other = threading.Thread(target=time.sleep, args=(5,), daemon=True)
    other.start()
    # not the main thread: what a Ctrl-C often is in a process with threads
    threading.Timer(1.0, signal.pthread_kill, (other.ident, signal.SIGINT)).start()
    # Python's own handler, whatever this process inherited (a shell's background job
    # ignores SIGINT)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    try:
        with pytest.raises(collector.Interrupted) as stop:
            collector.collect_all(inv.hosts, catalog.load(), lambda h: {})
    finally:
        signal.signal(signal.SIGINT, inherited)
        silent.close()
    assert time.monotonic() - started < 5
    assert stop.value.results["quiet"][0].error == collector.INTERRUPTED
