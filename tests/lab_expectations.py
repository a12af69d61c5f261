"""What the lab cannot show, and why: the exceptions to 'weak fails, hardened passes'.

Every entry is a fact about a machine of this kind (see lab/README.md); the
integration tests assert that these controls really do not pass on hardened (and
do not fail on weak), so an entry that stops being true turns a test red.
"""

# The hardened host does not pass these (it fails them, or they do not apply to a
# Debian host of this kind), for a reason no configuration of it can change.
HARDENED_CANNOT_PASS = {
    "KMAC-004": "no SELinux or AppArmor in this kernel: libvirt offers only the dac model",
    "KMAC-005": "no SELinux or AppArmor in this kernel: libvirt's only drivers are none and dac, "
                "so a guest without a label of its own gets no MAC label (capabilities; a running "
                "guest's live XML shows only its dac label)",
    "KMAC-006": "no SELinux or AppArmor in this kernel: a running QEMU can only carry a dac "
                "label, never an svirt_t one",
    "LOG-001": "auditd is one per kernel, not per namespace; none runs in the lab",
    # host and logging: what this machine cannot show per host
    "HOST-002": "apt list --upgradable shows bookworm-security updates for the machine's own "
                "packages, whose database hardened shares (weak's is simulated)",
    "HOST-014": "GRUB does not boot this machine (the sandbox starts the kernel itself; /boot holds no "
                "boot loader): a GRUB password written here would protect nothing",
    "HOST-019": "every lab host lives on the machine's root filesystem (bind mounts share its device)",
    "HOST-022": "no OpenStack nova here: not applicable",
    "LOG-003": "auditd is one per kernel, not per namespace; no audit tools in the lab",
    "LOG-004": "no audit tools in the lab (see LOG-003)",
    "LOG-005": "no audit tools in the lab (see LOG-003)",
    "LOG-006": "no audit tools in the lab (see LOG-003)",
    "LOG-012": "no approved time source (policy approved_time_sources) is reachable: the lab hosts "
               "have no route beyond the lab bridge, so no chronyd can select one (`^*`); and Debian's "
               "chrony would replace the machine's systemd-timesyncd package",
    "LOG-013": "of the approved agents (policy ids_agents) Debian packages only samhain, whose "
               "baseline (samhain -t init) walks the machine's whole filesystem here, 80-110 s even "
               "with SuidCheckActive = no: too slow for lab/lab up, so no agent runs",
    "LOG-015": "the lab installs no auditd: there is one per kernel and none can run in a lab host "
               "(LOG-001), so an auditd.conf there would configure a daemon that never runs",
    # backup: what no lab host can reach
    "BKP-003": "hardened's borgmatic repository (ssh://backup.example.org) is never reached: the name "
               "does not resolve in the lab, so the nightly run lab/lab makes fails, and borgmatic's "
               "syslog line says so (CRITICAL ... Error running configuration file)",
    # isolation: hardware this machine lacks
    "ISO-009": "no IOMMU on this machine: /sys/class/iommu is empty and there are no IOMMU groups",
    "ISO-014": "without an IOMMU no device can be assigned, so no hardened VM has a PCI hostdev: "
               "not applicable",
    "ISO-021": "the machine reserves no hugepages (HugePages_Total 0, no hugetlbfs mount), so the "
               "sensitive (level high) hardened guests cannot be hugepage-backed",
    "ISO-028": "virt-host-validate FAILs 'hardware virtualization': no vmx/svm flag in this "
               "machine's /proc/cpuinfo (/dev/kvm is nested PVM)",
    # network and crypto: what this machine's kernel, firmware and hardware lack
    "NET-014": "this kernel has no bridge VLAN filtering (`ip link set hvbr0 type bridge "
               "vlan_filtering 1`: Operation not supported), yet hardened-net asks for VLAN 10",
    "NET-018": "no SR-IOV NIC on this machine: not applicable",
    "CRY-001": "this kernel has no FIPS mode (no /proc/sys/crypto/fips_enabled, and a sim file "
               "cannot create /proc/sys/crypto)",
    "CRY-002": "Debian has no system-wide crypto policy (RHEL family only): not applicable",
    "CRY-009": "the lab's disk images are plain files lab/lab makes with qemu-img (no LUKS, no "
               "libvirt secret for one) on the machine's root filesystem, which is not on dm-crypt",
    "CRY-012": "the machine booted without UEFI (no /sys/firmware/efi), so no Secure Boot",
    "CRY-013": "no TPM on this machine (no /sys/class/tpm) and no attestation agent",
    "CRY-014": "no OVMF/edk2 firmware installed; the guests boot a kernel directly under SeaBIOS",
    "CRY-016": "no SEV-SNP or TDX on this CPU (nested PVM), and hardened's guests are sensitive "
               "(level high), so none can have launchSecurity",
    "CRY-020": "no OpenStack nova here: not applicable",
    # qemu and libvirt: what this machine's kernel and sandbox allow
    "QEMU-005": "no SELinux or AppArmor here, so libvirt's security driver is \"none\", and "
                "security_require_confined = 1 stops it ('Security driver \"none\" cannot create "
                "confined guests', src/security/security_manager.c)",
    "QEMU-008": "libvirt cannot place QEMU in the devices cgroup in this sandbox: /proc/<pid>/cgroup "
                "shows '5:devices:/' while the other controllers are under /machine/qemu-*",
    "QEMU-011": "/dev/kvm does not accept ordinary guests here (nested PVM): every lab guest is TCG "
                "(type='qemu')",
    "LIBV-011": "access_drivers = [\"polkit\"] asks polkitd over the system D-Bus on every API call; "
                "the lab runs neither",
    # kernel_mac: no SELinux or AppArmor in this kernel, and the hosts are Debian
    "KMAC-001": "SELinux rows apply to the RHEL family; the lab hosts are Debian: not applicable",
    "KMAC-002": "SELinux rows apply to the RHEL family; the lab hosts are Debian: not applicable",
    "KMAC-003": "no AppArmor in this kernel (no /sys/module/apparmor): QEMU runs unconfined",
    "KMAC-007": "SELinux rows apply to the RHEL family; the lab hosts are Debian: not applicable",
    "KMAC-008": "SELinux rows apply to the RHEL family; the lab hosts are Debian: not applicable",
    "KMAC-009": "SELinux rows apply to the RHEL family; the lab hosts are Debian: not applicable",
}

