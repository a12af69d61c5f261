"""Check kinds: how a catalog row is judged against a snapshot.

One module per kind, each with the same four names:
  KIND                      the `check.kind` string rows use
  validate(check) -> [str]  problems with a row's parameters (catalog load time)
  needs(check) -> [(command, arg)]
                            what to collect for it (names from hvconform.commands)
  judge(check, snap, vm) -> Verdict
                            a pure function of the snapshot; vm is None for host rows
Per-VM data (domain XML, the QEMU process of each running domain) is always
collected, so per-VM kinds need not declare it.
"""

from __future__ import annotations

from hvconform import verdict as v
from hvconform.checks import (bespoke, domain_xml, file_mode, kernel_cmdline, libvirt_conf,
                              process, sshd_config, sysctl)
from hvconform.snapshot import COLLECTED, PARTIAL

KINDS = {m.KIND: m for m in (sysctl, libvirt_conf, sshd_config, file_mode, kernel_cmdline,
                             process, domain_xml, bespoke)}


def judge(control, snap, vm: str | None = None) -> v.Verdict:
    """The verdict of one control on one host (or one VM of it). Never raises."""
    if snap.status not in (COLLECTED, PARTIAL):
        return v.error(f"host not collected ({snap.status}): {snap.error}")
    if vm is not None and snap.domain(vm) is None:
        return v.error(f"domain {vm} is not in the snapshot of {snap.host}")
    try:
        return KINDS[control.kind].judge(control.check, snap, vm)
    except Exception as exc:  # a judging bug must show as an error verdict, not vanish
        return v.error(f"judging {control.id} raised {type(exc).__name__}: {exc}")


def needs(controls) -> list[tuple[str, str]]:
    """Every (command, argument) the given controls need, without repeats, in order."""
    seen: dict[tuple[str, str], None] = {}
    for c in controls:
        for need in KINDS[c.kind].needs(c.check):
            seen.setdefault(tuple(need), None)
    return list(seen)
