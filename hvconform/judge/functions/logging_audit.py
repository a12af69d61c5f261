"""Python controls of the logging domain, the Linux audit system: auditd running and
fed by libvirt, the records and rules it holds, the rules locked, and its storage
actions.

  LOG-001  auditd_active           auditd running; audit=1 and a large backlog on the kernel command line
  LOG-002  libvirt_audit_level     libvirt audits (audit_level 2, or 1 with auditd running)
  LOG-003  virt_audit_records      VIRT_* start records for every running VM
  LOG-004  audit_watches           watches on the paths of policy audit_watch_paths / audit_exec_paths
  LOG-005  module_load_audited     kernel module (un)loading audited
  LOG-006  audit_immutable         the loaded rules locked (-e 2), also in the persistent rules
  LOG-015  audit_storage_actions   auditd's actions when storage runs low or fails; space for the logs
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import audit_conf
from hvconform.judge.read import daemons
from hvconform.judge.read import host_state
from hvconform.judge.kinds import kernel_cmdline
from hvconform.judge.kinds import libvirt_conf
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_grammar import ConfSyntaxError, parse


BACKLOG_MIN = 8192


@control("LOG-001", needs=[("ps", ""), ("cat", kernel_cmdline.PATH)])
def auditd_active(snap, vm, policy):
    expected = f"auditd running; audit=1 and audit_backlog_limit>={BACKLOG_MIN} on the kernel cmdline"
    lines, ps = host_state.running(snap, "auditd")
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


@control("LOG-002", needs=[*daemons.NEEDS, ("ps", "")])
def libvirt_audit_level(snap, vm, policy):
    # audit_level 1 (the default) audits only when the host audits: enough with auditd
    expected = "audit_level = 2, or audit_level = 1 (default) with auditd running"
    try:
        path = daemons.model(snap).conf(daemons.DCONF)
    except daemons.Undecided as undecided:
        candidates = [snap.file(p) for p in {f[daemons.DCONF] for f in daemons.FILES.values()}]
        if all(a is not None and artifacts.is_absent(a) for a in candidates):
            return v.not_applicable("no libvirt daemon configuration (libvirtd.conf, virtqemud.conf)",
                                    [v.Evidence.of(a, a.stderr.strip()) for a in candidates])
        return undecided.verdict
    art = snap.file(path)
    if art is None:
        return v.error(f"{path} was not collected")
    if artifacts.is_absent(art):
        return v.not_applicable(f"{path} does not exist", [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return artifacts.failure(art, path)
    try:
        settings = parse(art.stdout)
    except ConfSyntaxError as exc:
        return v.error(f"{path}:{exc.line}: libvirt cannot parse this file: {exc}")
    level = str(settings["audit_level"].value) if "audit_level" in settings else "1"
    lines, ps = host_state.running(snap, "auditd")
    evidence = [v.Evidence.of(art, libvirt_conf.excerpt(path, settings, ["audit_level"]))]
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


# -- audit records and rules: LOG-003 .. LOG-006 ------------------------------------------

AUSEARCH, AUDITCTL_RULES, AUDITCTL_STATUS = "cmd:ausearch_virt", "cmd:auditctl_rules", "cmd:auditctl_status"
AUDIT_RULES = "/etc/audit/audit.rules"


def _audit_tool(snap, key: str, what: str):
    """The artifact of an audit tool, whatever its exit code; End when not collected
    (error) or not installed, which means no audit rules and no records: a fact (fail).
    Callers judge its other failures, which differ by tool."""
    art = snap.get(key)
    if art is None:
        raise artifacts.End(v.error(f"{what} was not collected"))
    if art.rc == 127:
        raise artifacts.End(v.failed(f"{what} answers", "audit userspace tools not installed",
                                     [v.Evidence.of(art, art.stderr.strip() or "command not found")],
                                     reason="no auditd tools: nothing is audited on this host"))
    return art


def virt_records(text: str) -> list[dict]:
    """VIRT_* records of `ausearch` (raw form): {type, op, vm, res} each."""
    out = []
    for line in text.splitlines():
        m = re.match(r"type=(VIRT_\w+) ", line)
        if m:
            fields = dict(re.findall(r"\b(op|vm|res)=\"?([^\"\s']+)", line))
            out.append({"type": m.group(1), **fields})
    return out


@control("LOG-003", needs=[("ausearch_virt", "")])
@artifacts.ends
def virt_audit_records(snap, vm, policy):
    running = [d.name for d in snap.domains if d.running]
    expected = "VIRT_CONTROL op=start and VIRT_MACHINE_ID records since boot for every running VM"
    art = _audit_tool(snap, AUSEARCH, "ausearch")
    if not art.ok and "<no matches>" not in art.stdout + art.stderr:
        return artifacts.failure(art, "ausearch")
    records = virt_records(art.stdout)
    started = {r.get("vm") for r in records if r["type"] == "VIRT_CONTROL" and r.get("op") == "start"}
    labelled = {r.get("vm") for r in records if r["type"] == "VIRT_MACHINE_ID"}
    missing = [d for d in running if d not in started or d not in labelled]
    counts = ", ".join(f"{t} {sum(r['type'] == t for r in records)}"
                       for t in ("VIRT_CONTROL", "VIRT_MACHINE_ID", "VIRT_RESOURCE"))
    evidence = [v.Evidence.of(art, f"{counts}; started since boot: {', '.join(sorted(x for x in started if x)) or 'none'}")]
    if not records:
        return v.failed(expected, "no VIRT_* records since boot", evidence,
                        reason="libvirt's audit records do not reach the audit log")
    if missing:
        return v.failed(expected, f"{counts}; no start record for {', '.join(missing)}", evidence,
                        reason="running VMs whose start was not audited")
    return v.passed(expected, f"{counts}; every running VM's start audited", evidence)


def audit_rules(text: str) -> list[dict]:
    """`auditctl -l` lines -> [{line, watch, perms, syscalls, key}] (watches printed as
    `-w path -p wa` or as `-a always,exit -F dir=/path -F perm=wa`)."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        rule = {"line": line.strip(), "watch": None, "perms": "", "syscalls": set()}
        for i, word in enumerate(words[:-1]):
            nxt = words[i + 1]
            if word == "-w":
                rule["watch"] = nxt
            elif word == "-p":
                rule["perms"] = nxt
            elif word == "-S":
                rule["syscalls"] |= set(nxt.split(","))
            elif word == "-F" and nxt.split("=", 1)[0] in ("dir", "path"):
                rule["watch"] = nxt.split("=", 1)[1]
            elif word == "-F" and nxt.startswith("perm="):
                rule["perms"] = nxt[5:]
        out.append(rule)
    return out


