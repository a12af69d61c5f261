"""Bespoke kernel_mac checks: SELinux (RHEL family) and AppArmor (Debian family) parsing,
sVirt labels, boot parameters, taint and modprobe rules. RHEL outputs follow the formats
documented in hvconform/judge/functions/mac_confinement.py and kernel_hardening.py."""

from hvconform.inputs import catalog
from hvconform.judge import engine
from hvconform.model import verdict as v
from hvconform.judge.kinds import function as function_kind
from hvconform.judge.functions.kernel_hardening import module_rules
from hvconform.judge.functions.mac_confinement import selinux_config, sebooleans
from tests.cases.kernel_mac import (AA_ENABLED, AA_PROFILES, BOOLEANS, PERMISSIVE, SESTATUS, SVIRT, UUID,
                                    apparmor, debian, rhel, svirt)
from tests.snapshots import domain, snap


def judge(function, s, vm=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm)


def status(function, vm=None, **kw):
    return judge(function, snap(**kw), vm).status


# -- SELinux ----------------------------------------------------------------------------
CONFIG = "/etc/selinux/config"


def test_selinux_config_takes_the_first_line_of_a_key_and_drops_quotes():
    text = "# SELINUX=disabled\nSELINUX=\"enforcing\"\nSELINUX=permissive\n  SELINUXTYPE=mls\nSELINUXTYPE=targeted\n"
    assert selinux_config(text) == {"SELINUX": (2, "enforcing"), "SELINUXTYPE": (5, "targeted")}


def test_selinux_enforcing_needs_both_the_running_and_the_configured_mode():
    enforcing = {CONFIG: "SELINUX=enforcing\n"}
    assert status("selinux_enforcing", **rhel(cmds={"getenforce": "Enforcing\n"}, files=enforcing)) == v.PASS
    verdict = judge("selinux_enforcing", snap(**rhel(cmds={"getenforce": "Enforcing\n"},
                                                     files={CONFIG: "SELINUX=permissive\n"})))
    assert verdict.status == v.FAIL and verdict.reason == "configured mode not enforcing"
    assert status("selinux_enforcing", **rhel(cmds={"getenforce": "Disabled\n"}, files=enforcing)) == v.FAIL
    assert status("selinux_enforcing", **rhel(cmds={"getenforce": "Enforcing\n"}, files={CONFIG: None})) == v.FAIL


def test_selinux_enforcing_without_getenforce_is_an_error_not_a_verdict():
    missing = (127, "", "sh: 1: getenforce: not found\n")
    verdict = judge("selinux_enforcing", snap(**rhel(cmds={"getenforce": missing}, files={CONFIG: "SELINUX=enforcing\n"})))
    assert verdict.status == v.ERROR and "getenforce: not found" in verdict.reason


def test_selinux_policy_needs_mcs_and_no_disabling_parameter():
    cmd = {"/proc/cmdline": "ro quiet\n"}
    for policy, mls, expected in (("targeted", "enabled", v.PASS), ("mls", "enabled", v.PASS),
                                  ("minimum", "enabled", v.FAIL), ("targeted", "disabled", v.FAIL)):
        s = rhel(cmds={"sestatus": SESTATUS.format(policy=policy, mls=mls)}, files=cmd)
        assert status("selinux_policy_mcs", **s) == expected, (policy, mls)
    verdict = judge("selinux_policy_mcs", snap(**rhel(cmds={"sestatus": "SELinux status:                 disabled\n"},
                                                      files={"/proc/cmdline": "ro selinux=0\n"})))
    assert verdict.status == v.FAIL
    assert "SELinux is not enabled" in verdict.reason and "selinux=0" in verdict.reason


def test_svirt_image_labels_need_the_process_categories_and_a_relabelled_disk():
    assert status("svirt_image_labels", "vm1", **svirt("c392,c662")) == v.PASS
    assert status("svirt_image_labels", "vm1", **svirt("c392,c662", "system_u:object_r:default_t:s0\n")) == v.FAIL
    assert status("svirt_image_labels", "vm1", **svirt("s0")) == v.FAIL    # shared, no categories
    disk = ("<disk type='file' device='disk'><source file='/srv/vm1.qcow2'>"
            "<seclabel model='selinux' relabel='no'/></source><target dev='vda'/>{}</disk>")
    for extra, expected in (("", v.FAIL), ("<readonly/>", v.PASS), ("<shareable/>", v.PASS)):
        s = svirt("c392,c662")
        s["live"] = {"vm1": domain(disk.format(extra), top=SVIRT.format(cats="c392,c662"))}
        assert status("svirt_image_labels", "vm1", **s) == expected, extra


