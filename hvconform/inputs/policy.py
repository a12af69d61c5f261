"""Site policy: the values a site may set in its inventory (`policy:`), with defaults.

Controls read policy, never hard-code it, so a site adapts the suite by data, not by
editing checks. The inventory loader accepts only these keys, with values of the same
type as the default. `effective(site_values)` lays a host's values over the defaults:
the one place they are merged, so every reader sees the same policy.
"""

from __future__ import annotations

DEFAULTS: dict = {
    # HOST-001: releases the site supports, as "<os-release ID> <VERSION_ID>". A listed
    # version also covers its point releases ("rhel 9" covers VERSION_ID 9.4).
    "supported_releases": ["debian 12", "ubuntu 22.04", "ubuntu 24.04",
                           "rhel 9", "rocky 9", "almalinux 9"],
    # HOST-001: last day of vendor support per release (ISO dates); a host collected
    # after it fails. Debian counts its LTS, Ubuntu its standard support (not ESM).
    "release_eol": {"debian 12": "2028-06-30", "ubuntu 22.04": "2027-04-30",
                    "ubuntu 24.04": "2029-04-30", "rhel 9": "2032-05-31",
                    "rocky 9": "2032-05-31", "almalinux 9": "2032-05-31"},
    # BKP-001: the backup tool's list of what it backs up, one path per line, `#`
    # comments (restic's --files-from format; point it at the real list).
    "backup_manifest": "/etc/hvconform/backup-paths",
    # BKP-001: what must be in that list (a listed parent directory covers a path).
    "backup_required_paths": ["/etc/libvirt", "/etc/pki/libvirt", "/etc/pki/qemu",
                              "/etc/pki/CA", "/etc/sasl2", "/etc/polkit-1/rules.d",
                              "/var/lib/libvirt/qemu/nvram", "/var/lib/libvirt/swtpm"],
    # BKP-002: where the per-VM definition exports live, as <dir>/<domain>.xml
    # (`virsh dumpxml --inactive --security-info <domain>`).
    "definition_backup_dir": "/var/backups/libvirt",
    # BKP-003: a file the backup job rewrites after each successful run; its first
    # line is the completion time in ISO 8601 (`date -Is`).
    "backup_status_file": "/var/backups/libvirt/last-success",
    # BKP-003: recovery point objective: the last success may be at most this old.
    "backup_rpo_hours": 24,
    # QEMU-012: machine types a VM may use, per guest arch, as regular expressions over
    # /domain/os/type/@machine (QEMU security.rst: the supported machine types of the
    # virtualization use case). Deprecated versions fail whatever this says.
    "allowed_machine_types": {"x86_64": ["^pc-q35-", "^q35$", "^pc-i440fx-", "^pc$"],
                              "aarch64": ["^virt(-[0-9.]+)?$"]},
    # QEMU-016: binaries examined for compiler hardening (those absent are skipped); every
    # domain's <emulator> must be one of them.
    "hardened_binaries": ["/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm",
                          "/usr/bin/qemu-system-aarch64", "/usr/sbin/libvirtd",
                          "/usr/sbin/virtqemud", "/usr/bin/swtpm"],
    # QEMU-017: QEMU packages a host may have (shell patterns): the host-arch emulator and
    # its shared parts (Debian), qemu-kvm and its subpackages (RHEL). Any other
    # qemu-system-* (a foreign-arch TCG emulator) fails.
    "qemu_packages_allowed": ["qemu-system-x86", "qemu-system-common", "qemu-system-data",
                              "qemu-system-gui", "qemu-system-modules-*", "qemu-block-extra",
                              "qemu-kvm", "qemu-kvm-*"],
    # QEMU-017: components no site needs unless it says so: remote block drivers, as
    # package-name or module-file parts (qemu-kvm-block-rbd, block-curl.so, ...).
    "qemu_unneeded_components": ["block-curl", "block-iscsi", "block-gluster", "block-rbd",
                                 "block-nfs", "block-ssh"],
    # QEMU-019: where VM disk images and their backing files may live (local paths), and
    # the network protocols (rbd, nbd, iscsi, gluster, http...) approved for disks.
    "approved_image_dirs": ["/var/lib/libvirt/images", "/var/lib/libvirt/boot"],
    "approved_disk_protocols": [],
    # QEMU-020: where golden (base) images live; every backing file must be in one,
    # read-only and root-owned.
    "golden_image_dirs": ["/var/lib/libvirt/images/golden"],
    # LIBV-001: libvirt hypervisor drivers a KVM host does not need installed.
    "unneeded_libvirt_drivers": ["lxc", "xen", "libxl", "vbox", "ch", "vz", "bhyve"],
    # LIBV-010: the groups polkit may grant libvirt management (org.libvirt.unix.manage);
    # Debian and RHEL ship a rule for `libvirt`. Their members must be approved admins:
    "libvirt_admin_groups": ["libvirt"],
    "libvirt_admin_users": [],
    # LIBV-012: accounts allowed in the kvm group (the QEMU service account of each family).
    "kvm_group_members": ["qemu", "libvirt-qemu"],
    # BKP-004: one file per VM, <dir>/<domain>.last-success, that the backup job rewrites
    # after each successful disk backup of that VM; first line: completion time, ISO 8601.
    "vm_backup_record_dir": "/var/backups/libvirt/disks",
    # BKP-004: VMs the site deliberately does not back up (scratch, rebuilt from images).
    "backup_exempt_vms": [],
    # BKP-005: the backup repository's key or password file (restic --password-file,
    # a borg passphrase file); only its mode and owner are read, never its content.
    "backup_password_file": "/etc/hvconform/backup-password",
    # BKP-005, BKP-006: where backups go, in restic's --repository-file format: one line,
    # a path or URL (sftp:user@host:/path, rest:https://..., s3:..., ssh://...).
    "backup_repository_file": "/etc/hvconform/backup-repository",
    # BKP-006: the directories VM disk images live in (storage pool targets).
    "vm_image_dirs": ["/var/lib/libvirt/images"],
    # BKP-007: the restore-test evidence log, one JSON object per line:
    #   {"date": "2025-05-20", "vm": "web01", "result": "success", "boot_verified": true}
    "restore_test_log": "/var/backups/libvirt/restore-tests.jsonl",
    # BKP-007: a successful, boot-verified restore test may be at most this old.
    "restore_test_max_age_days": 90,
    # BKP-007: VMs or VM classes (the record's "vm" value) that each need their own
    # recent restore test; empty: any one recent test of any VM.
    "restore_test_scope": [],
    # BKP-008: the backup tool's stored job definitions, <dir>/<domain>.xml, each the
    # <domainbackup> document it passes to `virsh backup-begin`.
    "backup_job_dir": "/etc/hvconform/backup-jobs",
    # BKP-009: a snapshot may be at most this old unless it is listed in snapshot_exceptions.
    "snapshot_max_age_days": 7,
    # BKP-009: reviewed snapshots kept longer, as "<domain>/<snapshot>" (with a ticket).
    "snapshot_exceptions": [],
    # KMAC-008: SELinux virt booleans the site needs on (e.g. virt_use_nfs for NFS pools,
    # virt_use_usb for approved USB passthrough); every other one must be off.
    "selinux_virt_booleans_on": [],
    # KMAC-017: boot parameters each host must have; each entry is a list of
    # alternatives, any one of which satisfies it. pti=on is x86 only: drop it for arm64.
    "hardening_boot_params": [["init_on_free=1", "init_on_alloc=1"], ["page_poison=1"],
                              ["vsyscall=none"], ["pti=on"]],
    # KMAC-019: host GPU drivers that must not be loaded (GPUs are for passthrough).
    "passthrough_gpu_drivers": ["nvidia", "amdgpu", "nouveau"],
    # KMAC-020: kernel modules that must be disabled (install /bin/false) or blacklisted.
    "disabled_modules": ["bluetooth", "firewire-core", "cramfs", "sctp", "tipc", "atm", "can"],
    # ISO-005, ISO-015, ISO-016, NET-016: a VM's tenant and security level, from the
    # domain XML's <metadata> in this namespace (libvirt keeps one element per namespace
    # under <metadata>, so both values sit in one wrapper element):
    #   <metadata>
    #     <vs:virt-security xmlns:vs="urn:hvconform:virt-security">
    #       <vs:security-level>high</vs:security-level>
    #       <vs:tenant>acme</vs:tenant>
    #     </vs:virt-security>
    #   </metadata>
    # (`virsh metadata <vm> --uri <namespace> --key vs --set '<virt-security>...'` writes
    # it.) A domain without the tag takes its facts from the inventory's `vms:` entry of
    # its host (security_level, tenant); where both say something, the XML wins and
    # ISO-015 reports the disagreement.
    "vm_metadata_namespace": "urn:hvconform:virt-security",
    # ISO-016: the security levels whose VMs are sensitive: every vCPU and the emulator
    # pinned, on physical cores (SMT siblings included) that no other VM uses.
    "sensitive_security_levels": ["high"],
    # HOST-002: patch SLA in days: a pending security advisory older than this fails;
    # critical ones get the shorter SLA. apt records no advisory date, so on Debian and
    # Ubuntu every pending security update counts as overdue.
    "patch_sla_days": 30,
    "patch_sla_days_critical": 7,
    # HOST-004: minimum versions of the virtualization stack per family, as the package
    # manager prints them (dpkg: [epoch:]upstream-revision; rpm: VERSION-RELEASE, rpm -qa
    # prints no epoch). Set them to the versions that close the CVEs the site tracks;
    # these defaults are Debian 12.x and RHEL 9.4 point-release versions. Packages not
    # installed are skipped; at least one listed package must be installed.
    "minimum_versions": {
        "debian": {"qemu-system-x86": "1:7.2+dfsg-7+deb12u6",
                   "libvirt-daemon-system": "9.0.0-4+deb12u1",
                   "libvirt-daemon": "9.0.0-4+deb12u1"},
        "rhel": {"qemu-kvm-core": "8.2.0-11.el9_4",
                 "libvirt-daemon-driver-qemu": "10.0.0-6.el9_4",
                 "libvirt-daemon": "10.0.0-6.el9_4"},
    },
    # HOST-006: packages of an X server or display manager, per family.
    "graphical_packages": {
        "debian": ["xserver-xorg-core", "xwayland", "gdm3", "lightdm", "sddm", "xdm"],
        "rhel": ["xorg-x11-server-common", "xorg-x11-server-Xorg", "xorg-x11-server-Xwayland",
                 "gdm", "sddm", "lightdm"],
    },
    # HOST-007: network service packages that must not be installed, per family.
    "unneeded_packages": {
        "debian": ["vsftpd", "telnetd", "inetutils-telnetd", "tftpd-hpa", "tftpd", "atftpd",
                   "rsh-server", "nis", "talkd"],
        "rhel": ["vsftpd", "telnet-server", "tftp-server", "rsh-server", "ypserv", "talk-server"],
    },
    # HOST-007: services that may be installed (rpcbind and nfs-utils come with libvirt
    # packages) but must be neither enabled nor running; both families' unit names.
    "unneeded_services": ["avahi-daemon", "cups", "rpcbind", "nfs-server", "nfs-kernel-server",
                          "smb", "smbd", "nmbd"],
    # HOST-008: services (systemd unit names without .service, shell patterns) allowed
    # to run on a hypervisor. Add the site's monitoring and IDS agents.
    "service_allowlist": ["libvirtd", "virtqemud", "virtlogd", "virtlockd", "virtproxyd",
                          "virtnetworkd", "virtnodedevd", "virtsecretd", "virtstoraged",
                          "virtinterfaced", "virtnwfilterd", "machined", "systemd-*",
                          "ssh", "sshd", "auditd", "chronyd", "chrony", "firewalld",
                          "nftables", "rsyslog", "dbus", "dbus-broker", "polkit", "cron",
                          "crond", "getty@*", "serial-getty@*", "user@*", "irqbalance",
                          "tuned", "NetworkManager", "sssd", "rngd", "ksmtuned",
                          "qemu-guest-agent", "mcelog", "rasdaemon", "usbguard",
                          "unattended-upgrades", "atd", "lvm2-*", "multipathd", "smartd"],
    # HOST-008: daemons (process names) never approved on a hypervisor: judged always,
    # and alone where systemd does not run.
    "service_denylist": ["dockerd", "containerd", "kubelet", "podman", "httpd", "apache2",
                         "nginx", "lighttpd", "mysqld", "mariadbd", "postgres", "mongod",
                         "redis-server", "vsftpd", "smbd", "cupsd", "avahi-daemon"],
    # HOST-010: PAM modules accepted as a second factor for keyboard-interactive logins.
    "mfa_pam_modules": ["pam_u2f", "pam_oath", "pam_google_authenticator", "pam_duo",
                        "pam_sss", "pam_yubico", "pam_radius_auth"],
    # HOST-013: the most failed logins pam_faillock may allow before locking (STIG: 3).
    "faillock_deny_max": 3,
    # HOST-015: whether USBGuard must run (false where the site has no USB ports exposed
    # and relies on usb-storage being disabled alone; reconcile with ISO-011).
    "usbguard_required": True,
    # HOST-018: what the file-integrity rules must cover (an entry covers what is under it).
    # Both families' binary and firmware paths; a path not on the host is skipped.
    "fim_required_paths": ["/etc/libvirt", "/etc/pki", "/etc/qemu", "/etc/sasl2",
                           "/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm",
                           "/usr/sbin/libvirtd", "/usr/sbin/virtqemud",
                           "/usr/share/OVMF", "/usr/share/edk2"],
    # HOST-019: paths that must each be on a filesystem other than the root one.
    "dedicated_mounts": ["/var/lib/libvirt/images", "/var/log", "/var/log/audit"],
    # HOST-020: lowest acceptable microcode revision per CPU, keyed
    # "<vendor_id> <cpu family>-<model>-<stepping>" (decimal, as /proc/cpuinfo prints
    # them), value the revision in hex. Fill from the CPU vendors' advisories; a CPU
    # without an entry is left to a person (verdict manual), naming the key to add.
    "microcode_minimum": {},
    # LOG-004: directories audited for writes and attribute changes (-p wa) and tools
    # audited for execution (-p x).
    "audit_watch_paths": ["/etc/libvirt", "/etc/pki/libvirt", "/etc/pki/qemu", "/etc/pki/CA",
                          "/etc/qemu", "/etc/sasl2", "/etc/polkit-1/rules.d"],
    "audit_exec_paths": ["/usr/bin/virsh", "/usr/bin/virt-admin", "/usr/bin/qemu-img",
                         "/usr/bin/virt-install"],
    # LOG-007: the central log collector (host name or address; empty: any TLS target).
    "log_forward_target": "",
    # LOG-012: approved time sources (shell patterns over chrony server/pool names).
    "approved_time_sources": ["*.pool.ntp.org", "time.cloudflare.com", "*.nist.gov"],
    # LOG-013: approved intrusion-detection agents (process names).
    "ids_agents": ["wazuh-agentd", "ossec-agentd", "ossec-syscheckd", "falco", "auditbeat",
                   "suricata", "samhain", "osqueryd", "elastic-agent"],
    # LOG-014: approved monitoring exporters (process names) and the networks (CIDR)
    # their endpoints may listen on (loopback always; a wildcard address never).
    "monitoring_exporters": ["prometheus-libvirt-exporter", "libvirt-exporter",
                             "libvirt_exporter", "node_exporter", "prometheus-node-exporter",
                             "prometheus-node", "collectd", "telegraf"],
    "monitoring_networks": [],
    # LOG-015: accepted auditd.conf actions (lower case).
    "audit_max_log_file_actions": ["rotate", "keep_logs"],
    "audit_space_left_actions": ["email", "exec", "syslog", "single", "halt"],
    "audit_disk_full_actions": ["halt", "single"],
    # ISO-011: device passthrough is off by default (OSG): only these VMs may carry
    # <hostdev> (or <interface type='hostdev'>) elements, and only with these devices,
    # as "vendor:device" in lower-case hex: PCI ids as sysfs shows them ("10de:2330"),
    # USB vendor:product as in the domain XML ("0781:5567").
    "passthrough_allowed_vms": [],
    "passthrough_allowed_devices": [],
    # ISO-018: running vCPUs per host CPU at most; the second value applies where a
    # running VM is sensitive (its security level in sensitive_security_levels).
    "vcpu_overcommit_max": 4.0,
    "vcpu_overcommit_max_sensitive": 1.0,
    # ISO-019: which VMs need I/O throttling (disk iotune/blkiotune, NIC bandwidth):
    # "all", or "sensitive" (only VMs of a level in sensitive_security_levels).
    "io_limits_required_for": "all",
    # ISO-020: memory kept for the host itself: running and autostarted VMs together may
    # have at most MemTotal minus this.
    "host_memory_reserve_mib": 2048,
    # ISO-024: host directories that may be shared into guests (<filesystem>), read-only;
    # none by default. /, /etc, /root, /home, /boot, /var/lib/libvirt and the pseudo
    # filesystems are refused whatever this says.
    "approved_filesystem_export_dirs": [],
    # ISO-030: where the installation/driver ISOs that may sit in a guest's CD-ROM live.
    "approved_media_dirs": ["/var/lib/libvirt/media"],
    # NET-003, NET-020: the management subnets (CIDR) the site reaches its hypervisors on.
    # An allowlist: empty means no listener beyond loopback is a management listener.
    "management_networks": [],
    # NET-003: listeners accepted on any address, as "<port>/<tcp|udp>" (e.g. "53/udp").
    "listen_allowlist": [],
    # NET-011: libvirt networks allowed a bridged forward mode (bridge, private, vepa,
    # passthrough, hostdev); nat, route and isolated networks need no entry.
    "bridged_networks_allowed": [],
    # NET-012: libvirt networks guests may use; empty: every network in a NET-011 mode
    # (nat, route, isolated). Named networks must still exist on the host.
    "approved_networks": [],
    # NET-012: VMs allowed interfaces of type bridge, direct, hostdev or vhostuser.
    "bridged_vms": [],
    # NET-013: VLAN ids guests may be given; empty: any id but a management VLAN.
    "guest_vlans": [],
    # NET-013, NET-014: VLAN ids of the management network, never on a guest port.
    "management_vlans": [],
    # NET-006 reads no value of its own: a VM is headless when its <metadata> element in
    # vm_metadata_namespace holds <console>headless</console>; CRY-016 takes
    # "sensitive" from sensitive_security_levels, as the isolation rows do.
    # NET-019: the dedicated migration subnets (CIDR) qemu.conf migration_address must lie
    # in; an allowlist like management_networks.
    "migration_networks": [],
    # NET-019: the widest migration port range accepted (libvirt's default 49152-49215 is 64).
    "migration_port_span_max": 64,
    # CRY-001: whether the site requires FIPS 140 mode; false makes CRY-001 not applicable.
    "fips_required": True,
    # CRY-002 (RHEL family): accepted /etc/crypto-policies/config values (policy[:modules]).
    "crypto_policies_allowed": ["DEFAULT", "FIPS", "FUTURE", "FIPS:OSPP"],
    # CRY-004: where libvirt's server certificate, CA and CRL are (kbase/tlscerts.rst
    # defaults; libvirtd.conf cert_file/ca_file/crl_file must name the same paths).
    "libvirt_tls_files": {"cert": "/etc/pki/libvirt/servercert.pem",
                          "ca": "/etc/pki/CA/cacert.pem", "crl": "/etc/pki/CA/cacrl.pem"},
    # CRY-004: days a certificate must still be valid; smallest RSA / EC key sizes.
    "cert_min_days": 30,
    "rsa_min_bits": 2048,
    "ec_min_bits": 256,
    # CRY-013: process names (ps comm) of remote-attestation agents.
    "attestation_agents": ["keylime_agent"],
    # CRY-014: directories of packaged UEFI firmware (OVMF/edk2 on Debian and RHEL).
    "firmware_dirs": ["/usr/share/OVMF", "/usr/share/edk2", "/usr/share/qemu"],
    # CRY-018: SASL mechanisms accepted in /etc/sasl2/{libvirt,qemu}.conf mech_list.
    "sasl_mechanisms_allowed": ["gssapi", "scram-sha-256", "scram-sha-512"],
}


def effective(site_values: dict | None) -> dict:
    """DEFAULTS overlaid with a host's own policy values from the inventory.

    Callers reach it as `policy.effective(...)` (the module's attribute, not an imported
    name), so tests/unit/test_policy.py can swap it for one that records every read.
    """
    return {**DEFAULTS, **(site_values or {})}
