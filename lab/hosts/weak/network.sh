#!/bin/bash
# hvconform lab, weak host: network state, run by host-init.sh before libvirtd starts.
set -eu
echo 1 > /proc/sys/net/ipv4/ip_forward              # NET-021: forwarding, no nat/route network
# NET-011: weak-bridged is autostarted (libvirt reads the link when it starts)
mkdir -p /etc/libvirt/qemu/networks/autostart
ln -sf /etc/libvirt/qemu/networks/weak-bridged.xml /etc/libvirt/qemu/networks/autostart/weak-bridged.xml
