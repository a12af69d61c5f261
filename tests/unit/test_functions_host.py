"""Bespoke host checks: version order, both families' package and config formats, and
the edges of each function (RHEL fixture formats cited where they are built)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvconform.model import verdict as v
from hvconform.model.snapshot import Artifact
from hvconform.judge.kinds import function as function_kind
from hvconform.judge.functions import host_packages, host_platform
from hvconform.judge.read import host_state
from hvconform.judge.read.package_versions import dpkg_cmp, rpm_cmp
from tests.snapshots import snap

DEBIAN = {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}
RHEL = {"/etc/os-release": 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'}
NO_RPM = (127, "", "sh: 1: rpm: not found\n")
NO_DPKG = (127, "", "sh: 1: dpkg-query: not found\n")
# rpm -qa: NAME-VERSION-RELEASE.ARCH per line (rpm(8), default --queryformat)
RPM_QA = ("qemu-kvm-core-8.2.0-11.el9_4.6.x86_64\nlibvirt-daemon-driver-qemu-10.0.0-6.7.el9_4.x86_64\n"
          "gpg-pubkey-fd431d51-4ae0493b\nkernel-core-5.14.0-427.13.1.el9_4.x86_64\n")


def judge(function, s, vm=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm)


@pytest.mark.parametrize("a, b, order", [
    ("1:7.2+dfsg-7+deb12u6", "1:7.2+dfsg-7+deb12u12", -1),
    ("1:7.2+dfsg-7+deb12u18+b3", "1:7.2+dfsg-7+deb12u18", 1),
    ("1.0~rc1-1", "1.0-1", -1),
    ("2:1.0", "1:9.9", 1),
    ("9.0.0-4", "9.0.0-4", 0),
])
def test_dpkg_version_order(a, b, order):
    assert dpkg_cmp(a, b) == order and dpkg_cmp(b, a) == -order


@pytest.mark.parametrize("a, b, order", [
    ("8.2.0-11.el9_4.6", "8.2.0-11.el9_4", 1),
    ("10.0.0-6.el9_4", "9.5.0-7.el9_3", 1),
    ("1.0~rc1-1", "1.0-1", -1),
    ("17:8.2.0-11.el9_4", "8.2.0-11.el9_4", 1),
])
def test_rpm_version_order(a, b, order):
    assert rpm_cmp(a, b) == order and rpm_cmp(b, a) == -order


def test_rpm_qa_is_read_as_name_and_version_release():
    packages = host_state.parse_rpm(RPM_QA)
    assert packages["qemu-kvm-core"] == "8.2.0-11.el9_4.6"
    assert packages["kernel-core"] == "5.14.0-427.13.1.el9_4"
    assert packages["gpg-pubkey"] == "fd431d51-4ae0493b"


def test_dpkg_removed_packages_are_not_installed():
    text = "ii  qemu-system-x86:amd64 1:7.2+dfsg-7 amd64 QEMU\nrc  gdm3 43.0-3 amd64 GNOME Display Manager\n"
    assert host_state.parse_dpkg(text) == {"qemu-system-x86": "1:7.2+dfsg-7"}


def test_stack_baseline_on_rhel_reads_rpm():
    good = snap(files=RHEL, cmds={"rpm_list": RPM_QA, "dpkg_list": NO_DPKG})
    assert judge("stack_at_baseline", good).status == v.PASS
    old = snap(files=RHEL, cmds={"rpm_list": RPM_QA.replace("8.2.0-11.el9_4.6", "8.0.0-16.el9_3"),
                                 "dpkg_list": NO_DPKG})
    verdict = judge("stack_at_baseline", old)
    assert verdict.status == v.FAIL and "qemu-kvm-core 8.0.0-16.el9_3 < 8.2.0-11.el9_4" in verdict.reason


def test_unknown_family_is_an_error_not_a_guess():
    s = snap(files={"/etc/os-release": "ID=plan9\n"}, cmds={"rpm_list": RPM_QA, "dpkg_list": NO_DPKG})
    assert judge("stack_at_baseline", s).status == v.ERROR


# dnf updateinfo info: blocks as dnf/cli/commands/updateinfo.py display_info prints them
DNF_INFO = """===============================================================================
  Important: kernel security update
