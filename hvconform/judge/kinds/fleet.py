"""A control judged over every host of the inventory at once (applies_to: inventory):
the isolation analyses of hvconform/judge/fleet/ (registered in registry.py, one
module per theme).

    check: {kind: inventory, analysis: shared_disks}

`outcomes(check, snapshots)` is the whole inventory: one fail Outcome per finding
(the host concerned, or '*' when it spans hosts, and `vms` as host/vm), a pass or
not_applicable for each host no finding concerns, an error per host that could not
be analysed. `outcomes_of(checks, snapshots)` is the same for several checks, reading
each host's guests once for all of them.
fixtures/targets.py makes one test case of each. `judge(check, snap, vm)` is the
same analysis over one host, merged into one verdict (for per-host replays and the
catalog's pass/fail cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hvconform.model import verdict as v
from hvconform.judge import libvirt_only
from hvconform.judge.read import artifacts
from hvconform.judge.read import guests as guests_mod
# Every analysis registers itself when its module is imported. A new module must be added here.
from hvconform.judge.fleet import cpu_sharing, disks_and_segments, levels_and_labels  # noqa: F401
from hvconform.judge.fleet.registry import ANALYSES, HostView
from hvconform.inputs import policy as site_policy
from hvconform.model.snapshot import COLLECTED, PARTIAL

KIND = "fleet"


@dataclass
class Outcome:
    host: str                       # the host concerned, or "*"
    verdict: v.Verdict
    vms: list[str] = field(default_factory=list)   # every VM concerned, as host/vm


def validate(check):
    errs = []
    if check.get("analysis") not in ANALYSES:
        errs.append(f"unknown analysis {check.get('analysis')!r} (known: {', '.join(sorted(ANALYSES))})")
    extra = set(check) - {"kind", "analysis"}
    if extra:
        errs.append(f"unknown keys {sorted(extra)}")
    return errs


def needs(check, policy=None):
    return list(ANALYSES[check["analysis"]].needs)   # domain XML is always collected


def outcomes(check, snapshots: dict) -> list[Outcome]:
    """Every verdict of one inventory control over `snapshots` {host: Snapshot}. Never raises."""
    return outcomes_of([check], snapshots)[0]


def outcomes_of(checks, snapshots: dict) -> list[list[Outcome]]:
    """outcomes() of each of `checks`, in order. Each host's guests are read once for
    all of them: reading them parses the host's domain XML, and every analysis reading
    every host again was most of their time at fleet size (the parse cache,
    judge/read/memo.py, holds a few hosts' XML, not the inventory's)."""
    reading, read = libvirt_only.track_all(snapshots)
    hosts = {name: _host(name, snap) for name, snap in reading.items()}
    out = []
    for check in checks:
        # a libvirt-only host that lacked what the analysis read cannot pass
        # (judge/libvirt_only.py); reading its guests is part of every analysis
        tracked, missed = libvirt_only.track_all(snapshots)
        for name, lacking in missed.items():
            lacking |= read[name]
        out.append(libvirt_only.guard_outcomes(_outcomes(check, tracked, hosts), missed))
    return out


def _host(name: str, snap) -> tuple[dict, list] | str:
    """(its policy, its guests), or why the host cannot be analysed."""
    if snap.status not in (COLLECTED, PARTIAL):
        return f"host not collected ({snap.status}): {snap.error}"
    policy = site_policy.effective(snap.policy)   # once per host: guests and analyses share it
    try:
        return policy, guests_mod.guests_of(snap, policy)
    except artifacts.End as end:   # an inventory outcome says which host it is about
        return f"{name}: {end.verdict.reason}"


def _outcomes(check, snapshots: dict, hosts: dict) -> list[Outcome]:
    spec = ANALYSES[check["analysis"]]
    errors, views = [], []
    for name, snap in snapshots.items():
        host = hosts[name]
        if isinstance(host, str):
            errors.append(Outcome(name, v.error(host)))
            continue
        policy, guests = host
        views.append(HostView(snap, guests, policy))
    try:
        result = spec.function(views)
    except Exception as exc:  # a judging bug must show as an error verdict, not vanish
        return errors + [Outcome("*", v.error(f"judging {spec.control_id} raised "
                                              f"{type(exc).__name__}: {exc}"))]
    errors += [Outcome(host, v.error(f"{host}: {why}")) for host, why in result.errors.items()]
    fails = [Outcome(f.host, v.failed(spec.expected, f.actual, f.evidence, reason=f.actual),
                     [g.ref for g in f.guests]) for f in result.findings]
    concerned = {g.host for f in result.findings for g in f.guests} | set(result.errors)
    return errors + fails + [_clean(spec, view) for view in views if view.name not in concerned]


def _clean(spec, view) -> Outcome:
    """A host no finding concerns: its pass, or why the analysis has nothing to judge there."""
    alone = spec.function([view])
    if alone.not_applicable:
        return Outcome(view.name, v.not_applicable(alone.not_applicable, alone.evidence))
    return Outcome(view.name, v.passed(spec.expected, alone.checked, alone.evidence))


def judge(check, snap, vm=None) -> v.Verdict:
    """The analysis on one host, as one verdict: any error wins, then the findings."""
    found = outcomes(check, {snap.host: snap})
    bad = [o.verdict for o in found if o.verdict.status == v.ERROR]
    if bad:
        return v.error("; ".join(b.reason for b in bad), [e for b in bad for e in b.evidence])
    fails = [o.verdict for o in found if o.verdict.status == v.FAIL]
    if fails:
        actual = "; ".join(f.actual for f in fails)
        return v.failed(fails[0].expected, actual, [e for f in fails for e in f.evidence], reason=actual)
    return found[0].verdict


def case_id(found: Outcome, control_id: str) -> str:
    """The test id of one outcome: `weak/a+b-ISO-023` (a finding on one host),
    `weak/a+hardened/b-ISO-023` (across hosts), `hardened-ISO-023` (a host's pass,
    not applicable or error)."""
    hosts = {ref.split("/", 1)[0] for ref in found.vms}
    if len(hosts) == 1:
        target = f"{hosts.pop()}/" + "+".join(ref.split("/", 1)[1] for ref in found.vms)
    elif found.vms:
        target = "+".join(found.vms)
    else:
        target = found.host
    return f"{target}-{control_id}"
