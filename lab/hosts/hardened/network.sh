#!/bin/bash
# hvconform lab, hardened host: network state, run by host-init.sh before libvirtd starts.
# (hvbr0 cannot get vlan_filtering 1: this kernel answers "Operation not supported", so
# NET-014 cannot pass here; see tests/lab_expectations.py.)
set -eu
nft -f "$(dirname "$0")/nftables.conf"              # NET-001, NET-002
