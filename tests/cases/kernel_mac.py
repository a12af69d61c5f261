"""Pass/fail cases of the kernel_mac controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403

# RHEL fixtures follow documented output formats (hvconform/judge/functions/mac_confinement.py
# names each source): os-release(5), getenforce(8), sestatus(8), getsebool(8),
# semanage-permissive(8), stat(1) %C, formatdomain.rst 'Security label'.
RHEL = {"/etc/os-release": 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'}
DEBIAN = {"/etc/os-release": 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'}
SESTATUS = ("SELinux status:                 enabled\nSELinuxfs mount:                /sys/fs/selinux\n"
            "SELinux root directory:         /etc/selinux\nLoaded policy name:             {policy}\n"
            "Current mode:                   enforcing\nMode from config file:          enforcing\n"
            "Policy MLS status:              {mls}\nPolicy deny_unknown status:     allowed\n"
            "Memory protection checking:     actual (secure)\nMax kernel policy version:      33\n")
UUID = "6b0b3f5c-4a8e-4d6b-9c55-0e0e4b7a1a01"      # tests.snapshots.domain()'s
AA_ENABLED, AA_PROFILES = "/sys/module/apparmor/parameters/enabled", "/sys/kernel/security/apparmor/profiles"
SVIRT = ("  <seclabel type='dynamic' model='selinux' relabel='yes'>\n"
         "    <label>system_u:system_r:svirt_t:s0:c392,c662</label>\n"
         "    <imagelabel>system_u:object_r:svirt_image_t:s0:{cats}</imagelabel>\n  </seclabel>\n")
VIRT_IMAGE_T = "system_u:object_r:virt_image_t:s0\n"
BOOLEANS = "".join(f"{b} --> off\n" for b in ("virt_use_comm", "virt_use_execmem", "virt_use_fusefs",
                                                "virt_use_nfs", "virt_use_samba", "virt_use_usb"))
PERMISSIVE = "\nBuiltin Permissive Types \n\n\nCustomized Permissive Types\n\n"
MODPROBE = "".join(f"/etc/modprobe.d/hypervisor.conf:install {m} /bin/false\n"
                   for m in ("bluetooth", "firewire-core", "cramfs", "sctp", "tipc", "atm", "can"))
MODULES = "kvm_intel 380928 0 - Live 0x0000000000000000\nkvm 1142784 1 kvm_intel, Live 0x0000000000000000\n"


def rhel(**kw) -> dict:
    return {**kw, "files": {**RHEL, **kw.get("files", {})}}


def debian(**kw) -> dict:
    return {**kw, "files": {**DEBIAN, **kw.get("files", {})}}


def apparmor(vm_mode="enforce") -> dict:
    profiles = f"libvirtd (enforce)\nvirt-aa-helper (enforce)\nlibvirt-{UUID} ({vm_mode})\n"
    return debian(files={AA_ENABLED: "Y\n", AA_PROFILES: profiles}, **running())


def svirt(cats: str, image_dir=VIRT_IMAGE_T) -> dict:
    vm_running = running()
    return rhel(cmds={"image_dir_context": image_dir}, live={"vm1": domain(top=SVIRT.format(cats=cats))},
                **vm_running)


# KMAC-005: the label in effect for each VM (formatdomain.rst 'Security label': without a
# type "the security driver default setting will be used"): its own <seclabel>, else the
# host's MAC driver (capabilities) with qemu.conf security_default_confined (default 1)
CAPS_SELINUX = CAPS.format("<secmodel><model>selinux</model><doi>0</doi></secmodel>"
                           "<secmodel><model>dac</model><doi>0</doi></secmodel>")
CAPS_NO_MAC = CAPS.format("<secmodel><model>none</model><doi>0</doi></secmodel>"
                          "<secmodel><model>dac</model><doi>0</doi></secmodel>")
DYNAMIC = "  <seclabel type='dynamic' model='selinux' relabel='yes'/>\n"
DAC_ONLY = "  <seclabel type='dynamic' model='dac' relabel='yes'><label>+107:+107</label></seclabel>\n"


def mac_default(conf: str, caps: str = CAPS_SELINUX, **domain_kw) -> dict:
    """vm1 without a MAC label of its own, on a host with `caps` and qemu.conf `conf`."""
    return {**vm(**domain_kw), "capabilities": caps, **qconf(conf)}


CASES: dict = {
    "KMAC-005": (vm(top=DYNAMIC),
                 mac_default("security_default_confined = 0\n")),    # unconfined by qemu.conf's default
    "KMAC-001": (rhel(cmds={"getenforce": "Enforcing\n"},
                      files={"/etc/selinux/config": "SELINUX=enforcing\nSELINUXTYPE=targeted\n"}),
                 rhel(cmds={"getenforce": "Permissive\n"},
                      files={"/etc/selinux/config": "SELINUX=enforcing\nSELINUXTYPE=targeted\n"})),
    "KMAC-002": (rhel(cmds={"sestatus": SESTATUS.format(policy="targeted", mls="enabled")},
                      files={"/proc/cmdline": "BOOT_IMAGE=/vmlinuz ro crashkernel=auto\n"}),
                 rhel(cmds={"sestatus": SESTATUS.format(policy="targeted", mls="enabled")},
                      files={"/proc/cmdline": "BOOT_IMAGE=/vmlinuz ro enforcing=0\n"})),
    "KMAC-003": (apparmor("enforce"), apparmor("complain")),
    "KMAC-007": (svirt("c392,c662"), svirt("c1,c2")),
    "KMAC-008": (rhel(cmds={"getsebool_all": BOOLEANS}),
                 rhel(cmds={"getsebool_all": BOOLEANS.replace("virt_use_execmem --> off", "virt_use_execmem --> on")})),
    "KMAC-009": (rhel(cmds={"semanage_permissive": PERMISSIVE}),
                 rhel(cmds={"semanage_permissive": PERMISSIVE + "svirt_t\n"})),
    "KMAC-013": (sysctls({"kernel.yama.ptrace_scope": 1}), sysctls({"kernel.yama.ptrace_scope": 0})),
    "KMAC-015": (sysctls({"kernel.kexec_load_disabled": 1}), sysctls({"kernel.kexec_load_disabled": 0})),
    "KMAC-017": (cmdline("ro quiet init_on_free=1 page_poison=1 vsyscall=none pti=on"),
                 cmdline("ro quiet init_on_alloc=1 mitigations=off")),
    "KMAC-018": ({"files": {"/sys/kernel/security/lockdown": "none [integrity] confidentiality\n",
                            "/sys/module/module/parameters/sig_enforce": "Y\n"}},
                 {"files": {"/sys/kernel/security/lockdown": "[none] integrity confidentiality\n",
                            "/sys/module/module/parameters/sig_enforce": "N\n"}}),
    "KMAC-019": ({"files": {"/proc/sys/kernel/tainted": "0\n", "/proc/modules": MODULES}},
                 {"files": {"/proc/sys/kernel/tainted": "12288\n",
                            "/proc/modules": MODULES + "nvidia 56823808 0 - Live 0x0000000000000000 (POE)\n"}}),
    "KMAC-020": ({"cmds": {"modprobe_rules": MODPROBE}}, {"cmds": {"modprobe_rules": (1, "", "")}}),
}

EXTRA_CASES: dict = {
    "KMAC-005": [(mac_default(""), "pass"),                                  # selinux confines it by default
                 (mac_default("", CAPS_NO_MAC), "fail"),                     # no MAC driver on the host
                 (vm(top="  <seclabel type='none'/>\n"), "fail"),           # its own: unconfined
                 # running: the live XML shows the label applied, with no MAC label here
                 ({**running(), "live": {"vm1": domain(top=DAC_ONLY)}}, "fail"),
                 ({**running(), "live": {"vm1": domain(top=SVIRT.format(cats="c1,c2"))}}, "pass")],
}

NOT_APPLICABLE: dict = {
    "KMAC-001": debian(),
    "KMAC-002": debian(),
    "KMAC-003": rhel(**running()),
    "KMAC-007": debian(**running()),
    "KMAC-008": debian(),
    "KMAC-009": debian(),
}

# Cross-VM rows (applies_to: inventory), judged on one host's guests (tests/guests.py).
from tests.guests import guest, seclabel  # noqa: E402

CASES.update({
    "KMAC-006": ({"domains": {"a": guest("a", top=seclabel("system_u:system_r:svirt_t:s0:c1,c2")),
                              "b": guest("b", top=seclabel("system_u:system_r:svirt_t:s0:c3,c4"))},
                  "running": {"a", "b"}},
                 {"domains": {"a": guest("a", top=seclabel("system_u:system_r:svirt_t:s0:c1,c2")),
                              "b": guest("b", top=seclabel("system_u:system_r:svirt_t:s0:c1,c2"))},
                  "running": {"a", "b"}}),
})
NOT_APPLICABLE.update({"KMAC-006": {"domains": {"a": guest("a")}}})   # defined, not running
