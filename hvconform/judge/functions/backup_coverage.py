"""Python controls of the backup domain, what is backed up and how recently: the
configuration in the backup set, current exports of the VMs' definitions, backups
within the RPO, restores tested, and snapshots not kept as backups.

  BKP-001  config_in_backup_set        the backup manifest covers each of policy backup_required_paths
  BKP-002  definition_export_current   an export of the VM's definition equal to the current one
  BKP-003  last_backup_within_rpo      the last successful backup at most backup_rpo_hours old
  BKP-004  vm_disk_backup_within_rpo   the VM's last successful disk backup within the RPO
  BKP-007  restore_tested              a recent, boot-verified restore test (per VM of restore_test_scope)
  BKP-009  snapshots_reviewed          no snapshot older than snapshot_max_age_days unless excepted

Where backups are recorded is site policy (hvconform.inputs.policy), so these
checks' needs are functions of the policy.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import site_files
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control

SKEW_HOURS = 5 / 60   # host and controller clocks may differ a little


def covering(entries, path: str):
    """The manifest entry that backs up `path`: itself or a parent directory."""
    for n, entry in entries:
        parent = entry.rstrip("/")
        if entry == path or path.startswith(parent + "/"):
            return n, entry
    return None


@control("BKP-001", needs=lambda policy: [("cat", policy["backup_manifest"])])
@artifacts.ends
def config_in_backup_set(snap, vm, policy):
    manifest, required = policy["backup_manifest"], policy["backup_required_paths"]
    expected = f"{manifest} lists (or a parent of) each of {', '.join(required)}"
    art = artifacts.required_file(
        snap, manifest, expected, "no backup manifest: nothing shows the configuration is backed up")
    entries = site_files.entries(art.stdout)
    found = {p: covering(entries, p) for p in required}
    missing = [p for p, hit in found.items() if hit is None]
    excerpt = [f"{manifest}:{hit[0]}: {hit[1]}  (covers {p})" for p, hit in found.items() if hit]
    evidence = [v.Evidence.of(art, "\n".join(excerpt + [f"not covered: {p}" for p in missing]))]
    if missing:
        return v.failed(expected, "missing: " + ", ".join(missing), evidence,
                        reason=f"{len(missing)} required path(s) not in the backup set")
    return v.passed(expected, f"all {len(required)} paths covered", evidence)


def _comparable(el):
    attrs = {k: val for k, val in el.attrib.items() if k != "passwd"}  # redacted or absent
    return el.tag, attrs, (el.text or "").strip()


def difference(a, b, path: str = "") -> str | None:
    """Where two domain definitions first differ (an element path), or None."""
    here = f"{path}/{a.tag}"
    if _comparable(a) != _comparable(b):
        return here
    ca = [c for c in a if isinstance(c.tag, str)]   # elements only, not comments
    cb = [c for c in b if isinstance(c.tag, str)]
    for x, y in zip(ca, cb):
        found = difference(x, y, here)
        if found:
            return found
    return None if len(ca) == len(cb) else f"{here} ({len(ca)} vs {len(cb)} child elements)"


@control("BKP-002", needs=lambda policy: [("cat", f"{policy['definition_backup_dir']}/{{vm}}.xml")])
@artifacts.ends
def definition_export_current(snap, vm, policy):
    path = f"{policy['definition_backup_dir']}/{vm}.xml"
    expected = f"{path} exists and equals the current definition of {vm}"
    current = snap.domain_xml(vm)
    if current is None or not current.ok:
        return v.error(f"the definition of {vm} was not collected")
    art = artifacts.required_file(
        snap, path, expected, f"no export of {vm}'s definition in {policy['definition_backup_dir']}",
        absent_actual="no backup copy")
    try:
        live_root = xmlsafe.parse(current.stdout)
    except xmlsafe.XMLError as exc:
        return v.error(f"domain {vm}: inactive XML is malformed: {exc}")
    try:
        where = difference(xmlsafe.parse(art.stdout), live_root)
    except xmlsafe.XMLError as exc:
        return v.failed(expected, "backup copy is not valid XML", [v.Evidence.of(art, str(exc))],
                        reason=f"{path}: {exc}")
    evidence = [v.Evidence.of(art, f"{path}: sha256 {art.sha256}"),
                v.Evidence.of(current, f"current definition: sha256 {current.sha256}")]
    if where:
        return v.failed(expected, f"backup copy differs at {where}", evidence,
                        reason="the export is older than the current definition")
    return v.passed(expected, "backup copy equals the current definition", evidence)


def _when(text: str) -> datetime:
    stamp = datetime.fromisoformat(text.strip())
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _age_hours(snap, art, path: str, expected: str):
    """(hours since the time on the record's first line, evidence); End when the
    collection time or the record's time cannot be read."""
    try:
        collected = _when(snap.started)
    except ValueError:
        raise artifacts.End(v.error(f"collection time {snap.started!r} is not ISO 8601: "
                                    "the backup's age is unknown"))
    entries = site_files.entries(art.stdout)
    first = f"{path}:{entries[0][0]}: {entries[0][1]}" if entries else f"{path}: empty"
    evidence = [v.Evidence.of(art, first)]
    try:
        last = _when(entries[0][1])
    except (IndexError, ValueError):
        raise artifacts.End(v.failed(expected, "no ISO 8601 time in the first line", evidence,
                                     reason=f"{path} does not start with a time like 2025-01-31T02:00:00+00:00"))
    return (collected - last).total_seconds() / 3600, evidence


def _within_rpo(snap, art, path: str, expected: str, rpo) -> v.Verdict:
    age, evidence = _age_hours(snap, art, path, expected)
    actual = f"last success {_when(site_files.entries(art.stdout)[0][1]).isoformat()}, {age:.1f} h before collection"
    if age < -SKEW_HOURS:
        return v.failed(expected, actual, evidence, reason="the recorded success is in the future")
    if age > rpo:
        return v.failed(expected, actual, evidence, reason=f"older than the RPO of {rpo} h")
    return v.passed(expected, actual, evidence)


@control("BKP-003", needs=lambda policy: [("cat", policy["backup_status_file"])])
@artifacts.ends
def last_backup_within_rpo(snap, vm, policy):
    path, rpo = policy["backup_status_file"], policy["backup_rpo_hours"]
    expected = f"last successful backup (first line of {path}) at most {rpo} h before collection"
    art = artifacts.required_file(snap, path, expected, "no record of a successful backup")
    return _within_rpo(snap, art, path, expected, rpo)


@control("BKP-004", needs=lambda policy: [("cat", f"{policy['vm_backup_record_dir']}/{{vm}}.last-success")])
@artifacts.ends
def vm_disk_backup_within_rpo(snap, vm, policy):
    path, rpo = f"{policy['vm_backup_record_dir']}/{vm}.last-success", policy["backup_rpo_hours"]
    if vm in policy["backup_exempt_vms"]:
        return v.not_applicable(f"{vm} is exempt from disk backups by site policy (backup_exempt_vms)")
    expected = f"last successful disk backup of {vm} (first line of {path}) at most {rpo} h before collection"
    art = artifacts.required_file(snap, path, expected, f"no record of a successful disk backup of {vm}",
                                  absent_actual="no backup record")
    return _within_rpo(snap, art, path, expected, rpo)


def restore_records(text: str) -> tuple[list[tuple[int, dict]], list[int]]:
    """JSON Lines -> ([(line, record)], [lines that are not a JSON object])."""
    good, bad = [], []
    for n, line in site_files.entries(text):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        (good.append((n, record)) if isinstance(record, dict) else bad.append(n))
    return good, bad


@control("BKP-007", needs=lambda policy: [("cat", policy["restore_test_log"])])
@artifacts.ends
def restore_tested(snap, vm, policy):
    path, days, scope = (policy["restore_test_log"], policy["restore_test_max_age_days"],
                         policy["restore_test_scope"])
    expected = (f"{path}: a successful, boot-verified restore test at most {days} days old "
                + (f"for each of {', '.join(scope)}" if scope else "of any VM"))
    art = artifacts.required_file(snap, path, expected, "no restore test is recorded")
    try:
        collected = _when(snap.started)
    except ValueError:
        return v.error(f"collection time {snap.started!r} is not ISO 8601: the tests' age is unknown")
    records, malformed = restore_records(art.stdout)
    recent = {}
    for n, r in records:
        try:
            age = (collected - _when(str(r.get("date", "")))).days
        except ValueError:
            malformed.append(n)
            continue
        name = str(r.get("vm", ""))
        if r.get("result") == "success" and r.get("boot_verified") is True and 0 <= age <= days \
                and (name not in recent or age < recent[name][1]):
            recent[name] = (n, age)
    if scope:
        lacking = [name for name in scope if name not in recent]
    else:
        lacking = [] if recent else ["any VM"]
    excerpt = [f"{path}:{n}: {name} restored and booted {age} days ago" for name, (n, age) in recent.items()]
    excerpt += [f"{path}:{n}: not a record with an ISO date" for n in sorted(malformed)]
    evidence = [v.Evidence.of(art, "\n".join(excerpt) or f"{path}: {len(records)} record(s), none recent")]
    actual = f"{len(recent)} VM(s) with a recent successful test" + (
        f"; none for {', '.join(lacking)}" if lacking else "")
    if lacking:
        return v.failed(expected, actual, evidence,
                        reason=f"no successful, boot-verified restore test in {days} days for {', '.join(lacking)}")
    return v.passed(expected, actual, evidence)


SNAPSHOT_DIR = "/var/lib/libvirt/qemu/snapshot"


def snapshot_facts(text: str, vm: str) -> dict[str, dict]:
    """`grep -rH` lines of libvirt's snapshot metadata -> {snapshot: {created, memory}} of one VM."""
    out: dict[str, dict] = {}
    prefix = f"{SNAPSHOT_DIR}/{vm}/"
    for line in text.splitlines():
        path, colon, rest = line.partition(":")
        if not colon or not path.startswith(prefix) or not path.endswith(".xml") or "/" in path[len(prefix):]:
            continue
        facts = out.setdefault(path[len(prefix):-len(".xml")], {})
        if m := re.search(r"<creationTime>(\d+)</creationTime>", rest):
            facts.setdefault("created", int(m[1]))
        if m := re.search(r"<memory snapshot=['\"](\w+)['\"]", rest):
            facts.setdefault("memory", m[1])
    return out


@control("BKP-009", needs=[("snapshot_metadata", "")])
def snapshots_reviewed(snap, vm, policy):
    days, allowed = policy["snapshot_max_age_days"], policy["snapshot_exceptions"]
    expected = f"no snapshot of {vm} older than {days} days unless listed in snapshot_exceptions"
    art = snap.get("cmd:snapshot_metadata")
    if art is None:
        return v.error("the snapshot metadata was not collected")
    if art.rc == 2 and artifacts.is_absent(art):
        return v.passed(expected, "no snapshot metadata on this host",
                        [v.Evidence.of(art, art.stderr.strip())])
    if art.rc not in (0, 1):   # grep: 1 = no snapshot metadata line anywhere
        return artifacts.failure(art, f"reading {SNAPSHOT_DIR}")
    try:
        collected = _when(snap.started).timestamp()
    except ValueError:
        return v.error(f"collection time {snap.started!r} is not ISO 8601: the snapshots' age is unknown")
    facts = snapshot_facts(art.stdout, vm)
    lines, stale, unknown = [], [], []
    for name, f in sorted(facts.items()):
        age = (collected - f["created"]) / 86400 if "created" in f else None
        memory = f" memory={f['memory']}" if f.get("memory", "no") != "no" else ""
        lines.append(f"{vm}/{name}: " + (f"{age:.0f} days old" if age is not None else "no creationTime") + memory
                     + (" (memory state: guest RAM, sensitive)" if memory else ""))
        if f"{vm}/{name}" in allowed:
            continue
        if age is None:
            unknown.append(name)
        elif age > days:
            stale.append(f"{name} ({age:.0f} days)")
    evidence = [v.Evidence.of(art, "\n".join(lines) or f"{SNAPSHOT_DIR}/{vm}: no snapshots")]
    if stale or unknown:
        actual = "; ".join(filter(None, [stale and "stale: " + ", ".join(stale),
                                         unknown and "age unknown: " + ", ".join(unknown)]))
        return v.failed(expected, actual, evidence,
                        reason="snapshots kept as backups, unreviewed (add reviewed ones to snapshot_exceptions)")
    return v.passed(expected, f"{len(facts)} snapshot(s), none stale without review", evidence)
