"""Python controls of the backup domain, how recently backups succeeded: the tools'
scheduled runs and each VM's disk backups, within the recovery point objective.

  BKP-003  last_backup_within_rpo     every scheduled tool's last run succeeded, at most backup_rpo_hours ago
  BKP-004  vm_disk_backup_within_rpo  the VM's newest libvirt checkpoint and completed backup job
                                      (or the site's per-VM record) within the RPO

What each tool keeps is read by judge/read/backup_runs.py (systemd timers and results,
crontabs, borgmatic's syslog lines, rsnapshot's log, a Director's job reports; libvirt's
checkpoints and completed jobs). The site files of policy (backup_status_file,
vm_backup_record_dir) are the fallback where no tool is recognised or a tool keeps no
record of its own (restic without systemd).
"""

from __future__ import annotations

from datetime import datetime, timezone

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, backup_runs, backup_tools, site_files
from hvconform.judge.functions.registry import control

SKEW_HOURS = 5 / 60   # host and controller clocks may differ a little
RUN_RECORDS = [("systemd_timer_runs", ""), ("backup_cron", ""), ("borgmatic_log", ""),
               ("rsnapshot_log", ""), ("bacula_log", "")]


def when(text: str) -> datetime:
    stamp = datetime.fromisoformat(text.strip())
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def collected_at(snap, what: str) -> datetime:
    try:
        return when(snap.started)
    except ValueError:
        raise artifacts.End(v.error(f"collection time {snap.started!r} is not ISO 8601: {what} is unknown"))


def _age_hours(snap, art, path: str, expected: str):
    """(hours since the time on the record's first line, evidence); End when the
    collection time or the record's time cannot be read."""
    collected = collected_at(snap, "the backup's age")
    entries = site_files.entries(art.stdout)
    first = f"{path}:{entries[0][0]}: {entries[0][1]}" if entries else f"{path}: empty"
    evidence = [v.Evidence.of(art, first)]
    try:
        last = when(entries[0][1])
    except (IndexError, ValueError):
        raise artifacts.End(v.failed(expected, "no ISO 8601 time in the first line", evidence,
                                     reason=f"{path} does not start with a time like 2025-01-31T02:00:00+00:00"))
    return (collected - last).total_seconds() / 3600, evidence


def within_rpo(snap, art, path: str, expected: str, rpo) -> v.Verdict:
    """A site record whose first line is the last success (ISO 8601), judged against the RPO."""
    age, evidence = _age_hours(snap, art, path, expected)
    actual = f"last success {when(site_files.entries(art.stdout)[0][1]).isoformat()}, {age:.1f} h before collection"
    if age < -SKEW_HOURS:
        return v.failed(expected, actual, evidence, reason="the recorded success is in the future")
    if age > rpo:
        return v.failed(expected, actual, evidence, reason=f"older than the RPO of {rpo} h")
    return v.passed(expected, actual, evidence)


def _age(at: datetime, now: datetime) -> float:
    return (now - at).total_seconds() / 3600


# ---- BKP-003 ---------------------------------------------------------------------------

def _tool_runs(snap, setup, found, now, rpo, policy):
    """(ok, what was found, [(artifact, line)]) for one configured tool. ok is None when
    the tool is not scheduled at all."""
    timers = snap.get("cmd:systemd_timer_runs")
    cron = snap.get("cmd:backup_cron")
    systemd = timers is not None and timers.rc == 0
    runs = [r for r in backup_runs.systemd_runs(timers.stdout) if backup_runs.runs_tool(r, setup.tool)] \
        if systemd else []
    crons = backup_runs.cron_lines(cron.stdout, setup.tool) if cron is not None else []
    lines = [(timers, r.text) for r in runs] + [(cron, c) for c in crons]
    if runs:
        bad = []
        for r in runs:
            exited = backup_runs.parse_time(r.exited)
            if r.result != "success" or r.status not in ("", "0"):
                bad.append(f"{r.unit}: Result={r.result or '?'}, ExecMainStatus={r.status or '?'}")
            elif exited is None:
                bad.append(f"{r.unit}: no run since boot (ExecMainExitTimestamp empty)")
            elif _age(exited, now) > rpo:
                bad.append(f"{r.unit}: last success {exited.isoformat()}, {_age(exited, now):.1f} h ago")
        return (not bad, "; ".join(bad) or f"{', '.join(r.unit for r in runs)}: succeeded within {rpo} h", lines)
    events, source = _log_events(snap, setup, now)
    if not crons and not (setup.tool == "bacula" and events):
        return None, f"{setup.label()}: no timer or cron entry runs it", lines
    if source is None:
        return _status_file(snap, setup, policy, now, rpo, lines)
    log_art, _ = source
    success, newest = backup_runs.latest(events)
    lines += [(log_art, e.line) for e in events[-3:]]
    if newest is None:
        return False, f"{setup.label()}: scheduled, but {source[1]} records no run", lines
    if not newest.ok:
        return False, f"{setup.label()}: last run failed ({newest.at.isoformat()})", lines
    age = _age(success.at, now)
    if age < -SKEW_HOURS or age > rpo:
        return False, f"{setup.label()}: last success {success.at.isoformat()}, {age:.1f} h before collection", lines
    return True, f"{setup.label()}: last success {success.at.isoformat()}, {age:.1f} h before collection", lines