def _rules(snap):
    """(artifact, rules) of `auditctl -l`; End when it did not answer."""
    art = _audit_tool(snap, AUDITCTL_RULES, "auditctl -l")
    if not art.ok:
        raise artifacts.End(artifacts.failure(art, "auditctl -l"))
    return art, audit_rules(art.stdout)


@control("LOG-004", needs=[("auditctl_rules", "")])
@artifacts.ends
def audit_watches(snap, vm, policy):
    wanted = [(p, "wa") for p in policy["audit_watch_paths"]] + [(p, "x") for p in policy["audit_exec_paths"]]
    expected = "audit watches: " + ", ".join(f"{p} -p {perm}" for p, perm in wanted)
    art, rules = _rules(snap)
    lines, missing = [], []
    for path, perms in wanted:
        hit = next((r for r in rules if (r["watch"] or "").rstrip("/") == path.rstrip("/")
                    and set(perms) <= set(r["perms"])), None)
        lines.append(hit["line"] if hit else f"no -w {path} -p {perms}")
        if hit is None:
            missing.append(f"{path} ({perms})")
    evidence = [v.Evidence.of(art, "\n".join(lines))]
    if missing:
        return v.failed(expected, f"{len(missing)} of {len(wanted)} watches missing", evidence,
                        reason="not watched: " + ", ".join(missing))
    return v.passed(expected, f"all {len(wanted)} watches loaded", evidence)


MODULE_SYSCALLS = ("init_module", "finit_module", "delete_module")


