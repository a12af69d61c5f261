"""Site policy: the values a site may set in its inventory (`policy:`), with defaults.

Controls read policy, never hard-code it, so a site adapts the suite by data, not by
editing checks. Each key below is data: its default, the controls that read it and
what it means; this module is the one place a value is documented. The inventory
loader accepts only these keys, with values of the same type as the default.
`effective(site_values)` lays a host's values over the defaults: the one place they
are merged, so every reader sees the same policy.

Longer than ~400 lines on purpose: it is one table, a few lines per key, and splitting
it would scatter the one place a site reads what it may set.

A key's `controls` are not trusted but proved: tests/unit/test_policy.py judges every
control's catalog cases while recording which keys each one reads, and fails unless
each key is read by exactly the controls it names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    default: object
    controls: tuple[str, ...]   # ids of the controls that read the key
    doc: str                    # what the value means, for the site setting it


KEYS: dict[str, Key] = {
    "supported_releases": Key(
        ["debian 12", "ubuntu 22.04", "ubuntu 24.04",
         "rhel 9", "rocky 9", "almalinux 9"],
        controls=("HOST-001",),
        doc='releases the site supports, as "<os-release ID> <VERSION_ID>". A listed '
            'version also covers its point releases ("rhel 9" covers VERSION_ID 9.4).'),
    "release_eol": Key(
        {"debian 12": "2028-06-30", "ubuntu 22.04": "2027-04-30",
         "ubuntu 24.04": "2029-04-30", "rhel 9": "2032-05-31",
         "rocky 9": "2032-05-31", "almalinux 9": "2032-05-31"},
        controls=("HOST-001",),
        doc="last day of vendor support per release (ISO dates); a host collected "
            "after it fails. Debian counts its LTS, Ubuntu its standard support (not ESM)."),
    "backup_manifest": Key(
        "/etc/hvconform/backup-paths",
        controls=("BKP-001",),
        doc="fallback for a host where no backup tool is recognised: a list of what is backed "
            "up, one path per line, `#` comments (restic's --files-from format). BKP-001 reads the "
            "tools' own configuration first: borgmatic (/etc/borgmatic/config.yaml, /etc/borgmatic.d, "
            "root's ~/.config/borgmatic), restic (systemd units and crontabs running `restic backup`, "
            "their EnvironmentFile= and --files-from/--exclude-file lists), rsnapshot "
            "(/etc/rsnapshot.conf), Bacula/Bareos (a Director's FileSets under /etc/bacula, /etc/bareos)."),
    "backup_required_paths": Key(
        ["/etc/libvirt", "/etc/pki/libvirt", "/etc/pki/qemu",
         "/etc/pki/CA", "/etc/sasl2", "/etc/polkit-1/rules.d",
         "/var/lib/libvirt/qemu/nvram", "/var/lib/libvirt/swtpm"],
        controls=("BKP-001",),
        doc="what the backup set must cover (a parent directory covers a path; excludes are honoured)."),
    "definition_backup_dir": Key(
        "/var/backups/libvirt",
        controls=("BKP-002",),
        doc="where the per-VM definition exports live, as <dir>/<domain>.xml "
            "(`virsh dumpxml --inactive --security-info <domain>`)."),
    "backup_status_file": Key(
        "/var/backups/libvirt/last-success",
        controls=("BKP-003",),
        doc="a file the backup job rewrites after each successful run; its first line is the "
            "completion time in ISO 8601 (`date -Is`). Read only where the tools' own record is "
            "missing: no tool recognised, or restic (which logs nothing) without systemd. BKP-003 "
            "reads systemd timers and results first, then borgmatic's syslog lines, rsnapshot's "
            "logfile, a Director's job reports."),
    "backup_rpo_hours": Key(
        24,
        controls=("BKP-003", "BKP-004"),
        doc="recovery point objective: the last success (of the backup job, and of each "
            "VM's disk backup) may be at most this old."),
    "allowed_machine_types": Key(
        {"x86_64": ["^pc-q35-", "^q35$", "^pc-i440fx-", "^pc$"],
         "aarch64": ["^virt(-[0-9.]+)?$"]},
        controls=("QEMU-012",),
        doc="machine types a VM may use, per guest arch, as regular expressions over "
            "/domain/os/type/@machine (QEMU security.rst: the supported machine types of the "
            "virtualization use case). Deprecated versions fail whatever this says."),
    "hardened_binaries": Key(
        ["/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm",
         "/usr/bin/qemu-system-aarch64", "/usr/sbin/libvirtd",
         "/usr/sbin/virtqemud", "/usr/bin/swtpm"],
        controls=("QEMU-016",),
        doc="binaries examined for compiler hardening (those absent are skipped); every "
            "domain's <emulator> must be one of them."),
    "qemu_packages_allowed": Key(
        ["qemu-system-x86", "qemu-system-common", "qemu-system-data",
         "qemu-system-gui", "qemu-system-modules-*", "qemu-block-extra",
         "qemu-kvm", "qemu-kvm-*"],
        controls=("QEMU-017",),
        doc="QEMU packages a host may have (shell patterns): the host-arch emulator and "
            "its shared parts (Debian), qemu-kvm and its subpackages (RHEL). Any other "
            "qemu-system-* (a foreign-arch TCG emulator) fails."),
    "qemu_unneeded_components": Key(
        ["block-curl", "block-iscsi", "block-gluster", "block-rbd",
         "block-nfs", "block-ssh"],
        controls=("QEMU-017",),
        doc="components no site needs unless it says so: remote block drivers, as "
            "package-name or module-file parts (qemu-kvm-block-rbd, block-curl.so, ...)."),
    "approved_image_dirs": Key(
        ["/var/lib/libvirt/images", "/var/lib/libvirt/boot"],
        controls=("QEMU-019",),
        doc="where VM disk images and their backing files may live (local paths)."),
    "approved_disk_protocols": Key(
        [],
        controls=("QEMU-019",),
        doc="the network protocols (rbd, nbd, iscsi, gluster, http...) approved for disks."),
    "golden_image_dirs": Key(
        ["/var/lib/libvirt/images/golden"],
        controls=("QEMU-020",),
        doc="where golden (base) images live; every backing file must be in one, "
            "read-only and root-owned."),
    "unneeded_libvirt_drivers": Key(
        ["lxc", "xen", "libxl", "vbox", "ch", "vz", "bhyve"],
        controls=("LIBV-001",),
        doc="libvirt hypervisor drivers a KVM host does not need installed."),
    "libvirt_admin_groups": Key(
        ["libvirt"],
        controls=("LIBV-010",),
        doc="the groups polkit may grant libvirt management (org.libvirt.unix.manage); "
            "Debian and RHEL ship a rule for `libvirt`. Their members must be approved "
            "admins (libvirt_admin_users)."),
    "libvirt_admin_users": Key(
        [],
        controls=("LIBV-010",),
        doc="the approved admins: users polkit may grant libvirt management, and the only "
            "members the groups of libvirt_admin_groups may have."),
    "kvm_group_members": Key(
        ["qemu", "libvirt-qemu"],
        controls=("LIBV-012",),
        doc="accounts allowed in the kvm group (the QEMU service account of each family)."),
    "vm_backup_record_dir": Key(
        "/var/backups/libvirt/disks",
        controls=("BKP-004",),
        doc="one file per VM, <dir>/<domain>.last-success, that the backup job rewrites "
            "after each successful disk backup of that VM; first line: completion time, ISO 8601. "
            "Read only for a VM without libvirt checkpoints (`virsh checkpoint-list`), whose "
            "newest one and last completed backup job decide first."),
    "backup_exempt_vms": Key(
        [],
        controls=("BKP-004",),
        doc="VMs the site deliberately does not back up (scratch, rebuilt from images)."),
    "backup_password_file": Key(
        "/etc/hvconform/backup-password",
        controls=("BKP-005",),
        doc="fallback for a host where no backup tool is recognised: the repository's key or "
            "password file; only its mode and owner are read, never its content. The tools' own "
            "settings name their key otherwise (restic --password-file/RESTIC_PASSWORD_FILE, "
            "borgmatic's encryption_passphrase or passcommand)."),
    "backup_repository_file": Key(
        "/etc/hvconform/backup-repository",
        controls=("BKP-005", "BKP-006"),
        doc="fallback for a host where no backup tool is recognised: where backups go, in "
            "restic's --repository-file format: one line, a path or URL (sftp:user@host:/path, "
            "rest:https://..., s3:..., ssh://...). The tools' own settings name their repositories "
            "otherwise (borgmatic repositories, restic's repository, rsnapshot's snapshot_root)."),
    "vm_image_dirs": Key(
        ["/var/lib/libvirt/images"],
        controls=("BKP-006",),
        doc="the directories VM disk images live in (storage pool targets)."),
    "restore_test_log": Key(
        "/var/backups/libvirt/restore-tests.jsonl",
        controls=("BKP-007",),
        doc="the restore-test evidence log, one JSON object per line:\n"
            '  {"date": "2025-05-20", "vm": "web01", "result": "success", "boot_verified": true}\n'
            "Restore tests are a site's record by nature: without this log BKP-007 is left to a "
            "person (manual), who is told what to show."),
    "restore_test_max_age_days": Key(
        90,
        controls=("BKP-007",),
        doc="a successful, boot-verified restore test may be at most this old."),
    "restore_test_scope": Key(
        [],
        controls=("BKP-007",),
        doc="VMs or VM classes (the record's \"vm\" value) that each need their own "
            "recent restore test; empty: any one recent test of any VM."),
    "backup_job_dir": Key(
        "/etc/hvconform/backup-jobs",
        controls=("BKP-008",),
        doc="the backup tool's stored job definitions, <dir>/<domain>.xml, each the "
            "<domainbackup> document it passes to `virsh backup-begin`; read for a domain with no "
            "backup job running (a running job's XML, `virsh backup-dumpxml`, comes first)."),
    "snapshot_max_age_days": Key(
        7,
        controls=("BKP-009",),
        doc="a snapshot may be at most this old unless it is listed in snapshot_exceptions."),
    "snapshot_exceptions": Key(
        [],
        controls=("BKP-009",),
        doc='reviewed snapshots kept longer, as "<domain>/<snapshot>" (with a ticket).'),
    "selinux_virt_booleans_on": Key(
        [],
        controls=("KMAC-008",),
        doc="SELinux virt booleans the site needs on (e.g. virt_use_nfs for NFS pools, "
            "virt_use_usb for approved USB passthrough); every other one must be off."),
    "hardening_boot_params": Key(
        [["init_on_free=1", "init_on_alloc=1"], ["page_poison=1"],
         ["vsyscall=none"], ["pti=on"]],
        controls=("KMAC-017",),
        doc="boot parameters each host must have; each entry is a list of "
            "alternatives, any one of which satisfies it. pti=on is x86 only: drop it for arm64."),
    "passthrough_gpu_drivers": Key(
        ["nvidia", "amdgpu", "nouveau"],
        controls=("KMAC-019",),
        doc="host GPU drivers that must not be loaded (GPUs are for passthrough)."),
    "disabled_modules": Key(
        ["bluetooth", "firewire-core", "cramfs", "sctp", "tipc", "atm", "can"],
        controls=("KMAC-020",),
        doc="kernel modules that must be disabled (install /bin/false) or blacklisted."),
    "vm_metadata_namespace": Key(
        "urn:hvconform:virt-security",
        controls=("CRY-016", "ISO-005", "ISO-015", "ISO-016", "ISO-018", "ISO-019", "ISO-021",
                  "ISO-023", "KMAC-006", "NET-006", "NET-016"),
        doc="a VM's tenant and security level, from the domain XML's <metadata> in this "
            "namespace (libvirt keeps one element per namespace under <metadata>, so both "
            "values sit in one wrapper element):\n"
            "  <metadata>\n"
            '    <vs:virt-security xmlns:vs="urn:hvconform:virt-security">\n'
            "      <vs:security-level>high</vs:security-level>\n"
            "      <vs:tenant>acme</vs:tenant>\n"
            "    </vs:virt-security>\n"
            "  </metadata>\n"
            "(`virsh metadata <vm> --uri <namespace> --key vs --set '<virt-security>...'` writes "
            "it.) A domain without the tag takes its tenant from nova's metadata on an OpenStack "
            "node (the project; its level from nova_project_levels or nova_flavor_levels), else "
            "its facts from the inventory's `vms:` entry of its host (security_level, tenant); "
            "where both say something, the XML wins and ISO-015 reports the disagreement."),
    "nova_project_levels": Key(
        {},
        controls=("CRY-016", "ISO-005", "ISO-015", "ISO-016", "ISO-018", "ISO-019", "ISO-021",
                  "ISO-023", "KMAC-006", "NET-016"),
        doc="on an OpenStack compute node, the security level of each nova project (by name or "
            "uuid), for instances without the site's own tag (vm_metadata_namespace). nova writes "
            "the project into every instance's domain XML (<nova:instance>, namespace "
            "http://openstack.org/xmlns/libvirt/nova/1.1: <nova:owner><nova:project uuid=...>"
            "name</nova:project>), which is the instance's tenant with no extra tagging."),
    "nova_flavor_levels": Key(
        {},
        controls=("CRY-016", "ISO-005", "ISO-015", "ISO-016", "ISO-018", "ISO-019", "ISO-021",
                  "ISO-023", "KMAC-006", "NET-016"),
        doc="the security level of each nova flavor (<nova:flavor name=...>), for instances "
            "whose project nova_project_levels does not name (e.g. a dedicated flavor for "
            "sensitive workloads)."),
    "sensitive_security_levels": Key(
        ["high"],
        controls=("CRY-016", "ISO-016", "ISO-018", "ISO-019", "ISO-021"),
        doc="the security levels whose VMs are sensitive: every vCPU and the emulator "
            "pinned, on physical cores (SMT siblings included) that no other VM uses."),
    "patch_sla_days": Key(
        30,
        controls=("HOST-002",),
        doc="patch SLA in days: a pending security advisory older than this fails; "
            "critical ones get the shorter SLA (patch_sla_days_critical). apt records no "
            "advisory date, so on Debian and Ubuntu every pending security update counts as "
            "overdue."),
    "patch_sla_days_critical": Key(
        7,
        controls=("HOST-002",),
        doc="the shorter patch SLA in days of critical advisories (see patch_sla_days)."),
    "minimum_versions": Key(
        {
            "debian": {"qemu-system-x86": "1:7.2+dfsg-7+deb12u6",
                       "libvirt-daemon-system": "9.0.0-4+deb12u1",
                       "libvirt-daemon": "9.0.0-4+deb12u1"},
            "rhel": {"qemu-kvm-core": "8.2.0-11.el9_4",
                     "libvirt-daemon-driver-qemu": "10.0.0-6.el9_4",
                     "libvirt-daemon": "10.0.0-6.el9_4"},
        },
        controls=("HOST-004",),
        doc="minimum versions of the virtualization stack per family, as the package "
            "manager prints them (dpkg: [epoch:]upstream-revision; rpm: VERSION-RELEASE, rpm -qa "
            "prints no epoch). Set them to the versions that close the CVEs the site tracks; "
            "these defaults are Debian 12.x and RHEL 9.4 point-release versions. Packages not "
            "installed are skipped; at least one listed package must be installed."),
    "graphical_packages": Key(
        {
            "debian": ["xserver-xorg-core", "xwayland", "gdm3", "lightdm", "sddm", "xdm"],
            "rhel": ["xorg-x11-server-common", "xorg-x11-server-Xorg", "xorg-x11-server-Xwayland",
                     "gdm", "sddm", "lightdm"],
        },
        controls=("HOST-006",),
        doc="packages of an X server or display manager, per family."),
    "unneeded_packages": Key(
        {
            "debian": ["vsftpd", "telnetd", "inetutils-telnetd", "tftpd-hpa", "tftpd", "atftpd",
                       "rsh-server", "nis", "talkd"],
            "rhel": ["vsftpd", "telnet-server", "tftp-server", "rsh-server", "ypserv", "talk-server"],
        },
        controls=("HOST-007",),
        doc="network service packages that must not be installed, per family."),
    "unneeded_services": Key(
        ["avahi-daemon", "cups", "rpcbind", "nfs-server", "nfs-kernel-server",
         "smb", "smbd", "nmbd"],
        controls=("HOST-007",),
        doc="services that may be installed (rpcbind and nfs-utils come with libvirt "
            "packages) but must be neither enabled nor running; both families' unit names."),
    "service_allowlist": Key(
        ["libvirtd", "virtqemud", "virtlogd", "virtlockd", "virtproxyd",
         "virtnetworkd", "virtnodedevd", "virtsecretd", "virtstoraged",
         "virtinterfaced", "virtnwfilterd", "machined", "systemd-*",
         "ssh", "sshd", "auditd", "chronyd", "chrony", "firewalld",
         "nftables", "rsyslog", "dbus", "dbus-broker", "polkit", "cron",
         "crond", "getty@*", "serial-getty@*", "user@*", "irqbalance",
         "tuned", "NetworkManager", "sssd", "rngd", "ksmtuned",
         "qemu-guest-agent", "mcelog", "rasdaemon", "usbguard",
         "unattended-upgrades", "atd", "lvm2-*", "multipathd", "smartd"],
        controls=("HOST-008",),
        doc="services (systemd unit names without .service, shell patterns) allowed "
            "to run on a hypervisor. Add the site's monitoring and IDS agents."),
    "service_denylist": Key(
        ["dockerd", "containerd", "kubelet", "podman", "httpd", "apache2",
         "nginx", "lighttpd", "mysqld", "mariadbd", "postgres", "mongod",
         "redis-server", "vsftpd", "smbd", "cupsd", "avahi-daemon"],
        controls=("HOST-008",),
        doc="daemons (process names) never approved on a hypervisor: judged always, "
            "and alone where systemd does not run."),
    "mfa_pam_modules": Key(
        ["pam_u2f", "pam_oath", "pam_google_authenticator", "pam_duo",
         "pam_sss", "pam_yubico", "pam_radius_auth"],
        controls=("HOST-010",),
        doc="PAM modules accepted as a second factor for keyboard-interactive logins."),
    "faillock_deny_max": Key(
        3,
        controls=("HOST-013",),
        doc="the most failed logins pam_faillock may allow before locking (STIG: 3)."),
    "usbguard_required": Key(
        True,
        controls=("HOST-015",),
        doc="whether USBGuard must run (false where the site has no USB ports exposed "
            "and relies on usb-storage being disabled alone; reconcile with ISO-011)."),
    "fim_required_paths": Key(
        ["/etc/libvirt", "/etc/pki", "/etc/qemu", "/etc/sasl2",
         "/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm",
         "/usr/sbin/libvirtd", "/usr/sbin/virtqemud",
         "/usr/share/OVMF", "/usr/share/edk2"],
        controls=("HOST-018",),
        doc="what the file-integrity rules must cover (an entry covers what is under it). "
            "Both families' binary and firmware paths; a path not on the host is skipped."),
    "dedicated_mounts": Key(
        ["/var/lib/libvirt/images", "/var/log", "/var/log/audit"],
        controls=("HOST-019",),
        doc="paths that must each be on a filesystem other than the root one."),
    "microcode_minimum": Key(
        {},
        controls=("HOST-020",),
        doc="lowest acceptable microcode revision per CPU, keyed "
            '"<vendor_id> <cpu family>-<model>-<stepping>" (decimal, as /proc/cpuinfo prints '
            "them), value the revision in hex. Fill from the CPU vendors' advisories; a CPU "
            "without an entry is left to a person (verdict manual), naming the key to add."),
    "audit_watch_paths": Key(
        ["/etc/libvirt", "/etc/pki/libvirt", "/etc/pki/qemu", "/etc/pki/CA",
         "/etc/qemu", "/etc/sasl2", "/etc/polkit-1/rules.d"],
        controls=("LOG-004",),
        doc="directories audited for writes and attribute changes (-p wa)."),
    "audit_exec_paths": Key(
        ["/usr/bin/virsh", "/usr/bin/virt-admin", "/usr/bin/qemu-img",
         "/usr/bin/virt-install"],
        controls=("LOG-004",),
        doc="tools audited for execution (-p x)."),
    "log_forward_target": Key(
        "",
        controls=("LOG-007",),
        doc="the central log collector (host name or address; empty: any TLS target)."),
    "approved_time_sources": Key(
        ["*.pool.ntp.org", "time.cloudflare.com", "*.nist.gov"],
        controls=("LOG-012",),
        doc="approved time sources (shell patterns over chrony server/pool names)."),
    "ids_agents": Key(
        ["wazuh-agentd", "ossec-agentd", "ossec-syscheckd", "falco", "auditbeat",
         "suricata", "samhain", "osqueryd", "elastic-agent"],
        controls=("LOG-013",),
        doc="approved intrusion-detection agents (process names)."),
    "monitoring_exporters": Key(
        ["prometheus-libvirt-exporter", "libvirt-exporter",
         "libvirt_exporter", "node_exporter", "prometheus-node-exporter",
         "prometheus-node", "collectd", "telegraf"],
        controls=("LOG-014",),
        doc="approved monitoring exporters (process names)."),
    "monitoring_networks": Key(
        [],
        controls=("LOG-014",),
        doc="the networks (CIDR) the endpoints of monitoring_exporters may listen on "
            "(loopback always; a wildcard address never)."),
    "audit_max_log_file_actions": Key(
        ["rotate", "keep_logs"],
        controls=("LOG-015",),
        doc="accepted auditd.conf max_log_file_action values (lower case)."),
    "audit_space_left_actions": Key(
        ["email", "exec", "syslog", "single", "halt"],
        controls=("LOG-015",),
        doc="accepted auditd.conf space_left_action and admin_space_left_action "
            "values (lower case)."),
    "audit_disk_full_actions": Key(
        ["halt", "single"],
        controls=("LOG-015",),
        doc="accepted auditd.conf disk_full_action and disk_error_action values "
            "(lower case)."),
    "passthrough_allowed_vms": Key(
        [],
        controls=("ISO-011",),
        doc="device passthrough is off by default (OSG): only these VMs may carry "
            "<hostdev> (or <interface type='hostdev'>) elements, and only with the "
            "devices of passthrough_allowed_devices."),
    "passthrough_allowed_devices": Key(
        [],
        controls=("ISO-011",),
        doc='the devices passthrough_allowed_vms may carry, as "vendor:device" in '
            'lower-case hex: PCI ids as sysfs shows them ("10de:2330"), USB '
            'vendor:product as in the domain XML ("0781:5567").'),
    "vcpu_overcommit_max": Key(
        4.0,
        controls=("ISO-018",),
        doc="running vCPUs per host CPU at most (vcpu_overcommit_max_sensitive where a "
            "running VM is sensitive)."),
    "vcpu_overcommit_max_sensitive": Key(
        1.0,
        controls=("ISO-018",),
        doc="running vCPUs per host CPU at most where a running VM is sensitive "
            "(its security level in sensitive_security_levels)."),
    "io_limits_required_for": Key(
        "all",
        controls=("ISO-019",),
        doc="which VMs need I/O throttling (disk iotune/blkiotune, NIC bandwidth): "
            '"all", or "sensitive" (only VMs of a level in sensitive_security_levels).'),
    "host_memory_reserve_mib": Key(
        2048,
        controls=("ISO-020",),
        doc="memory kept for the host itself: running and autostarted VMs together may "
            "have at most MemTotal minus this."),
    "approved_filesystem_export_dirs": Key(
        [],
        controls=("ISO-024",),
        doc="host directories that may be shared into guests (<filesystem>), read-only; "
            "none by default. /, /etc, /root, /home, /boot, /var/lib/libvirt and the pseudo "
            "filesystems are refused whatever this says."),
    "approved_media_dirs": Key(
        ["/var/lib/libvirt/media"],
        controls=("ISO-030",),
        doc="where the installation/driver ISOs that may sit in a guest's CD-ROM live."),
    "management_networks": Key(
        [],
        controls=("NET-003", "NET-020"),
        doc="the management subnets (CIDR) the site reaches its hypervisors on. "
            "An allowlist: empty means no listener beyond loopback is a management listener."),
    "listen_allowlist": Key(
        [],
        controls=("NET-003",),
        doc='listeners accepted on any address, as "<port>/<tcp|udp>" (e.g. "53/udp").'),
    "bridged_networks_allowed": Key(
        [],
        controls=("NET-011",),
        doc="libvirt networks allowed a bridged forward mode (bridge, private, vepa, "
            "passthrough, hostdev); nat, route and isolated networks need no entry."),
    "approved_networks": Key(
        [],
        controls=("NET-012",),
        doc="libvirt networks guests may use; empty: every network in a NET-011 mode "
            "(nat, route, isolated). Named networks must still exist on the host."),
    "bridged_vms": Key(
        [],
        controls=("NET-012",),
        doc="VMs allowed interfaces of type bridge, direct, hostdev or vhostuser."),
    "guest_vlans": Key(
        [],
        controls=("NET-013",),
        doc="VLAN ids guests may be given; empty: any id but a management VLAN."),
    "management_vlans": Key(
        [],
        controls=("NET-013", "NET-014"),
        doc="VLAN ids of the management network, never on a guest port."),
    # NET-006 reads no value of its own: a VM is headless when its <metadata> element in
    # vm_metadata_namespace holds <console>headless</console>; CRY-016 takes
    # "sensitive" from sensitive_security_levels, as the isolation rows do.
    "migration_networks": Key(
        [],
        controls=("NET-019",),
        doc="the dedicated migration subnets (CIDR) qemu.conf migration_address must lie "
            "in; an allowlist like management_networks."),
    "migration_port_span_max": Key(
        64,
        controls=("NET-019",),
        doc="the widest migration port range accepted (libvirt's default 49152-49215 is 64)."),
    "fips_required": Key(
        True,
        controls=("CRY-001",),
        doc="whether the site requires FIPS 140 mode; false makes CRY-001 not applicable."),
    "crypto_policies_allowed": Key(
        ["DEFAULT", "FIPS", "FUTURE", "FIPS:OSPP"],
        controls=("CRY-002",),
        doc="RHEL family: accepted /etc/crypto-policies/config values (policy[:modules])."),
    "libvirt_tls_files": Key(
        {"cert": "/etc/pki/libvirt/servercert.pem",
         "ca": "/etc/pki/CA/cacert.pem", "crl": "/etc/pki/CA/cacrl.pem"},
        controls=("CRY-004",),
        doc="where libvirt's server certificate, CA and CRL are (kbase/tlscerts.rst "
            "defaults; libvirtd.conf cert_file/ca_file/crl_file must name the same paths)."),
    "cert_min_days": Key(
        30,
        controls=("CRY-004",),
        doc="days a certificate must still be valid."),
    "rsa_min_bits": Key(
        2048,
        controls=("CRY-004",),
        doc="smallest RSA key size, in bits."),
    "ec_min_bits": Key(
        256,
        controls=("CRY-004",),
        doc="smallest EC key size, in bits."),
    "attestation_agents": Key(
        ["keylime_agent"],
        controls=("CRY-013",),
        doc="process names (ps comm) of remote-attestation agents."),
    "firmware_dirs": Key(
        ["/usr/share/OVMF", "/usr/share/edk2", "/usr/share/qemu"],
        controls=("CRY-014",),
        doc="directories of packaged UEFI firmware (OVMF/edk2 on Debian and RHEL)."),
    "sasl_mechanisms_allowed": Key(
        ["gssapi", "scram-sha-256", "scram-sha-512"],
        controls=("CRY-018",),
        doc="SASL mechanisms accepted in /etc/sasl2/{libvirt,qemu}.conf mech_list."),
}

# What readers and the inventory loader use: each key's default, in the order above.
DEFAULTS: dict = {name: key.default for name, key in KEYS.items()}


def effective(site_values: dict | None) -> dict:
    """DEFAULTS overlaid with a host's own policy values from the inventory.

    Callers reach it as `policy.effective(...)` (the module's attribute, not an imported
    name), so tests/unit/test_policy.py can swap it for one that records every read.
    """
    return {**DEFAULTS, **(site_values or {})}
