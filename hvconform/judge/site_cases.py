"""An overlay's `cases:`: a passing and a failing snapshot for each control it adds,
judged when the overlay is loaded, as tests/unit/test_catalog_cases.py judges ours.

    cases:
      ACME-001:
        pass: {sshd: "clientaliveinterval 300\\n"}
        fail: {sshd: "clientaliveinterval 0\\n"}
        not_applicable: {sshd: [127, "", "sh: 1: sshd: not found\\n"]}   # optional

A case is what tests/snapshots.py's `snap()` takes, in YAML: `files` and `stats`
({path: text, or null for a path the host does not have}), `sshd`, `ps` and
`capabilities` (the command's output), `cmds` ({command name of
hvconform/collect/commands.py: output, or [rc, stdout, stderr]}; a command with a path
as "name /path"), `domains` ({name: XML}) and `running` (names; default: all).
A per-VM control is judged on the first domain. The overlay's policy values apply.
"""

from __future__ import annotations

from hvconform.collect.collector import _key
from hvconform.collect.commands import COMMANDS, render
from hvconform.judge import engine
from hvconform.model import verdict as v
from hvconform.model.snapshot import Artifact, Domain, Snapshot

STARTED = "2025-06-01T12:00:00+00:00"   # a fixed collection time: a case judges the same every day
WANTED = {"pass": v.PASS, "fail": v.FAIL, "not_applicable": v.NOT_APPLICABLE}


class CaseError(Exception):
    """A case that cannot become a snapshot (e.g. a command hvconform never sends)."""


def snapshot(spec: dict, policy: dict | None = None) -> Snapshot:
    """The Snapshot a case describes (its shape was checked by inputs/overlay.py)."""
    s = Snapshot(host="case", started=STARTED, policy=dict(policy or {}))

    def add(key, source, value, missing):
        if value is None:
            s.add(Artifact(key, source, 1, "", missing))
        elif isinstance(value, list):
            s.add(Artifact(key, source, int(value[0]), value[1], value[2]))
        else:
            s.add(Artifact(key, source, 0, value))

    for path, text in (spec.get("files") or {}).items():
        add(f"file:{path}", render("cat", path=path), text, f"cat: {path}: No such file or directory\n")
    for path, line in (spec.get("stats") or {}).items():
        add(f"stat:{path}", render("stat", path=path), line,
            f"stat: cannot statx '{path}': No such file or directory\n")
    for name, command in (("sshd", "sshd_effective"), ("ps", "ps"), ("capabilities", "virsh_capabilities")):
        if name in spec:
            add(f"cmd:{command}", render(command), spec[name], "")
    for name, value in (spec.get("cmds") or {}).items():
        command, _, path = name.partition(" ")
        if command not in COMMANDS:
            raise CaseError(f"cmds: {command!r} is not a command hvconform sends "
                            "(hvconform/collect/commands.py)")
        source = render(command, path=path) if "{path}" in COMMANDS[command] else render(command)
        add(_key(command, path), source, value, f"{command}: {path}: No such file or directory\n")
    domains = spec.get("domains") or {}
    running = set(spec.get("running", list(domains)))
    for name, xml in domains.items():
        s.domains.append(Domain(name, name in running))
        add(f"domain:{name}:inactive", render("virsh_dumpxml_inactive", domain=name), xml, "")
        if name in running:
            add(f"domain:{name}:live", render("virsh_dumpxml_live", domain=name), xml, "")
    return s


def lint(overlay, catalog) -> list[str]:
    """Located problems of an overlay's cases, judged with `catalog` (the overlays applied):
    a case that gives another verdict than its name, a case for a control the overlay
    does not add, and, when the overlay has `cases:`, an added control without both."""
    errors = []
    added = {c.id for c in overlay.controls}
    for cid, named in overlay.cases.items():
        if cid not in added:
            where = next(iter(named.values()))[1] if named else overlay.path
            errors.append(f"{where}: cases: {cid} is not a control this overlay adds")
            continue
        control = catalog.by_id(cid)
        for name, (spec, where) in named.items():
            wanted = v.MANUAL if (name == "pass" and control.manual) else WANTED[name]
            try:
                snap = snapshot(spec, catalog.policy)
            except CaseError as exc:
                errors.append(f"{where}: cases.{cid}.{name}: {exc}")
                continue
            vm = snap.domains[0].name if control.applies_to == "vm" and snap.domains else None
            if control.applies_to == "vm" and vm is None:
                errors.append(f"{where}: cases.{cid}.{name}: {cid} judges a VM: give `domains`")
                continue
            got = engine.judge(control, snap, vm)
            if got.status != wanted:
                errors.append(f"{where}: cases.{cid}.{name}: {cid} gave {got.status}, not {wanted}: "
                              f"{got.reason or ''} (expected {got.expected}; actual {got.actual})")
    if overlay.has_cases:
        for c in overlay.controls:
            missing = [n for n in ("pass", "fail") if n not in overlay.cases.get(c.id, {})]
            if missing:
                errors.append(f"{c.source}: {c.id} has no {' and no '.join(missing)} case "
                              "(the overlay has cases:, so each control it adds needs both)")
    return errors
