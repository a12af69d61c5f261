"""Python controls of the network domain, virtual networking: libvirt's networks
(forward modes, IP forwarding) and the VMs' interfaces on them (approved networks,
VLAN tags, guest RX filters).

  NET-011  network_modes                 nat, route or isolated; bridged only if allowed; no unused autostart
  NET-021  forwarding_only_when_needed   IP forwarding on only for an active nat/route network
  NET-012  approved_networks_only        each interface on an approved network or an allowed bridge
  NET-013  vlan_tagged                   each bridged interface on one approved, non-management VLAN
  NET-017  no_guest_rx_filters           trustGuestRxFilters off: the interface's, else its portgroup's, else its network's
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_networks import (BRIDGED_MODES, GOOD_MODES, forward_mode, inherited, net_states,
                                                   network_and_portgroup, networks)

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
IP6_FORWARD = "/proc/sys/net/ipv6/conf/all/forwarding"
BRIDGED_IFACES = ("bridge", "direct", "hostdev", "vhostuser")


# ------------------------------------------------------------------ libvirt networks (NET-011, 021)

def _used_networks(snap) -> set[str]:
    return {s.get("network") for root in artifacts.all_domains(snap).values()
            for s in root.findall("devices/interface[@type='network']/source")}


@control("NET-011", needs=[("virsh_net_list", ""), ("virsh_net_dumpxml_all", "")])
@artifacts.ends
def network_modes(snap, vm, policy):
    allowed = policy["bridged_networks_allowed"]
    expected = (f"forward mode nat, route or isolated (bridged modes only for [{', '.join(allowed)}]); "
                "never open; no unused network autostarted")
    nets, art = networks(snap)
    states, list_art = net_states(snap)
    used = _used_networks(snap)
    bad, shown = [], []
    for name, net in nets.items():
        mode = forward_mode(net)
        state, autostart = states.get(name, ("?", "?"))
        shown.append(f"{name}: mode {mode}, {state}, autostart {autostart}")
        if mode == "open":
            bad.append(f"{name}: mode open (libvirt adds no firewall rules)")
        elif mode in BRIDGED_MODES and name not in allowed:
            bad.append(f"{name}: mode {mode} not in bridged_networks_allowed")
        elif mode not in GOOD_MODES + BRIDGED_MODES:
            bad.append(f"{name}: unknown mode {mode}")
        if autostart == "yes" and name not in used:
            bad.append(f"{name}: autostarted but no VM uses it")
    evidence = [v.Evidence.of(list_art), v.Evidence.of(art, "\n".join(shown) or "no libvirt networks")]
    actual = "; ".join(shown) or "no libvirt networks"
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)


@control("NET-021", needs=[("cat", IP_FORWARD), ("cat", IP6_FORWARD), ("virsh_net_list", ""),
                           ("virsh_net_dumpxml_all", "")])
@artifacts.ends
def forwarding_only_when_needed(snap, vm, policy):
    expected = "ip_forward and IPv6 forwarding 0, unless an active nat/route network needs them"
    values, evidence = {}, []
    for path in (IP_FORWARD, IP6_FORWARD):
        art = snap.file(path)
        if art is None:
            raise artifacts.End(v.error(f"{path} was not collected"))
        if artifacts.is_absent(art) and path == IP6_FORWARD:
            continue   # IPv6 disabled in this kernel: nothing to forward
        if not art.ok:
            raise artifacts.End(artifacts.failure(art, path))
        values[path] = art.stdout.strip()
        evidence.append(v.Evidence.of(art, f"{path}: {values[path]}"))
    nets, net_art = networks(snap)
    states, _ = net_states(snap)
    needing = [n for n, net in nets.items() if forward_mode(net) in ("nat", "route", "open")
               and states.get(n, ("",))[0] == "active"]
    evidence.append(v.Evidence.of(net_art, "active nat/route/open networks: " + (", ".join(needing) or "none")))
    on = [p for p, val in values.items() if val != "0"]
    actual = "; ".join(f"{p.rsplit('/', 3)[-3] if 'ipv6' in p else 'ip_forward'} = {val}"
                       for p, val in values.items())
    if on and not needing:
        return v.failed(expected, actual, evidence,
                        reason="forwarding on, and no active libvirt nat/route network needs it")
    note = f" (needed by {', '.join(needing)}: documented exception to STIG/CIS)" if on else ""
    return v.passed(expected, actual + note, evidence)


# ------------------------------------------------------------------ VM interfaces (NET-012, 013, 017)

@control("NET-012", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def approved_networks_only(snap, vm, policy):
    approved, bridged_vms = policy["approved_networks"], policy["bridged_vms"]
    expected = (f"type network to {('[' + ', '.join(approved) + ']') if approved else 'a nat/route/isolated network'}; "
                f"bridge/direct/hostdev only for [{', '.join(bridged_vms)}]; no ethernet or user")
    root, art = artifacts.domain_root(snap, vm)
    interfaces = root.findall("devices/interface")
    nets = networks(snap)[0] if interfaces else {}
    bad = []
    for i in interfaces:
        kind, src = i.get("type"), i.find("source")
        if kind == "network":
            name = src.get("network") if src is not None else None
            if approved and name not in approved:
                bad.append(f"network {name} not in approved_networks")
            elif not approved and name not in nets:
                bad.append(f"network {name} does not exist")
            elif not approved and forward_mode(nets[name]) not in GOOD_MODES:
                bad.append(f"network {name} has mode {forward_mode(nets[name])}")
        elif kind in BRIDGED_IFACES:
            if vm not in bridged_vms:
                bad.append(f"type {kind} but {vm} is not in bridged_vms")
        else:
            bad.append(f"type {kind} (unmanaged by libvirt's filtering)")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(i) for i in interfaces) or "no interfaces")]
    actual = "; ".join(bad) or f"{len(interfaces)} interface(s), all approved"
    if bad:
        return v.failed(expected, actual, evidence, reason=f"domain {vm}: " + "; ".join(bad))
    return v.passed(expected, actual, evidence)


def _vlan_of(iface, nets):
    """The <vlan> that applies to an interface: its own, else its network's portgroup's or network's."""
    own = iface.find("vlan")
    if own is not None or iface.get("type") != "network":
        return own
    net, group = network_and_portgroup(iface, nets)
    if net is None:
        return None
    # lxml elements without children are false: compare with None, never use `or`
    if group is not None and group.find("vlan") is not None:
        return group.find("vlan")
    return net.find("vlan")


