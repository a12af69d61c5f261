"""A fact about the QEMU process of one running VM, from /proc/<pid>/status or cmdline.

    check: {kind: process, field: Uid, op: ne, value: 0}
    check: {kind: process, field: cmdline, op: not_matches, value: '(^|\\s)-gdb(\\s|$)'}
`field` is a /proc/<pid>/status field (Uid compares the real uid, the first of the
four; CapEff, Seccomp, ...) or `cmdline` (the arguments joined by spaces). The VM's
process is the QEMU pid whose `-name` is `guest=<vm>,...` (libvirt) or `<vm>`.
A VM that is not running is not_applicable.
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.ops import OPS, compare, describe

KIND = "process"


def validate(check):
    errs = []
    if not re.fullmatch(r"[A-Za-z_]+|cmdline", str(check.get("field", ""))):
        errs.append("'field' must be a /proc/<pid>/status field name (Uid, CapEff, Seccomp) or cmdline")
    if check.get("op") not in OPS:
        errs.append(f"unknown op {check.get('op')!r} (known: {', '.join(OPS)})")
    elif check["op"] not in ("present", "absent") and "value" not in check:
        errs.append(f"op '{check['op']}' needs a 'value'")
    return errs


def needs(check, policy=None):
    return []  # the status and cmdline of every QEMU process are always collected


def argv(art) -> list[str]:
    return [a for a in art.stdout.split("\0") if a]


def names_vm(args: list[str], vm: str) -> bool:
    # QEMU option values escape a comma by doubling it
    guest = "guest=" + vm.replace(",", ",,")
    return any(a == "-name" and i + 1 < len(args) and
               (args[i + 1] == vm or args[i + 1] == guest or args[i + 1].startswith(guest + ","))
               for i, a in enumerate(args))


def pid_of(snap, vm: str) -> int | None:
    for pid in snap.qemu_pids:
        art = snap.file(f"/proc/{pid}/cmdline")
        if art is not None and art.ok and names_vm(argv(art), vm):
            return pid
    return None


def status_field(text: str, field: str) -> tuple[str | None, str]:
    """(value, the line) of a /proc/<pid>/status field; Uid/Gid -> the real id."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            words = value.split()
            return (words[0] if words else ""), line.strip()
    return None, f"{field}: not in status"


def judge(check, snap, vm):
    dom = snap.domain(vm)
    if dom is None or not dom.running:
        return v.not_applicable(f"domain {vm} not running")
    pid = pid_of(snap, vm)
    if pid is None:
        return v.error(f"domain {vm} is running but no QEMU process names it "
                       f"(pids {', '.join(map(str, snap.qemu_pids)) or 'none'})")
    field, op, value = check["field"], check["op"], check.get("value")
    if field == "cmdline":
        art = snap.file(f"/proc/{pid}/cmdline")
        actual = " ".join(argv(art))
        line = actual
    else:
        art = snap.file(f"/proc/{pid}/status")
        if art is None or not art.ok:
            return v.error(f"/proc/{pid}/status of domain {vm} was not collected")
        actual, line = status_field(art.stdout, field)
    expected = describe(field, op, value)
    shown = f"{field} = {_short(actual)}"
    if field == "cmdline" and op in ("matches", "not_matches"):
        # the whole command line says little; the fragment that matched says it all
        found = re.search(value, actual)
        shown = f"cmdline of pid {pid}: " + (f"contains {found.group(0).strip()!r}" if found else "no match")
        if found:
            start, end = max(found.start() - 80, 0), found.end() + 80
            line = ("... " if start else "") + actual[start:end] + (" ..." if end < len(actual) else "")
    evidence = [v.Evidence.of(art, f"pid {pid}: {line}")]
    if compare(actual, op, value):
        return v.passed(expected, shown, evidence)
    return v.failed(expected, shown, evidence, reason=f"domain {vm}, pid {pid}: {shown}")


def _short(text, limit: int = 200) -> str:
    text = "unset" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + " ..."
