"""Bespoke checks of the logging domain."""

from __future__ import annotations

from hvconform import verdict as v
from hvconform.checks import kernel_cmdline, libvirt_conf, reading
from hvconform.checks.bespoke import bespoke
from hvconform.checks.libvirtconf_parser import ConfSyntaxError, parse

PS = "cmd:ps"
DCONF = "/etc/libvirt/libvirtd.conf"   # the monolithic daemon's; see the libvirt domain rows
BACKLOG_MIN = 8192


def running(snap, comm: str) -> tuple[list[str] | None, object]:
    """Lines of `ps -eo pid=,uid=,user:32=,comm=,args=` whose command is `comm`;
    None when the process table was not collected."""
    art = snap.get(PS)
    if art is None or not art.ok:
        return None, art
    return [line.strip() for line in art.stdout.splitlines()
            if len(line.split(None, 4)) >= 4 and line.split(None, 4)[3] == comm], art


@bespoke("LOG-001", needs=[("ps", ""), ("cat", kernel_cmdline.PATH)])
def auditd_active(snap, vm, policy):
    expected = f"auditd running; audit=1 and audit_backlog_limit>={BACKLOG_MIN} on the kernel cmdline"
    lines, ps = running(snap, "auditd")
    cmd = snap.file(kernel_cmdline.PATH)
    if lines is None or cmd is None or not cmd.ok:
        return v.error("the process table or /proc/cmdline was not collected")
    params = {}
    for token in kernel_cmdline.tokens(cmd.stdout):
        name, _, value = token.partition("=")
        params[name] = value
    audit, backlog = params.get("audit", "unset"), params.get("audit_backlog_limit", "unset")
    problems = []
    if not lines:
        problems.append("auditd is not running")
    if audit != "1":
        problems.append(f"audit={audit}")
    if not backlog.isdigit() or int(backlog) < BACKLOG_MIN:
        problems.append(f"audit_backlog_limit={backlog}")
    actual = f"auditd {'running' if lines else 'not running'}; audit={audit}; audit_backlog_limit={backlog}"
    evidence = [v.Evidence.of(ps, "\n".join(lines) or "no auditd process in the process table"),
                v.Evidence.of(cmd, f"{kernel_cmdline.PATH}: {cmd.stdout.strip()}")]
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


@bespoke("LOG-002", needs=[("cat", DCONF), ("ps", "")])
def libvirt_audit_level(snap, vm, policy):
    # audit_level 1 (the default) audits only when the host audits: enough with auditd
    expected = "audit_level = 2, or audit_level = 1 (default) with auditd running"
    art = snap.file(DCONF)
    if art is None:
        return v.error(f"{DCONF} was not collected")
    if reading.is_absent(art):
        return v.not_applicable(f"{DCONF} does not exist", [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return reading.failure(art, DCONF)
    try:
        settings = parse(art.stdout)
    except ConfSyntaxError as exc:
        return v.error(f"{DCONF}:{exc.line}: libvirt cannot parse this file: {exc}")
    level = str(settings["audit_level"].value) if "audit_level" in settings else "1"
    lines, ps = running(snap, "auditd")
    evidence = [v.Evidence.of(art, libvirt_conf.excerpt(DCONF, settings, ["audit_level"]))]
    actual = f"audit_level = {level}{'' if 'audit_level' in settings else ' (default)'}"
    if level == "2":
        return v.passed(expected, actual, evidence)
    if level == "1" and lines is None:
        return v.error("audit_level is 1 and the process table was not collected")
    if level == "1" and lines:
        evidence.append(v.Evidence.of(ps, "\n".join(lines)))
        return v.passed(expected, actual + "; auditd running", evidence)
    if level == "1":
        return v.failed(expected, actual + "; auditd not running", evidence,
                        reason="audit_level 1 without auditd: nothing is audited")
    unknown = f"audit_level {level} is not a level libvirt knows"
    return v.failed(expected, actual, evidence, reason="auditing disabled" if level == "0" else unknown)
