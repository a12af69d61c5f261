"""Bespoke checks of the logging domain."""

from __future__ import annotations

import fnmatch
import ipaddress
import re

from hvconform.model import verdict as v
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


# -- forwarding: LOG-007, LOG-008 ----------------------------------------------------------

RSYSLOG_CONF, AU_REMOTE, AUDISP_REMOTE = ("/etc/rsyslog.conf", "/etc/audit/plugins.d/au-remote.conf",
                                          "/etc/audit/audisp-remote.conf")
_PARAM = re.compile(r'([\w.]+)\s*=\s*"([^"]*)"')   # dotted names: queue.type, action.*


def rsyslog_actions(lines: list[tuple[str, str]]) -> list[tuple[str, dict]]:
    """Forwarding actions of rsyslog configuration lines [(where, text)]:
    RainerScript `action(type="omfwd" ...)` (may span lines) and legacy `@@host` /
    `@host` selectors, each with the effective TLS settings: -> [(where, {param: value})].
    Legacy `$DefaultNetstreamDriver`/`$ActionSendStreamDriver*` apply to later `@@` lines."""
    actions, legacy, pending, start = [], {}, None, ""
    for where, raw in lines:
        text = raw.split("#", 1)[0].strip()
        if pending is not None:
            pending += " " + text
        elif re.search(r"\baction\s*\(", text):
            pending, start = text[text.index("action"):], where
        else:
            m = re.match(r"\$(DefaultNetstreamDriver|ActionSendStreamDriver|ActionSendStreamDriverMode|"
                         r"ActionSendStreamDriverAuthMode)\s+(\S+)", text)
            if m:
                key = {"DefaultNetstreamDriver": "streamdriver", "ActionSendStreamDriver": "streamdriver",
                       "ActionSendStreamDriverMode": "streamdrivermode",
                       "ActionSendStreamDriverAuthMode": "streamdriverauthmode"}[m.group(1)]
                legacy[key] = m.group(2)
            m = re.search(r"\s(@@?)(\(o\))?\[?([\w.:-]+?)\]?(:\d+)?(;\S+)?$", " " + text)
            if m and not text.startswith("$"):
                actions.append((where, {"target": m.group(3), "protocol": "tcp" if m.group(1) == "@@" else "udp",
                                        **legacy}))
        if pending is not None and ")" in pending:
            params = {k.lower(): val for k, val in _PARAM.findall(pending)}
            if params.get("type") == "omfwd":
                actions.append((start, {"target": params.get("target", ""),
                                        "protocol": params.get("protocol", "udp").lower(), **params}))
            pending = None
    return actions


def tls_forwarding(params: dict) -> list[str]:
    """What keeps an rsyslog forwarding action from being TCP + TLS with the peer authenticated."""
    problems = []
    if params.get("protocol") != "tcp":
        problems.append(f"protocol {params.get('protocol')}")
    if params.get("streamdriver", "").lower() not in ("gtls", "ossl"):
        problems.append(f"StreamDriver {params.get('streamdriver', 'unset')}")
    if params.get("streamdrivermode") != "1":
        problems.append(f"StreamDriverMode {params.get('streamdrivermode', 'unset')}")
    if params.get("streamdriverauthmode", "").lower() not in ("x509/name", "x509/certvalid"):
        problems.append(f"StreamDriverAuthMode {params.get('streamdriverauthmode', 'unset')}")
    return problems


def _settings(text: str) -> dict[str, str]:
    """`key = value` lines (auditd.conf, audisp plugins) -> {key: value}."""
    out = {}
    for line in text.splitlines():
        key, eq, value = line.split("#", 1)[0].partition("=")
        if eq and key.strip():
            out[key.strip().lower()] = value.strip()
    return out


