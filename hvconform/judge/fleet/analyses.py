"""The isolation analyses: each reads every host's guests and returns its findings.

    @analysis("ISO-023", expected="...", needs=[...])
    def shared_disks(hosts) -> Result

`hosts` is a list of HostView (a snapshot, its guests, its policy), already
collected and parsed; a Finding names every VM it concerns and, in its `actual`
line, the resource they share. No finding and something examined is a pass;
nothing to examine is `not_applicable` with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

from hvconform.model import verdict as v
from hvconform.judge.read import libvirt_grammar
from hvconform.judge.read import artifacts
from hvconform.judge.fleet import cpus
from hvconform.judge.read.guests import Guest, differ

SMT_CONTROL = "/sys/devices/system/cpu/smt/control"
QCONF = "/etc/libvirt/qemu.conf"
SCHED_CORE_ON = ("vcpus", "emulator", "full")   # qemu.conf.in `sched_core`


@dataclass
class HostView:
    snap: object
    guests: list[Guest]
    policy: dict

    @property
    def name(self) -> str:
        return self.snap.host


@dataclass
class Finding:
    guests: list[Guest]
    actual: str                  # one line: the VMs and the resource they share
    evidence: list = field(default_factory=list)

    @property
    def host(self) -> str:
        hosts = {g.host for g in self.guests}
        return hosts.pop() if len(hosts) == 1 else "*"


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    checked: str = ""            # what was examined, for a pass
    evidence: list = field(default_factory=list)
    not_applicable: str | None = None
    errors: dict = field(default_factory=dict)   # host -> why it could not be analysed


@dataclass(frozen=True)
class Analysis:
    control_id: str
    function: Callable
    expected: str
    needs: tuple = ()


ANALYSES: dict[str, Analysis] = {}


def analysis(control_id: str, expected: str, needs=()):
    def register(fn):
        ANALYSES[fn.__name__] = Analysis(control_id, fn, expected, tuple(needs))
        return fn
    return register


def _all(hosts) -> list[Guest]:
    return [g for h in hosts for g in h.guests]


def _overview(hosts, what: str) -> tuple[str, list]:
    """`5 VMs on 2 hosts: <what>` and the name line of each VM's XML as evidence."""
    guests = _all(hosts)
    return (f"{len(guests)} VM(s) on {len(hosts)} host(s): {what}",
            [g.evidence() for g in guests])


# -- CPU: ISO-005, ISO-016 ------------------------------------------------------

def _topology(host: HostView, result: Result):
    """The host's SMT topology, or None after recording why it is unknown."""
    control = host.snap.file(SMT_CONTROL)
    grep = host.snap.get("cmd:cpu_siblings")
    if grep is None or control is None:
        result.errors[host.name] = "the CPU topology (SMT siblings) was not collected"
        return None
    state = control.stdout.strip() if control.ok else None   # absent on old kernels: use siblings
    if control.ok and state in cpus.SMT_OFF:
        return cpus.Topology({}, smt=False)
    if not grep.ok:
        result.errors[host.name] = (f"the CPU topology could not be read (rc {grep.rc}): "
                                    f"{grep.stderr.strip()[-200:]}")
        return None
    return cpus.Topology.parse(grep.stdout, state)


def _topology_evidence(host: HostView) -> list:
    return [v.Evidence.of(a) for a in (host.snap.file(SMT_CONTROL), host.snap.get("cmd:cpu_siblings"))
            if a is not None]


def _sched_core(host: HostView, result: Result) -> str | None:
    """qemu.conf's sched_core value ('none' when unset), or None after an error."""
    art = host.snap.file(QCONF)
    if art is None or (not art.ok and not artifacts.is_absent(art)):
        result.errors[host.name] = (f"{QCONF} could not be read, so whether sched_core keeps "
                                    "VMs off each other's SMT siblings is unknown")
        return None
    if not art.ok:
        return "none"
    setting = libvirt_grammar.parse(art.stdout).get("sched_core")
    return str(setting.value) if setting else "none"


@analysis("ISO-005", needs=[("cat", SMT_CONTROL), ("cpu_siblings", ""), ("cat", QCONF)],
          expected="VMs of different tenants or security levels never on one physical core: "
                   "SMT off, or qemu.conf sched_core in {vcpus, emulator, full}, or pinned to "
                   "disjoint whole cores")