def _segment_bridged(iface, nets) -> bool:
    if iface.get("type") in ("bridge", "direct", "hostdev"):
        return True
    if iface.find("virtualport[@type='openvswitch']") is not None:
        return True
    src = iface.find("source")
    net = nets.get(src.get("network")) if iface.get("type") == "network" and src is not None else None
    return net is not None and forward_mode(net) in BRIDGED_MODES


@control("NET-013", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def vlan_tagged(snap, vm, policy):
    guest, mgmt = [str(x) for x in policy["guest_vlans"]], [str(x) for x in policy["management_vlans"]]
    expected = (f"each bridged/direct/hostdev/OVS interface has one VLAN tag, no trunk, "
                f"in [{', '.join(guest) or 'any'}], never a management VLAN [{', '.join(mgmt)}]")
    root, art = artifacts.domain_root(snap, vm)
    interfaces = root.findall("devices/interface")
    nets = networks(snap)[0] if any(i.get("type") == "network" for i in interfaces) else {}
    bad, shown = [], []
    for i in interfaces:
        if not _segment_bridged(i, nets):
            continue
        shown.append(xmlsafe.line_of(i))
        vlan = _vlan_of(i, nets)
        tags = [t.get("id") for t in vlan.findall("tag")] if vlan is not None else []
        where = f"interface {i.get('type')} {(i.find('source').attrib if i.find('source') is not None else {})}"
        if not tags:
            bad.append(f"{where}: no VLAN tag")
        elif (vlan.get("trunk") == "yes") or len(tags) > 1:
            bad.append(f"{where}: trunk of VLANs {', '.join(tags)}")
        for t in tags:
            if t in mgmt:
                bad.append(f"{where}: management VLAN {t}")
            elif guest and t not in guest:
                bad.append(f"{where}: VLAN {t} not in guest_vlans")
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no bridged/direct/hostdev/OVS interface")]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: VLAN segregation missing")
    return v.passed(expected, f"{len(shown)} bridged interface(s), each on one approved VLAN", evidence)


@control("NET-017", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def no_guest_rx_filters(snap, vm, policy):
    expected = "trustGuestRxFilters absent or 'no' on every interface and the networks they use"
    root, art = artifacts.domain_root(snap, vm)
    interfaces = root.findall("devices/interface")
    nets = networks(snap)[0] if any(i.get("type") == "network" for i in interfaces) else {}
    bad, shown = [], []
    for i in interfaces:
        value, source = inherited(i, nets, "trustGuestRxFilters")
        if value == "yes":
            bad.append(xmlsafe.line_of(i) + ("" if source == "its own" else f" ({source} trusts)"))
        shown.append(xmlsafe.line_of(i))
    evidence = [v.Evidence.of(art, "\n".join(bad or shown) or "no interfaces")]
    if bad:
        return v.failed(expected, f"{len(bad)} interface(s) trust the guest's RX filters", evidence,
                        reason=f"domain {vm}: the guest can change the host NIC's MAC/multicast filters")
    return v.passed(expected, f"{len(interfaces)} interface(s), none trusted", evidence)