@control("LOG-007", needs=[("cat", RSYSLOG_CONF), ("rsyslog_d", ""), ("cat", AU_REMOTE), ("cat", AUDISP_REMOTE)])
@artifacts.ends
def logs_forwarded_encrypted(snap, vm, policy):
    target = policy["log_forward_target"]
    expected = ("rsyslog forwards over TCP with StreamDriver gtls/ossl, StreamDriverMode 1, StreamDriverAuthMode "
                "x509/name (or audisp-remote with krb5/tls)" + (f" to {target}" if target else ""))
    conf, dropins = snap.file(RSYSLOG_CONF), snap.get("cmd:rsyslog_d")
    if conf is None:
        return v.error(f"{RSYSLOG_CONF} was not collected")
    if not conf.ok and not artifacts.is_absent(conf):
        return artifacts.failure(conf, RSYSLOG_CONF)
    hits = host_state.grep_lines(dropins, "/etc/rsyslog.d")
    lines = [(f"{RSYSLOG_CONF}:{n}", t) for n, t in enumerate(conf.stdout.splitlines(), 1)] if conf.ok else []
    lines += [(":".join(h.split(":", 2)[:2]), h.split(":", 2)[2]) for h in hits if h.count(":") >= 2
              and h.split(":", 1)[0].endswith(".conf")]
    good, findings = [], []
    for where, params in rsyslog_actions(lines):
        problems = tls_forwarding(params)
        if target and target not in params.get("target", ""):
            problems.append(f"target {params.get('target')} is not {target}")
        findings.append(f"{where}: to {params.get('target')}: " + ("; ".join(problems) or "TCP + TLS, peer authenticated"))
        if not problems:
            good.append(where)
    audisp = _audisp_remote(snap, target)
    evidence = [v.Evidence.of(conf if conf.ok else dropins, "\n".join(findings) or "no rsyslog forwarding action")]
    if audisp[1] is not None:
        evidence.append(audisp[1])
    if good or audisp[0]:
        return v.passed(expected, "; ".join(filter(None, [f"rsyslog TLS forwarding at {', '.join(good)}" if good else "",
                                                          audisp[0]])), evidence)
    actual = f"{len(findings)} rsyslog forwarding action(s), none over authenticated TLS" if findings else "no forwarding"
    return v.failed(expected, actual, evidence, reason="logs stay on the host or cross the network in clear")


def _audisp_remote(snap, target: str):
    """('audisp-remote ...' when it forwards with krb5/tls, else ''), evidence or None."""
    plugin, conf = snap.file(AU_REMOTE), snap.file(AUDISP_REMOTE)
    if plugin is None or conf is None or not plugin.ok or not conf.ok:
        return "", None
    active, settings = _settings(plugin.stdout).get("active", "no"), _settings(conf.stdout)
    server, transport = settings.get("remote_server", ""), settings.get("transport", "tcp")
    ok = active == "yes" and server and transport.lower() in ("krb5", "tls") and (not target or target in server)
    evidence = v.Evidence.of(conf, f"{AU_REMOTE}: active = {active}\n{AUDISP_REMOTE}: remote_server = {server}, "
                                   f"transport = {transport}")
    return (f"audisp-remote to {server} over {transport}" if ok else ""), evidence


JOURNALD_CONF, JOURNAL_UPLOAD = "/etc/systemd/journald.conf", "/etc/systemd/journal-upload.conf"


def unit_settings(lines: list[tuple[str, str]], section: str) -> dict[str, tuple[str, str]]:
    """systemd-style `[Section]` `Key=value` lines [(where, text)] -> {Key: (value, where)};
    later lines win, as later drop-ins do."""
    out, current = {}, None
    for where, text in lines:
        text = text.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if text.startswith("["):
            current = text.strip("[]")
        elif current == section and "=" in text:
            key, _, value = text.partition("=")
            out[key.strip()] = (value.strip(), where)
    return out


SYSLOG_DAEMONS = {"rsyslogd", "syslog-ng"}


def shipped_default(text: str, key: str) -> str | None:
    """The compiled default a shipped systemd config documents as `#Key=value`
    (Debian's journald.conf: `#ForwardToSyslog=yes`; upstream's and RHEL's: `no`)."""
    m = re.search(rf"(?m)^#\s*{key}=(\S+)\s*$", text)
    return m.group(1) if m else None


@control("LOG-008", needs=[("cat", JOURNALD_CONF), ("journald_conf_d", ""), ("cat", JOURNAL_UPLOAD),
                           ("systemctl_unit_files", ""), ("ps", "")])