@control("LOG-005", needs=[("auditctl_rules", "")])
@artifacts.ends
def module_load_audited(snap, vm, policy):
    expected = "audit rules for " + ", ".join(MODULE_SYSCALLS)
    art, rules = _rules(snap)
    hits = [r for r in rules if r["syscalls"] & set(MODULE_SYSCALLS) and "always,exit" in r["line"]]
    covered = set().union(*(r["syscalls"] for r in hits)) if hits else set()
    missing = [s for s in MODULE_SYSCALLS if s not in covered]
    evidence = [v.Evidence.of(art, "\n".join(r["line"] for r in hits) or "no rule for the module syscalls")]
    if missing:
        return v.failed(expected, "not audited: " + ", ".join(missing), evidence,
                        reason="loading a kernel module (a rootkit, a DMA-capable driver) leaves no record")
    return v.passed(expected, "all three syscalls audited", evidence)


@control("LOG-006", needs=[("auditctl_status", ""), ("cat", AUDIT_RULES)])
@artifacts.ends
def audit_immutable(snap, vm, policy):
    expected = f"auditctl -s: enabled 2; last rule of {AUDIT_RULES}: -e 2"
    art = _audit_tool(snap, AUDITCTL_STATUS, "auditctl -s")
    if not art.ok:
        return artifacts.failure(art, "auditctl -s")
    enabled = next((line.split()[1] for line in art.stdout.splitlines()
                    if line.startswith("enabled ") and len(line.split()) > 1), "?")
    rules = artifacts.required_file(snap, AUDIT_RULES, expected, "no persistent audit rules")
    body = [(n, line.strip()) for n, line in enumerate(rules.stdout.splitlines(), 1)
            if line.strip() and not line.strip().startswith("#")]
    last = body[-1] if body else (0, "(no rules)")
    evidence = [v.Evidence.of(art, f"enabled {enabled}"), v.Evidence.of(rules, f"{AUDIT_RULES}:{last[0]}: {last[1]}")]
    actual = f"enabled {enabled}; last rule {last[1]}"
    problems = ([f"running audit configuration is not locked (enabled {enabled})"] if enabled != "2" else []) + \
               ([f"{AUDIT_RULES} does not end with -e 2"] if last[1].split() != ["-e", "2"] else [])
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


# -- audit storage: LOG-015 -------------------------------------------------------------

AUDITD_CONF = "/etc/audit/auditd.conf"


@control("LOG-015", needs=[("cat", AUDITD_CONF), ("df_audit", "")])
@artifacts.ends
def audit_storage_actions(snap, vm, policy):
    rules = {"max_log_file_action": policy["audit_max_log_file_actions"],
             "space_left_action": policy["audit_space_left_actions"],
             "admin_space_left_action": policy["audit_space_left_actions"],
             "disk_full_action": policy["audit_disk_full_actions"],
             "disk_error_action": policy["audit_disk_full_actions"]}
    expected = "; ".join(f"{k} in {'/'.join(val)}" for k, val in rules.items()) + \
        "; free space >= max_log_file x num_logs"
    conf = artifacts.required_file(snap, AUDITD_CONF, expected, "auditd is not configured")
    settings = audit_conf.settings(conf.stdout)
    wrong = [f"{k} = {settings.get(k, 'unset')}" for k, allowed in rules.items()
             if settings.get(k, "").lower() not in allowed]
    lines = [f"{AUDITD_CONF}: {k} = {settings.get(k, 'unset')}" for k in [*rules, "max_log_file", "num_logs"]]
    df = snap.get("cmd:df_audit")
    if df is None:
        return v.error("df of /var/log/audit was not collected")
    if not df.ok:
        return artifacts.failure(df, "df /var/log/audit")
    rows = df.stdout.strip().splitlines()
    free_mb = int(rows[-1].split()[3]) // 1024 if len(rows) >= 2 and rows[-1].split()[3].isdigit() else None
    size_mb = int(settings.get("max_log_file", "8")) * int(settings.get("num_logs", "5")) \
        if settings.get("max_log_file", "8").isdigit() and settings.get("num_logs", "5").isdigit() else None
    evidence = [v.Evidence.of(conf, "\n".join(lines)), v.Evidence.of(df, df.stdout.strip())]
    if free_mb is None or size_mb is None:
        return v.error("cannot read the free space of /var/log/audit or the log size settings")
    if free_mb < size_mb:
        wrong.append(f"{free_mb} MB free < {size_mb} MB of rotated logs")
    actual = "; ".join(wrong) or f"actions as required; {free_mb} MB free for {size_mb} MB of logs"
    if wrong:
        return v.failed(expected, actual, evidence, reason="auditing can stop or lose records when storage runs out")
    return v.passed(expected, actual, evidence)
