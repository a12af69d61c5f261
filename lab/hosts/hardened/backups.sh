#!/bin/bash
# hvconform lab, hardened host: what its backup jobs have done, run by host-init.sh after
# the domains are defined and started (libvirt writes its own records of it).
set -eu
V="virsh -q -c qemu:///system"
mkdir -p /var/backups/libvirt/disks /var/lib/libvirt/images/backup
chmod 0711 /var/lib/libvirt/images/backup

# BKP-002: each definition exported after define (borgmatic backs up /var/backups/libvirt)
for name in $($V list --all --name); do
    $V dumpxml --inactive --security-info "$name" > "/var/backups/libvirt/$name.xml"
done

# BKP-004, BKP-008: the backup tool's nightly incremental backup of the running guest,
# reading it now: a pull-mode job (the NBD export on a unix socket only; QEMU, as
# libvirt-qemu, may create it in libvirt's qemu directory) that starts with a checkpoint,
# from which the next backup is incremental. libvirt keeps the checkpoint and, while the
# tool reads, the running job's XML (a completed job's outcome only once it ends).
cat > /run/hvlab-backup.xml <<'X'
<domainbackup mode='pull'>
  <server transport='unix' socket='/var/lib/libvirt/qemu/hardened-guest-backup.sock'/>
  <disks>
    <disk name='vda' backup='yes' type='file'>
      <scratch file='/var/lib/libvirt/images/backup/hardened-guest.scratch'/>
    </disk>
  </disks>
</domainbackup>
X
cat > /run/hvlab-checkpoint.xml <<X
<domaincheckpoint>
  <name>hvlab-$(date -u +%Y%m%dT%H%M%S)</name>
  <disks><disk name='vda' checkpoint='bitmap'/></disks>
</domaincheckpoint>
X
$V backup-begin hardened-guest /run/hvlab-backup.xml /run/hvlab-checkpoint.xml >/dev/null
chmod 0600 /var/lib/libvirt/images/backup/hardened-guest.scratch
rm -f /run/hvlab-backup.xml /run/hvlab-checkpoint.xml
# hardened-net is defined, never started: libvirt backs up running domains only ("cannot
# create checkpoint for inactive domain"), so the job copies its disks off line and keeps
# its own record of it (policy vm_backup_record_dir)
for disk in hardened-net.img hardened-net-overlay.qcow2; do
    qemu-img convert -O qcow2 "/var/lib/libvirt/images/$disk" "/var/lib/libvirt/images/backup/$disk.copy"
    chmod 0600 "/var/lib/libvirt/images/backup/$disk.copy"
done
date -u +%Y-%m-%dT%H:%M:%SZ > /var/backups/libvirt/disks/hardened-net.last-success

# BKP-007: the record a site's restore test leaves (the test itself is a person's)
printf '{"date": "%s", "vm": "hardened-guest", "result": "success", "boot_verified": true}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > /var/backups/libvirt/restore-tests.jsonl
