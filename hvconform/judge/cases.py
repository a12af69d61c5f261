"""A run's cases: one per (control, host), (control, host, VM) or inventory-wide outcome,
each with the id pytest shows in brackets, judged on demand from the snapshots.

    cases = Cases(run.snapshots, catalog, waivers, as_of)
    for case in cases.all():
        rec = cases.record(case)          # the results.json record, waivers applied

pytest parametrizes its tests with these cases (fixtures/targets.py); a replay, a
merge of shards or any other front end judges them the same way without pytest, and
gets the same records, test ids included.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvconform.inputs import waivers as waivers_mod
from hvconform.judge import engine, tailoring
from hvconform.judge.kinds import fleet
from hvconform.model import verdict as v
from hvconform.model.results import record


@dataclass(frozen=True)
class Case:
    id: str                 # what pytest shows in brackets: weak/vm1-QEMU-013
    control_id: str
    host: str               # for an inventory-wide outcome: the host it concerns, or '*'
    vm: str | None          # the VM of a per-VM case
    outcome: int | None = None   # an inventory-wide case: its index among the outcomes

    @property
    def params(self) -> tuple:
        """Plain values pytest can carry to xdist workers and back to a Case."""
        return (self.id, self.control_id, self.host, self.vm, self.outcome)


def test_id(control, case_id: str) -> str:
    """The pytest node id of a case, as a run records it in results.json."""
    return f"suites/{control.suite}/test_{control.suite}.py::test_{control.kind}[{case_id}]"


def domains_listed(snap) -> bool:
    listed = snap.get("cmd:virsh_list_all")
    return snap.error is None and listed is not None and listed.ok


class Cases:
    def __init__(self, snapshots: dict, catalog, waivers=None, as_of=None):
        self.snapshots = tailoring.with_policy(snapshots, catalog)   # overlays' policy values
        self.catalog = catalog
        self.waivers = waivers or []
        self.as_of = as_of
        self._outcomes: dict[str, list] = {}

    def outcomes(self, control) -> list:
        """An inventory-wide control's outcomes over every snapshot, computed once, with
        those of the other inventory-wide controls: they share reading each host's guests
        (kinds/fleet.py outcomes_of), and a run judges them all."""
        if control.id not in self._outcomes:
            todo = [c for c in self.catalog.controls
                    if c.applies_to == "inventory" and c.id not in self._outcomes]
            if control not in todo:   # not one of this catalog's
                todo.append(control)
            for c, found in zip(todo, fleet.outcomes_of([c.check for c in todo], self.snapshots)):
                self._outcomes[c.id] = found
        return self._outcomes[control.id]

    def of(self, control) -> list[Case]:
        if control.applies_to == "inventory":   # one case per finding (kinds/fleet.py)
            return [Case(fleet.case_id(found, control.id), control.id, found.host, None, i)
                    for i, found in enumerate(self.outcomes(control))]
        out = []
        for host, snap in self.snapshots.items():
            if control.applies_to == "vm" and snap.domains:
                out += [Case(f"{host}/{d.name}-{control.id}", control.id, host, d.name)
                        for d in snap.domains]
            elif control.applies_to == "vm" and domains_listed(snap):
                continue  # a host without VMs has no per-VM cases
            else:
                # host rows, and per-VM rows of a host whose domains could not be
                # listed: one case, so the error shows instead of the case missing
                out.append(Case(f"{host}-{control.id}", control.id, host, None))
        return out

    def all(self) -> list[Case]:
        return [case for control in self.catalog.controls for case in self.of(control)]

    def verdict(self, case: Case) -> tuple[v.Verdict, list | None]:
        """The verdict of a case before waivers, and the VMs an inventory-wide one concerns."""
        control = self.catalog.by_id(case.control_id)
        tailored_out = tailoring.excluded(control)
        if control.applies_to == "inventory":
            found = self.outcomes(control)[case.outcome]
            if tailored_out:
                return tailored_out, found.vms
            return found.verdict, found.vms
        if tailored_out:
            return tailored_out, None
        snap = self.snapshots[case.host]
        if case.vm is None and control.applies_to == "vm":
            listed = snap.get("cmd:virsh_list_all")
            cause = snap.error or (listed.stderr.strip() if listed else "not collected")
            return v.error(f"could not list the domains of {case.host}: {cause}"), None
        return engine.judge(control, snap, case.vm), None

    def record(self, case: Case) -> dict:
        """The results.json record of a case, waivers applied."""
        control = self.catalog.by_id(case.control_id)
        verdict, vms = self.verdict(case)
        verdict, waiver = waivers_mod.apply(self.waivers, control.id, case.host, case.vm,
                                            verdict, self.as_of)
        return record(control, case.host, case.vm, verdict, waiver, vms,
                      test=test_id(control, case.id))
