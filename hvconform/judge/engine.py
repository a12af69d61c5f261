"""Judging one control: its verdict on one host (or VM), and what it needs collected.

Every check kind (hvconform/judge/kinds/) is a module with the same four names:
  KIND                      the `check.kind` string rows use
  validate(check) -> [str]  problems with a row's parameters (catalog load time)
  needs(check, policy) -> [(command, arg)]
                            what to collect for it (names from hvconform.collect.commands);
                            `policy` matters only to functions whose paths are site
                            policy; an arg may hold `{vm}` (one per domain)
  judge(check, snap, vm) -> Verdict
                            a pure function of the snapshot; vm is None for host rows
A control's `when:` gate (hvconform/judge/when.py) is judged first; a control
with `manual:` never passes: where its automated proxy passes, the verdict is manual,
naming what a person must look at.
Per-VM data (domain XML, the QEMU process of each running domain) is always
collected, so per-VM kinds need not declare it.
"""

from __future__ import annotations

from hvconform.inputs import policy as site_policy
from hvconform.judge import libvirt_only, when
from hvconform.judge.kinds import (domain_xml, file_mode, fleet, function, kernel_cmdline,
                                   libvirt_conf, process, sshd_config, sysctl)
from hvconform.model import verdict as v
from hvconform.model.snapshot import COLLECTED, PARTIAL

KINDS = {m.KIND: m for m in (sysctl, libvirt_conf, sshd_config, file_mode, kernel_cmdline,
                             process, domain_xml, function, fleet)}
# Kinds renamed since earlier catalogs: the catalog lint names the new one.
RENAMED = {"bespoke": function.KIND, "inventory": fleet.KIND}
PER_VM_KINDS = ("process", "domain_xml")   # rows of these kinds must say applies_to: vm
FLEET_KINDS = (fleet.KIND,)                # ... and these applies_to: inventory (kinds/fleet.py)


def judge(control, snap, vm: str | None = None) -> v.Verdict:
    """The verdict of one control on one host (or one VM of it). Never raises."""
    if snap.status not in (COLLECTED, PARTIAL):
        return v.error(f"host not collected ({snap.status}): {snap.error}")
    if vm is not None and snap.domain(vm) is None:
        return v.error(f"domain {vm} is not in the snapshot of {snap.host}")
    if libvirt_only.applies(snap):   # what the libvirt API cannot give ends as an error
        return libvirt_only.judge(_judge, control, snap, vm)
    return _judge(control, snap, vm)


def _judge(control, snap, vm) -> v.Verdict:
    try:
        verdict = when.gate(control.when, snap) or KINDS[control.kind].judge(control.check, snap, vm)
    except Exception as exc:  # a judging bug must show as an error verdict, not vanish
        return v.error(f"judging {control.id} raised {type(exc).__name__}: {exc}")
    if control.manual and verdict.status == v.PASS:
        # the automated proxy is necessary, not sufficient: a person decides the rest
        return v.manual(verdict.expected, verdict.actual, verdict.evidence,
                        f"automated part passed; a person must check: {control.manual}")
    return verdict


def needs(controls, policy: dict | None = None, domains=()) -> list[tuple[str, str]]:
    """Every (command, argument) the given controls need, without repeats, in order.

    `policy` is the host's policy values, laid over the defaults; an argument with `{vm}`
    is expanded once per name in `domains`, and dropped when there are none.
    `needs(cat.controls, host.policy, ["vm1"])` -> [("cat", "/proc/cmdline"), ...]
    """
    policy = site_policy.effective(policy)
    seen: dict[tuple[str, str], None] = {}
    for c in controls:
        for command, arg in [*when.needs(c.when), *KINDS[c.kind].needs(c.check, policy)]:
            for expanded in ([arg.replace("{vm}", d) for d in domains] if "{vm}" in arg else [arg]):
                seen.setdefault((command, expanded), None)
    return list(seen)