def shared_cores(hosts) -> Result:
    result = Result()
    for host in hosts:
        pairs = [(a, b) for a, b in combinations(host.guests, 2) if differ(a, b)]
        if not pairs:
            continue
        topology = _topology(host, result)
        if topology is None or not topology.smt:
            continue
        sched_core = _sched_core(host, result)
        if sched_core is None or sched_core in SCHED_CORE_ON:
            continue
        for a, b in pairs:
            shared = topology.cores(cpus.placement(a.root).cpus()) & topology.cores(cpus.placement(b.root).cpus())
            if shared:
                result.findings.append(Finding([a, b], (
                    f"{a.describe()} and {b.describe()} can run on the same physical "
                    f"{cpus.show_cores(shared)} of {host.name} (SMT on, sched_core {sched_core})"),
                    [a.evidence(a.root.findall("cputune/*") + a.root.findall("vcpu")),
                     b.evidence(b.root.findall("cputune/*") + b.root.findall("vcpu")),
                     *_topology_evidence(host)]))
    result.checked, result.evidence = _overview(
        hosts, "no VMs of different tenants or levels share a physical core")
    if not _all(hosts):
        result.not_applicable = "no domain on any host"
    return result


@analysis("ISO-016", needs=[("cat", SMT_CONTROL), ("cpu_siblings", "")],
          expected="sensitive VMs: every vCPU and the emulator pinned, on cores (SMT siblings "
                   "included) no other VM may use (host housekeeping CPUs not checked)")
def sensitive_pinning(hosts) -> Result:
    result, sensitive_count = Result(), 0
    for host in hosts:
        levels = host.policy["sensitive_security_levels"]
        sensitive = [g for g in host.guests if g.level in levels]
        if not sensitive:
            continue
        sensitive_count += len(sensitive)
        topology = _topology(host, result)
        if topology is None:
            continue
        for g in sensitive:
            place = cpus.placement(g.root)
            pins = g.root.findall("cputune/*") + g.root.findall("vcpu")
            if place.unpinned():
                result.findings.append(Finding([g], (
                    f"{g.describe()} is sensitive but {', '.join(place.unpinned())} "
                    f"not pinned: unpinned threads may run on any CPU of {host.name}"), [g.evidence(pins)]))
            mine = topology.cores(place.cpus())
            for other in host.guests:
                if other is g or (other in sensitive and other.name < g.name):
                    continue   # a pair of sensitive VMs is reported once
                shared = mine & topology.cores(cpus.placement(other.root).cpus())
                if shared:
                    result.findings.append(Finding([g, other], (
                        f"sensitive {g.describe()} and {other.describe()} may both run on "
                        f"{cpus.show_cores(shared)} of {host.name}"),
                        [g.evidence(pins), other.evidence(other.root.findall("cputune/*")
                                                          + other.root.findall("vcpu")),
                         *_topology_evidence(host)]))
    result.checked, result.evidence = _overview(
        hosts, f"{sensitive_count} sensitive VM(s) pinned to cores of their own")
    if not sensitive_count:
        levels = sorted({lv for h in hosts for lv in h.policy["sensitive_security_levels"]})
        result.not_applicable = (f"no VM has a sensitive security level ({', '.join(levels)}; "
                                 "policy sensitive_security_levels)")
    return result


# -- hosts and levels: ISO-015 --------------------------------------------------

@analysis("ISO-015", expected="every VM tagged with a security level, one level per host "
                              "(the host's declared security_level, if any)")
