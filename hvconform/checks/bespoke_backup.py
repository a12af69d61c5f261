"""Bespoke checks of the backup domain. Where backups are kept is site policy
(hvconform.policy), so these checks' needs are functions of the policy."""

from __future__ import annotations

from datetime import datetime, timezone

from hvconform import verdict as v
from hvconform.checks import reading, xmlsafe
from hvconform.checks.bespoke import bespoke

SKEW_HOURS = 5 / 60   # host and controller clocks may differ a little


def _entries(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.strip().startswith("#")]


def covering(entries, path: str):
    """The manifest entry that backs up `path`: itself or a parent directory."""
    for n, entry in entries:
        parent = entry.rstrip("/")
        if entry == path or path.startswith(parent + "/"):
            return n, entry
    return None


@bespoke("BKP-001", needs=lambda policy: [("cat", policy["backup_manifest"])])
def config_in_backup_set(snap, vm, policy):
    manifest, required = policy["backup_manifest"], policy["backup_required_paths"]
    expected = f"{manifest} lists (or a parent of) each of {', '.join(required)}"
    art, end = reading.required_file(
        snap, manifest, expected, "no backup manifest: nothing shows the configuration is backed up")
    if end:
        return end
    entries = _entries(art.stdout)
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


@bespoke("BKP-002", needs=lambda policy: [("cat", f"{policy['definition_backup_dir']}/{{vm}}.xml")])
def definition_export_current(snap, vm, policy):
    path = f"{policy['definition_backup_dir']}/{vm}.xml"
    expected = f"{path} exists and equals the current definition of {vm}"
    current = snap.domain_xml(vm)
    if current is None or not current.ok:
        return v.error(f"the definition of {vm} was not collected")
    art, end = reading.required_file(
        snap, path, expected, f"no export of {vm}'s definition in {policy['definition_backup_dir']}",
        absent_actual="no backup copy")
    if end:
        return end
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


@bespoke("BKP-003", needs=lambda policy: [("cat", policy["backup_status_file"])])
def last_backup_within_rpo(snap, vm, policy):
    path, rpo = policy["backup_status_file"], policy["backup_rpo_hours"]
    expected = f"last successful backup (first line of {path}) at most {rpo} h before collection"
    art, end = reading.required_file(snap, path, expected, "no record of a successful backup")
    if end:
        return end
    try:
        collected = _when(snap.started)
    except ValueError:
        return v.error(f"collection time {snap.started!r} is not ISO 8601: the backup's age is unknown")
    entries = _entries(art.stdout)
    first = f"{path}:{entries[0][0]}: {entries[0][1]}" if entries else f"{path}: empty"
    evidence = [v.Evidence.of(art, first)]
    try:
        last = _when(entries[0][1])
    except (IndexError, ValueError):
        return v.failed(expected, "no ISO 8601 time in the first line", evidence,
                        reason=f"{path} does not start with a time like 2025-01-31T02:00:00+00:00")
    age = (collected - last).total_seconds() / 3600
    actual = f"last success {last.isoformat()}, {age:.1f} h before collection"
    if age < -SKEW_HOURS:
        return v.failed(expected, actual, evidence, reason="the recorded success is in the future")
    if age > rpo:
        return v.failed(expected, actual, evidence, reason=f"older than the RPO of {rpo} h")
    return v.passed(expected, actual, evidence)