def _log_events(snap, setup, now):
    """(events, (log artifact, its name)) of the tool's own log; (_, None) for a tool
    that keeps none (restic)."""
    name = {"borgmatic": "borgmatic_log", "rsnapshot": "rsnapshot_log", "bacula": "bacula_log"}.get(setup.tool)
    if name is None:
        return [], None
    art = snap.get(f"cmd:{name}")
    if art is None:
        raise artifacts.End(v.error(f"{name} was not collected"))
    if setup.tool == "borgmatic":
        return backup_runs.borgmatic_events(art.stdout, now, setup.origin), (art, "syslog (borgmatic lines)")
    if setup.tool == "rsnapshot":
        return backup_runs.rsnapshot_events(art.stdout, now), (art, "rsnapshot's logfile")
    return backup_runs.bacula_events(art.stdout, now), (art, "the Director's log")


def _status_file(snap, setup, policy, now, rpo, lines):
    """restic keeps no log of its runs: the job's status file (policy backup_status_file)."""
    path = policy["backup_status_file"]
    art = snap.file(path)
    if art is None or not art.ok:
        return False, (f"{setup.label()}: scheduled; {setup.tool} keeps no record of its runs and there is no "
                       f"systemd result and no {path}"), lines
    entries = site_files.entries(art.stdout)
    try:
        at = when(entries[0][1])
    except (IndexError, ValueError):
        return False, f"{setup.label()}: {path} holds no ISO 8601 time", lines + [(art, art.stdout[:200])]
    lines.append((art, f"{path}:{entries[0][0]}: {entries[0][1]}"))
    age = _age(at, now)
    ok = -SKEW_HOURS <= age <= rpo
    return ok, f"{setup.label()}: last success {at.isoformat()} ({path}), {age:.1f} h before collection", lines


@control("BKP-003", needs=lambda policy: [*backup_tools.NEEDS, *RUN_RECORDS, ("cat", policy["backup_status_file"])])
@artifacts.ends
def last_backup_within_rpo(snap, vm, policy):
    rpo = policy["backup_rpo_hours"]
    found = backup_tools.configured(snap)
    if not found.setups:
        return _site_status(snap, policy, rpo, found)
    expected = (f"each scheduled backup tool ({found.names()}) ran by a timer or cron entry, its last run "
                f"successful and at most {rpo} h before collection")
    now = collected_at(snap, "the backup's age")
    checked = {}
    for setup in found.setups:
        key = (setup.tool, setup.origin if setup.tool == "borgmatic" else "")
        if key not in checked:
            checked[key] = _tool_runs(snap, setup, found, now, rpo, policy)
    scheduled = {k: c for k, c in checked.items() if c[0] is not None}
    by_artifact: dict = {}
    for _, _, lines in checked.values():
        for art, line in lines:
            by_artifact.setdefault(id(art), (art, []))[1].append(line)
    evidence = [v.Evidence.of(art, "\n".join(dict.fromkeys(ls))) for art, ls in by_artifact.values()] \
        or found.evidence()
    actual = "; ".join(c[1] for c in checked.values())
    if not scheduled:
        return found.or_error(v.failed(expected, actual, evidence,
                                       reason="no backup tool is scheduled: nothing runs the backups"))
    failing = [c[1] for c in scheduled.values() if not c[0]]
    if failing:
        return found.or_error(v.failed(expected, actual, evidence, reason="; ".join(failing)))
    return v.passed(expected, actual, evidence)