def security_levels(hosts) -> Result:
    result = Result()
    for host in hosts:
        for g in host.guests:
            meta = g.root.findall("metadata/*")
            declared, tagged = g.inventory_facts.get("security_level"), g.xml_facts.get("security-level")
            if not g.level:
                result.findings.append(Finding([g], (
                    f"{g.ref} has no security level: no <security-level> in its metadata "
                    f"namespace {host.policy['vm_metadata_namespace']} and none in the inventory"),
                    [g.evidence(meta)]))
            elif declared and tagged and declared != tagged:
                result.findings.append(Finding([g], (
                    f"{g.ref} is security level {tagged} in its domain XML but {declared} in "
                    f"the inventory"), [g.evidence(meta)]))
        by_level = defaultdict(list)
        for g in host.guests:
            if g.level:
                by_level[g.level].append(g)
        if len(by_level) > 1:
            groups = "; ".join(f"{lv}: {', '.join(x.ref for x in gs)}" for lv, gs in sorted(by_level.items()))
            mixed = [g for gs in by_level.values() for g in gs]
            result.findings.append(Finding(mixed, (
                f"VMs of {len(by_level)} security levels share host {host.name} ({groups})"),
                [g.evidence(g.root.findall("metadata/*")) for g in mixed]))
        host_level = (host.snap.facts or {}).get("security_level")
        strangers = [g for g in host.guests if host_level and g.level and g.level != host_level]
        for g in strangers:
            result.findings.append(Finding([g], (
                f"{g.ref} is security level {g.level} on host {host.name}, which the inventory "
                f"declares {host_level}"), [g.evidence(g.root.findall("metadata/*"))]))
    result.checked, result.evidence = _overview(hosts, "each host runs VMs of one security level")
    if not _all(hosts):
        result.not_applicable = "no domain on any host"
    return result


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
    for g in _all(hosts):
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
    result.checked, result.evidence = _overview(
        hosts, f"{len(users)} disk source(s), none writable by more than one VM")
    if not _all(hosts):
        result.not_applicable = "no domain on any host"
    return result


# -- MAC labels: KMAC-006 -------------------------------------------------------

SVIRT_TYPES = ("svirt_t", "svirt_tcg_t")


def _mac_labels(root):
    """(model, label) of each sVirt/AppArmor <seclabel> with a label."""
    for sec in root.findall("seclabel"):
        label = (sec.findtext("label") or "").strip()
        if sec.get("model") in ("selinux", "apparmor") and sec.get("type") != "none" and label:
            yield sec, sec.get("model"), label


def _label_key(model: str, label: str) -> str:
    """SELinux: the MCS level (`s0:c1,c2`), which is what must be unique; AppArmor: the profile."""
    parts = label.split(":", 3)
    return f"selinux {parts[3]}" if model == "selinux" and len(parts) == 4 else f"{model} {label}"


@analysis("KMAC-006", expected="each running VM in svirt_t/svirt_tcg_t (or its own AppArmor "
                               "profile) with an MCS category pair no other VM has")
def shared_labels(hosts) -> Result:
    result, running, groups = Result(), 0, defaultdict(list)
    for g in _all(hosts):
        if not g.running:
            continue
        running += 1
        labels = list(_mac_labels(g.root))
        if not labels:
            shown = g.root.findall("seclabel")
            models = ", ".join(f"{s.get('model') or s.get('type')}" for s in shown) or "none"
            result.findings.append(Finding([g], (
                f"{g.ref} runs without an sVirt/AppArmor label (seclabel models: {models})"),
                [g.evidence(shown)]))
        for sec, model, label in labels:
            parts = label.split(":")
            if model == "selinux" and (len(parts) < 4 or parts[2] not in SVIRT_TYPES):
                result.findings.append(Finding([g], (
                    f"{g.ref} runs as {label}, not confined by svirt_t"), [g.evidence([sec])]))
            groups[(g.host, _label_key(model, label))].append((g, sec))
    # a static label in two definitions is shared as soon as both run
    for g in _all(hosts):
        for sec, model, label in _mac_labels(g.inactive):
            key = (g.host, _label_key(model, label))
            if sec.get("type") == "static" and g not in [x for x, _ in groups[key]]:
                groups[key].append((g, sec))
    for (host, key), holders in sorted(groups.items(), key=lambda kv: kv[0]):
        if len(holders) > 1:
            state = lambda g: "running" if g.running else "defined, static label"  # noqa: E731
            result.findings.append(Finding([g for g, _ in holders], (
                f"{' and '.join(f'{g.ref} ({state(g)})' for g, _ in holders)} share the label {key}"),
                [g.evidence([sec]) for g, sec in holders]))
    result.checked, result.evidence = _overview(
        hosts, f"{running} running VM(s), each with its own sVirt label")
    if not running and not result.findings:
        result.not_applicable = "no running domain, and no static label shared by definitions"
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
    result.checked, result.evidence = _overview(
        hosts, f"{nics} VM port(s); no segment joins tenants without port isolation")
    if not nics:
        result.not_applicable = "no VM has a NIC on a bridge, network or macvtap"
    return result