@artifacts.ends
def journald_forwarded(snap, vm, policy):
    expected = ("journald ForwardToSyslog=yes to a running rsyslogd/syslog-ng, or systemd-journal-upload "
                "enabled with an https URL and certificates; systemd-journal-remote not enabled")
    conf, dropins = snap.file(JOURNALD_CONF), snap.get("cmd:journald_conf_d")
    if conf is None:
        return v.error(f"{JOURNALD_CONF} was not collected")
    if not conf.ok and not artifacts.is_absent(conf):
        return artifacts.failure(conf, JOURNALD_CONF)
    hits = host_state.grep_lines(dropins, "/etc/systemd/journald.conf.d")
    states, units = host_state.unit_states(snap)
    procs, ps = host_state.processes(snap)
    lines = [(f"{JOURNALD_CONF}:{n}", t) for n, t in enumerate(conf.stdout.splitlines(), 1)] if conf.ok else []
    lines += sorted((":".join(h.split(":", 2)[:2]), h.split(":", 2)[2]) for h in hits
                    if h.count(":") >= 2 and h.split(":", 1)[0].endswith(".conf"))
    default = shipped_default(conf.stdout, "ForwardToSyslog") if conf.ok else None
    forward, where = unit_settings(lines, "Journal").get("ForwardToSyslog", (default or "no", JOURNALD_CONF))
    if "ForwardToSyslog" not in unit_settings(lines, "Journal"):
        where += f" (unset: default {forward}{' as the shipped file documents it' if default else ''})"
    syslog = [line for comm, line in procs if comm in SYSLOG_DAEMONS]
    upload = _journal_upload(snap, states)
    collector = host_state.enabled_units(states, ["systemd-journal-remote.socket", "systemd-journal-remote.service"])
    evidence = [v.Evidence.of(conf if conf.ok else dropins, f"{where}: ForwardToSyslog={forward}"),
                v.Evidence.of(units, "\n".join(collector + upload[1]) or "systemd-journal-remote and -upload not enabled"),
                v.Evidence.of(ps, "\n".join(syslog) or "no rsyslogd or syslog-ng process")]
    forwarded = forward.lower() in ("yes", "true", "1", "on") and bool(syslog)
    problems = ([] if forwarded or upload[0] else
                ["journald forwards to no running syslog daemon and does not upload" if syslog == [] and
                 forward.lower() in ("yes", "true", "1", "on") else "journald neither forwards to syslog nor uploads"]) + \
               ([f"host is a journal collector: {', '.join(collector)}"] if collector else [])
    actual = (f"ForwardToSyslog={forward}; syslog daemon {'running' if syslog else 'not running'}; "
              f"upload {'on' if upload[0] else 'off'}; remote {'enabled' if collector else 'off'}")
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


def _journal_upload(snap, states) -> tuple[bool, list[str]]:
    enabled = host_state.enabled_units(states, ["systemd-journal-upload.service"])
    conf = snap.file(JOURNAL_UPLOAD)
    if not enabled or conf is None or not conf.ok:
        return False, enabled
    keys = unit_settings([(JOURNAL_UPLOAD, t) for t in conf.stdout.splitlines()], "Upload")
    url = keys.get("URL", ("", ""))[0]
    certs = all(k in keys for k in ("ServerKeyFile", "ServerCertificateFile", "TrustedCertificateFile"))
    return url.startswith("https://") and certs, enabled + [f"{JOURNAL_UPLOAD}: URL={url}, certificates "
                                                            f"{'set' if certs else 'missing'}"]


# -- time, agents, audit storage: LOG-012 .. LOG-015 ------------------------------------------

CHRONY_CONFS = ["/etc/chrony.conf", "/etc/chrony/chrony.conf"]
MAXPOLL_MAX = 16


