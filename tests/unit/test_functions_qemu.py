"""Bespoke qemu checks: the parsing behind them and the RHEL variants (the pass/fail cases
of each control are in tests/cases/qemu.py)."""

from hvconform.model import verdict as v
from hvconform.judge.functions import qemu as q
from hvconform.judge.kinds import file_mode
from hvconform.inputs.policy import DEFAULTS
from tests.cases.qemu import (CGROUP_V1_OUTSIDE, CGROUP_V2, ELF_HARDENED, PID, disk, domain, running,
                              with_conf)
from tests.snapshots import snap

RHEL = 'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'


def test_stat_entries_keep_types_with_spaces():
    got = file_mode.stat_entries("4755 root root regular file /usr/libexec/qemu-bridge-helper\n"
                         "777 root root symbolic link /etc/libvirt/hooks/qemu\n")
    assert got["/usr/libexec/qemu-bridge-helper"] == ("4755", "root", "root", "regular file")
    assert got["/etc/libvirt/hooks/qemu"][3] == "symbolic link"


def test_cgroup_placement_v1_devices_line_wins_over_unified():
    assert q.cgroup_placement(CGROUP_V1_OUTSIDE) == ("5:devices:/", "/")
    assert q.cgroup_placement(CGROUP_V2)[1].startswith("/machine.slice/machine-qemu")


def test_cgroup_outside_the_machine_slice_fails_as_in_the_lab():
    s = snap(**with_conf(running(), **{f"/proc/{PID}/cgroup": CGROUP_V1_OUTSIDE}))
    verdict = q.cgroup_device_acl(s, "vm1", DEFAULTS)
    assert verdict.status == v.FAIL and "5:devices:/" in verdict.reason


def test_elf_findings():
    assert all(q.elf_findings(ELF_HARDENED).values())
    # Debian's /usr/sbin/libvirtd: its code is in libvirt.so, it calls nothing fortifiable
    libvirtd = ELF_HARDENED.replace("__memcpy_chk", "memcpy_not_listed")
    assert q.elf_findings(libvirtd)["FORTIFY"]
    unfortified = libvirtd + "   9: 0 0 FUNC GLOBAL DEFAULT UND strcpy@GLIBC_2.2.5 (2)\n"
    assert not q.elf_findings(unfortified)["FORTIFY"]


def test_an_emulator_outside_the_policy_list_is_an_error_not_a_pass():
    xml = domain().replace("/usr/bin/qemu-system-x86_64", "/opt/qemu/bin/qemu-system-x86_64")
    verdict = q.binaries_hardened(snap(domains={"vm1": xml}), None, DEFAULTS)
    assert verdict.status == v.ERROR and "/opt/qemu/bin" in verdict.reason


def rpm_host(*nevras):
    # rpm -qa prints NAME-VERSION-RELEASE.ARCH per line (rpm(8), default --queryformat)
    return snap(files={"/etc/os-release": RHEL},
                cmds={"rpm_list": "".join(n + "\n" for n in nevras),
                      "dpkg_list": (127, "", "sh: dpkg-query: command not found\n"),
                      "qemu_modules": (2, "/usr/lib64/qemu-kvm/ui-egl-headless.so\n",
                                       "ls: cannot access '/usr/lib/*/qemu/*.so': No such file or directory\n")})


def test_minimal_qemu_on_rhel():
    clean = rpm_host("qemu-kvm-core-8.2.0-11.el9_4.x86_64", "qemu-kvm-common-8.2.0-11.el9_4.x86_64",
                     "qemu-kvm-8.2.0-11.el9_4.x86_64")
    assert q.minimal_qemu(clean, None, DEFAULTS).status == v.PASS
    extra = rpm_host("qemu-kvm-core-8.2.0-11.el9_4.x86_64", "qemu-kvm-block-rbd-8.2.0-11.el9_4.x86_64",
                     "qemu-system-aarch64-core-8.2.0-1.fc39.x86_64")
    verdict = q.minimal_qemu(extra, None, DEFAULTS)
    assert verdict.status == v.FAIL
    assert "qemu-kvm-block-rbd" in verdict.reason and "qemu-system-aarch64-core" in verdict.reason


