"""Pass/fail cases of the host controls not in LEGACY (tests/unit/test_catalog_cases.py).

RHEL fixture formats: `rpm -qa` prints NAME-VERSION-RELEASE.ARCH (rpm's default
queryformat, rpm(8)); `dnf updateinfo info` as dnf/cli/commands/updateinfo.py prints it.
"""

from tests.cases import *  # noqa: F403
from tests.cases import PS_PLAIN, domain, sshd

DEBIAN = {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}
RHEL = {"/etc/os-release": 'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'}
DPKG_HEAD = ("Desired=Unknown/Install/Remove/Purge/Hold\n"
             "||/ Name           Version                Architecture Description\n"
             "+++-==============-======================-============-=====================\n")


def dpkg(*rows: str) -> str:
    """`dpkg-query -l` output with "name version" rows (status ii)."""
    return DPKG_HEAD + "".join(f"ii  {r.split()[0]:<14} {r.split()[1]:<22} amd64        package\n" for r in rows)


DPKG_OK = dpkg("qemu-system-x86 1:7.2+dfsg-7+deb12u18", "libvirt-daemon-system 9.0.0-4+deb12u2", "openssh-server 1:9.2p1-2")
DPKG_BAD = dpkg("qemu-system-x86 1:7.2+dfsg-7+deb12u2", "libvirt-daemon-system 9.0.0-4", "gdm3 43.0-3",
                "xserver-xorg-core 2:21.1.7-3", "telnetd 0.17+2.4-2", "tftpd-hpa 5.2+20150808-1.4")
UNITS = "ssh.service enabled enabled\nrpcbind.service disabled enabled\nrpcbind.socket disabled enabled\n"
UNITS_BAD = UNITS.replace("rpcbind.socket disabled", "rpcbind.socket enabled") + "cups.service enabled enabled\n"
NO_SYSTEMD = (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                     "Failed to connect to bus: Host is down\n")
PS_DOCKER = PS_PLAIN + "  900     0 root     dockerd         /usr/bin/dockerd -H fd://\n"
APT_PENDING = ("Listing...\nqemu-system-x86/bookworm-security 1:7.2+dfsg-7+deb12u15 amd64 "
               "[upgradable from: 1:7.2+dfsg-7+deb12u2]\nbash/bookworm 5.2.15-2+b8 amd64 [upgradable from: 5.2.15-2+b7]\n")
APT_CLEAN = "Listing...\nbash/bookworm 5.2.15-2+b8 amd64 [upgradable from: 5.2.15-2+b7]\n"
# the Release files' dates (find -printf '%TY-%Tm-%Td %f'); the case snapshots are of 2025-06-01
APT_LISTS = ("2025-05-31 deb.debian.org_debian-security_dists_bookworm-security_InRelease\n"
             "2025-05-17 deb.debian.org_debian_dists_bookworm_InRelease\n")
PAM_FAILLOCK = ("auth required pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so nullok\n"
                "auth [default=die] pam_faillock.so authfail\nauth requisite pam_deny.so\nauth required pam_permit.so\n")
PAM_PLAIN = "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n"
MOUNTINFO_SPLIT = ("22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
                   "23 22 253:1 / /var/log rw,relatime shared:2 - xfs /dev/mapper/vg-log rw\n"
                   "24 23 253:2 / /var/log/audit rw,relatime shared:3 - xfs /dev/mapper/vg-audit rw\n"
                   "25 22 253:3 / /var/lib/libvirt/images rw,relatime shared:4 - xfs /dev/mapper/vg-images rw\n")
MOUNTINFO_ONE = "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
CPU = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nstepping\t: 1\nmicrocode\t: {}\n\n"
AGENT = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
NOVA = ["/etc/nova/nova.conf", "/etc/nova/api-paste.ini", "/etc/nova/policy.json", "/etc/nova/policy.yaml"]
AIDE_RULES = "\n".join(f"/etc/aide/aide.conf.d/31_virt:{n}:{p} Full" for n, p in enumerate(
    ["/etc", "/usr/bin", "/usr/sbin", "/usr/share/OVMF"], 1)) + "\n"
