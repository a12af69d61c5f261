"""Isolation across the whole inventory: what one VM shares with another.

Per-VM controls judge one domain at a time; the risks between VMs need every
domain at once. Each analysis (registered in registry.py) reads the snapshots of
all hosts and returns findings, each naming every VM it concerns (`host/vm`) and
the resource they share:

  cpu_sharing.py
    ISO-005   shared_cores        VMs of different tenants/levels on one physical core (SMT)
    ISO-016   sensitive_pinning   sensitive VMs pinned, on cores no other VM uses
  levels_and_labels.py
    ISO-015   security_levels     VMs of different security levels on one host
    KMAC-006  shared_labels       running VMs without sVirt/AppArmor labels, or sharing one
  disks_and_segments.py
    ISO-023   shared_disks        a disk or backing file writable by more than one VM
    NET-016   shared_segments     VMs of different tenants on one bridge/VLAN, ports not isolated

VNC/SPICE listening on non-loopback addresses is per-VM NET-005 (graphics listen),
and migration/display ports on the host are NET-003 (listeners): not repeated here.

A VM's tenant and security level come from its domain XML metadata (the namespace
in policy `vm_metadata_namespace`) or from the inventory's `vms:` entry of its
host (guests.py). The inventory's `vms:` list is also reconciled with the domains
found (reconcile.py). The check kind `inventory` (hvconform/judge/kinds/fleet.py)
turns the findings into verdicts.
"""