def chrony_sources(text: str) -> list[tuple[int, str, str, int | None]]:
    """server/pool lines of chrony.conf -> [(line, kind, name, maxpoll or None)]."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("server", "pool", "peer"):
            maxpoll = words[words.index("maxpoll") + 1] if "maxpoll" in words[:-1] else None
            out.append((n, words[0], words[1], int(maxpoll) if maxpoll and maxpoll.lstrip("-").isdigit() else None))
    return out


def synchronised(chronyc, timedatectl) -> tuple[bool | None, str]:
    """Whether the clock is synchronised, from `chronyc -n sources` (a `^*` line is the
    selected source) or `timedatectl show -p NTPSynchronized`; None when neither answered."""
    if chronyc is not None and chronyc.ok:
        selected = [line for line in chronyc.stdout.splitlines() if line.startswith("^*") or line.startswith("=*")]
        return bool(selected), (selected[0] if selected else "chronyc: no selected source (^*)")
    if timedatectl is not None and timedatectl.ok and "NTPSynchronized=" in timedatectl.stdout:
        value = timedatectl.stdout.strip()
        return value == "NTPSynchronized=yes", value
    return None, "; ".join(((a.stderr or a.stdout).strip().splitlines() or ["no output"])[-1]
                           for a in (chronyc, timedatectl) if a is not None)


@control("LOG-012", needs=[*[("cat", p) for p in CHRONY_CONFS], ("chronyc_sources", ""), ("timedatectl_ntp", "")])
def time_synchronised(snap, vm, policy):
    approved = policy["approved_time_sources"]
    expected = f"clock synchronised; >= 1 server matching {', '.join(approved)}; maxpoll <= {MAXPOLL_MAX}"
    chronyc, timedatectl = snap.get("cmd:chronyc_sources"), snap.get("cmd:timedatectl_ntp")
    if chronyc is None or timedatectl is None:
        return v.error("chronyc sources or timedatectl was not collected")
    confs = [snap.file(p) for p in CHRONY_CONFS]
    if None in confs:
        return v.error("the chrony configuration was not collected")
    for path, art in zip(CHRONY_CONFS, confs):
        if not art.ok and not artifacts.is_absent(art):
            return artifacts.failure(art, path)
    conf = next(((p, a) for p, a in zip(CHRONY_CONFS, confs) if a.ok), None)
    sources = chrony_sources(conf[1].stdout) if conf else []
    good = [s for s in sources if any(fnmatch.fnmatchcase(s[2], pattern) for pattern in approved)]
    slow = [s for s in sources if s[3] is not None and s[3] > MAXPOLL_MAX]
    synced, how = synchronised(chronyc, timedatectl)
    evidence = [v.Evidence.of(conf[1] if conf else confs[-1],
                              "\n".join(f"{conf[0]}:{n}: {kind} {name}" + (f" maxpoll {mp}" if mp is not None else "")
                                        for n, kind, name, mp in sources) if conf else "no chrony.conf"),
                v.Evidence.of(chronyc if chronyc.ok or not timedatectl.ok else timedatectl, how)]
    problems = (["no approved time source configured"] if not good else []) + \
               ([f"maxpoll > {MAXPOLL_MAX}: {', '.join(s[2] for s in slow)}"] if slow else []) + \
               (["not synchronised" if synced is False else "synchronisation state unknown (no chronyd or timedated answered)"]
                if not synced else [])
    actual = f"{len(good)} approved of {len(sources)} source(s); {how}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


@control("LOG-013", needs=[("ps", "")])
@artifacts.ends
def ids_agent_running(snap, vm, policy):
    agents = policy["ids_agents"]
    expected = f"one of {', '.join(agents)} running"
    procs, ps = host_state.processes(snap)
    found = [line for comm, line in procs if comm in agents]
    evidence = [v.Evidence.of(ps, "\n".join(found) or "no approved IDS agent in the process table")]
    if not found:
        return v.failed(expected, "no IDS agent running", evidence, reason="intrusions on the hypervisor go unseen")
    return v.passed(expected, f"{len(found)} agent process(es)", evidence)


def listeners(text: str) -> list[tuple[str, str, str]]:
    """`ss -Htlnp` -> [(local address, port, process names)]."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            address, _, port = parts[3].rpartition(":")
            names = ",".join(re.findall(r'\(\("([^"]+)"', line)) or ",".join(re.findall(r'"([^"]+)"', line))
            out.append((address.strip("[]").split("%")[0], port, names))
    return out


def exposed(address: str, networks: list[str]) -> bool:
    """Whether a listening address is outside loopback and the allowed networks
    (a wildcard address is everywhere)."""
    if address in ("*", "0.0.0.0", "::"):
        return True
    ip = ipaddress.ip_address(address)
    return not ip.is_loopback and not any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


@control("LOG-014", needs=[("ps", ""), ("ss_listeners_procs", "")])
@artifacts.ends
def monitoring_exporter(snap, vm, policy):
    exporters, networks = policy["monitoring_exporters"], policy["monitoring_networks"]
    expected = (f"one of {', '.join(exporters)} running, listening only on loopback"
                + (f" or {', '.join(networks)}" if networks else ""))
    art = snap.get("cmd:ss_listeners_procs")
    procs, ps = host_state.processes(snap)
    if art is None:
        return v.error("ss -Htlnp was not collected")
    if not art.ok:
        return artifacts.failure(art, "ss -Htlnp")
    # ps shows a command name cut to 15 characters (TASK_COMM_LEN): prometheus-libvirt-exporter
    # runs as "prometheus-libv"
    running = [line for comm, line in procs if comm in {e[:15] for e in exporters}]
    ports = [(a, p, n) for a, p, n in listeners(art.stdout) if any(e[:15] in n.split(",") or e in n for e in exporters)]
    open_ports = [f"{a}:{p} ({n})" for a, p, n in ports if exposed(a, networks)]
    evidence = [v.Evidence.of(ps, "\n".join(running) or "no approved exporter in the process table"),
                v.Evidence.of(art, "\n".join(f"{a}:{p} {n}" for a, p, n in ports) or "no exporter listening")]
    if not running:
        return v.failed(expected, "no exporter running", evidence, reason="VM resource use is not monitored")
    if open_ports:
        return v.failed(expected, "exposed: " + ", ".join(open_ports), evidence,
                        reason="the metrics endpoint is reachable beyond the monitoring network")
    return v.passed(expected, f"{len(running)} exporter process(es), {len(ports)} endpoint(s) not exposed", evidence)


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
    settings = _settings(conf.stdout)
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