def test_svirt_image_labels_of_an_unconfined_or_stopped_vm():
    s = svirt("c392,c662")
    s["live"] = {"vm1": domain(top="  <seclabel type='none'/>\n")}
    verdict = judge("svirt_image_labels", snap(**s), "vm1")
    assert verdict.status == v.FAIL and "unconfined" in verdict.reason
    stopped = rhel(cmds={"image_dir_context": "system_u:object_r:virt_image_t:s0\n"}, domains={"vm1": domain()})
    assert status("svirt_image_labels", "vm1", **stopped) == v.NOT_APPLICABLE


def test_sebooleans_reads_the_current_value_of_a_pending_change():
    assert sebooleans("virt_use_nfs --> on pending: off\nvirt_use_usb --> off\n") == {
        "virt_use_nfs": "on", "virt_use_usb": "off"}


def test_svirt_booleans_the_site_needs_may_be_on():
    nfs_on = BOOLEANS.replace("virt_use_nfs --> off", "virt_use_nfs --> on")
    assert status("svirt_booleans_minimal", **rhel(cmds={"getsebool_all": nfs_on})) == v.FAIL
    assert status("svirt_booleans_minimal", **rhel(cmds={"getsebool_all": nfs_on},
                                                   policy={"selinux_virt_booleans_on": ["virt_use_nfs"]})) == v.PASS
    disabled = (1, "", "getsebool:  SELinux is disabled\n")
    assert status("svirt_booleans_minimal", **rhel(cmds={"getsebool_all": disabled})) == v.NOT_APPLICABLE


def test_permissive_virt_domains_fail_and_an_unreadable_store_is_an_error():
    assert status("virt_domains_enforced", **rhel(cmds={"semanage_permissive": PERMISSIVE})) == v.PASS
    builtin = "\nBuiltin Permissive Types \n\nvirtd_t\nsomething_else_t\n"
    verdict = judge("virt_domains_enforced", snap(**rhel(cmds={"semanage_permissive": builtin})))
    assert verdict.status == v.FAIL and verdict.actual == "permissive: virtd_t"
    denied = (1, "", "ValueError: SELinux policy is not managed or store cannot be accessed.\n")
    assert status("virt_domains_enforced", **rhel(cmds={"semanage_permissive": denied})) == v.ERROR


# -- AppArmor -----------------------------------------------------------------------------
def test_apparmor_absent_disabled_or_unreadable():
    s = apparmor()
    s["files"] = {**s["files"], AA_ENABLED: None}
    verdict = judge("apparmor_svirt", snap(**s), "vm1")
    assert verdict.status == v.FAIL and "no AppArmor" in verdict.reason
    s["files"] = {**s["files"], AA_ENABLED: "N\n"}
    assert status("apparmor_svirt", "vm1", **s) == v.FAIL
    s["files"] = {**s["files"], AA_ENABLED: "Y\n",
                  AA_PROFILES: (1, "", f"cat: {AA_PROFILES}: Permission denied\n")}
    assert status("apparmor_svirt", "vm1", **s) == v.ERROR


def test_apparmor_daemon_profiles_by_name_or_path_and_in_enforce_mode():
    s = apparmor()
    old_names = f"/usr/sbin/libvirtd (enforce)\n/usr/lib/libvirt/virt-aa-helper (enforce)\nlibvirt-{UUID} (enforce)\n"
    s["files"] = {**s["files"], AA_PROFILES: old_names}
    assert status("apparmor_svirt", "vm1", **s) == v.PASS
    s["files"] = {**s["files"], AA_PROFILES: old_names.replace("libvirtd (enforce)", "libvirtd (complain)")}
    verdict = judge("apparmor_svirt", snap(**s), "vm1")
    assert verdict.status == v.FAIL and verdict.reason == "/usr/sbin/libvirtd is in complain mode"


def test_apparmor_vm_profile_from_the_live_label_and_stopped_vms():
    s = apparmor()
    s["live"] = {"vm1": domain(top="  <seclabel type='dynamic' model='apparmor' relabel='yes'>"
                                    "<label>libvirt-other</label></seclabel>\n")}
    verdict = judge("apparmor_svirt", snap(**s), "vm1")
    assert verdict.status == v.FAIL and "no profile libvirt-other" in verdict.reason
    stopped = debian(files={AA_ENABLED: "Y\n", AA_PROFILES: "libvirtd (enforce)\nvirt-aa-helper (enforce)\n"},
                     domains={"vm1": domain()})
    assert status("apparmor_svirt", "vm1", **stopped) == v.NOT_APPLICABLE


# -- kernel facts -----------------------------------------------------------------------------
def test_boot_parameters_are_site_policy():
    arm64 = {"hardening_boot_params": [["init_on_free=1", "init_on_alloc=1"], ["page_poison=1"]]}
    s = {"files": {"/proc/cmdline": "ro init_on_alloc=1 page_poison=1\n"}}
    assert status("boot_memory_hardening", **s) == v.FAIL
    assert status("boot_memory_hardening", policy=arm64, **s) == v.PASS


