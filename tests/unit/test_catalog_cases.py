"""Every control in the catalog, judged on a snapshot that must pass and one that must fail.

The cases live in tests/cases/<domain>.py (CASES, NOT_APPLICABLE, EXTRA_CASES) and, for the first
controls encoded, LEGACY below. A control added to the catalog without a case turns
test_every_control_has_cases red.
"""

import importlib

import pytest

from hvconform.inputs import catalog
from hvconform.judge import engine
from hvconform.model import verdict as v
from tests.cases import *  # noqa: F403 (the builders the LEGACY table uses)
from tests.cases import CAPS, domain, snap

LEGACY = {
    "HOST-001": ({"files": {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}},
                 {"files": {"/etc/os-release": 'ID=debian\nVERSION_ID="10"\nVERSION_CODENAME=buster\n'}}),
    "HOST-009": (sshd(permitrootlogin="no"), sshd()),
    "HOST-011": (sshd(allowgroups="hvadmins"), sshd()),
    "HOST-012": (sshd(clientaliveinterval=600, clientalivecountmax=1, banner="/etc/issue.net"), sshd()),
    "HOST-016": (cmdline("BOOT_IMAGE=/vmlinuz ro quiet"), cmdline("BOOT_IMAGE=/vmlinuz ro crashkernel=256M quiet")),
    "HOST-017": (sysctls({"fs.suid_dumpable": 0, "kernel.core_pattern": "|/bin/false"}),
                 sysctls({"fs.suid_dumpable": 2, "kernel.core_pattern": "core"})),

    "KMAC-004": ({"capabilities": CAPS.format("<secmodel><model>selinux</model></secmodel>"
                                             "<secmodel><model>dac</model></secmodel>")},
                 {"capabilities": CAPS.format("<secmodel><model>none</model></secmodel>"
                                             "<secmodel><model>dac</model></secmodel>")}),
    "KMAC-010": (sysctls({"kernel.kptr_restrict": 1}), sysctls({"kernel.kptr_restrict": 0})),
    "KMAC-011": (sysctls({"kernel.randomize_va_space": 2}), sysctls({"kernel.randomize_va_space": 0})),
    "KMAC-012": (sysctls({"kernel.dmesg_restrict": 1, "kernel.perf_event_paranoid": 2}),
                 sysctls({"kernel.dmesg_restrict": 0, "kernel.perf_event_paranoid": -1})),
    "KMAC-014": (sysctls({"kernel.unprivileged_bpf_disabled": 2, "net.core.bpf_jit_harden": 2}),
                 sysctls({"kernel.unprivileged_bpf_disabled": 0, "net.core.bpf_jit_harden": 0})),
    "KMAC-016": (sysctls({"fs.protected_symlinks": 1, "fs.protected_hardlinks": 1}),
                 sysctls({"fs.protected_symlinks": 0, "fs.protected_hardlinks": 0})),

    "QEMU-001": (qconf((DATA / "debian12-qemu.conf").read_text()), qconf('user = "root"\ngroup = "root"\n')),
    "QEMU-003": (running(), running(capeff="000001ffffffffff")),
    "QEMU-006": (running(seccomp=2), running(seccomp=0)),
    "QEMU-013": (vm(attrs=QEMU_NS),
                 vm(attrs=QEMU_NS, top="  <qemu:commandline><qemu:arg value='-s'/></qemu:commandline>\n")),
    "QEMU-014": (running(), running(args=("-gdb", "tcp:127.0.0.1:1234"))),
    "QEMU-018": (vm("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                    "<source file='/var/lib/libvirt/images/vm1.qcow2'/><target dev='vda'/></disk>"),
                 vm("<disk type='file' device='disk'><driver name='qemu'/>"
                    "<source file='/var/lib/libvirt/images/vm1.img'/><target dev='vda'/></disk>")),

    "LIBV-002": (dconf((DATA / "debian12-libvirtd.conf").read_text()), dconf("listen_tcp = 1\n")),
    "LIBV-003": (dconf('listen_tcp = 1\ntcp_min_ssf = 112\n'), dconf('listen_tcp = 1\nauth_tcp = "none"\n')),
    "LIBV-008": (dconf(""), dconf('auth_unix_rw = "none"\nunix_sock_rw_perms = "0777"\n')),
    "LIBV-009": (dconf('unix_sock_group = "libvirt"\nunix_sock_ro_perms = "0770"\n'),
                 dconf('unix_sock_admin_perms = "0777"\n')),
    "LIBV-014": (stats("700 root root directory", LIBVIRT_TREE, {
                           "/etc/libvirt/secrets": None,
                           "/etc/libvirt/qemu.conf": "600 root root regular file",
                           "/etc/libvirt/libvirtd.conf": "644 root root regular file"}),
                 stats("755 root root directory", LIBVIRT_TREE, {   # Debian 12 as installed
                           "/etc/libvirt/secrets": None,
                           "/etc/libvirt/qemu.conf": "600 root root regular file",
                           "/etc/libvirt/libvirtd.conf": "644 root root regular file"})),
    "LIBV-016": (dconf("max_clients = 200\n"), dconf("keepalive_interval = -1\nmax_clients = 100000\n")),
    "LIBV-017": (stats(None, HELPER_SOCKETS, {"/run/libvirt/virtlogd-sock": "600 root root socket"}),
                 stats(None, HELPER_SOCKETS, {"/run/libvirt/virtlogd-sock": "666 root root socket"})),

    "ISO-001": ({"files": {"/sys/kernel/mm/ksm/run": "0\n", "/sys/kernel/mm/ksm/pages_shared": "0\n"}},
                {"files": {"/sys/kernel/mm/ksm/run": "1\n", "/sys/kernel/mm/ksm/pages_shared": "5120\n"}}),
    "ISO-002": (vm(top="  <memoryBacking><nosharepages/></memoryBacking>\n"), vm()),
    "ISO-004": (cmdline("ro quiet mitigations=auto"), cmdline("ro quiet mitigations=off")),
    "ISO-017": (vm(top="  <memtune><hard_limit unit='KiB'>1048576</hard_limit></memtune>\n"), vm()),
    "ISO-022": (vm(), vm("<shmem name='ivshmem0'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>")),
    "ISO-029": (vm("<graphics type='spice' autoport='yes'><clipboard copypaste='no'/></graphics>"),
                vm("<redirdev bus='usb' type='spicevmc'/>")),

    "NET-004": (qconf(""), qconf('vnc_listen = "0.0.0.0"\n')),
    "NET-010": (vm("<graphics type='vnc' port='-1' autoport='yes'/>"),
                vm("<graphics type='vnc' port='-1' autoport='yes' websocket='5700'/>")),
    "NET-015": (vm("<interface type='network'><source network='default'/>"
                   "<filterref filter='clean-traffic'/></interface>"),
                vm("<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>")),

    "LOG-001": ({"ps": PS_AUDITD, **cmdline("ro audit=1 audit_backlog_limit=8192")},
                {"ps": PS_PLAIN, **cmdline("ro quiet")}),
    "LOG-002": (dconf("audit_level = 2\n", ps=PS_PLAIN), dconf("audit_level = 0\n", ps=PS_AUDITD)),
    "LOG-009": (dconf('log_outputs = "3:journald"\n'), dconf('log_level = 1\nlog_filters = "1:*"\n')),
    "LOG-010": (qconf(""), qconf('stdio_handler = "file"\n')),
    "LOG-011": (stats("700 root root directory", LOG_DIRS,
                      {"/var/log": "755 root root directory", "/var/log/audit": None}),
                stats("755 root root directory", LOG_DIRS + ["/var/log"], {"/var/log/audit": None})),

    "BKP-002": ({**vm(), "files": {EXPORT: domain()}}, {**vm(), "files": {EXPORT: None}}),
    "BKP-010": (stats("700 libvirt-qemu libvirt-qemu directory", SAVE_DIRS, {"/var/lib/libvirt/qemu/dump": None}),
                stats("755 root root directory", SAVE_DIRS, {"/var/lib/libvirt/qemu/dump": None})),
    "BKP-011": (stats(None, [], {"/var/lib/libvirt/qemu/nvram": "700 libvirt-qemu libvirt-qemu directory",
                                   "/var/lib/libvirt/swtpm": "711 swtpm swtpm directory"}),
                stats(None, [], {"/var/lib/libvirt/qemu/nvram": "777 root root directory",
                                   "/var/lib/libvirt/swtpm": "711 swtpm swtpm directory"})),

    "CRY-003": (qconf('default_tls_priority = "@SYSTEM:-VERS-TLS1.0"\n'),
                qconf('default_tls_priority = "NORMAL:%COMPAT:+VERS-TLS1.0"\n')),
    "CRY-005": (stats(None, TLS_KEYS, {"/etc/pki/libvirt/private": "750 root root directory",
                                         "/etc/pki/libvirt/private/serverkey.pem": "600 root root regular file",
                                         "/etc/pki/qemu/server-key.pem": "640 root libvirt-qemu regular file"}),
                stats(None, TLS_KEYS, {"/etc/pki/libvirt/private": "750 root root directory",
                                         "/etc/pki/libvirt/private/serverkey.pem": "644 root root regular file",
                                         "/etc/pki/qemu/server-key.pem": "640 root libvirt-qemu regular file"})),

    "CRY-006": (qconf("migrate_tls_force = 1\n"), qconf("migrate_tls_force = 1\nmigrate_tls_x509_verify = 0\n")),
    "CRY-007": (qconf("default_tls_x509_verify = 1\n"), qconf("")),
    "CRY-017": (vm("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"),
                vm("<rng model='virtio'><backend model='egd' type='tcp'>"
                   "<source mode='connect' host='192.0.2.1' service='1234'/></backend></rng>")),
    "CRY-019": (sshd(ciphers="chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes256-ctr",
                     macs="hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"),
                sshd(ciphers="aes128-ctr,aes128-cbc")),
}

# Kinds that have a not_applicable verdict, one control each, on a snapshot that shows it.
LEGACY_NOT_APPLICABLE = {
    "QEMU-001": {"files": {QCONF: None}},
    "LOG-002": {"files": {DCONF: None, "/etc/libvirt/virtqemud.conf": None}},  # no libvirt here
    "CRY-005": stats(None, TLS_KEYS),                                  # no TLS set up at all
    "HOST-009": {"sshd": (127, "", "sh: 1: sshd: not found\n")},
}


def _merged(name: str, legacy: dict) -> dict:
    out = dict(legacy)
    for domain_name in catalog.DOMAINS:
        module = importlib.import_module(f"tests.cases.{domain_name}")
        for cid, value in getattr(module, name, {}).items():
            assert cid not in out, f"{cid} has cases twice (tests/cases/{domain_name}.py)"
            out[cid] = value
    return out


CASES = _merged("CASES", LEGACY)
NOT_APPLICABLE = _merged("NOT_APPLICABLE", LEGACY_NOT_APPLICABLE)
EXTRA_CASES = _merged("EXTRA_CASES", {})


@pytest.fixture(scope="module")
def cat():
    return catalog.load()


def test_every_control_has_cases(cat):
    assert sorted(c.id for c in cat.controls) == sorted(CASES)


def _judge(control, kwargs):
    return engine.judge(control, snap(**kwargs), "vm1" if control.applies_to == "vm" else None)


@pytest.mark.parametrize("control_id", sorted(CASES))
def test_pass_and_fail(cat, control_id):
    control = cat.by_id(control_id)
    good, bad = CASES[control_id]
    verdict = _judge(control, good)
    assert verdict.status == (v.MANUAL if control.manual else v.PASS), (verdict.reason, verdict.actual)
    assert verdict.expected and verdict.actual and verdict.evidence
    verdict = _judge(control, bad)
    assert verdict.status == v.FAIL, (verdict.reason, verdict.actual)
    assert verdict.expected and verdict.actual and verdict.evidence
    for line in (verdict.expected, verdict.actual):
        assert "\n" not in line                           # expected vs actual: one line each
    for evidence in verdict.evidence:
        assert evidence.source and len(evidence.sha256) == 64 and evidence.excerpt


@pytest.mark.parametrize("control_id", sorted(NOT_APPLICABLE))
def test_not_applicable(cat, control_id):
    verdict = _judge(cat.by_id(control_id), NOT_APPLICABLE[control_id])
    assert verdict.status == v.NOT_APPLICABLE and verdict.reason


@pytest.mark.parametrize("control_id, i", [(cid, i) for cid in sorted(EXTRA_CASES)
                                           for i in range(len(EXTRA_CASES[cid]))])
def test_extra_cases(cat, control_id, i):
    kwargs, status = EXTRA_CASES[control_id][i]
    verdict = _judge(cat.by_id(control_id), kwargs)
    assert verdict.status == status, (verdict.reason, verdict.actual)
    assert verdict.expected and verdict.actual and verdict.evidence


@pytest.mark.parametrize("control_id", sorted(CASES))
def test_nothing_collected_is_an_error_never_an_exception(cat, control_id):
    control = cat.by_id(control_id)
    s = snap(domains={"vm1": domain()}, running={"vm1"})
    s.artifacts.clear()
    verdict = engine.judge(control, s, "vm1" if control.applies_to == "vm" else None)
    assert verdict.status == v.ERROR and verdict.reason


def test_an_uncollected_host_gives_errors(cat):
    s = snap(status="unreachable", error="connection refused")
    assert {engine.judge(c, s).status for c in cat.controls} == {v.ERROR}
