"""Pass/fail cases of the isolation controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403
from tests.cases import QCONF, cmdline, domain, qconf, snap, status, qemu_args, vm  # noqa: F401

VULN = "/sys/devices/system/cpu/vulnerabilities"
# format: `grep -H . /sys/devices/system/cpu/vulnerabilities/*` (Documentation/admin-guide/hw-vuln)
VULN_OK = (f"{VULN}/l1tf:Not affected\n{VULN}/mds:Not affected\n"
           f"{VULN}/spec_store_bypass:Mitigation: Speculative Store Bypass disabled via prctl\n"
           f"{VULN}/spectre_v2:Mitigation: Enhanced / Automatic IBRS; IBPB: conditional; RSB filling\n")
VULN_BAD = (f"{VULN}/l1tf:Not affected\n{VULN}/spec_store_bypass:Vulnerable\n"
            f"{VULN}/spectre_v2:Vulnerable, IBPB: disabled, STIBP: disabled\n")

PCI = "0000:03:00.0"
GPU = (f"<hostdev mode='subsystem' type='pci' managed='yes'><source>"
       f"<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>")
# format: `grep -H . /sys/bus/pci/devices/*/{vendor,device,class}` (Documentation/ABI/testing/sysfs-bus-pci)
PCI_IDS = (f"/sys/bus/pci/devices/{PCI}/vendor:0x10de\n/sys/bus/pci/devices/{PCI}/device:0x2330\n"
           f"/sys/bus/pci/devices/{PCI}/class:0x030200\n"
           "/sys/bus/pci/devices/0000:03:00.1/vendor:0x10de\n/sys/bus/pci/devices/0000:03:00.1/device:0x22a3\n"
           "/sys/bus/pci/devices/0000:03:00.1/class:0x040300\n")
GPU_POLICY = {"passthrough_allowed_vms": ["vm1"], "passthrough_allowed_devices": ["10de:2330"]}


def host_cpus(online="0-7", **more):
    return {"files": {"/sys/devices/system/cpu/online": online + "\n", **more.pop("files", {})}, **more}


def meminfo(total_kib: int) -> str:
    return f"MemTotal:       {total_kib} kB\nMemFree:        {total_kib // 2} kB\n"


def sensitive(level="high") -> str:
    return (f"  <metadata><vs:virt-security xmlns:vs='urn:hvconform:virt-security'>"
            f"<vs:security-level>{level}</vs:security-level></vs:virt-security></metadata>\n")


DISK = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/var/lib/libvirt/images/vm1.qcow2'/><target dev='vda' bus='virtio'/>{}</disk>")
# format: virt-host-validate(1), tools/virt-host-validate-common.c (PASS/WARN/FAIL, detail in parentheses)
VALIDATE_OK = ("  QEMU: Checking for hardware virtualization                                 : PASS\n"
               "  QEMU: Checking if device /dev/kvm exists                                   : PASS\n"
               "  QEMU: Checking for device assignment IOMMU support                         : PASS\n"
               "  QEMU: Checking for secure guest support                                    : WARN "
               "(Unknown if this platform has Secure Guest support)\n")
VALIDATE_FAIL = ("  QEMU: Checking for hardware virtualization                                 : FAIL "
                 "(Only emulated CPUs are available, performance will be significantly limited)\n"
                 "  QEMU: Checking if device /dev/kvm exists                                   : FAIL "
                 "(Check that the 'kvm-intel' or 'kvm-amd' modules are loaded & the BIOS has enabled virtualization)\n")
POOL = ("<pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path>"
        "<permissions><mode>{}</mode><owner>0</owner><group>0</group></permissions></target></pool>\n")
IMAGES = "/var/lib/libvirt/images"

CASES: dict = {
    "ISO-003": ({"cmds": {"cpu_vulnerabilities": VULN_OK}}, {"cmds": {"cpu_vulnerabilities": VULN_BAD}}),
    "ISO-006": ({"files": {"/sys/module/kvm_intel/parameters/vmentry_l1d_flush": "cond\n",
                           "/sys/module/kvm/parameters/nx_huge_pages": "Y\n",
                           f"{VULN}/l1tf": "Mitigation: PTE Inversion; VMX: conditional cache flushes, SMT vulnerable\n",
                           f"{VULN}/itlb_multihit": "KVM: Mitigation: Split huge pages\n"}},
                {"files": {"/sys/module/kvm_intel/parameters/vmentry_l1d_flush": "never\n",
                           "/sys/module/kvm/parameters/nx_huge_pages": "N\n",
                           f"{VULN}/l1tf": "Mitigation: PTE Inversion; VMX: vulnerable\n",
                           f"{VULN}/itlb_multihit": "KVM: Vulnerable\n"}}),
    "ISO-007": ({**vm(), "files": {"/sys/module/kvm_intel/parameters/nested": "N\n",
                                   "/sys/module/kvm_amd/parameters/nested": None}},
                {**vm(top="  <cpu mode='custom'><model>Skylake-Server</model>"
                          "<feature policy='require' name='vmx'/></cpu>\n"),
                 "files": {"/sys/module/kvm_intel/parameters/nested": "Y\n",
                           "/sys/module/kvm_amd/parameters/nested": None}}),
    "ISO-008": (vm(top="  <cpu mode='host-model' check='partial'/>\n"),
                vm(top="  <cpu mode='custom'><model>Skylake-Server</model>"
                       "<feature policy='disable' name='spec-ctrl'/></cpu>\n")),
    "ISO-009": ({**cmdline("ro quiet intel_iommu=on"), "domains": {"vm1": domain(GPU)},
                 "cmds": {"iommu_units": "dmar0\ndmar1\n",
                          "iommu_group_devices": f"0/devices/0000:00:00.0\n14/devices/{PCI}\n"}},
                {**cmdline("ro quiet intel_iommu=off"), "domains": {"vm1": domain(GPU)},
                 "cmds": {"iommu_units": "", "iommu_group_devices": ""}}),
    "ISO-010": ({**cmdline("ro quiet"),
                 "files": {"/proc/cmdline": "ro quiet\n",
                           "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts": "N\n",
                           "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode": "N\n",
                           "/proc/interrupts": " 24:  0  IR-PCI-MSI 65536-edge  nvme0q0\n"},
                 "cmds": {"iommu_units": "dmar0\n"}},
                {"files": {"/proc/cmdline": "ro quiet vfio_iommu_type1.allow_unsafe_interrupts=1\n",
                           "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts": "Y\n",
                           "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode": None,
                           "/proc/interrupts": " 24:  0  PCI-MSI 65536-edge  nvme0q0\n"},
                 "cmds": {"iommu_units": "dmar0\n"}}),
    "ISO-011": ({"domains": {"vm1": domain(GPU)}, "cmds": {"pci_ids": PCI_IDS}, "policy": GPU_POLICY},
                {"domains": {"vm1": domain(GPU)}, "cmds": {"pci_ids": PCI_IDS}}),
    "ISO-012": ({"domains": {"vm1": domain(GPU)}, "cmds": {
                    "iommu_group_devices": f"14/devices/{PCI}\n14/devices/0000:00:01.0\n",
                    "pci_drivers": f"vfio-pci/{PCI}\npcieport/0000:00:01.0\n",
                    "pci_ids": PCI_IDS + "/sys/bus/pci/devices/0000:00:01.0/class:0x060400\n"}},
                {"domains": {"vm1": domain(GPU)}, "cmds": {
                    "iommu_group_devices": f"14/devices/{PCI}\n14/devices/0000:03:00.1\n",
                    "pci_drivers": f"nvidia/{PCI}\nsnd_hda_intel/0000:03:00.1\n", "pci_ids": PCI_IDS}}),
    "ISO-013": (qconf("#relaxed_acs_check = 1\n"), qconf("relaxed_acs_check = 1\n")),
    "ISO-014": ({"domains": {"vm1": domain(GPU)},
                 "cmds": {"pci_reset_methods": f"/sys/bus/pci/devices/{PCI}/reset_method:flr bus\n"}},
                {"domains": {"vm1": domain(GPU.replace("managed='yes'", "managed='no'"))},
                 "cmds": {"pci_reset_methods": "/sys/bus/pci/devices/0000:00:02.0/reset_method:pm\n"}}),
    "ISO-018": (host_cpus(domains={"vm1": domain(top="  <vcpu>4</vcpu>\n  <cputune><shares>1024</shares></cputune>\n")},
                          procs={4242: (status(), qemu_args("vm1"))}),
                host_cpus("0-1", domains={"vm1": domain(top="  <vcpu>16</vcpu>\n")},
                          procs={4242: (status(), qemu_args("vm1"))})),
    "ISO-019": (vm(DISK.format("<iotune><total_bytes_sec>104857600</total_bytes_sec></iotune>"),
                   "<interface type='network'><source network='default'/><bandwidth>"
                   "<inbound average='10000'/><outbound average='10000'/></bandwidth></interface>"),
                vm(DISK.format(""), "<interface type='network'><source network='default'/></interface>")),
    "ISO-020": ({"domains": {"vm1": domain()}, "procs": {4242: (status(), qemu_args("vm1"))},
                 "files": {"/proc/meminfo": meminfo(16 * 1024 * 1024)}, "cmds": {"virsh_list_autostart": "\n"}},
                {"domains": {"vm1": domain(), "big": domain(name="big").replace(
                    "<memory unit='KiB'>262144</memory>", "<memory unit='GiB'>15</memory>")},
                 "procs": {4242: (status(), qemu_args("vm1"))},
                 "files": {"/proc/meminfo": meminfo(16 * 1024 * 1024)}, "cmds": {"virsh_list_autostart": "big\n"}}),
    "ISO-021": ({**vm(top=sensitive() + "  <memoryBacking><hugepages/><locked/></memoryBacking>\n"),
                 **qconf(""), "stats": {"/dev/hugepages/libvirt/qemu": "750 root kvm directory",
                                        "/var/lib/libvirt/qemu/ram": "755 libvirt-qemu kvm directory"}},
                {**vm(top=sensitive()), **qconf(""),
                 "stats": {"/dev/hugepages/libvirt/qemu": None, "/var/lib/libvirt/qemu/ram": None}}),
    "ISO-024": (vm(), vm("<filesystem type='mount' accessmode='passthrough'><source dir='/etc'/>"
                         "<target dir='hostetc'/></filesystem>")),
    "ISO-025": ({**qconf('lock_manager = "lockd"\n'), "stats": {"/run/libvirt/virtlockd-sock": None},
                 "ps": "    1     0 root     init            /sbin/init\n"
                       "  311     0 root     virtlockd       /usr/sbin/virtlockd\n"},
                {**qconf('#lock_manager = "lockd"\n'), "stats": {"/run/libvirt/virtlockd-sock": None},
                 "ps": "    1     0 root     init            /sbin/init\n"}),
    "ISO-026": ({"cmds": {"virsh_pool_xmls": POOL.format("0711"), "images_open_to_others": ""},
                 "stats": {IMAGES: "711 root root directory"}},
                {"cmds": {"virsh_pool_xmls": POOL.format("0755"),
                          "images_open_to_others": f"{IMAGES}/vm1.qcow2\n"},
                 "stats": {IMAGES: "755 root root directory"}}),
    "ISO-027": ({"files": {"/etc/lvm/lvm.conf": "allocation {\n\t# thin_pool_zero = 0\n\tthin_pool_zero = 1\n}\n",
                           "/etc/lvm/lvmlocal.conf": None}, "cmds": {"virsh_pool_xmls": ""}},
                {"files": {"/etc/lvm/lvm.conf": "allocation {\n\tthin_pool_zero = 1\n}\n",
                           "/etc/lvm/lvmlocal.conf": "allocation {\n\tthin_pool_zero = 0\n}\n"},
                 "cmds": {"virsh_pool_xmls": ""}}),
    "ISO-028": ({"cmds": {"virt_host_validate": VALIDATE_OK}},
                {"cmds": {"virt_host_validate": (1, VALIDATE_FAIL, "")}}),
    "ISO-030": (vm("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                   "<target dev='sda' bus='sata'/><readonly/></disk>"),
                vm("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                   "<source file='/root/secret.iso'/><target dev='sda' bus='sata'/><readonly/></disk>")),
}

NOT_APPLICABLE: dict = {
    "ISO-014": {"domains": {"vm1": domain()}},          # no assigned PCI device: nothing to reset
}

# Cross-VM rows (applies_to: inventory), judged on one host's guests (tests/guests.py).
from tests.guests import NO_SMT, SMT_ON, disk, guest, nova  # noqa: E402

ACME_ID, GLOBEX_ID = "2f6e1c1a-94a3-4f3c-8f0e-3c1e9a7d5b10", "9d0b7e52-1f7e-4c8b-a7c2-5e6f4a3b2c1d"

CASES.update({
    "ISO-005": ({"domains": {"a": guest("a", "acme", pins="0", emulator="0"),
                             "b": guest("b", "globex", pins="1", emulator="1")}, **NO_SMT},
                {"domains": {"a": guest("a", "acme", pins="0", emulator="0"),
                             "b": guest("b", "globex", pins="1", emulator="1")}, **SMT_ON}),
    "ISO-015": ({"domains": {"a": guest("a", level="high"), "b": guest("b", level="high")}},
                {"domains": {"a": guest("a", level="high"), "b": guest("b", level="low")}}),
    "ISO-016": ({"domains": {"a": guest("a", level="high", pins="1", emulator="1"),
                             "b": guest("b", level="low", pins="0", emulator="0")}, **NO_SMT},
                {"domains": {"a": guest("a", level="high"), "b": guest("b", level="low")}, **NO_SMT}),
    "ISO-023": ({"domains": {"a": guest("a", devices=[disk("/img/a.img")]),
                             "b": guest("b", devices=[disk("/img/b.img")])}},
                {"domains": {"a": guest("a", devices=[disk("/img/a.img")]),
                             "b": guest("b", devices=[disk("/img/a.img")])}}),
})
NOT_APPLICABLE.update({"ISO-016": {"domains": {"a": guest("a", level="low")}, **NO_SMT}})

SENSITIVE_VM = domain(top=sensitive() + "  <vcpu>4</vcpu>\n  <cputune><shares>1024</shares></cputune>\n")
THROTTLED = "<iotune><total_bytes_sec>104857600</total_bytes_sec></iotune>"
LAN_QOS = ("### network lan\n<network><name>lan</name><forward mode='nat'/>"
           "<portgroup name='shaped' default='yes'><bandwidth><inbound average='1000'/>"
           "<outbound average='1000'/></bandwidth></portgroup><portgroup name='bulk'/></network>\n")


def numa(mem_access) -> str:
    """A guest NUMA topology of one cell, with `memAccess` when given."""
    attr = f" memAccess='{mem_access}'" if mem_access else ""
    return (f"  <cpu><numa><cell id='0' cpus='0' memory='262144' unit='KiB'{attr}/></numa></cpu>\n"
            f"  <vcpu>1</vcpu>\n")


EXTRA_CASES: dict = {
    # a sensitive VM running: the stricter vcpu_overcommit_max_sensitive (1.0) applies
    "ISO-018": [(host_cpus(domains={"vm1": SENSITIVE_VM}, procs={4242: (status(), qemu_args("vm1"))}),
                 "pass"),
                (host_cpus("0-1", domains={"vm1": SENSITIVE_VM}, procs={4242: (status(), qemu_args("vm1"))}),
                 "fail")],          # 4 vCPUs on 2 CPUs: within 4.0, not within 1.0
    # OpenStack: tenant and level from nova's metadata (the project; the flavor mapped by policy)
    "ISO-005": [({"domains": {"a": guest("a", pins="0", emulator="0", top=nova("acme", ACME_ID)),
                              "b": guest("b", pins="1", emulator="1", top=nova("globex", GLOBEX_ID))},
                  **SMT_ON}, "fail"),
                ({"domains": {"a": guest("a", pins="0", emulator="0", top=nova("acme", ACME_ID)),
                              "b": guest("b", pins="1", emulator="1", top=nova("acme", ACME_ID))},
                  **SMT_ON}, "pass")],
    "ISO-015": [({"domains": {"a": guest("a", top=nova("acme", ACME_ID, "m1.small")),
                              "b": guest("b", top=nova("globex", GLOBEX_ID, "s1.dedicated"))},
                  "policy": {"nova_flavor_levels": {"m1.small": "low", "s1.dedicated": "high"}}}, "fail"),
                ({"domains": {"a": guest("a", top=nova("acme", ACME_ID, "m1.small")),
                              "b": guest("b", top=nova("globex", GLOBEX_ID, "s1.dedicated"))},
                  "policy": {"nova_project_levels": {"acme": "high", GLOBEX_ID: "high"}}}, "pass")],
    # a site that throttles only sensitive VMs (io_limits_required_for: sensitive)
    "ISO-019": [({**vm(DISK.format("")), "policy": {"io_limits_required_for": "sensitive"}}, "pass"),
                ({**vm(DISK.format(""), top=sensitive()), "policy": {"io_limits_required_for": "sensitive"}},
                 "fail"),
                # formatnetwork.rst 'Quality of service': a portgroup's <bandwidth> applies to each
                # interface of it without its own (the default portgroup when none is named)
                ({**vm(DISK.format(THROTTLED), "<interface type='network'><source network='lan'/></interface>"),
                  "cmds": {"virsh_net_dumpxml_all": LAN_QOS}}, "pass"),
                ({**vm(DISK.format(THROTTLED),
                       "<interface type='network'><source network='lan' portgroup='bulk'/></interface>"),
                  "cmds": {"virsh_net_dumpxml_all": LAN_QOS}}, "fail")],    # its portgroup shapes nothing
    # formatdomain.rst 'Memory Backing': access mode "can be overridden per numa node by
    # memAccess" ('CPU model and topology'); the mode in effect is each cell's
    "ISO-022": [(vm(top=numa("shared")), "fail"),                      # one guest NUMA cell mapped shared
                (vm(top="  <memoryBacking><access mode='shared'/></memoryBacking>\n" + numa("private")),
                 "pass"),                                               # every cell overrides shared with private
                (vm(top="  <memoryBacking><access mode='shared'/></memoryBacking>\n" + numa(None)),
                 "fail")],                                              # the cell inherits shared
}