FIM_PATHS = {"/usr/libexec/qemu-kvm": None, "/usr/sbin/virtqemud": None, "/usr/share/edk2": None}


def fim(packages, db, rules, cron):
    return {"files": DEBIAN, "cmds": {"dpkg_list": packages, "rpm_list": (127, "", "sh: rpm: not found\n"),
                                      "aide_rules": rules, "aide_cron": cron, "systemctl_unit_files": UNITS},
            "stats": {"/var/lib/aide/aide.db": db, "/var/lib/aide/aide.db.gz": None,
                      **{p: "755 root root directory" for p in ["/etc/libvirt", "/etc/pki", "/etc/qemu", "/etc/sasl2",
                                                                 "/usr/bin/qemu-system-x86_64", "/usr/sbin/libvirtd",
                                                                 "/usr/share/OVMF"]}, **FIM_PATHS}}


CASES: dict = {
    "HOST-002": ({"files": DEBIAN, "cmds": {"apt_upgradable": APT_CLEAN, "apt_lists_dates": APT_LISTS}},
                 {"files": DEBIAN, "cmds": {"apt_upgradable": APT_PENDING, "apt_lists_dates": APT_LISTS}}),
    "HOST-003": ({"files": {"/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n"}, "stats": {"/var/run/reboot-required": None},
                  "cmds": {"ls_boot": "System.map-6.1.0-18-amd64\nvmlinuz-6.1.0-18-amd64\nvmlinuz-6.1.0-9-amd64\n",
                           "needs_restarting": (127, "", "sh: needs-restarting: not found\n")}},
                 {"files": {"/proc/sys/kernel/osrelease": "6.1.0-9-amd64\n"}, "stats": {"/var/run/reboot-required": None},
                  "cmds": {"ls_boot": "vmlinuz-6.1.0-18-amd64\nvmlinuz-6.1.0-9-amd64\n",
                           "needs_restarting": (127, "", "sh: needs-restarting: not found\n")}}),
    "HOST-004": ({"files": DEBIAN, "cmds": {"dpkg_list": DPKG_OK}}, {"files": DEBIAN, "cmds": {"dpkg_list": DPKG_BAD}}),
    "HOST-005": ({"files": DEBIAN, "cmds": {"apt_trust": (1, "", "")}},
                 {"files": DEBIAN, "cmds": {"apt_trust": "/etc/apt/sources.list.d/local.list:1:deb [trusted=yes] "
                                                         "http://mirror.example/debian bookworm main\n"}}),
    "HOST-006": ({"files": DEBIAN, "cmds": {"dpkg_list": DPKG_OK, "systemctl_default": "multi-user.target\n"}},
                 {"files": DEBIAN, "cmds": {"dpkg_list": DPKG_BAD, "systemctl_default": "graphical.target\n"}}),
    "HOST-007": ({"files": DEBIAN, "ps": PS_PLAIN, "cmds": {"dpkg_list": DPKG_OK, "systemctl_unit_files": UNITS}},
                 {"files": DEBIAN, "ps": PS_PLAIN, "cmds": {"dpkg_list": DPKG_BAD, "systemctl_unit_files": UNITS_BAD}}),
    "HOST-008": ({"ps": PS_PLAIN, "cmds": {"systemctl_running": "ssh.service loaded active running OpenBSD Secure Shell\n"
                                                                "libvirtd.service loaded active running libvirt\n"}},
                 {"ps": PS_DOCKER, "cmds": {"systemctl_running": "ssh.service loaded active running OpenBSD Secure Shell\n"
                                                                 "docker.service loaded active running Docker\n"}}),
    "HOST-010": ({**sshd(authenticationmethods="publickey,keyboard-interactive"),
                  "files": {"/etc/pam.d/sshd": "auth required pam_u2f.so\n@include common-auth\n", "/etc/sssd/sssd.conf": None}},
                 {**sshd(), "files": {"/etc/pam.d/sshd": "@include common-auth\n", "/etc/sssd/sssd.conf": None}}),
    "HOST-013": ({"files": {**DEBIAN, "/etc/security/faillock.conf": "deny = 3\nunlock_time = 0\n",
                            "/etc/pam.d/common-auth": PAM_FAILLOCK}},
                 {"files": {**DEBIAN, "/etc/security/faillock.conf": "# deny = 3\n", "/etc/pam.d/common-auth": PAM_PLAIN}}),
    "HOST-014": ({"files": {"/boot/grub2/user.cfg": None, "/boot/grub2/grub.cfg": None,
                            "/boot/grub/grub.cfg": 'set superusers="root"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AB\n'}},
                 {"files": {"/boot/grub2/user.cfg": None, "/boot/grub2/grub.cfg": None,
                            "/boot/grub/grub.cfg": "menuentry 'Debian' {\n linux /vmlinuz ro quiet\n}\n"}}),
    "HOST-015": ({"ps": PS_PLAIN + "  700     0 root     usbguard-daemon /usr/sbin/usbguard-daemon -k\n",
                  "files": {"/proc/modules": "kvm_amd 155648 0 - Live 0x0\n"},
                  "cmds": {"modprobe_usb_storage": "/etc/modprobe.d/usb-storage.conf:1:install usb-storage /bin/false\n",
                           "systemctl_unit_files": UNITS}},
                 {"ps": PS_PLAIN, "files": {"/proc/modules": "usb_storage 81920 0 - Live 0x0\n"},
                  "cmds": {"modprobe_usb_storage": (2, "", "grep: /etc/modprobe.d: No such file or directory\n"),
                           "systemctl_unit_files": UNITS}}),
    "HOST-018": (fim(dpkg("aide 0.18.3-1"), "600 root root regular file", AIDE_RULES,
                     "/etc/cron.daily/dailyaidecheck\n"),
                 fim(DPKG_OK, None, (2, "", "grep: /etc/aide.conf: No such file or directory\n"), (1, "", ""))),
    "HOST-019": ({"files": {"/proc/self/mountinfo": MOUNTINFO_SPLIT}}, {"files": {"/proc/self/mountinfo": MOUNTINFO_ONE}}),
    "HOST-020": ({"files": {"/proc/cpuinfo": CPU.format("0x0a101148")},
                  "policy": {"microcode_minimum": {"AuthenticAMD 25-17-1": "0x0a101144"}}},
                 {"files": {"/proc/cpuinfo": CPU.format("0x0a101020")},
                  "policy": {"microcode_minimum": {"AuthenticAMD 25-17-1": "0x0a101144"}}}),
    "HOST-021": ({"domains": {"vm1": domain(AGENT)}}, {"domains": {"vm1": domain()}}),
    "HOST-022": ({"stats": {"/etc/nova": "750 root nova directory",
                            **{p: "640 root nova regular file" for p in NOVA},
                            "/etc/nova/rootwrap.conf": "644 root root regular file",
                            "/etc/nova/rootwrap.d": "755 root root directory",
                            "/var/lib/nova": "750 nova nova directory"}},
                 {"stats": {"/etc/nova": "755 nova nova directory",
                            **{p: "644 nova nova regular file" for p in NOVA},
                            "/etc/nova/rootwrap.conf": "664 root nova regular file",
                            "/etc/nova/rootwrap.d": "775 nova nova directory",
                            "/var/lib/nova": "755 nova nova directory"}}),
}

NOT_APPLICABLE: dict = {
    "HOST-003": {"files": {"/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n"}, "stats": {"/var/run/reboot-required": None},
                 "cmds": {"ls_boot": "", "needs_restarting": (127, "", "")}},
    "HOST-022": {"stats": {"/etc/nova/nova.conf": None}},
}
