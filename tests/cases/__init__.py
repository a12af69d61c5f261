"""Snapshot builders for the catalog's pass/fail cases (tests/cases/<domain>.py).

Each domain module defines CASES {control id: (kwargs of a passing snapshot, kwargs of
a failing one)} and may define NOT_APPLICABLE {control id: kwargs}; the kwargs go to
tests.snapshots.snap. For a control with `manual:` the passing case gives `manual`.
EXTRA_CASES {control id: [(kwargs, status), ...]} holds paths that pair does not reach
(a site's policy value, another key type), each with the status it must give; the
policy lint (tests/unit/test_policy.py) needs them to see every policy key read.
"""

from pathlib import Path

from hvconform.judge.kinds.sysctl import path_of
from tests.snapshots import domain, qemu_args, snap, status  # noqa: F401 (re-exported)

DATA = Path(__file__).resolve().parent.parent / "data"
QCONF, DCONF = "/etc/libvirt/qemu.conf", "/etc/libvirt/libvirtd.conf"
SSHD_DEBIAN = (DATA / "debian12-sshd-T.txt").read_text()
QEMU_NS = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"


def sysctls(values: dict) -> dict:
    return {"files": {path_of(k): f"{val}\n" for k, val in values.items()}}


def qconf(text: str = "") -> dict:
    return {"files": {QCONF: text}}


# The lab's daemon model ($DCONF = $PCONF = libvirtd.conf): no systemd, libvirtd started
# with --listen (hvconform/judge/read/daemons.py).
NO_SYSTEMD = (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n")
PS_LIBVIRTD = "    1     0 root     init            /sbin/init\n   62     0 root     libvirtd        libvirtd -d --listen\n"


def dconf(text: str = "", **more) -> dict:
    """libvirtd.conf with `text`, on a host whose daemon model says that is $DCONF and $PCONF."""
    return {"files": {DCONF: text, "/etc/libvirt/virtqemud.conf": None, "/etc/libvirt/virtproxyd.conf": None},
            "ps": PS_LIBVIRTD, "cmds": {"systemctl_libvirt_active": NO_SYSTEMD}, **more}


def cmdline(text: str) -> dict:
    return {"files": {"/proc/cmdline": text + "\n"}}


def sshd(**settings) -> dict:
    """Debian 12's real `sshd -T`, with some keys replaced (a list value: one line each)."""
    lines = [line for line in SSHD_DEBIAN.splitlines() if line.split(" ")[0] not in settings]
    for key, value in settings.items():
        lines += [f"{key} {x}" for x in (value if isinstance(value, list) else [value])]
    return {"sshd": "\n".join(lines) + "\n"}


def vm(*devices, top: str = "", attrs: str = "") -> dict:
    return {"domains": {"vm1": domain(*devices, top=top, attrs=attrs)}}


def running(args=(), **status_kw) -> dict:
    return {"domains": {"vm1": domain()}, "procs": {4242: (status(**status_kw), qemu_args("vm1", *args))}}


def stats(default, paths, by_path=None) -> dict:
    """`stat` lines: `default` for each of `paths`, then `by_path` {path: line};
    a line of None means the path is absent."""
    by_path = by_path or {}
    return {"stats": {p: by_path.get(p, default) for p in [*paths, *by_path]}}


CAPS = "<capabilities><host>{}</host></capabilities>"
PS_AUDITD = "    1     0 root     init            /sbin/init\n  612     0 root     auditd          /sbin/auditd\n"
PS_PLAIN = "    1     0 root     init            /sbin/init\n"
MANIFEST = "/etc/hvconform/backup-paths"
EXPORT = "/var/backups/libvirt/vm1.xml"
BACKUP_STATUS = "/var/backups/libvirt/last-success"
LIBVIRT_TREE = ["/etc/libvirt", "/etc/libvirt/qemu", "/etc/libvirt/qemu.conf", "/etc/libvirt/libvirtd.conf"]
HELPER_SOCKETS = ["/run/libvirt/virtlogd-sock", "/run/libvirt/virtlogd-admin-sock",
                  "/run/libvirt/virtlockd-sock", "/run/libvirt/virtlockd-admin-sock"]
LOG_DIRS = ["/var/log/libvirt", "/var/log/libvirt/qemu"]
SAVE_DIRS = ["/var/lib/libvirt/qemu/save", "/var/lib/libvirt/qemu/snapshot", "/var/lib/libvirt/qemu/dump"]
TLS_KEYS = ["/etc/pki/libvirt/private", "/etc/pki/libvirt/private/serverkey.pem", "/etc/pki/qemu/server-key.pem",
            "/etc/pki/qemu/client-key.pem", "/etc/pki/libvirt-vnc/server-key.pem"]