===============================================================================
  Update ID: RHSA-2025:1234
       Type: security
    Updated: {updated}
       Bugs: 2250843 - CVE-2023-6546 kernel: GSM multiplexing race condition
       CVEs: CVE-2023-6546
Description: The kernel packages contain the Linux kernel.
   Severity: {severity}
"""


@pytest.mark.parametrize("updated, severity, status", [
    ("2025-05-20 10:00:00", "Important", v.PASS),     # 12 days old, SLA 30
    ("2025-04-01 10:00:00", "Important", v.FAIL),     # 61 days
    ("2025-05-20 10:00:00", "Critical", v.FAIL),      # 12 days, critical SLA 7
])
def test_rhel_advisories_are_judged_by_age_and_severity(updated, severity, status):
    s = snap(files=RHEL, cmds={"dnf_security_info": DNF_INFO.format(updated=updated, severity=severity)})
    assert judge("security_updates_within_sla", s).status == status


def test_rhel_without_pending_advisories_passes():
    assert judge("security_updates_within_sla", snap(files=RHEL, cmds={"dnf_security_info": ""})).status == v.PASS


@pytest.mark.parametrize("lists, status, actual", [
    ("2025-05-31 deb.debian.org_debian-security_dists_bookworm-security_InRelease\n"
     "2025-01-10 deb.debian.org_debian_dists_bookworm_InRelease\n", v.PASS, "no security update pending"),
    ("2025-03-01 deb.debian.org_debian-security_dists_bookworm-security_InRelease\n", v.FAIL,
     "package lists last changed 2025-03-01, 92 days ago"),
    ("", v.FAIL, "no package lists (apt-get update has never run)"),
])
def test_nothing_pending_counts_only_with_fresh_package_lists(lists, status, actual):
    """apt can only list what its cached lists know: stale or missing lists prove nothing."""
    from tests.cases.host import APT_CLEAN, DEBIAN
    s = snap(files=DEBIAN, cmds={"apt_upgradable": APT_CLEAN, "apt_lists_dates": lists})
    verdict = judge("security_updates_within_sla", s)
    assert (verdict.status, verdict.actual) == (status, actual)


def test_dnf_without_cache_is_an_error():
    s = snap(files=RHEL, cmds={"dnf_security_info": (1, "", "Error: Cache-only enabled but no cache for 'baseos'\n")})
    assert judge("security_updates_within_sla", s).status == v.ERROR


def test_apt_suites_of_ubuntu_count_as_security():
    assert host_packages.apt_security_updates("libssl3/jammy-updates,jammy-security 3.0.2-0ubuntu1.15 amd64 [upgradable from: x]\n")


def test_kernel_release_order_is_numeric():
    assert max(["6.1.0-9-amd64", "6.1.0-18-amd64"], key=host_packages.release_key) == "6.1.0-18-amd64"
    assert host_packages.boot_kernels("vmlinuz-0-rescue-abc\nvmlinuz-5.14.0-427.el9.x86_64\ninitramfs-x.img\n") \
        == ["5.14.0-427.el9.x86_64"]


def test_reboot_marker_fails_even_with_the_newest_kernel():
    s = snap(files={"/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n"},
             stats={"/var/run/reboot-required": "644 root root regular empty file"},
             cmds={"ls_boot": "vmlinuz-6.1.0-18-amd64\n", "needs_restarting": (127, "", "")})
    assert judge("running_newest_kernel", s).status == v.FAIL


def test_needs_restarting_on_rhel_fails():
    s = snap(files={"/proc/sys/kernel/osrelease": "5.14.0-427.el9.x86_64\n"},
             stats={"/var/run/reboot-required": None},
             cmds={"ls_boot": "vmlinuz-5.14.0-427.el9.x86_64\n",
                   "needs_restarting": (1, "Core libraries or services have been updated since boot-up:\n  * glibc\n", "")})
    assert judge("running_newest_kernel", s).status == v.FAIL


# dnf.conf and .repo files: INI (dnf.conf(5))
REPOS = ("/etc/yum.repos.d/rocky.repo:1:[baseos]\n/etc/yum.repos.d/rocky.repo:2:enabled=1\n"
         "/etc/yum.repos.d/rocky.repo:3:gpgcheck=1\n/etc/yum.repos.d/local.repo:1:[local]\n"
         "/etc/yum.repos.d/local.repo:2:enabled={enabled}\n/etc/yum.repos.d/local.repo:3:gpgcheck=0\n")


@pytest.mark.parametrize("main, enabled, status", [
    ("[main]\ngpgcheck=1\n", "0", v.PASS),     # the unsigned repository is disabled
    ("[main]\ngpgcheck=1\n", "1", v.FAIL),
    ("[main]\ninstallonly_limit=3\n", "0", v.FAIL),   # dnf's own default is 0
])
def test_dnf_gpgcheck(main, enabled, status):
    s = snap(files={**RHEL, "/etc/dnf/dnf.conf": main}, cmds={"dnf_repos": REPOS.format(enabled=enabled)})
    assert judge("package_signatures_enforced", s).status == status


def test_apt_overrides_ignore_comments_and_false_values():
    hits = ['/etc/apt/apt.conf.d/10x:1:// APT::Get::AllowUnauthenticated "true";',
            '/etc/apt/apt.conf.d/10x:2:APT::Get::AllowUnauthenticated "false";',
            '/etc/apt/apt.conf.d/10x:3:Dir::Etc::Trusted "trusted.gpg";',
            '/etc/apt/sources.list.d/d.sources:9:Trusted: yes',
            '/etc/apt/sources.list:1:deb [allow-insecure=yes] http://mirror.example/debian bookworm main']
    assert host_packages.apt_trust_overrides(hits) == hits[3:]


def test_grep_permission_problem_is_an_error():
    s = snap(files=DEBIAN, cmds={"apt_trust": (2, "", "grep: /etc/apt/auth.conf.d/x: Permission denied\n")})
    assert judge("package_signatures_enforced", s).status == v.ERROR


def test_allowlist_is_skipped_without_systemd_but_denied_daemons_still_fail():
    no_systemd = (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n")
    plain = "    1     0 root     sshd            sshd -D\n"
    verdict = judge("only_allowlisted_services", snap(ps=plain, cmds={"systemctl_running": no_systemd}))
    assert verdict.status == v.PASS and "process table" in verdict.actual
    nginx = plain + "  90     0 root     nginx           nginx: master process\n"
    assert judge("only_allowlisted_services", snap(ps=nginx, cmds={"systemctl_running": no_systemd})).status == v.FAIL


def test_mfa_with_publickey_and_password_is_two_factors_without_pam_module():
    from tests.cases import sshd
    s = snap(**sshd(authenticationmethods="publickey,password"),
             files={"/etc/pam.d/sshd": "@include common-auth\n", "/etc/sssd/sssd.conf": None})
    assert judge("admin_mfa", s).status == v.PASS


def test_faillock_on_rhel_needs_both_stacks_and_a_pam_deny_wins():
    stack = "auth required pam_faillock.so preauth deny=5\nauth sufficient pam_unix.so\n"
    s = snap(files={**RHEL, "/etc/security/faillock.conf": "deny = 3\n", "/etc/pam.d/system-auth": stack,
                    "/etc/pam.d/password-auth": stack})
    verdict = judge("failed_login_lockout", s)
    assert verdict.status == v.FAIL and "deny=5" in verdict.reason
    s = snap(files={**RHEL, "/etc/security/faillock.conf": None, "/etc/pam.d/system-auth": stack.replace(" deny=5", ""),
                    "/etc/pam.d/password-auth": "auth sufficient pam_unix.so\n"})
    assert "password-auth" in judge("failed_login_lockout", s).reason


def test_grub2_user_cfg_on_rhel():
    s = snap(files={"/boot/grub2/user.cfg": "GRUB2_PASSWORD=grub.pbkdf2.sha512.10000.AA\n",
                    "/boot/grub2/grub.cfg": "set superusers=\"root\"\n", "/boot/grub/grub.cfg": None})
    assert judge("boot_loader_password", s).status == v.PASS


def test_aide_coverage_and_exclusions():
    rules = ["/etc/aide.conf:10:/etc CONTENT_EX", "/etc/aide.conf:11:!/etc/libvirt/qemu/autostart",
             "/etc/aide.conf:12:!/etc/pki"]
    found = host_platform.aide_coverage("\n".join(rules), ["/etc/libvirt", "/etc/pki/qemu"])
    assert found["/etc/libvirt"] and found["/etc/pki/qemu"] is None


def _aide_coverage_by_scan(rule_hits, required):
    """The rule each path gets by trying every rule in order (what aide_coverage did
    before it looked up a path's parents instead): the reference it must agree with."""
    out = {}
    for path in required:
        hit = None
        for line in rule_hits:
            where, n, text = (line.split(":", 2) + ["", ""])[:3]
            rule = (text.split() or [""])[0]
            target = rule.lstrip("!=").rstrip("/") or "/"
            if target == "/" or path == target or path.startswith(target + "/"):
                hit = None if rule.startswith("!") else f"{where}:{n}: {text.strip()}"
        out[path] = hit
    return out


_PARTS = st.sampled_from(["", "etc", "libvirt", "pki", "qemu", "usr", "bin", "a b"])
_PATHS = st.lists(_PARTS, max_size=4).map(lambda parts: "/" + "/".join(parts))   # "/", "//etc", "/a b/"
_RULES = st.tuples(st.sampled_from(["", "!", "=", "!=", "=!"]), _PATHS, st.sampled_from(["", "/", "//"]),
                   st.sampled_from(["", " R", "\tNORMAL", "$ d"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_RULES.map(lambda r: f"/etc/aide.conf:{len(r[1])}:{r[0]}{r[1]}{r[2]}{r[3]}"),
                          st.sampled_from(["", "   ", "no colon", "f:1:", "f:2:   ", "f:3:!"])), max_size=12),
       st.lists(_PATHS, max_size=5))
def test_aide_coverage_agrees_with_trying_every_rule(lines, required):
    text = "\n".join(lines)
    rule_hits = host_state.grep_lines(Artifact("cmd:aide_rules", "grep", 0, text), "AIDE rules")
    assert host_platform.aide_coverage(text, required) == _aide_coverage_by_scan(rule_hits, required)


def test_bind_mount_of_a_root_directory_is_not_a_separate_filesystem():
    text = ("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
            "30 22 8:1 /srv/images /var/lib/libvirt/images rw - ext4 /dev/sda1 rw\n"
            "31 22 8:2 / /var/log rw - xfs /dev/sda2 rw\n"
            "32 31 8:3 / /var/log/audit rw - xfs /dev/sda3 rw\n")
    verdict = judge("dedicated_filesystems", snap(files={"/proc/self/mountinfo": text}))
    assert verdict.status == v.FAIL and verdict.actual.endswith("/var/lib/libvirt/images")


def test_microcode_without_baseline_is_left_to_a_person_naming_the_key():
    cpu = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\nstepping\t: 8\nmicrocode\t: 0x2b000590\n"
    verdict = judge("microcode_current", snap(files={"/proc/cpuinfo": cpu}))
    assert verdict.status == v.MANUAL and "GenuineIntel 6-143-8" in verdict.reason
    assert "0x2b000590" in verdict.reason and verdict.evidence


def test_kernel_without_modules_still_needs_usbguard_and_the_directive():
    s = snap(ps="    1     0 root     sshd            sshd -D\n", files={"/proc/modules": None},
             cmds={"modprobe_usb_storage": (1, "", ""), "systemctl_unit_files": ""})
    verdict = judge("usb_storage_disabled", s)
    assert verdict.status == v.FAIL and "not loaded" in verdict.actual
    assert "no loadable module support" in verdict.evidence[1].excerpt
