"""Where a VM's threads may run: libvirt cpusets, the host's SMT siblings, and the
physical cores a VM can occupy (ISO-005, ISO-016).

    parse_cpuset("0-3,^2,8")            -> frozenset({0, 1, 3, 8})
    placement(guest).emulator           -> frozenset({1}), or ANY when not pinned
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANY = None          # not pinned: the scheduler may use every host CPU
SMT_OFF = ("off", "forceoff", "notsupported", "notimplemented")  # /sys/.../smt/control


def parse_cpuset(text: str) -> frozenset:
    """libvirt's cpuset syntax (formatdomain.rst 'CPU Allocation'): ranges, `^` exclusions."""
    include, exclude = set(), set()
    for part in (p.strip() for p in text.split(",")):
        target = exclude if part.startswith("^") else include
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.lstrip("^"))
        if not m:
            raise ValueError(f"not a cpuset: {text!r}")
        low, high = int(m[1]), int(m[2] or m[1])
        target.update(range(low, high + 1))
    return frozenset(include - exclude)


@dataclass
class Placement:
    vcpus: dict = field(default_factory=dict)   # vCPU number -> cpuset or ANY
    emulator: frozenset | None = ANY

    def unpinned(self) -> list[str]:
        """`['vCPU 1', 'emulator']`: what may run anywhere."""
        out = [f"vCPU {n}" for n, cpus in sorted(self.vcpus.items()) if cpus is ANY]
        return out + (["emulator"] if self.emulator is ANY else [])

    def cpus(self) -> frozenset | None:
        """Every CPU any of its threads may use; ANY if one of them floats."""
        sets = [*self.vcpus.values(), self.emulator]
        return ANY if any(s is ANY for s in sets) else frozenset().union(*sets)


def placement(root) -> Placement:
    """From <vcpu cpuset='...'>N</vcpu>, <cputune><vcpupin/><emulatorpin/>: per-vCPU
    pins win over the domain-wide cpuset, which is also the emulator's default."""
    vcpu = root.find("vcpu")
    count = int((vcpu.text or "1").strip()) if vcpu is not None else 1
    default = parse_cpuset(vcpu.get("cpuset")) if vcpu is not None and vcpu.get("cpuset") else ANY
    vcpus = {n: default for n in range(count)}
    for pin in root.findall("cputune/vcpupin"):
        if pin.get("vcpu", "").isdigit() and pin.get("cpuset"):
            vcpus[int(pin.get("vcpu"))] = parse_cpuset(pin.get("cpuset"))
    pin = root.find("cputune/emulatorpin")
    emulator = parse_cpuset(pin.get("cpuset")) if pin is not None and pin.get("cpuset") else default
    return Placement(vcpus, emulator)


@dataclass
class Topology:
    """Which CPUs are threads of one physical core, from
    `grep -H . /sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list`."""
    siblings: dict          # cpu -> frozenset of its core's threads
    smt: bool               # SMT active: siblings can run two VMs at once

    @classmethod
    def parse(cls, grep_output: str, smt_control: str | None) -> "Topology":
        siblings = {}
        for line in grep_output.splitlines():
            m = re.search(r"/cpu(\d+)/topology/thread_siblings_list:(.+)$", line.strip())
            if m:
                siblings[int(m[1])] = parse_cpuset(m[2])
        active = (smt_control not in SMT_OFF if smt_control is not None
                  else any(len(s) > 1 for s in siblings.values()))
        return cls(siblings, active)

    def cores(self, cpus) -> set:
        """The physical cores (each as its set of threads) that `cpus` touch."""
        every = set(self.siblings) if cpus is ANY else cpus
        if not self.smt:
            return {frozenset({c}) for c in every}
        return {self.siblings.get(c, frozenset({c})) for c in every}


def show_cores(cores) -> str:
    """`core {0,1}, core {2,3}`, in CPU order."""
    return ", ".join("core {" + ",".join(map(str, sorted(c))) + "}" for c in sorted(cores, key=min))
