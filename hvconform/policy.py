"""Site policy: the values a site may set in its inventory (`policy:`), with defaults.

Controls read policy, never hard-code it, so a site adapts the suite by data, not by
editing checks. The inventory loader accepts only these keys, with values of the same
type as the default. `policy_of(snap)` is what a check reads.
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
}


def policy_of(snap) -> dict:
    """DEFAULTS overlaid with the host's own policy values from the inventory."""
    return {**DEFAULTS, **(snap.policy or {})}
