#!/bin/bash
# Fills a libvirt capability cache once, so each lab host's libvirtd skips the
# ~12 s QEMU capability probe. Run by lab/lab in throwaway namespaces:
#   unshare -n -m -p -f --kill-child --mount-proc --propagation private warm-cache.sh TREE
# TREE holds etc/libvirt, var/lib/libvirt, var/log/libvirt, var/cache/libvirt copies;
# only TREE/var/cache/libvirt is kept. When this script (PID 1) exits, libvirtd ends.
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
TREE=$1
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/libvirt
for p in /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
    mount --bind "$TREE$p" "$p"
done
libvirtd -d
for _ in $(seq 100); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.1; done
virsh -q -c qemu:///system capabilities >/dev/null
virsh -q -c qemu:///system domcapabilities --virttype qemu >/dev/null
