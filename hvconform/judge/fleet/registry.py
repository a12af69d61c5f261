"""The registry of the isolation analyses and the types they share.

    @analysis("ISO-023", expected="...", needs=[...])
    def shared_disks(hosts) -> Result

`hosts` is a list of HostView (a snapshot, its guests, its policy), already
collected and parsed; a Finding names every VM it concerns and, in its `actual`
line, the resource they share. No finding and something examined is a pass;
nothing to examine is `not_applicable` with the reason.

The analyses themselves live beside this module, by theme (cpu_sharing.py,
disks_and_segments.py, levels_and_labels.py); hvconform.judge.kinds.fleet imports
them, which registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hvconform.judge.read.guests import Guest


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


def all_guests(hosts) -> list[Guest]:
    """Every guest of every host, in host order."""
    return [g for h in hosts for g in h.guests]


def overview(hosts, what: str) -> tuple[str, list]:
    """`5 VMs on 2 hosts: <what>` and the name line of each VM's XML as evidence."""
    guests = all_guests(hosts)
    return (f"{len(guests)} VM(s) on {len(hosts)} host(s): {what}",
            [g.evidence() for g in guests])
