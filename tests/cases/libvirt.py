"""Pass/fail cases of the libvirt controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403
from tests.cases import NO_SYSTEMD, PS_LIBVIRTD, dconf

DEBIAN = 'ID=debian\nVERSION_ID="12"\n'


def drivers(*names: str) -> dict:
    """The lab's daemon facts and dpkg-query -l lines of these libvirt driver packages."""
    lines = "".join(f"ii  libvirt-daemon-driver-{n:<20} 9.0.0-4+deb12u2 amd64  driver\n" for n in names)
    return {"files": {"/etc/os-release": DEBIAN}, "ps": PS_LIBVIRTD,
            "cmds": {"systemctl_libvirt_active": NO_SYSTEMD, "dpkg_list": lines,
                     "rpm_list": (127, "", "sh: 1: rpm: not found\n")}}


# Debian 12's /usr/share/polkit-1/rules.d/60-libvirt.rules, as grep -r -n prints it
RULES_DEBIAN = (
    "/usr/share/polkit-1/rules.d/60-libvirt.rules:1:// Allow any user in the 'libvirt' group to connect to system libvirtd\n"
    "/usr/share/polkit-1/rules.d/60-libvirt.rules:4:polkit.addRule(function(action, subject) {\n"
    '/usr/share/polkit-1/rules.d/60-libvirt.rules:5:    if (action.id == "org.libvirt.unix.manage" &&\n'
    '/usr/share/polkit-1/rules.d/60-libvirt.rules:6:        subject.isInGroup("libvirt")) {\n'
    "/usr/share/polkit-1/rules.d/60-libvirt.rules:7:            return polkit.Result.YES;\n")
RULES_OPEN = RULES_DEBIAN + (
    '/etc/polkit-1/rules.d/50-anyone.rules:1:polkit.addRule(function(action, subject) {\n'
    '/etc/polkit-1/rules.d/50-anyone.rules:2:    if (action.id == "org.libvirt.unix.manage") {\n'
    '/etc/polkit-1/rules.d/50-anyone.rules:3:        return polkit.Result.YES; } });\n')
GROUPS = "libvirt:x:106:\nkvm:x:107:\n"


def polkit(rules: str, groups: str = GROUPS) -> dict:
    return {"cmds": {"polkit_rules": rules, "getent_libvirt_groups": groups}}


def kvm(stat_line: str, groups: str = GROUPS) -> dict:
    return {"stats": {"/dev/kvm": stat_line}, "cmds": {"getent_libvirt_groups": groups}}


def hooks(*lines: str) -> dict:
    return {"cmds": {"libvirt_hooks_stat": "".join(line + "\n" for line in lines)}}


CASES: dict = {
    "LIBV-001": (drivers("qemu", "storage-rbd"), drivers("qemu", "lxc")),
    "LIBV-004": (dconf('listen_tls = 1\nlisten_addr = "192.0.2.10"\n'), dconf("listen_tls = 1\n")),
    "LIBV-005": (dconf(""), dconf("tls_no_verify_certificate = 1\n")),
    "LIBV-006": (dconf('tls_allowed_dn_list = ["C=GB,O=hvlab,CN=admin"]\n'), dconf("")),
    "LIBV-007": (dconf('auth_tls = "sasl"\nsasl_allowed_username_list = ["admin@HVLAB"]\n'), dconf("")),
    "LIBV-010": (polkit(RULES_DEBIAN), polkit(RULES_OPEN)),
    "LIBV-011": (dconf('access_drivers = [ "polkit" ]\n'), dconf("")),
    "LIBV-012": (kvm("660 root kvm character special file"), kvm("666 root root character special file")),
    "LIBV-013": (stats(None, ["/etc/libvirt/krb5.tab"], {"/etc/libvirt/passwd.db": "600 root root regular file"}),
                 stats(None, ["/etc/libvirt/krb5.tab"], {"/etc/libvirt/passwd.db": "644 root root regular file"})),
    "LIBV-015": (hooks("755 root root directory /etc/libvirt/hooks", "700 root root regular file /etc/libvirt/hooks/qemu"),
                 hooks("755 root root directory /etc/libvirt/hooks", "777 root root regular file /etc/libvirt/hooks/qemu")),
}

NOT_APPLICABLE: dict = {
    "LIBV-012": {"stats": {"/dev/kvm": None}, "cmds": {"getent_libvirt_groups": GROUPS}},
    "LIBV-013": stats(None, ["/etc/libvirt/passwd.db", "/etc/libvirt/krb5.tab"]),
    "LIBV-015": {"cmds": {"libvirt_hooks_stat": (1, "", "stat: cannot statx '/etc/libvirt/hooks': No such file or directory\n")}},
}