def _site_status(snap, policy, rpo, found):
    """No tool recognised: the site's status file (policy backup_status_file)."""
    path = policy["backup_status_file"]
    expected = (f"a recognised backup tool ({backup_tools.TOOLS}) run within {rpo} h, or the last "
                f"successful backup (first line of {path}) at most {rpo} h before collection")
    art = artifacts.required_file(
        snap, path, expected,
        f"no backup tool recognised ({backup_tools.TOOLS}) and no record of a successful backup")
    return within_rpo(snap, art, path, expected, rpo)


# ---- BKP-004 ---------------------------------------------------------------------------

@control("BKP-004", needs=lambda policy: [("virsh_backup_state", ""),
                                          ("cat", f"{policy['vm_backup_record_dir']}/{{vm}}.last-success")])
@artifacts.ends
def vm_disk_backup_within_rpo(snap, vm, policy):
    rpo = policy["backup_rpo_hours"]
    if vm in policy["backup_exempt_vms"]:
        return v.not_applicable(f"{vm} is exempt from disk backups by site policy (backup_exempt_vms)")
    path = f"{policy['vm_backup_record_dir']}/{vm}.last-success"
    expected = (f"libvirt's newest checkpoint of {vm} at most {rpo} h old and its last backup job completed, "
                f"or the backup job's record ({path}) within {rpo} h")
    art = artifacts.output(snap, "virsh_backup_state", "libvirt's checkpoints and completed jobs")
    state = backup_runs.domain_backups(art.stdout).get(vm)
    if state is not None and state.checkpoints:
        return _by_checkpoints(snap, vm, state, art, expected, rpo)
    record = artifacts.optional_file(snap, path)
    if record is not None:
        return within_rpo(snap, record, path, expected, rpo)
    shown = (state.checkpoint_text if state else "") or f"{vm}: not in virsh's list"
    evidence = [v.Evidence.of(art, f"{vm}: no checkpoint\n{shown}"),
                artifacts.absent_evidence(snap, path)]
    return v.failed(expected, "no libvirt checkpoint and no backup record", evidence,
                    reason=f"nothing shows a disk backup of {vm}")


def _by_checkpoints(snap, vm, state, art, expected, rpo) -> v.Verdict:
    now = collected_at(snap, "the checkpoint's age")
    dated = [(name, at, line) for name, at, line in state.checkpoints if at is not None]
    name, at, line = max(dated, key=lambda c: c[1]) if dated else state.checkpoints[-1]
    job_type, operation = state.job.get("Job type", ""), state.job.get("Operation", "")
    evidence = [v.Evidence.of(art, f"{vm}: newest checkpoint {line}\n{vm}: domjobinfo --completed: "
                                   + (f"Job type {job_type}, Operation {operation}" if job_type
                                      else (state.job_text.splitlines() or ['none'])[-1]))]
    if at is None:
        return v.failed(expected, f"checkpoint {name} has no readable creation time", evidence,
                        reason="the checkpoint's age is unknown")
    age = _age(at, now)
    actual = f"newest checkpoint {name} {at.isoformat()}, {age:.1f} h before collection"
    if age > rpo or age < -SKEW_HOURS:
        return v.failed(expected, actual, evidence, reason=f"older than the RPO of {rpo} h" if age > rpo
                        else "the checkpoint is in the future")
    if operation.lower() == "backup" and job_type.lower() == "failed":
        return v.failed(expected, actual + "; the last backup job failed", evidence,
                        reason="libvirt's last backup job of this domain failed")
    if operation.lower() == "backup" and job_type.lower() == "completed":
        return v.passed(expected, actual + "; the last backup job completed", evidence)
    if state.backup_xml is not None:
        return v.manual(expected, actual + "; a backup job is running now (libvirt holds the outcome of a job "
                        "only once it ends)", evidence,
                        reason="the backup made with this checkpoint has not finished: show the backup tool's "
                               "record of the last one that did")
    return v.manual(expected, actual + "; libvirt keeps no completed backup job (domain restarted or off)", evidence,
                    reason="a checkpoint alone does not show that the backup made with it completed: "
                           "show the backup tool's record of it")
