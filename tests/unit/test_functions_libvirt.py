"""Bespoke libvirt checks: parsing and the RHEL variants (pass/fail cases of each control
are in tests/cases/libvirt.py)."""

from hvconform.model import verdict as v
from hvconform.judge.functions import libvirt as lv
from hvconform.inputs.policy import DEFAULTS
from tests.cases.libvirt import GROUPS, RULES_DEBIAN, polkit
from tests.snapshots import snap
from tests.unit.test_read_daemons import PS_RHEL, RHEL_ACTIVE

RHEL = 'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'


def rhel(active=RHEL_ACTIVE, ps=PS_RHEL, *drivers):
    return snap(files={"/etc/os-release": RHEL}, ps=ps,
                cmds={"systemctl_libvirt_active": (3, active, ""), "systemctl_libvirt_sockets": "",
                      "rpm_list": "".join(f"libvirt-daemon-driver-{d}-10.0.0-6.el9_4.x86_64\n" for d in drivers),
                      "dpkg_list": (127, "", "sh: dpkg-query: command not found\n")})


def test_rhel_modular_host_with_its_drivers_passes():
    assert lv.one_daemon_model(rhel(RHEL_ACTIVE, PS_RHEL, "qemu", "network", "storage-core"),
                               None, DEFAULTS).status == v.PASS


def test_both_models_active_fail():
    both = "active\nactive\ninactive\ninactive\ninactive\ninactive\ninactive\n"
    verdict = lv.one_daemon_model(rhel(both, PS_RHEL, "qemu"), None, DEFAULTS)
    assert verdict.status == v.FAIL and "both active" in verdict.reason


def test_unneeded_driver_on_rhel_fails():
    verdict = lv.one_daemon_model(rhel(RHEL_ACTIVE, PS_RHEL, "qemu", "lxc"), None, DEFAULTS)
    assert verdict.status == v.FAIL and "libvirt-daemon-driver-lxc" in verdict.reason


def test_polkit_rules_parsed_per_file():
    files = lv.polkit_files(RULES_DEBIAN.splitlines())
    ((path, groups, users, unconditional),) = lv.libvirt_grants(files)
    assert path.endswith("60-libvirt.rules") and groups == ["libvirt"] and not users and not unconditional


def test_polkit_member_outside_the_approved_admins_fails():
    # RHEL ships the same rule as /usr/share/polkit-1/rules.d/50-libvirt.rules
    rules = RULES_DEBIAN.replace("60-libvirt.rules", "50-libvirt.rules")
    verdict = lv.polkit_libvirt_admins(snap(**polkit(rules, "libvirt:x:981:alice\nkvm:x:36:qemu\n")), None, DEFAULTS)
    assert verdict.status == v.FAIL and "alice" in verdict.reason
    ok = {**DEFAULTS, "libvirt_admin_users": ["alice"]}
    assert lv.polkit_libvirt_admins(snap(**polkit(rules, "libvirt:x:981:alice\n")), None, ok).status == v.PASS


def test_kvm_group_rhel():
    # RHEL: /dev/kvm 0666 root:kvm by udev (65-kvm.rules) would fail; 0660 with qemu in kvm passes
    s = snap(stats={"/dev/kvm": "660 root kvm character special file"},
             cmds={"getent_libvirt_groups": "kvm:x:36:qemu\n"})
    assert lv.kvm_device_access(s, None, DEFAULTS).status == v.PASS
    s = snap(stats={"/dev/kvm": "660 root kvm character special file"},
             cmds={"getent_libvirt_groups": GROUPS.replace("kvm:x:107:", "kvm:x:107:bob")})
    assert lv.kvm_device_access(s, None, DEFAULTS).status == v.FAIL


def test_hook_symlink_mode_is_not_judged_but_its_owner_is():
    s = snap(cmds={"libvirt_hooks_stat": "755 root root directory /etc/libvirt/hooks\n"
                                         "777 root root symbolic link /etc/libvirt/hooks/qemu\n"})
    assert lv.hooks_protected(s, None, DEFAULTS).status == v.PASS
