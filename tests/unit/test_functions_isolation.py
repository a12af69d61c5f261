"""The isolation domain's control functions (hvconform/judge/functions/isolation_{cpu,devices,resources}.py): the
parsers of sysfs listings and the decisions the catalog cases do not reach, on both
distribution families."""

import pytest

from hvconform.model import verdict as v
from hvconform.judge.functions import isolation_cpu as iso_cpu
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions import isolation_devices as iso_devices
from hvconform.judge.functions import isolation_resources as iso_resources
from hvconform.inputs.policy import DEFAULTS
from tests.cases import domain, qemu_args, snap, status
from tests.cases.isolation import GPU, PCI, PCI_IDS, POOL, VALIDATE_OK, cmdline, host_cpus, meminfo, sensitive

RHEL9 = 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nVERSION_ID="9.4"\n'
USB = ("<hostdev mode='subsystem' type='usb' managed='yes'><source>"
       "<vendor id='0x0781'/><product id='0x5567'/></source></hostdev>")
MDEV = ("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
        "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>")


def judge(fn, vm="vm1", **kw):
    s = snap(**kw)
    return fn(s, vm if s.domains else None, {**DEFAULTS, **s.policy})


def test_vulnerabilities_keep_colons_in_values():
    text = ("/sys/devices/system/cpu/vulnerabilities/spectre_v2:Mitigation: Retpolines; IBPB: conditional\n"
            "/sys/devices/system/cpu/vulnerabilities/mds:Vulnerable: Clear CPU buffers attempted, no microcode\n")
    assert iso_cpu.vulnerabilities(text) == {
        "spectre_v2": "Mitigation: Retpolines; IBPB: conditional",
        "mds": "Vulnerable: Clear CPU buffers attempted, no microcode"}


def test_pci_attributes_split_after_the_bdf():
    table = iso_devices.pci_attributes(PCI_IDS)
    assert table[PCI] == {"vendor": "0x10de", "device": "0x2330", "class": "0x030200"}


@pytest.mark.parametrize("ranges, count", [("0-7", 8), ("0-3,8-11", 8), ("0", 1), ("0,2,4-5\n", 4)])
def test_cpu_count(ranges, count):
    assert iso_resources.cpu_count(ranges) == count


def test_bdf_of_a_libvirt_address():
    root = xmlsafe.parse(domain(GPU))
    assert [dev for dev, _ in iso_devices.pci_assigned(root)] == [PCI]


def test_thin_pool_zero_ignores_comments():
    assert iso_resources.thin_pool_zero("allocation {\n  # thin_pool_zero = 0\n}\n") is None
    assert iso_resources.thin_pool_zero("allocation {\n  thin_pool_zero = 0 # lab\n}\n") == "0"


def test_an_old_kernel_without_vulnerability_status_fails():
    art = (2, "", "grep: /sys/devices/system/cpu/vulnerabilities/*: No such file or directory\n")
    verdict = judge(iso_cpu.cpu_vulnerabilities, cmds={"cpu_vulnerabilities": art})
    assert verdict.status == v.FAIL and "4.15" in verdict.reason


def test_nested_on_amd_is_an_integer():
    verdict = judge(iso_cpu.nested_virtualization, domains={"vm1": domain()},
                    files={"/sys/module/kvm_intel/parameters/nested": None,
                           "/sys/module/kvm_amd/parameters/nested": "1\n"})
    assert verdict.status == v.FAIL and "kvm_amd" in verdict.reason


@pytest.mark.parametrize("cpu, status", [
    ("", v.FAIL),                                                                   # qemu64
    ("<cpu mode='custom'><model>Skylake-Server-IBRS</model></cpu>", v.PASS),
    ("<cpu mode='custom'><model>EPYC</model><feature name='virt-ssbd'/></cpu>", v.PASS),
    ("<cpu mode='custom'><model>EPYC</model></cpu>", v.FAIL),
    ("<cpu mode='host-passthrough'><feature policy='disable' name='md-clear'/></cpu>", v.FAIL),
])
def test_guest_cpu_models(cpu, status):
    assert judge(iso_cpu.guest_cpu_mitigations, domains={"vm1": domain(top=f"  {cpu}\n")}).status == status


def test_guest_cpu_is_judged_on_the_live_xml_when_running():
    live = domain(top="  <cpu mode='custom'><model>qemu64</model></cpu>\n")
    verdict = judge(iso_cpu.guest_cpu_mitigations, domains={"vm1": domain(top="  <cpu mode='host-model'/>\n")},
                    live={"vm1": live}, procs={4242: (status(), qemu_args("vm1"))})
    assert verdict.status == v.FAIL and "qemu64" in verdict.actual


def test_rhel_amd_host_with_iommu_off_fails():
    verdict = judge(iso_devices.iommu_enabled, files={"/etc/os-release": RHEL9,
                                              "/proc/cmdline": "BOOT_IMAGE=(hd0,gpt2)/vmlinuz ro amd_iommu=off\n"},
                    cmds={"iommu_units": "ivhd0\n", "iommu_group_devices": "0/devices/0000:00:00.0\n"})
    assert verdict.status == v.FAIL and "amd_iommu=off" in verdict.reason


