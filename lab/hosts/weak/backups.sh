#!/bin/bash
# hvconform lab, weak host: what its backup jobs have done, run by host-init.sh after the
# domains are defined and started.
set -eu
V="virsh -q -c qemu:///system"

# BKP-008: a pull-mode backup of weak-tenant-a's disk that a tool is reading right now,
# exported over plain TCP on every address (no TLS, anyone who connects reads the disk)
cat > /run/hvlab-backup.xml <<'X'
<domainbackup mode='pull'>
  <server transport='tcp' name='0.0.0.0' port='10809'/>
  <disks>
    <disk name='vda' backup='yes' type='file'>
      <scratch file='/var/lib/libvirt/images/weak-tenant-a.scratch'/>
    </disk>
  </disks>
</domainbackup>
X
$V backup-begin weak-tenant-a /run/hvlab-backup.xml >/dev/null
rm -f /run/hvlab-backup.xml

# BKP-007: the site's restore-test record: the last test failed and the VM never booted
mkdir -p /var/backups/libvirt
printf '{"date": "%s", "vm": "weak-guest", "result": "failed", "boot_verified": false}\n' \
    "$(date -u +%Y-%m-%d)" > /var/backups/libvirt/restore-tests.jsonl
