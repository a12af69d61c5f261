"""Python controls of the logging domain, forwarding: the host's logs leave it,
encrypted and to an authenticated peer.

  LOG-007  logs_forwarded_encrypted   rsyslog forwards over TCP + TLS with the peer authenticated (or audisp-remote)
  LOG-008  journald_forwarded         journald forwards to a running syslog daemon, or uploads over https
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import audit_conf
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control


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
    active, settings = audit_conf.settings(plugin.stdout).get("active", "no"), audit_conf.settings(conf.stdout)
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