def test_bridge_helper_setuid_as_fedora_ships_it_with_named_bridges():
    # Fedora/RHEL: %attr(4755) qemu-bridge-helper; /etc/qemu/bridge.conf 0640 root:qemu "allow virbr0"
    s = snap(cmds={"bridge_helper_stat": "4755 root root regular file /usr/libexec/qemu-bridge-helper\n"
                                         "640 root qemu regular file /etc/qemu/bridge.conf\n"},
             files={"/etc/qemu/bridge.conf": "# comment\nallow virbr0\n"})
    assert q.bridge_helper(s, None, DEFAULTS).status == v.PASS
    s.artifacts["file:/etc/qemu/bridge.conf"].stdout = "allow virbr0\nallow all\n"
    assert q.bridge_helper(s, None, DEFAULTS).status == v.FAIL


def test_machine_type_aarch64_virt():
    xml = domain().replace("arch='x86_64' machine='pc-q35-7.2'", "arch='aarch64' machine='virt-8.2'")
    s = snap(domains={"vm1": xml}, capabilities="<capabilities><host/></capabilities>")
    assert q.machine_type(s, "vm1", DEFAULTS).status == v.PASS
    s = snap(domains={"vm1": xml.replace("virt-8.2", "raspi3b")}, capabilities="<capabilities><host/></capabilities>")
    assert q.machine_type(s, "vm1", DEFAULTS).status == v.FAIL


def test_running_vm_chain_comes_from_the_live_xml():
    # a running VM's detected chain is only in the live XML (libvirt keeps it out of --inactive)
    live = domain(disk("/var/lib/libvirt/images/vm1.qcow2",
                       "<backingStore type='file'><format type='qcow2'/><source file='/srv/base.qcow2'/>"
                       "</backingStore>"))
    s = snap(**{**running(), "live": {"vm1": live}})
    verdict = q.backing_chain_storage(s, "vm1", DEFAULTS)
    assert verdict.status == v.FAIL and "/srv/base.qcow2" in verdict.reason


def test_namespaces_off_fails_even_for_a_stopped_vm():
    s = snap(**with_conf({"domains": {"vm1": domain()}}, "namespaces = []\n"))
    assert q.private_mount_namespace(s, "vm1", DEFAULTS).status == v.FAIL


# ---- QEMU-002, QEMU-010: a domain's own setting before qemu.conf's (issue 10) ----------

def test_dump_guest_core_is_read_from_the_machine_option_only():
    from hvconform.judge.functions.qemu_overrides import _machine_dump_guest_core
    assert _machine_dump_guest_core(["-machine", "pc-q35-7.2,usb=off,dump-guest-core=off,mem-merge=off"]) == "off"
    assert _machine_dump_guest_core(["-name", "guest=dump-guest-core=on", "-machine", "pc"]) is None
    assert _machine_dump_guest_core(["-machine"]) is None


def test_a_vms_own_dump_core_wins_over_qemu_conf_in_both_directions():
    from hvconform.judge.functions.qemu_overrides import guest_ram_out_of_core_dumps as check
    on = domain().replace("<memory unit='KiB'>", "<memory unit='KiB' dumpCore='on'>")
    verdict = check(snap(domains={"vm1": on}), "vm1", DEFAULTS)          # qemu.conf not needed
    assert verdict.status == v.FAIL and "its <memory dumpCore='on'>" in verdict.reason
    verdict = check(snap(domains={"vm1": domain()}, files={"/etc/libvirt/qemu.conf": "dump_guest_core = 1\n"}),
                    "vm1", DEFAULTS)
    assert verdict.status == v.FAIL and "qemu.conf dump_guest_core = 1" in verdict.reason
    assert check(snap(domains={"vm1": domain()}), "vm1", DEFAULTS).status == v.ERROR   # qemu.conf decides


def test_a_dac_label_of_root_in_any_spelling_is_root():
    from hvconform.judge.functions.qemu_overrides import qemu_not_root as check
    for label in ("root:root", "+0:+0", "qemu:root", "0:107"):
        top = f"  <seclabel type='static' model='dac' relabel='yes'><label>{label}</label></seclabel>\n"
        assert check(snap(domains={"vm1": domain(top=top)}), "vm1", DEFAULTS).status == v.FAIL, label
    top = "  <seclabel type='static' model='dac' relabel='yes'><label>+107:+107</label></seclabel>\n"
    assert check(snap(domains={"vm1": domain(top=top)}), "vm1", DEFAULTS).status == v.PASS