# The weak host passes (or is not applicable for) these, with the reason.
WEAK_NOT_FAILING = {
    # qemu and libvirt: machine-wide binaries, packages and devices the hosts share
    "QEMU-016": "the QEMU and libvirt binaries are the machine's (Debian's, built hardened), shared "
                "by all lab hosts",
    "QEMU-021": "no QEMU or libvirt binary is replaced under a running process in the lab",
    "QEMU-022": "qemu-bridge-helper is the machine's, and Debian ships it without the setuid bit",
    "LIBV-001": "Debian 12 has no modular daemons and the libvirt driver packages are the "
                "machine's: one model (libvirtd), no lxc/xen/vbox driver",
    "LIBV-004": "a TLS listener needs certificates weak does not have (libvirtd stops without "
                "them), so weak's --listen opens TCP only",
    "LIBV-012": "/dev/kvm and /etc/group are the machine's (the lab sets /dev/kvm 0660 root:kvm for "
                "libvirt's sake)",
    "QEMU-018": "libvirt 9.0 writes <driver type='raw'/> into every disk when a domain is "
                "defined, so no stored definition can lack it; the failing case is a unit "
                "test (tests/unit/test_catalog_cases.py)",
    "HOST-008": "no systemd in the lab, so the process table is judged against the denylist, and "
                "weak runs only sshd, virtlogd, libvirtd and QEMU (host-init.sh starts nothing else)",
    "HOST-022": "no OpenStack nova here: not applicable",
    "ISO-027": "no LVM on this machine (no /etc/lvm; a sim file cannot create the directory), so "
               "thin_pool_zero cannot be set to 0: the automated part passes and the verdict is "
               "manual; the failing case is a unit test",
    "NET-018": "no SR-IOV NIC on this machine: not applicable; the failing case is a unit test",
    "CRY-002": "Debian has no system-wide crypto policy (RHEL family only): not applicable; the "
               "failing case is a unit test",
    "CRY-020": "no OpenStack nova here: not applicable; the failing case is a unit test",
    "KMAC-001": "SELinux (RHEL family only) on Debian hosts: not applicable; the failing case is a unit test",
    "KMAC-002": "SELinux (RHEL family only) on Debian hosts: not applicable; the failing case is a unit test",
    "KMAC-007": "SELinux (RHEL family only) on Debian hosts: not applicable; the failing case is a unit test",
    "KMAC-008": "SELinux (RHEL family only) on Debian hosts: not applicable; the failing case is a unit test",
    "KMAC-009": "SELinux (RHEL family only) on Debian hosts: not applicable; the failing case is a unit test",
}
