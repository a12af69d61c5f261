"""Python controls of the network domain, the host's bridges and links: VLANs
enforced on the bridges that carry VMs, SR-IOV virtual functions locked down, and
the management plane kept off the VMs' bridges.

  NET-014  bridge_vlan_filtering       VLAN-aware VM bridges filter; each VM port in one VLAN
  NET-018  sriov_vf_spoofcheck         every VF: spoof checking on, trust off, a VLAN set
  NET-020  management_plane_separate   management addresses not on a VM bridge; sshd on them only

Formats read here: `ip -j` and `bridge -j` JSON of iproute2 (ip/ipaddress.c, bridge/vlan.c):
  cmd:ip_links / ip_addrs    [{"ifname": "br0", "master": ..., "linkinfo": {...}, "addr_info": [...]}]
  cmd:bridge_vlans           [{"ifname": "vnet0", "vlans": [{"vlan": 10, "flags": ["PVID"]}]}]
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control
from hvconform.judge.read.addresses import in_networks, is_loopback
from hvconform.judge.read.libvirt_networks import networks

VM_PORT_PREFIXES = ("vnet", "tap", "macvtap")


# ------------------------------------------------------------------ host bridges (NET-014, 018, 020)

def _links(snap):
    art, links = artifacts.json_output(snap, "ip_links", "ip -d -j link show")
    return art, [link for link in links if isinstance(link, dict)]


def _vm_bridges(snap, links) -> set[str]:
    """Bridges that carry VMs: masters of vnet/tap/macvtap ports, bridges VM interfaces
    name, and bridges of libvirt networks."""
    names = {link.get("master") for link in links
             if str(link.get("ifname", "")).startswith(VM_PORT_PREFIXES) and link.get("master")}
    doms = artifacts.all_domains(snap)
    names |= {s.get("bridge") for root in doms.values()
              for s in root.findall("devices/interface[@type='bridge']/source") if s.get("bridge")}
    try:
        nets = networks(snap)[0]
    except artifacts.End:
        nets = {}
    names |= {b.get("name") for n in nets.values() for b in n.findall("bridge") if b.get("name")}
    return names


def _vlan_bridges(snap) -> set[str]:
    """Bridges on which some VM interface (or its network) asks for a VLAN."""
    out = set()
    for root in artifacts.all_domains(snap).values():
        for i in root.findall("devices/interface[@type='bridge']"):
            if i.find("vlan") is not None and i.find("source") is not None:
                out.add(i.find("source").get("bridge"))
    return out


@control("NET-014", needs=[("ip_links", ""), ("bridge_vlans", "")])
@artifacts.ends
def bridge_vlan_filtering(snap, vm, policy):
    mgmt = {int(x) for x in policy["management_vlans"]}
    expected = "VLAN-aware VM bridges have vlan_filtering 1; each VM port in one VLAN, never a management VLAN"
    art, links = _links(snap)
    bridges = {link["ifname"]: link for link in links
               if link.get("linkinfo", {}).get("info_kind") == "bridge"}
    vm_bridges = _vm_bridges(snap, links) & set(bridges)
    aware = _vlan_bridges(snap) & set(bridges)
    vart, ports = artifacts.json_output(snap, "bridge_vlans", "bridge -j vlan show")
    bad, shown = [], []
    for name in sorted(vm_bridges):
        filtering = bridges[name].get("linkinfo", {}).get("info_data", {}).get("vlan_filtering")
        shown.append(f"{name}: vlan_filtering {filtering}{', VLAN-aware' if name in aware else ''}")
        if name in aware and filtering != 1:
            bad.append(f"{name}: VMs ask for VLANs but vlan_filtering is {filtering}")
    for port in ports if isinstance(ports, list) else []:
        ifname = str(port.get("ifname", ""))
        if not ifname.startswith(VM_PORT_PREFIXES):
            continue
        vids = [int(x.get("vlan", 0)) for x in port.get("vlans", [])]
        shown.append(f"{ifname}: VLANs {vids}")
        if len(vids) > 1:
            bad.append(f"{ifname}: member of VLANs {vids}")
        if mgmt & set(vids):
            bad.append(f"{ifname}: in management VLAN {sorted(mgmt & set(vids))}")
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no bridge carries VMs"), v.Evidence.of(vart)]
    if not vm_bridges:
        return v.not_applicable("no bridge on this host carries VM ports or is named by a VM or network",
                                evidence)
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason="VLANs not enforced on the host bridge")
    return v.passed(expected, "; ".join(shown), evidence)


@control("NET-018", needs=[("ip_links", "")])
@artifacts.ends
def sriov_vf_spoofcheck(snap, vm, policy):
    expected = "every SR-IOV VF: spoof checking on, trust off, a VLAN set"
    art, links = _links(snap)
    bad, shown = [], []
    for link in links:
        for vf in link.get("vfinfo_list", []) or []:
            vlans = [x.get("vlan", 0) for x in vf.get("vlan_list", [])] or [vf.get("vlan", 0)]
            desc = (f"{link.get('ifname')} vf {vf.get('vf')}: spoofchk {vf.get('spoofchk')}, "
                    f"trust {vf.get('trust')}, vlan {vlans}")
            shown.append(desc)
            if vf.get("spoofchk") is not True or vf.get("trust") is not False or not any(vlans):
                bad.append(desc)
    evidence = [v.Evidence.of(art, "\n".join(bad or shown) or "no VFs")]
    if not shown:
        return v.not_applicable("no link on this host has SR-IOV virtual functions", evidence)
    if bad:
        return v.failed(expected, f"{len(bad)} of {len(shown)} VF(s) not locked down", evidence,
                        reason="a guest on such a VF can spoof MACs or change its own filters")
    return v.passed(expected, f"{len(shown)} VF(s) locked down", evidence)


@control("NET-020", needs=[("ip_links", ""), ("ip_addrs", ""), ("sshd_effective", "")])
@artifacts.ends
def management_plane_separate(snap, vm, policy):
    mgmt = policy["management_networks"]
    expected = (f"management addresses (in [{', '.join(mgmt)}]) not on a bridge carrying VMs; "
                "sshd listens only on management or loopback addresses")
    art, links = _links(snap)
    aart, addrs = artifacts.json_output(snap, "ip_addrs", "ip -j addr show")
    sshd = artifacts.output(snap, "sshd_effective", "sshd -T")
    vm_bridges = _vm_bridges(snap, links)
    bad, mine = [], []
    for link in addrs if isinstance(addrs, list) else []:
        for a in link.get("addr_info", []):
            if in_networks(a.get("local", ""), mgmt):
                mine.append(f"{a['local']} on {link.get('ifname')}")
                if link.get("ifname") in vm_bridges:
                    bad.append(f"management address {a['local']} is on VM bridge {link.get('ifname')}")
    listen = [line.split(None, 1)[1] for line in sshd.stdout.splitlines()
              if line.lower().startswith("listenaddress ") and len(line.split()) > 1]
    for entry in listen:
        addr = entry.rpartition(":")[0].strip("[]") if entry.count(":") == 1 or entry.startswith("[") else entry
        if not is_loopback(addr) and not in_networks(addr, mgmt):
            bad.append(f"sshd listens on {entry}")
    if not mine:
        bad.append("no address of this host is in management_networks")
    evidence = [v.Evidence.of(aart, "management addresses: " + (", ".join(mine) or "none")),
                v.Evidence.of(art, "VM bridges: " + (", ".join(sorted(vm_bridges)) or "none")),
                v.Evidence.of(sshd, "\n".join(f"listenaddress {e}" for e in listen))]
    actual = f"management {', '.join(mine) or 'unknown'}; sshd on {', '.join(listen)}"
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)
