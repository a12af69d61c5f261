"""Pass/fail cases of the qemu controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from hvconform.inputs.policy import DEFAULTS
from tests.cases import *  # noqa: F403
from tests.cases import QCONF, domain, qconf, running, vm

DEBIAN = 'ID=debian\nVERSION_ID="12"\n'
PID = 4242   # the pid running() gives vm1's QEMU


def with_conf(base: dict, conf: str = "", **files) -> dict:
    """A case's snapshot plus qemu.conf (and other files)."""
    return {**base, "files": {QCONF: conf, **files}}


def links(**targets) -> dict:
    """readlink artifacts, e.g. links(**{"/proc/1/ns/mnt": "mnt:[1]"})."""
    return {("readlink", path): f"{target}\n" for path, target in targets.items()}


def ns(own: str, host: str = "mnt:[4026531840]") -> dict:
    return links(**{f"/proc/{PID}/ns/mnt": own, "/proc/1/ns/mnt": host})


# /proc/<pid>/cgroup formats (cgroups(7)): cgroup v2 only (RHEL 9: one "0::" line under
# machine.slice), and the lab's v1 hierarchy without systemd (/machine/qemu-<id>-<name>...).
CGROUP_V2 = "0::/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator\n"
CGROUP_V1_OUTSIDE = "5:devices:/\n4:memory:/machine/qemu-1-vm1.libvirt-qemu\n0::/machine/qemu-1-vm1.libvirt-qemu\n"

CAPS_MACHINES = ("<capabilities><host/><guest><os_type>hvm</os_type><arch name='x86_64'>"
                 "<machine maxCpus='255' deprecated='yes'>pc-i440fx-1.4</machine>"
                 "<machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>"
                 "<machine maxCpus='288'>pc-q35-7.2</machine></arch></guest></capabilities>")


def machine(name: str) -> dict:
    return {"domains": {"vm1": domain().replace("machine='pc-q35-7.2'", f"machine='{name}'")},
            "capabilities": CAPS_MACHINES}


# readelf -hlWd --dyn-syms of Debian 12's qemu-system-x86_64, filtered as elf_hardening does
ELF_HARDENED = (
    "  Type:                              DYN (Position-Independent Executable file)\n"
    "  GNU_STACK      0x000000 0x0000000000000000 0x0000000000000000 0x000000 0x000000 RW  0x10\n"
    "  GNU_RELRO      0xc948f8 0x0000000000c958f8 0x0000000000c958f8 0x14e708 0x14e708 R   0x1\n"
    " 0x000000000000001e (FLAGS)              BIND_NOW\n"
    " 0x000000006ffffffb (FLAGS_1)            Flags: NOW PIE\n"
    "   212: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND __stack_chk_fail@GLIBC_2.4 (22)\n"
    "   370: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND __memcpy_chk@GLIBC_2.3.4 (30)\n")
ELF_PLAIN = (   # no PIE, executable stack, partial RELRO, no canary, strcpy not fortified
    "  Type:                              EXEC (Executable file)\n"
    "   630: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND strcpy@GLIBC_2.2.5 (2)\n"
    "  GNU_STACK      0x000000 0x0000000000000000 0x0000000000000000 0x000000 0x000000 RWE 0x10\n"
    "  GNU_RELRO      0xc948f8 0x0000000000c958f8 0x0000000000c958f8 0x14e708 0x14e708 R   0x1\n")


def elf(text: str) -> dict:
    """The first policy binary with `text`, the others absent."""
    first, *rest = DEFAULTS["hardened_binaries"]
    return {"cmds": {("elf_hardening", first): text, **{("elf_hardening", p): None for p in rest}}}


# dpkg-query -l lines (dpkg-query(1): status, name, version, arch, description)
def dpkg(*names: str) -> str:
    return "".join(f"ii  {n:<30} 1:7.2+dfsg-7+deb12u18 amd64        QEMU\n" for n in names)


def packages(*names: str, modules=("/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",)) -> dict:
    return {"files": {"/etc/os-release": DEBIAN},
            "cmds": {"dpkg_list": dpkg(*names), "rpm_list": (127, "", "sh: 1: rpm: not found\n"),
                     "qemu_modules": (2, "".join(m + "\n" for m in modules),
                                      "ls: cannot access '/usr/lib64/qemu-kvm/*.so': No such file or directory\n")}}


def disk(source: str, backing: str = "") -> str:
    return (f"<disk type='{'network' if source.startswith('<') else 'file'}' device='disk'>"
            f"<driver name='qemu' type='qcow2'/>"
            + (source if source.startswith("<") else f"<source file='{source}'/>")
            + backing + "<target dev='vda' bus='virtio'/></disk>")


def backed(base: str) -> str:
    return (f"<backingStore type='file'><format type='qcow2'/><source file='{base}'/>"
            f"<backingStore/></backingStore>")


GOLDEN = "/var/lib/libvirt/images/golden"