def test_taint_fails_only_for_module_bits_and_names_every_bit():
    s = {"files": {"/proc/sys/kernel/tainted": "512\n", "/proc/modules": ""}}
    verdict = judge("kernel_untainted", snap(**s))
    assert verdict.status == v.PASS and verdict.actual == "tainted 512 (W)"
    s["files"]["/proc/sys/kernel/tainted"] = "4097\n"
    verdict = judge("kernel_untainted", snap(**s))
    assert verdict.status == v.FAIL and "proprietary module (P)" in verdict.reason
    assert "out-of-tree module (O)" in verdict.reason


def test_taint_without_module_support_and_unreadable_values():
    s = {"files": {"/proc/sys/kernel/tainted": "0\n", "/proc/modules": None}}
    verdict = judge("kernel_untainted", snap(**s))
    assert verdict.status == v.PASS and "cannot load modules" in verdict.evidence[1].excerpt
    s["files"]["/proc/sys/kernel/tainted"] = "zero\n"
    assert status("kernel_untainted", **s) == v.ERROR


def test_module_rules_follow_modprobe_d_precedence_and_names():
    text = ("/usr/lib/modprobe.d/hv.conf:install sctp /bin/false\n"
            "/etc/modprobe.d/hv.conf:blacklist sctp\n"              # hides /usr/lib's hv.conf
            "/lib/modprobe.d/other.conf:install firewire_core /bin/true\n"
            "/etc/modprobe.d/README:install cramfs /bin/false\n"    # not a .conf file
            "/etc/modprobe.d/x.conf:install can /sbin/modprobe --ignore-install can\n")
    rules = module_rules(text)
    assert sorted(rules) == ["firewire_core", "sctp"]
    assert [kind for kind, _ in rules["sctp"]] == ["blacklisted"]


def test_risky_modules_missing_rules_fail_and_only_absent_dirs_are_forgiven():
    wanted = {"disabled_modules": ["sctp", "firewire-core"]}
    rules = "/etc/modprobe.d/hv.conf:blacklist sctp\n/etc/modprobe.d/hv.conf:install firewire_core /bin/false\n"
    absent = "grep: /run/modprobe.d: No such file or directory\n"
    verdict = judge("risky_modules_disabled", snap(cmds={"modprobe_rules": (2, rules, absent)}, policy=wanted))
    assert verdict.status == v.PASS and "blacklist only: sctp" in verdict.actual
    verdict = judge("risky_modules_disabled", snap(cmds={"modprobe_rules": (2, "", absent)}, policy=wanted))
    assert verdict.status == v.FAIL and verdict.reason == "loadable on demand: sctp, firewire-core"
    denied = "grep: /etc/modprobe.d/x.conf: Permission denied\n"
    assert status("risky_modules_disabled", cmds={"modprobe_rules": (2, rules, denied)}, policy=wanted) == v.ERROR


def test_lockdown_and_kexec_rows_read_missing_kernel_features_honestly():
    cat = catalog.load()
    lockdown = engine.judge(cat.by_id("KMAC-018"), snap(files={"/sys/kernel/security/lockdown": None,
                                                               "/sys/module/module/parameters/sig_enforce": None}))
    assert lockdown.status == v.FAIL            # no lockdown LSM, no module signing
    kexec = engine.judge(cat.by_id("KMAC-015"), snap(files={"/proc/sys/kernel/kexec_load_disabled": None}))
    assert kexec.status == v.PASS               # a kernel without kexec cannot kexec


# ---- KMAC-005: the label in effect, the domain's own before the host's default (issue 10)

def test_kmac005_a_vm_without_a_label_needs_the_hosts_default_and_says_which():
    from hvconform.judge.functions.mac_labels import dynamic_mac_label as check
    from tests.cases.kernel_mac import CAPS_SELINUX, mac_default
    from hvconform.inputs.policy import DEFAULTS
    verdict = check(snap(**mac_default("")), "vm1", DEFAULTS)
    assert verdict.status == v.PASS and verdict.actual == "dynamic selinux label by default"
    assert any("security_default_confined = unset (default 1)" in e.excerpt for e in verdict.evidence)
    no_caps = snap(**{**mac_default(""), "capabilities": None})
    assert check(no_caps, "vm1", DEFAULTS).status == v.ERROR          # the default is unknown
    own = snap(domains={"vm1": domain(top="  <seclabel type='dynamic' model='apparmor' relabel='yes'/>\n")})
    assert check(own, "vm1", DEFAULTS).status == v.PASS               # its own label: no host facts needed
    assert CAPS_SELINUX in snap(**mac_default("")).get("cmd:virsh_capabilities").stdout
