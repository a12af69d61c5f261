"""Judging a host collected through the libvirt API alone (`connection: libvirt`,
hvconform/collect/libvirt_api.py): what the API gives is judged as from SSH; a control
that reads anything else (a file, a process, a command's output) ends as an error
"not collected: libvirt-only connection", never as a pass, a fail or not applicable
on half its evidence.

How: the control is judged on a copy of the snapshot whose artifacts and QEMU pid list
record every read of something the API cannot give; any such read turns the verdict
into that error. Recording the reads, rather than trusting each control's declared
`needs`, also catches what is always collected over SSH and so never declared (the
process table, /etc/os-release behind `when: {family: ...}`, /proc of each QEMU).
"""

from __future__ import annotations

import dataclasses

from hvconform.model import verdict as v

CONNECTION = "libvirt"   # snapshot.identity["connection"] of such a host
REASON = "not collected: libvirt-only connection"
# what collect/libvirt_api.py stores; `domain:<name>:inactive|live` too
API_KEYS = frozenset({"cmd:hostname", "cmd:virsh_capabilities", "cmd:virsh_list_all",
                      "cmd:virsh_list_running", "cmd:virsh_list_autostart", "cmd:virsh_net_list",
                      "cmd:virsh_net_dumpxml_all", "cmd:virsh_pool_xmls", "libvirt:node_info"})
PROCESS_TABLE = "cmd:ps"   # what the QEMU pids come from


def applies(snap) -> bool:
    return snap.identity.get("connection") == CONNECTION


def from_api(key: str) -> bool:
    return key in API_KEYS or key.startswith("domain:")


class _Reads(dict):
    """The artifacts, noting every key read that the libvirt API cannot give."""

    def __init__(self, artifacts: dict, missing: set):
        super().__init__(artifacts)
        self.missing = missing

    def _note(self, key):
        if isinstance(key, str) and not from_api(key) and not dict.__contains__(self, key):
            self.missing.add(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


class _Pids(list):
    """The QEMU pids (none: there is no process table): reading them is a read of ps."""

    def __init__(self, pids, missing: set):
        super().__init__(pids)
        self.missing = missing

    def __iter__(self):
        self.missing.add(PROCESS_TABLE)
        return super().__iter__()

    def __len__(self):
        self.missing.add(PROCESS_TABLE)
        return super().__len__()


def tracked(snap):
    """(a copy of `snap` that records reads, the set they are recorded in)."""
    missing: set[str] = set()
    copy = dataclasses.replace(snap, artifacts=_Reads(snap.artifacts, missing),
                               qemu_pids=_Pids(snap.qemu_pids, missing))
    return copy, missing


def error(missing) -> v.Verdict:
    shown = sorted(missing)
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    return v.error(f"{REASON}: needs {', '.join(shown[:3])}{more}, which only a shell on the "
                   "host can read")


def judge(judge_fn, control, snap, vm):
    """`judge_fn(control, snap, vm)` on a recording copy; the error above if it read
    anything the API cannot give."""
    copy, missing = tracked(snap)
    verdict = judge_fn(control, copy, vm)
    return error(missing) if missing else verdict


def track_all(snapshots: dict) -> tuple[dict, dict]:
    """Every libvirt-only snapshot replaced by its recording copy; {host: its set}."""
    out, missed = {}, {}
    for name, snap in snapshots.items():
        if applies(snap):
            out[name], missed[name] = tracked(snap)
        else:
            out[name] = snap
    return out, missed


def guard_outcomes(outcomes: list, missed: dict) -> list:
    """An inventory-wide control's outcomes: a libvirt-only host that lacked something
    the analysis read gets the error instead of its pass, not applicable or the
    analysis' own error (a finding stays: it was made from what the API gave)."""
    out = []
    for found in outcomes:
        lacking = missed.get(found.host)
        if lacking and found.verdict.status != v.FAIL:
            found = dataclasses.replace(found, verdict=error(lacking))
        out.append(found)
    return out
