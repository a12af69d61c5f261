"""Our collector against an independent one: pytest-testinfra (OpenSSH backend,
host keys checked against the lab's known_hosts) reads the same lab hosts, and
what it sees must be what our snapshot holds, redaction aside. This keeps the
collector honest about bytes, modes, kernel values and processes."""

from __future__ import annotations

import pytest
import testinfra

from hvconform.collect.collector import collect_host
from hvconform.inputs.catalog import load as load_catalog
from hvconform.collect.redact import redact
from tests.conftest import ROOT

HOSTS = ("hardened", "default", "weak")


@pytest.fixture(scope="module")
def ssh_config(lab, tmp_path_factory):
    lines = []
    for h in lab.hosts:
        lines += [f"Host {h.name}", f"  HostName {h.address}", f"  User {h.ssh.user}",
                  f"  IdentityFile {h.ssh.identity_file}", f"  UserKnownHostsFile {h.ssh.known_hosts}",
                  "  StrictHostKeyChecking yes", "  LogLevel ERROR", ""]
    path = tmp_path_factory.mktemp("ssh") / "config"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module", params=HOSTS)
def pair(request, lab, ssh_config):
    """(testinfra host, our snapshot) for one lab host."""
    name = request.param
    inv_host = next(h for h in lab.hosts if h.name == name)
    ti = testinfra.get_host(f"ssh://{name}", ssh_config=str(ssh_config), sudo=inv_host.sudo)
    snap, _ = collect_host(inv_host, load_catalog().controls)
    assert snap.status == "collected", snap.error
    return ti, snap


def test_file_bytes_match_but_for_redacted_secrets(pair):
    ti, snap = pair
    path = "/etc/libvirt/qemu.conf"
    theirs = ti.file(path).content_string
    assert snap.file(path).stdout == redact(f"file:{path}", theirs)


def test_file_modes_match(pair):
    ti, snap = pair
    for path in ("/etc/libvirt/qemu.conf", "/var/log/libvirt"):
        ours = snap.stat(path).stdout.split()[0]
        assert int(ours, 8) == ti.file(path).mode, path


def test_kernel_values_match(pair):
    ti, snap = pair
    for key in ("kernel.kptr_restrict", "kernel.randomize_va_space", "fs.protected_symlinks"):
        ours = snap.file("/proc/sys/" + key.replace(".", "/")).stdout.strip()
        assert int(ours) == ti.sysctl(key), key


def test_qemu_processes_and_their_users_match(pair):
    ti, snap = pair
    theirs = {p.pid: p.user for p in ti.process.filter(comm="qemu-system-x86")}
    ours = {}
    for line in snap.get("cmd:ps").stdout.splitlines():
        pid, _uid, user, comm = line.split(None, 4)[:4]
        if comm.startswith("qemu-system"):
            ours[int(pid)] = user
    assert ours and ours == theirs
    assert set(ours) == set(snap.qemu_pids)