def golden(mode: str) -> dict:
    return {**vm(disk("/var/lib/libvirt/images/vm1.qcow2", backed(f"{GOLDEN}/base.qcow2"))),
            "cmds": {("stat_children", GOLDEN): f"{mode} root root regular file {GOLDEN}/base.qcow2\n"}}


def exe(target: str) -> dict:
    return {**running(), "cmds": links(**{f"/proc/{PID}/exe": target})}


def bridge(stat_lines: str, conf) -> dict:
    return {"cmds": {"bridge_helper_stat": stat_lines}, "files": {"/etc/qemu/bridge.conf": conf}}


def dump_core(value: str, **more) -> dict:
    """vm1 with its own <memory dumpCore=...> (formatdomain.rst 'Memory Allocation')."""
    return {"domains": {"vm1": domain().replace("<memory unit='KiB'>", f"<memory unit='KiB' dumpCore='{value}'>")},
            **more}


DAC_ROOT = "  <seclabel type='static' model='dac' relabel='yes'><label>+0:+0</label></seclabel>\n"


CASES: dict = {
    # QEMU-002, QEMU-010: what is in effect for the VM, its own setting before qemu.conf's
    "QEMU-002": (running(uid=64055), vm(top=DAC_ROOT)),           # a stopped guest's own DAC label: root
    "QEMU-010": ({**vm(), **qconf("max_core = 0\n")}, {**dump_core("on"), **qconf("")}),
    "QEMU-004": (qconf(""), qconf('security_driver = "none"\n')),
    "QEMU-005": (qconf("security_require_confined = 1\n"), qconf("security_default_confined = 0\n")),
    "QEMU-007": ({**with_conf(running()), "cmds": ns("mnt:[4026532405]")},
                 {**with_conf(running()), "cmds": ns("mnt:[4026531840]")}),
    "QEMU-008": (with_conf(running(), **{f"/proc/{PID}/cgroup": CGROUP_V2}),
                 with_conf(running(), 'cgroup_device_acl = [ "/dev/null", "/dev/kvm", "/dev/mem" ]\n',
                           **{f"/proc/{PID}/cgroup": CGROUP_V2})),
    "QEMU-009": (qconf(""), qconf("remember_owner = 0\nvnc_allow_host_audio = 1\n")),
    "QEMU-011": ({"domains": {"vm1": domain().replace("type='qemu'", "type='kvm'", 1)}}, vm()),
    "QEMU-012": (machine("pc-q35-7.2"), machine("pc-i440fx-1.4")),
    "QEMU-015": (vm("<controller type='usb' model='none'/>",
                    "<interface type='network'><source network='default'/><model type='virtio'/></interface>"),
                 vm("<sound model='ich9'/>", "<interface type='network'><model type='e1000'/></interface>")),
    "QEMU-016": (elf(ELF_HARDENED), elf(ELF_PLAIN)),
    "QEMU-017": (packages("qemu-system-x86", "qemu-system-common", "qemu-system-data"),
                 packages("qemu-system-x86", "qemu-system-arm",
                          modules=("/usr/lib/x86_64-linux-gnu/qemu/block-curl.so",))),
    "QEMU-019": (vm(disk("/var/lib/libvirt/images/vm1.qcow2")),
                 vm(disk("<source protocol='nbd' name='base'><host name='192.0.2.10' port='10809'/></source>"))),
    "QEMU-020": (golden("444"), golden("644")),
    "QEMU-021": (exe("/usr/bin/qemu-system-x86_64"), exe("/usr/bin/qemu-system-x86_64 (deleted)")),
    "QEMU-022": (bridge("755 root root regular file /usr/lib/qemu/qemu-bridge-helper\n", None),
                 bridge("4755 root root regular file /usr/libexec/qemu-bridge-helper\n"
                        "640 root qemu regular file /etc/qemu/bridge.conf\n", "allow all\n")),
}

NOT_APPLICABLE: dict = {
    "QEMU-007": with_conf({"domains": {"vm1": domain()}}),          # defined, not running
    "QEMU-020": vm(disk("/var/lib/libvirt/images/vm1.qcow2")),       # no backing file
    "QEMU-021": {"domains": {"vm1": domain()}},
}

EXTRA_CASES: dict = {
    "QEMU-002": [(with_conf(vm()), "pass"),                                   # stopped: qemu.conf's default user
                 (with_conf(vm(), 'user = "+0"\n'), "fail"),                  # stopped: qemu.conf's root
                 ({**running(uid=64055), "domains": {"vm1": domain(top=DAC_ROOT)}}, "fail")],  # next start as root
    "QEMU-010": [(dump_core("off", **qconf("dump_guest_core = 1\n")), "pass"),  # the domain's off wins
                 ({**vm(), **qconf("dump_guest_core = 1\n")}, "fail"),         # inherits qemu.conf's on
                 # runs with dump-guest-core=on (started before qemu.conf changed) though now off
                 (with_conf(running(args=("-machine", "pc-q35-7.2,usb=off,dump-guest-core=on"))), "fail")],
}
