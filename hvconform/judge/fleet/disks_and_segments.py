"""Isolation analyses of what VMs share on storage and on the network: a disk or
backing file writable by more than one VM, and tenants on one network segment
without port isolation.

  ISO-023  shared_disks      a disk or backing file writable by more than one VM
  NET-016  shared_segments   VMs of different tenants on one bridge/VLAN, ports not isolated
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from hvconform.judge.fleet.registry import Finding, HostView, Result, all_guests, analysis, overview
from hvconform.judge.read.guests import Guest


# -- disks: ISO-023 -------------------------------------------------------------

def _source(host: str, disk) -> str | None:
    """Where a disk's data lives, as one string; None for an empty drive. Files,
    devices and pool volumes are the host's own (`/img/a.qcow2 on weak`); a network
    disk (rbd, iscsi, nbd, ...) is the same image whichever host opens it."""
    src = disk.find("source")
    if src is None:
        return None
    kind = disk.get("type", "file")
    if kind == "network":
        servers = ",".join(sorted(f"{h.get('name', '')}:{h.get('port', '')}" for h in src.findall("host")))
        return f"{src.get('protocol')} {src.get('name')}" + (f" at {servers}" if servers else "")
    if kind == "volume":
        return f"volume {src.get('pool')}/{src.get('volume')} on {host}"
    path = src.get("file") or src.get("dev") or src.get("dir") or src.get("path")
    return f"{path} on {host}" if path else None


def _uses(g: Guest):
    """(source, how, disk element) for each disk and each backing file of `g`."""
    for disk in g.root.findall("devices/disk"):
        target = disk.find("target").get("dev") if disk.find("target") is not None else "?"
        readonly = disk.find("readonly") is not None or disk.get("device") in ("cdrom", "floppy")
        source = _source(g.host, disk)
        if source:
            yield source, ("read-only" if readonly else "writable") + f" as {target}", disk
        store = disk.find("backingStore")
        while store is not None and store.find("source") is not None:
            source = _source(g.host, store)
            if source:
                yield source, f"backing file of {target}", disk
            store = store.find("backingStore")


@analysis("ISO-023", expected="no disk source or backing file used by more than one VM unless "
                              "read-only everywhere; no <shareable/> disk")
def shared_disks(hosts) -> Result:
    result, users = Result(), defaultdict(list)
    for g in all_guests(hosts):
        for source, how, disk in _uses(g):
            users[source].append((g, how, disk))
        for disk in g.root.findall("devices/disk[shareable]"):
            if disk.find("readonly") is None:
                result.findings.append(Finding([g], (
                    f"{g.ref} marks {_source(g.host, disk) or 'a disk'} <shareable/>: "
                    "writable by any other VM given the same source"), [g.evidence([disk])]))
    for source, uses in sorted(users.items()):
        guests = list(dict.fromkeys(g for g, _, _ in uses))
        if len(guests) > 1 and any(how.startswith("writable") for _, how, _ in uses):
            result.findings.append(Finding(guests, (
                f"{source} is used by {len(guests)} VMs, not all read-only: "
                + ", ".join(f"{g.ref} ({how})" for g, how, _ in uses)),
                [g.evidence([d for x, _, d in uses if x is g]) for g in guests]))
    result.checked, result.evidence = overview(
        hosts, f"{len(users)} disk source(s), none writable by more than one VM")
    if not all_guests(hosts):
        result.not_applicable = "no domain on any host"
    return result


# -- networks: NET-016 ----------------------------------------------------------

NETWORKS = "cmd:virsh_net_dumpxml_all"   # every libvirt network's XML, after '### network <name>'


def _isolated_networks(host: HostView) -> set | None:
    """Names of the networks whose XML says <port isolated='yes'/>; None if not read."""
    art = host.snap.get(NETWORKS)
    if art is None or not art.ok:
        return None
    isolated, name, body = set(), None, []
    for line in art.stdout.splitlines() + ["### network "]:
        if line.startswith("### network "):
            if name and any("<port isolated='yes'" in b or '<port isolated="yes"' in b for b in body):
                isolated.add(name)
            name, body = line[len("### network "):].strip(), []
        else:
            body.append(line)
    return isolated


def _segments(g: Guest, isolated_networks: set):
    """(segment name, isolated, interface element) per NIC and VLAN it is on."""
    for nic in g.root.findall("devices/interface"):
        src = nic.find("source")
        if src is None or nic.get("type") not in ("bridge", "network", "direct"):
            continue
        name = {"bridge": f"bridge {src.get('bridge')}", "network": f"network {src.get('network')}",
                "direct": f"macvtap on {src.get('dev')}"}[nic.get("type")]
        isolated = (nic.find("port[@isolated='yes']") is not None
                    or (nic.get("type") == "network" and src.get("network") in isolated_networks
                        and nic.find("port[@isolated='no']") is None)
                    or (nic.get("type") == "direct" and src.get("mode") == "private"))
        tags = [t.get("id") for t in nic.findall("vlan/tag")] or [None]
        for tag in tags:
            yield name + (f" VLAN {tag}" if tag else " (untagged)"), isolated, nic


@analysis("NET-016", needs=[("virsh_net_dumpxml_all", "")],
          expected="VMs of different tenants on one bridge, network or VLAN only with "
                   "<port isolated='yes'/> on both ports (interface or network)")
def shared_segments(hosts) -> Result:
    result, nics = Result(), 0
    for host in hosts:
        networks = _isolated_networks(host)
        members = defaultdict(list)
        for g in host.guests:
            for segment, isolated, nic in _segments(g, networks or set()):
                members[segment].append((g, isolated, nic))
                nics += 1
        for segment, ports in sorted(members.items()):
            exposed = [(a, b) for a, b in combinations(ports, 2)
                       if a[0].tenant and b[0].tenant and a[0].tenant != b[0].tenant
                       and not (a[1] and b[1])]
            if not exposed:
                continue
            port_of = {p[0].ref: p for pair in exposed for p in pair}
            guests = [p[0] for p in port_of.values()]
            note = ("; the networks' XML was not read" if networks is None and segment.startswith("network")
                    else "")
            result.findings.append(Finding(guests, (
                f"tenants {', '.join(sorted({g.tenant for g in guests}))} share {segment} on "
                f"{host.name} without port isolation: "
                + ", ".join(f"{g.ref} (tenant {g.tenant}, port "
                            f"{'isolated' if port_of[g.ref][1] else 'not isolated'})" for g in guests)
                + note),
                [g.evidence([port_of[g.ref][2]]) for g in guests]))
    result.checked, result.evidence = overview(
        hosts, f"{nics} VM port(s); no segment joins tenants without port isolation")
    if not nics:
        result.not_applicable = "no VM has a NIC on a bridge, network or macvtap"
    return result
