"""Isolation analyses of the CPU: VMs of different trust domains never on one
physical core, and sensitive VMs pinned to cores of their own.

  ISO-005  shared_cores        VMs of different tenants/levels on one physical core (SMT)
  ISO-016  sensitive_pinning   sensitive VMs pinned, on cores no other VM uses
"""

from __future__ import annotations

from itertools import combinations

from hvconform.model import verdict as v
from hvconform.judge.read import libvirt_grammar
from hvconform.judge.read import artifacts
from hvconform.judge.fleet import cpus
from hvconform.judge.fleet.registry import Finding, HostView, Result, all_guests, analysis, overview
from hvconform.judge.read.guests import differ

SMT_CONTROL = "/sys/devices/system/cpu/smt/control"
ONLINE = "/sys/devices/system/cpu/online"          # where an unpinned thread may run
QCONF = "/etc/libvirt/qemu.conf"
SCHED_CORE_ON = ("vcpus", "emulator", "full")   # qemu.conf.in `sched_core`


def _online(host: HostView, result: Result):
    """The host's online CPUs (Documentation/ABI/testing/sysfs-devices-system-cpu), None
    when not collected or absent; False after recording a malformed list as an error."""
    art = host.snap.file(ONLINE)
    if art is None or not art.ok:
        return None
    try:
        return cpus.parse_cpuset(art.stdout)
    except ValueError as exc:
        result.errors[host.name] = f"{ONLINE}: {exc}"
        return False


def _topology(host: HostView, result: Result):
    """The host's SMT topology and online CPUs, or None after recording why it is unknown.
    With SMT off there are no siblings to share, but an unpinned VM still runs on every
    online CPU: the sibling list (the kernel lists online CPUs only) or the online file
    says which; when neither was read, every core counts (cpus.EVERY_CORE)."""
    control = host.snap.file(SMT_CONTROL)
    grep = host.snap.get("cmd:cpu_siblings")
    if grep is None or control is None:
        result.errors[host.name] = "the CPU topology (SMT siblings) was not collected"
        return None
    online = _online(host, result)
    if online is False:
        return None
    state = control.stdout.strip() if control.ok else None   # absent on old kernels: use siblings
    if control.ok and state in cpus.SMT_OFF:
        topology = cpus.Topology.parse(grep.stdout if grep.ok else "", state, online)
        return cpus.Topology(topology.siblings, smt=False, online=online)
    if not grep.ok:
        result.errors[host.name] = (f"the CPU topology could not be read (rc {grep.rc}): "
                                    f"{grep.stderr.strip()[-200:]}")
        return None
    return cpus.Topology.parse(grep.stdout, state, online)


def _topology_evidence(host: HostView) -> list:
    return [v.Evidence.of(a) for a in (host.snap.file(SMT_CONTROL), host.snap.get("cmd:cpu_siblings"),
                                       host.snap.file(ONLINE))
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


def _placements(host: HostView, result: Result) -> dict | None:
    """Where each guest's threads may run (cpus.placement), by name; None after recording
    the host's error when a domain XML holds what no machine runs (a count that is not
    one, an absurd number of vCPUs, a bad cpuset): that host is not judged, the others are."""
    out = {}
    for g in host.guests:
        try:
            out[g.name] = cpus.placement(g.root)
        except ValueError as exc:
            result.errors[host.name] = f"{g.describe()}: {exc}"
            return None
    return out


@analysis("ISO-005", needs=[("cat", SMT_CONTROL), ("cpu_siblings", ""), ("cat", ONLINE), ("cat", QCONF)],
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
        places = _placements(host, result)
        if places is None:
            continue
        for a, b in pairs:
            shared = topology.cores(places[a.name].cpus()) & topology.cores(places[b.name].cpus())
            if shared:
                result.findings.append(Finding([a, b], (
                    f"{a.describe()} and {b.describe()} can run on the same physical "
                    f"{cpus.show_cores(shared)} of {host.name} (SMT on, sched_core {sched_core})"),
                    [a.evidence(a.root.findall("cputune/*") + a.root.findall("vcpu")),
                     b.evidence(b.root.findall("cputune/*") + b.root.findall("vcpu")),
                     *_topology_evidence(host)]))
    result.checked, result.evidence = overview(
        hosts, "no VMs of different tenants or levels share a physical core")
    if not all_guests(hosts):
        result.not_applicable = "no domain on any host"
    return result


@analysis("ISO-016", needs=[("cat", SMT_CONTROL), ("cpu_siblings", ""), ("cat", ONLINE)],
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
        places = _placements(host, result) if topology is not None else None
        if places is None:
            continue
        for g in sensitive:
            place = places[g.name]
            pins = g.root.findall("cputune/*") + g.root.findall("vcpu")
            if place.unpinned():
                result.findings.append(Finding([g], (
                    f"{g.describe()} is sensitive but {', '.join(place.unpinned())} "
                    f"not pinned: unpinned threads may run on any CPU of {host.name}"), [g.evidence(pins)]))
            mine = topology.cores(place.cpus())
            for other in host.guests:
                if other is g or (other in sensitive and other.name < g.name):
                    continue   # a pair of sensitive VMs is reported once
                shared = mine & topology.cores(places[other.name].cpus())
                if shared:
                    result.findings.append(Finding([g, other], (
                        f"sensitive {g.describe()} and {other.describe()} may both run on "
                        f"{cpus.show_cores(shared)} of {host.name}"),
                        [g.evidence(pins), other.evidence(other.root.findall("cputune/*")
                                                          + other.root.findall("vcpu")),
                         *_topology_evidence(host)]))
    result.checked, result.evidence = overview(
        hosts, f"{sensitive_count} sensitive VM(s) pinned to cores of their own")
    if not sensitive_count:
        levels = sorted({lv for h in hosts for lv in h.policy["sensitive_security_levels"]})
        result.not_applicable = (f"no VM has a sensitive security level ({', '.join(levels)}; "
                                 "policy sensitive_security_levels)")
    return result
