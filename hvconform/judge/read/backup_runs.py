"""When the backup tools ran and how it ended (BKP-003), and libvirt's own record of
each VM's backups (BKP-004, BKP-008), from what the host keeps:

  systemd   `systemctl list-timers` and, for each activated unit, `systemctl show -p
            Result,ExecMainExitTimestamp,ExecMainStatus` (UTC timestamps) with ExecStart's
            program: a unit is a tool's when its program or its name is the tool's
  cron      crontab lines and run-parts scripts naming the tool (where systemd is not PID 1)
  logs      borgmatic's syslog lines (`borgmatic: INFO <config>: Successfully ran
            configuration file`, `... CRITICAL <config>: Error running configuration file`:
            borgmatic/commands/borgmatic.py; the success line needs --syslog-verbosity 1),
            rsnapshot's logfile (`[2025-06-01T03:00:05] /usr/bin/rsnapshot daily: completed
            successfully`), a Director's job reports (`End time:` then `Termination:`)
  libvirt   per domain, `virsh checkpoint-list` (formatcheckpoint.rst: creation times), the
            last completed job (`virsh domjobinfo --completed`: type and operation) and a
            running backup job's XML (`virsh backup-dumpxml`, formatbackup.rst)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from hvconform.judge.read.backup_setup import sections

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def parse_time(text: str, now: datetime | None = None) -> datetime | None:
    """The times the tools print: ISO 8601 (rsyslog's default since Debian 12, rsnapshot
    1.4, systemd --timestamp=utc 'Sat 2025-05-31 03:01:10 UTC'), syslog's traditional
    'Jun  1 03:00:05' (the year is the latest that is not after `now`), Bacula's
    '01-Jun-2025 03:00:05', rsnapshot 1.3's '01/Jun/2025:03:00:05'. No zone: UTC."""
    text = text.strip()
    m = re.match(r"^(?:\w{3} )?(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?\s*(Z|UTC|[+-]\d\d:?\d\d)?", text)
    if m:
        zone = m[3] if m[3] and m[3] not in ("Z", "UTC") else "+00:00"
        zone = zone if ":" in zone else zone[:3] + ":" + zone[3:]
        try:
            return datetime.fromisoformat(f"{m[1]}T{m[2]}{zone}")
        except ValueError:
            return None
    m = re.match(r"^(\d\d)[-/](\w{3})[-/](\d{4})[ :](\d\d):(\d\d):(\d\d)", text)
    if m and m[2].lower() in _MONTHS:
        return _utc(int(m[3]), _MONTHS[m[2].lower()], int(m[1]), int(m[4]), int(m[5]), int(m[6]))
    m = re.match(r"^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)", text)
    if m and m[1].lower() in _MONTHS and now is not None:
        year = now.year
        stamp = _utc(year, _MONTHS[m[1].lower()], int(m[2]), int(m[3]), int(m[4]), int(m[5]))
        if stamp and stamp > now.replace(microsecond=0) and (stamp - now).days >= 1:
            stamp = _utc(year - 1, _MONTHS[m[1].lower()], int(m[2]), int(m[3]), int(m[4]), int(m[5]))
        return stamp
    return None


def _utc(*fields) -> datetime | None:
    try:
        return datetime(*fields, tzinfo=timezone.utc)
    except ValueError:
        return None


# ---- systemd -----------------------------------------------------------------------

@dataclass
class UnitRun:
    unit: str
    timer: str
    result: str = ""
    exited: str = ""          # ExecMainExitTimestamp as printed
    status: str = ""          # ExecMainStatus
    program: str = ""         # ExecStart's path
    text: str = ""            # the lines shown, for evidence


def systemd_runs(text: str) -> list[UnitRun]:
    """`systemctl list-timers` lines, `###`, then `systemctl show` blocks -> one UnitRun per
    timer, with its activated unit's properties."""
    timers, _, shown = text.partition("\n###\n")
    by_unit: dict[str, dict] = {}
    for block in shown.split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            by_unit[props["Id"]] = props
    out = []
    for line in timers.splitlines():
        words = line.split()
        if len(words) < 2 or not words[-2].endswith(".timer"):
            continue
        timer, unit = words[-2], words[-1]
        props = by_unit.get(unit, {})
        out.append(UnitRun(unit, timer, props.get("Result", ""), props.get("ExecMainExitTimestamp", ""),
                           props.get("ExecMainStatus", ""), props.get("ExecStart", ""),
                           f"{line.strip()}\n" + "\n".join(f"{k}={val}" for k, val in props.items())))
    return out


