"""Build real Snapshots for the tool's own tests, from a few literal values.

    snap(files={"/proc/sys/kernel/kptr_restrict": "1\\n"},
         stats={"/etc/libvirt/qemu.conf": "600 root root regular file"},
         sshd="permitrootlogin no\\n",
         domains={"vm1": domain()},                   # inactive XML; live = same
         procs={4242: (status(uid=107), qemu_args("vm1"))},
         cmds={"systemctl_libvirt_active": (1, "", "System has not been booted ...\\n"),
               ("elf_hardening", "/usr/sbin/libvirtd"): "  Type: DYN ..."})
A value of None in `files`/`stats` makes that path absent on the host (rc 1 and
"No such file or directory"), as cat/stat report it; a key left out is "not
collected". A domain with a process in `procs` is running.
"""

from __future__ import annotations

from hvconform.collect.collector import _key
from hvconform.collect.commands import render
from hvconform.model.snapshot import Artifact, Domain, Snapshot

STARTED = "2025-06-01T12:00:00+00:00"


def _artifact(key: str, source: str, value, missing_message: str) -> Artifact:
    if value is None:
        return Artifact(key, source, 1, "", missing_message)
    if isinstance(value, tuple):          # (rc, stdout, stderr), for failures
        rc, out, err = value
        return Artifact(key, source, rc, out, err)
    return Artifact(key, source, 0, value)


def snap(files=None, stats=None, sshd=None, domains=None, live=None, procs=None, running=None,
         ps=None, capabilities=None, cmds=None, policy=None, host="h1", started=STARTED,
         **extra) -> Snapshot:
    s = Snapshot(host=host, started=started, policy=dict(policy or {}), **extra)
    for path, text in (files or {}).items():
        s.add(_artifact(f"file:{path}", render("cat", path=path), text,
                        f"cat: {path}: No such file or directory\n"))
    for path, line in (stats or {}).items():
        s.add(_artifact(f"stat:{path}", render("stat", path=path), line,
                        f"stat: cannot statx '{path}': No such file or directory\n"))
    if sshd is not None:
        s.add(_artifact("cmd:sshd_effective", render("sshd_effective"), sshd, ""))
    if ps is not None:
        s.add(_artifact("cmd:ps", render("ps"), ps, ""))
    if capabilities is not None:
        s.add(_artifact("cmd:virsh_capabilities", render("virsh_capabilities"), capabilities, ""))
    for name, value in (cmds or {}).items():   # any other declared command: text or (rc, out, err)
        if isinstance(name, tuple):                # (command, path) of a command with a path
            command, path = name
            s.add(_artifact(_key(command, path), render(command, path=path), value,
                            f"{command}: {path}: No such file or directory\n"))
        else:
            s.add(_artifact(f"cmd:{name}", render(name), value, ""))
    procs = procs or {}
    running = set(running if running is not None else
                  {n for n in (domains or {}) for _, args in procs.values() if _names(args, n)})
    for name, xml in (domains or {}).items():
        s.domains.append(Domain(name, name in running))
        s.add(_artifact(f"domain:{name}:inactive", render("virsh_dumpxml_inactive", domain=name), xml, ""))
        if name in running:
            s.add(_artifact(f"domain:{name}:live", render("virsh_dumpxml_live", domain=name),
                            (live or {}).get(name, xml), ""))
    for pid, (status_text, args) in procs.items():
        s.qemu_pids.append(pid)
        for name, text in (("status", status_text), ("cmdline", "\0".join(args) + "\0")):
            path = f"/proc/{pid}/{name}"
            s.add(_artifact(f"file:{path}", render("cat", path=path), text, ""))
    return s


def _names(args, vm) -> bool:
    return any(a in (vm, f"guest={vm}") or a.startswith(f"guest={vm},") for a in args)


def status(uid=107, capeff="0000000000000000", seccomp=2, name="qemu-system-x86") -> str:
    """A /proc/<pid>/status as Linux prints it for a QEMU process."""
    return (f"Name:\t{name}\nState:\tS (sleeping)\nPid:\t4242\nPPid:\t1\n"
            f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
            f"CapInh:\t0000000000000000\nCapPrm:\t{capeff}\nCapEff:\t{capeff}\n"
            f"CapBnd:\t000001ffffffffff\nNoNewPrivs:\t0\n"
            f"Seccomp:\t{seccomp}\nSeccomp_filters:\t{int(seccomp == 2)}\n")


def qemu_args(vm: str, *extra: str) -> list[str]:
    """The argv libvirt gives QEMU for a domain (abridged)."""
    return ["/usr/bin/qemu-system-x86_64", "-name", f"guest={vm},debug-threads=on", "-S",
            "-machine", "pc-q35-7.2,usb=off", "-m", "256",
            "-chardev", "socket,id=charmonitor,fd=31,server=on,wait=off",
            "-mon", "chardev=charmonitor,id=monitor,mode=control",
            "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            *extra]


def domain(*devices: str, top: str = "", name: str = "vm1", attrs: str = "") -> str:
    """A minimal domain XML with the given device elements and top-level elements."""
    return (f"<domain type='qemu'{attrs}>\n  <name>{name}</name>\n"
            f"  <uuid>6b0b3f5c-4a8e-4d6b-9c55-0e0e4b7a1a01</uuid>\n"
            f"  <memory unit='KiB'>262144</memory>\n{top}"
            f"  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\n"
            f"  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
            + "".join(f"    {d}\n" for d in devices) + "  </devices>\n</domain>\n")
