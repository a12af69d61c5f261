"""Bespoke checks of the isolation domain, I/O limits: every disk throttled and every NIC
shaped, with the shaping in effect for it (its own <bandwidth>, else its network
portgroup's).

  ISO-019  io_limits   disks throttled, NICs with inbound and outbound bandwidth averages

A VM is *sensitive* when its security level is one of policy
`sensitive_security_levels` (hvconform/judge/read/guests.py).
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import guests
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_networks import network_and_portgroup, networks


IOTUNE_LIMITS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec",
                 "read_iops_sec", "write_iops_sec")


def _disk_limited(disk, root) -> bool:
    if any(int((disk.findtext(f"iotune/{k}") or "0").strip() or 0) > 0 for k in IOTUNE_LIMITS):
        return True
    dev = disk.find("source")
    dev = dev.get("dev") if dev is not None else None
    return bool(dev) and bool(root.xpath(
        "/domain/blkiotune/device[path=$p][read_bytes_sec or write_bytes_sec or read_iops_sec or write_iops_sec]",
        p=dev))


def _shaped(bandwidth) -> bool:
    return bandwidth is not None and bool(bandwidth.xpath("inbound/@average") and bandwidth.xpath("outbound/@average"))


def _nic_bandwidth(nic, nets) -> tuple[object | None, str]:
    """The <bandwidth> shaping a NIC: its own, else (type='network') its portgroup's, which
    formatnetwork.rst 'Quality of service' applies "individually to each guest interface"
    without one of its own; a <network>'s own <bandwidth> is an aggregate, not per NIC."""
    own = nic.find("bandwidth")
    if own is not None or nic.get("type") != "network":
        return own, "its own"
    _, group = network_and_portgroup(nic, nets)
    if group is not None and group.find("bandwidth") is not None:
        return group.find("bandwidth"), f"portgroup {group.get('name')}"
    return None, "none"


@control("ISO-019", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def io_limits(snap, vm, policy):
    scope = policy["io_limits_required_for"]
    expected = ("every disk throttled (iotune or blkiotune device limits) and every NIC with inbound and "
                "outbound bandwidth average, its own or its network portgroup's "
                f"(policy io_limits_required_for: {scope})")
    root, art = artifacts.domain_root(snap, vm)
    if scope == "sensitive" and not guests.is_sensitive(snap, vm, root, policy):
        return v.passed(expected, "not a sensitive VM: no I/O limits required", [v.Evidence.of(art)])
    disks = root.xpath("/domain/devices/disk[not(@device) or @device='disk']")
    nics = root.xpath("/domain/devices/interface[not(@type='hostdev')]")
    problems = [f"disk {d.find('target').get('dev') if d.find('target') is not None else '?'} has no I/O limit"
                for d in disks if not _disk_limited(d, root)]
    deferring = [n for n in nics if n.get("type") == "network" and n.find("bandwidth") is None]
    nets, undecided = {}, None
    if deferring:
        try:
            nets = networks(snap)[0]
        except artifacts.End as end:
            undecided = end.verdict
    for n in nics:
        if undecided is not None and n in deferring:
            continue
        if not _shaped(_nic_bandwidth(n, nets)[0]):
            name = n.find("mac").get("address") if n.find("mac") is not None else n.get("type")
            problems.append(f"interface {name} has no inbound and outbound bandwidth average")
    evidence = [v.Evidence.of(art, xmlsafe.render_all(disks + nics) or "no disk or interface")]
    verdict = artifacts.problems_verdict(expected, problems, f"{len(disks)} disks and {len(nics)} NICs limited",
                                         evidence, f"domain {vm}: ")
    if undecided is None:
        return verdict
    if verdict.status == v.FAIL:     # the NICs on libvirt networks could not be judged
        verdict.actual += f" (interfaces on libvirt networks not judged: {undecided.reason})"
        return verdict
    return v.error(f"interfaces on libvirt networks: {undecided.reason}", evidence)