def test_no_iommu_names_the_vms_that_assign_devices():
    verdict = judge(iso_devices.iommu_enabled, **cmdline("ro"), domains={"vm1": domain(GPU)},
                    cmds={"iommu_units": (2, "", "ls: cannot access '/sys/class/iommu': No such file or directory\n"),
                          "iommu_group_devices": (1, "", "find: '/sys/kernel/iommu_groups/': No such file or directory\n")})
    assert verdict.status == v.FAIL and "vm1" in verdict.reason


def _remapping(cmd: str, units: str, interrupts: str = " 24: 0 PCI-MSI nvme\n"):
    return judge(iso_devices.interrupt_remapping, files={
        "/proc/cmdline": cmd + "\n", "/proc/interrupts": interrupts,
        "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts": None,
        "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode": None}, cmds={"iommu_units": units})


def test_no_iommu_and_nothing_unsafe_passes_remapping():
    assert _remapping("ro quiet", "").status == v.PASS


@pytest.mark.parametrize("param", ["vfio.enable_unsafe_noiommu_mode=1", "intremap=off", "nointremap",
                                   "vfio_iommu_type1.allow-unsafe-interrupts=Y"])
def test_unsafe_boot_parameters_fail_remapping(param):
    assert _remapping(f"ro {param}", "", " 24: 0 IR-PCI-MSI nvme\n").status == v.FAIL


def test_an_iommu_without_remapped_interrupts_fails():
    assert _remapping("ro", "dmar0\n").status == v.FAIL


def test_usb_ids_come_from_the_xml_and_mdev_is_approved_by_vm():
    policy = {"passthrough_allowed_vms": ["vm1"], "passthrough_allowed_devices": ["0781:5567"]}
    ok = judge(iso_devices.passthrough_allowlisted, domains={"vm1": domain(USB, MDEV)}, cmds={"pci_ids": ""}, policy=policy)
    assert ok.status == v.PASS and "0781:5567" in ok.actual
    other = judge(iso_devices.passthrough_allowlisted, domains={"vm1": domain(USB.replace("0x5567", "0x5581"))},
                  cmds={"pci_ids": ""}, policy=policy)
    assert other.status == v.FAIL and "0781:5581" in other.reason


def _groups(vm_xml, running=False, other=None, drivers=f"snd_hda_intel/{PCI}\n"):
    domains = {"vm1": vm_xml, **({"vm2": domain(other, name="vm2")} if other else {})}
    return judge(iso_devices.assigned_devices_isolated, domains=domains,
                 procs={4242: (status(), qemu_args("vm1"))} if running else None,
                 cmds={"iommu_group_devices": f"14/devices/{PCI}\n14/devices/0000:03:00.1\n",
                       "pci_drivers": drivers, "pci_ids": PCI_IDS})


AUDIO = GPU.replace("function='0x0'", "function='0x1'")


def test_a_stopped_managed_device_may_still_sit_on_its_host_driver():
    assert _groups(domain(GPU, AUDIO)).status == v.PASS


def test_a_running_vm_needs_vfio_pci():
    verdict = _groups(domain(GPU, AUDIO), running=True)
    assert verdict.status == v.FAIL and "not vfio-pci" in verdict.reason


def test_a_group_split_between_two_vms_fails():
    verdict = _groups(domain(GPU), other=AUDIO)
    assert verdict.status == v.FAIL and "assigned to vm2" in verdict.reason


def test_memory_units_and_autostart_count():
    big = domain(name="big").replace("<memory unit='KiB'>262144</memory>", "<memory unit='MiB'>8192</memory>")
    kw = {"domains": {"big": big}, "files": {"/proc/meminfo": meminfo(9 * 1024 * 1024)}}
    assert judge(iso_resources.memory_overcommit, cmds={"virsh_list_autostart": "\n"}, **kw).status == v.PASS
    verdict = judge(iso_resources.memory_overcommit, cmds={"virsh_list_autostart": "big\n"}, **kw)
    assert verdict.status == v.FAIL and "8192" in verdict.actual


def test_one_sensitive_vm_makes_the_host_one_to_one():
    kw = host_cpus("0-3", domains={"vm1": domain(top=sensitive() + "  <vcpu>6</vcpu>\n"
                                                  "  <cputune><shares>512</shares></cputune>\n")},
                   procs={4242: (status(), qemu_args("vm1"))})
    assert judge(iso_resources.cpu_limits, **kw).status == v.FAIL
    assert judge(iso_resources.cpu_limits, **kw, policy={"sensitive_security_levels": ["secret"]}).status == v.PASS


def test_sensitivity_from_the_inventory_when_the_xml_has_no_tag():
    s = snap(domains={"vm1": domain()}, files={"/etc/libvirt/qemu.conf": ""},
             stats={"/dev/hugepages/libvirt/qemu": None, "/var/lib/libvirt/qemu/ram": None},
             facts={"vms": {"vm1": {"security_level": "high"}}})
    assert iso_resources.hugepage_backing(s, "vm1", DEFAULTS).status == v.FAIL