def runs_tool(run: UnitRun, tool: str) -> bool:
    program = run.program.rsplit("/", 1)[-1]
    names = {"bacula": ("bacula", "bareos")}.get(tool, (tool,))
    return program in names or any(n in run.unit for n in names)


# ---- cron ---------------------------------------------------------------------------

_TOOL_WORDS = {"borgmatic": r"\bborgmatic\b", "restic": r"\brestic\b", "rsnapshot": r"\brsnapshot\b",
               "bacula": r"\b(bacula|bareos)\b"}


def cron_lines(text: str, tool: str) -> list[str]:
    """The crontab lines (`path:line: text`) that run `tool`; commented lines never reach here."""
    return [line for line in text.splitlines() if re.search(_TOOL_WORDS[tool], line.split(": ", 1)[-1])]


# ---- the tools' own logs -------------------------------------------------------------

@dataclass
class Event:
    at: datetime
    ok: bool
    line: str


_BORGMATIC = re.compile(r"borgmatic(?:\[\d+\])?: (\w+) (.+?): (Successfully ran configuration file|"
                        r"Error running configuration file)")


def borgmatic_events(text: str, now: datetime, config: str | None = None) -> list[Event]:
    """Outcomes per run from borgmatic's syslog lines, for one configuration file (or any)."""
    out = []
    for line in text.splitlines():
        m = _BORGMATIC.search(line)
        if not m or (config and m[2] != config):
            continue
        at = parse_time(line, now)
        if at:
            out.append(Event(at, m[3].startswith("Successfully"), line.strip()))
    return out


_RSNAPSHOT = re.compile(r"^\[([^\]]+)\] \S*rsnapshot \S+: (completed successfully|completed, but with some "
                        r"warnings|ERROR.*)$")


def rsnapshot_events(text: str, now: datetime) -> list[Event]:
    out = []
    for line in text.splitlines():
        m = _RSNAPSHOT.match(line.strip())
        if m and (at := parse_time(m[1], now)):
            out.append(Event(at, m[2] == "completed successfully", line.strip()))
    return out


def bacula_events(text: str, now: datetime) -> list[Event]:
    """`End time:` then `Termination:` lines of the Director's job reports."""
    out, end = [], None
    for line in text.splitlines():
        if m := re.match(r"^\s*End time:\s*(.+)$", line):
            end = parse_time(m[1], now)
        elif (m := re.match(r"^\s*Termination:\s*(.+)$", line)) and end is not None:
            out.append(Event(end, m[1].strip().startswith("Backup OK"), f"End time {end.isoformat()}; "
                                                                          f"Termination: {m[1].strip()}"))
            end = None
    return out


def latest(events: list[Event]) -> tuple[Event | None, Event | None]:
    """(the newest success, the newest event)."""
    ok = [e for e in events if e.ok]
    return (max(ok, key=lambda e: e.at) if ok else None,
            max(events, key=lambda e: e.at) if events else None)


# ---- libvirt -----------------------------------------------------------------------

@dataclass
class DomainBackups:
    checkpoints: list[tuple[str, datetime | None, str]] = field(default_factory=list)  # (name, created, line)
    checkpoint_text: str = ""
    job: dict = field(default_factory=dict)        # domjobinfo --completed: field -> value
    job_text: str = ""
    backup_xml: str | None = None                  # a running backup job's XML


def domain_backups(text: str) -> dict[str, DomainBackups]:
    """The `virsh_backup_state` output -> {domain: DomainBackups}."""
    out: dict[str, DomainBackups] = {}
    current = None
    for kind, rest, lines in sections(text):
        if kind == "domain":
            current = out.setdefault(rest, DomainBackups())
            current.checkpoint_text = "\n".join(lines).strip()
            for line in lines:
                m = re.match(r"^\s*(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\s*$", line)
                if m:
                    current.checkpoints.append((m[1], parse_time(m[2]), line.strip()))
        elif current is not None and kind == "completed-job":
            current.job_text = "\n".join(lines).strip()
            current.job = {k.strip(): val.strip() for k, _, val in
                           (line.partition(":") for line in lines if ":" in line)}
        elif current is not None and kind == "backup-job":
            body = "\n".join(lines).strip()
            current.backup_xml = body if body.startswith("<domainbackup") else None
    return out
