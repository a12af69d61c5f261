"""Where a VM's threads may run: libvirt cpusets, the host's SMT siblings, and the
physical cores a VM can occupy (ISO-005, ISO-016).

    parse_cpuset("0-3,^2,8")            -> frozenset({0, 1, 3, 8})
    placement(guest).emulator           -> frozenset({1}), or ANY when not pinned
    topology.cores(ANY)                 -> every core of the host (or EVERY_CORE)

An unpinned thread is never "nowhere": libvirt pins it "to all the physical CPUs"
(formatdomain.rst 'CPU Tuning', vcpupin/emulatorpin/iothreadpin), so ANY stands for
every online CPU of the host, and for every core at all when those are unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANY = None          # not pinned: the scheduler may use every host CPU
SMT_OFF = ("off", "forceoff", "notsupported", "notimplemented")  # /sys/.../smt/control


# A host writes its domain XML and CPU lists, so every count read from them is bounded
# before anything is built per CPU or thread: no machine has more CPUs than Linux's
# largest NR_CPUS (8,192 on Debian's kernels), or more vCPUs or IOThreads in a domain.
MAX_CPUS = 16384


def parse_cpuset(text: str) -> frozenset:
    """libvirt's cpuset syntax (formatdomain.rst 'CPU Allocation'): ranges, `^` exclusions.
    The kernel's CPU lists (/sys/devices/system/cpu/online) are the same without `^`.
    ValueError for anything else, or a CPU number of MAX_CPUS or more."""
    include, exclude, listed = set(), set(), 0
    for part in (p.strip() for p in text.strip().split(",")):
        target = exclude if part.startswith("^") else include
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.lstrip("^"))
        if not m:
            raise ValueError(f"not a cpuset: {text[:80]!r}")
        low, high = int(m[1]), int(m[2] or m[1])
        listed += max(0, high - low + 1)
        if high >= MAX_CPUS or listed > 2 * MAX_CPUS:   # ranges given again and again
            raise ValueError(f"not a cpuset (more than {MAX_CPUS} CPUs): {text[:80]!r}")
        target.update(range(low, high + 1))
    return frozenset(include - exclude)


@dataclass
class Placement:
    vcpus: dict = field(default_factory=dict)       # vCPU number -> cpuset or ANY
    emulator: frozenset | None = ANY
    iothreads: dict = field(default_factory=dict)   # IOThread id -> cpuset or ANY

    def unpinned(self) -> list[str]:
        """`['vCPU 1', 'emulator', 'IOThread 1']`: what may run anywhere."""
        out = [f"vCPU {n}" for n, cpus in sorted(self.vcpus.items()) if cpus is ANY]
        out += ["emulator"] if self.emulator is ANY else []
        return out + [f"IOThread {n}" for n, cpus in sorted(self.iothreads.items()) if cpus is ANY]

    def cpus(self) -> frozenset | None:
        """Every CPU any of its threads may use; ANY if one of them floats."""
        sets = [*self.vcpus.values(), self.emulator, *self.iothreads.values()]
        return ANY if any(s is ANY for s in sets) else frozenset().union(*sets)


def _count(root, path: str, default: int) -> int:
    """The count an element holds (<vcpu>, <iothreads>), `default` when it is absent or
    empty; ValueError when it is not a number or more than any machine has."""
    el = root.find(path)
    text = (el.text or "").strip() if el is not None else ""
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"<{path}> is not a count: {text[:40]!r}")
    if int(text) > MAX_CPUS:
        raise ValueError(f"<{path}> {text[:40]}: more than {MAX_CPUS} threads, which no machine runs")
    return int(text)


def _iothread_ids(root) -> list[int]:
    """formatdomain.rst 'IOThreads Allocation': the <iothreadids> ids, then libvirt fills
    ids from 1 up (skipping those taken) until there are <iothreads> of them."""
    ids = [int(t.get("id")) for t in root.findall("iothreadids/iothread") if (t.get("id") or "").isdigit()]
    want, n, taken = _count(root, "iothreads", 0), 1, set(ids)
    while len(ids) < want:
        if n not in taken:
            ids.append(n)
        n += 1
    return ids


def _automatic(root) -> bool:
    """numad places the domain (<vcpu placement='auto'>): libvirt then ignores the cpuset
    and which CPUs numad picks is not in the XML (formatdomain.rst 'CPU Allocation').
    Without the attribute the placement is static when a cpuset is given, and without a
    cpuset every CPU is allowed anyway; <numatune> places memory, not threads."""
    vcpu = root.find("vcpu")
    return vcpu is not None and vcpu.get("placement") == "auto"


def placement(root) -> Placement:
    """From <vcpu cpuset='...'>N</vcpu>, <cputune><vcpupin/><emulatorpin/><iothreadpin/>:
    per-thread pins win over the domain-wide cpuset, which is also the default of the
    emulator and the IOThreads (formatdomain.rst 'CPU Allocation', 'CPU Tuning')."""
    vcpu = root.find("vcpu")
    count = _count(root, "vcpu", 1)
    cpuset = vcpu.get("cpuset") if vcpu is not None else None
    default = parse_cpuset(cpuset) if cpuset and not _automatic(root) else ANY
    vcpus = {n: default for n in range(count)}
    for pin in root.findall("cputune/vcpupin"):
        if pin.get("vcpu", "").isdigit() and pin.get("cpuset"):
            vcpus[int(pin.get("vcpu"))] = parse_cpuset(pin.get("cpuset"))
    pin = root.find("cputune/emulatorpin")
    emulator = parse_cpuset(pin.get("cpuset")) if pin is not None and pin.get("cpuset") else default
    iothreads = {n: default for n in _iothread_ids(root)}
    for pin in root.findall("cputune/iothreadpin"):
        if pin.get("iothread", "").isdigit() and pin.get("cpuset"):
            iothreads[int(pin.get("iothread"))] = parse_cpuset(pin.get("cpuset"))
    return Placement(vcpus, emulator, iothreads)


class _EveryCore:
    """The cores of a host whose CPUs are unknown: an unpinned VM there may share any
    core, so it overlaps whatever it is compared with (conservative, never empty)."""

    def __and__(self, other):
        return other
    __rand__ = __and__

    def __bool__(self):
        return True

    def __repr__(self):
        return "EVERY_CORE"


EVERY_CORE = _EveryCore()


@dataclass
class Topology:
    """Which CPUs are threads of one physical core, from
    `grep -H . /sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list`, and
    which CPUs are online (/sys/devices/system/cpu/online): where ANY may run."""
    siblings: dict          # cpu -> frozenset of its core's threads
    smt: bool               # SMT active: siblings can run two VMs at once
    online: frozenset | None = None   # the host's online CPUs; None: not known

    @classmethod
    def parse(cls, grep_output: str, smt_control: str | None, online=None) -> "Topology":
        siblings = {}
        for line in grep_output.splitlines():
            m = re.search(r"/cpu(\d+)/topology/thread_siblings_list:(.+)$", line.strip())
            if m:
                siblings[int(m[1])] = parse_cpuset(m[2])
        active = (smt_control not in SMT_OFF if smt_control is not None
                  else any(len(s) > 1 for s in siblings.values()))
        return cls(siblings, active, online)

    def host_cpus(self) -> frozenset | None:
        """Where an unpinned thread may run: the online CPUs, else every CPU whose
        siblings were listed (the kernel lists an online CPU's topology only), else None."""
        if self.online is not None:
            return self.online
        return frozenset(self.siblings) or None

    def cores(self, cpus):
        """The physical cores (each as its set of threads) that `cpus` touch; for ANY on
        a host whose CPUs are unknown, EVERY_CORE."""
        if cpus is ANY:
            cpus = self.host_cpus()
            if cpus is None:
                return EVERY_CORE
        if not self.smt:
            return {frozenset({c}) for c in cpus}
        return {self.siblings.get(c, frozenset({c})) for c in cpus}


def show_cores(cores) -> str:
    """`core {0,1}, core {2,3}`, in CPU order."""
    if cores is EVERY_CORE:
        return "any core (the host's CPUs are unknown)"
    return ", ".join("core {" + ",".join(map(str, sorted(c))) + "}" for c in sorted(cores, key=min))