def test_a_hugepage_dir_open_to_others_fails_and_an_uncollected_one_is_an_error():
    xml = domain(top="  <memoryBacking><hugepages/></memoryBacking>\n")
    kw = {"domains": {"vm1": xml},
          "stats": {"/dev/hugepages/libvirt/qemu": "777 root root directory", "/var/lib/libvirt/qemu/ram": None}}
    assert judge(iso_resources.hugepage_backing, files={"/etc/libvirt/qemu.conf": ""}, **kw).status == v.FAIL
    other = judge(iso_resources.hugepage_backing, files={"/etc/libvirt/qemu.conf": 'hugetlbfs_mount = "/mnt/huge1G"\n'}, **kw)
    assert other.status == v.ERROR and "hugetlbfs_mount" in other.reason


@pytest.mark.parametrize("fs, status", [
    ("<filesystem type='mount'><source dir='/srv/share/a'/><target dir='a'/><readonly/></filesystem>", v.PASS),
    ("<filesystem type='mount'><source dir='/srv/share/a'/><target dir='a'/></filesystem>", v.FAIL),
    ("<filesystem type='mount'><driver type='virtiofs'/><source dir='/srv/other'/><target dir='a'/>"
     "<readonly/></filesystem>", v.FAIL),
    ("<filesystem type='mount'><source dir='/'/><target dir='a'/><readonly/></filesystem>", v.FAIL),
])
def test_filesystem_exports(fs, status):
    verdict = judge(iso_resources.filesystem_sharing, domains={"vm1": domain(fs)},
                    policy={"approved_filesystem_export_dirs": ["/srv/share"]})
    assert verdict.status == status


def test_rhel_socket_activated_virtlockd_passes_and_a_missing_sanlock_fails():
    # RHEL 9: virtlockd.socket creates the socket; virtlockd starts on first use
    kw = {"ps": "    1     0 root     systemd         /usr/lib/systemd/systemd\n",
          "stats": {"/run/libvirt/virtlockd-sock": "600 root root socket"}}
    ok = judge(iso_resources.lock_manager, files={"/etc/os-release": RHEL9, "/etc/libvirt/qemu.conf": 'lock_manager = "lockd"\n'}, **kw)
    assert ok.status == v.PASS and "socket activation" in ok.actual
    bad = judge(iso_resources.lock_manager, files={"/etc/libvirt/qemu.conf": 'lock_manager = "sanlock"\n'}, **kw)
    assert bad.status == v.FAIL and "sanlock" in bad.reason


def test_pools_other_than_directories_and_inactive_ones_are_not_judged_by_mode():
    text = (POOL.format("0711") + "<pool type='logical'><name>vg</name><target><path>/dev/vg</path></target></pool>\n"
            "<pool type='dir'><name>iso</name><target><path>/srv/iso</path></target></pool>\n")
    verdict = judge(iso_resources.pool_permissions, cmds={"virsh_pool_xmls": text, "images_open_to_others":
                    (1, "", "find: '/var/lib/libvirt/images': No such file or directory\n")},
                    stats={"/var/lib/libvirt/images": None})
    assert verdict.status == v.PASS and "inactive" in verdict.actual


def test_a_failing_pool_listing_is_an_error_not_no_pools():
    verdict = judge(iso_resources.pool_permissions, cmds={"virsh_pool_xmls": (1, "", "error: failed to connect to the hypervisor\n"),
                                               "images_open_to_others": ""},
                    stats={"/var/lib/libvirt/images": "711 root root directory"})
    assert verdict.status == v.ERROR


def test_no_lvm_at_all_is_for_a_person():
    verdict = judge(iso_resources.zeroed_allocation, files={"/etc/lvm/lvm.conf": None, "/etc/lvm/lvmlocal.conf": None},
                    cmds={"virsh_pool_xmls": ""})
    assert verdict.status == v.PASS and "no LVM" in verdict.actual   # the catalog row turns it into manual


def test_virt_host_validate_missing_is_an_error_and_warn_passes():
    assert judge(iso_resources.host_validates, cmds={"virt_host_validate": VALIDATE_OK}).status == v.PASS
    missing = judge(iso_resources.host_validates, cmds={"virt_host_validate": (127, "", "sh: 1: virt-host-validate: not found\n")})
    assert missing.status == v.ERROR and "not found" in missing.reason


@pytest.mark.parametrize("disk, status", [
    ("<disk type='file' device='cdrom'><source file='/var/lib/libvirt/media/debian.iso'/>"
     "<target dev='sda'/><readonly/></disk>", v.PASS),
    ("<disk type='file' device='floppy'><source file='/var/lib/libvirt/media/drivers.img'/>"
     "<target dev='fda'/></disk>", v.FAIL),
    ("<disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='sda'/><readonly/></disk>", v.FAIL),
])
def test_removable_media(disk, status):
    assert judge(iso_resources.removable_media, domains={"vm1": domain(disk)}).status == status
