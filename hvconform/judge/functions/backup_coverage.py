"""Python controls of the backup domain, what is backed up: the configuration in the
backup set, current exports of the VMs' definitions, restores tested, and snapshots not
kept as backups.

  BKP-001  config_in_backup_set        the union of the configured tools' backup sets covers
                                       each of policy backup_required_paths
  BKP-002  definition_export_current   an export of the VM's definition equal to the current one
  BKP-007  restore_tested              a recent, boot-verified restore test (per VM of restore_test_scope)
  BKP-009  snapshots_reviewed          no snapshot older than snapshot_max_age_days unless excepted

BKP-001 reads the backup tools' own configuration (judge/read/backup_tools.py:
borgmatic, restic, rsnapshot, Bacula/Bareos); policy backup_manifest is the fallback
for a host where none is recognised. Where other records are kept is site policy
(hvconform.inputs.policy), so these checks' needs are functions of the policy.
"""

from __future__ import annotations

import json
import re

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, backup_tools, site_files, xmlsafe
from hvconform.judge.read.backup_places import MOUNTINFO, mounts
from hvconform.judge.functions.backup_recency import when as _when
from hvconform.judge.functions.registry import control


def covering(entries, path: str):
    """The manifest entry that backs up `path`: itself or a parent directory."""
    for n, entry in entries:
        parent = entry.rstrip("/")
        if entry == path or path.startswith(parent + "/"):
            return n, entry
    return None


def _manifest(snap, policy, found) -> v.Verdict:
    """No backup tool recognised: the site's list of what it backs up (policy backup_manifest)."""
    manifest, required = policy["backup_manifest"], policy["backup_required_paths"]
    expected = (f"the backup set of a recognised tool ({backup_tools.TOOLS}), or {manifest}, covers "
                f"(itself or a parent) each of {', '.join(required)}")
    art = artifacts.required_file(
        snap, manifest, expected,
        f"no backup tool recognised ({backup_tools.TOOLS}) and no {manifest}: nothing shows the "
        "configuration is backed up", absent_actual="no backup tool configured")
    entries = site_files.entries(art.stdout)
    found_paths = {p: covering(entries, p) for p in required}
    missing = [p for p, hit in found_paths.items() if hit is None]
    excerpt = [f"{manifest}:{hit[0]}: {hit[1]}  (covers {p})" for p, hit in found_paths.items() if hit]
    evidence = [v.Evidence.of(art, "\n".join(excerpt + [f"not covered: {p}" for p in missing]
                                             + [f"({note})" for note in found.problems]))]
    if missing:
        return v.failed(expected, "missing: " + ", ".join(missing), evidence,
                        reason=f"{len(missing)} required path(s) not in the backup set ({manifest})")
    return v.passed(expected, f"{manifest} (site file) covers all {len(required)} paths", evidence)


@control("BKP-001", needs=lambda policy: [*backup_tools.NEEDS, ("cat", MOUNTINFO), ("cat", policy["backup_manifest"])])
@artifacts.ends
def config_in_backup_set(snap, vm, policy):
    required = policy["backup_required_paths"]
    found = backup_tools.configured(snap)
    if not found.setups:
        return _manifest(snap, policy, found)
    expected = (f"the backup sets of the tools configured here ({found.names()}) cover each of "
                f"{', '.join(required)} (a parent covers its children; excludes honoured)")
    table_art = snap.file(MOUNTINFO)
    table = mounts(table_art.stdout) if table_art is not None and table_art.ok else []
    rows: dict[int, list[str]] = {}
    missing, notes = [], []
    for path in required:
        hits = [(s, backup_tools.reach(s, path, table)) for s in found.setups]
        notes += [n for _, hit in hits for n in hit.notes]
        good = [(s, hit) for s, hit in hits if hit.source and not hit.excluded]
        if good:
            s, hit = good[0]
            rows.setdefault(id(s), []).append(f"{hit.source.cite()}  ({s.tool}: covers {path})")
            continue
        missing.append(path)
        for s, hit in hits:
            if hit.excluded:
                rows.setdefault(id(s), []).append(
                    f"{hit.excluded.where}: {hit.excluded.text or hit.excluded.pattern}  ({s.tool}: excludes "
                    f"{path}, which {hit.source.where} backs up)")
    unread = [u for s in found.setups for u in s.unread]
    unread_ex = [u for s in found.setups for u in s.unread_excludes]
    first = found.setups[0]
    rows.setdefault(id(first), [])
    rows[id(first)] += [f"not covered: {p}" for p in missing] + [f"({n})" for n in
                                                                dict.fromkeys(notes + unread + unread_ex + found.problems)]
    evidence = found.evidence({k: ls for k, ls in rows.items()})
    decided = ", ".join(s.label() for s in found.setups)
    if missing:
        actual = f"missing: {', '.join(missing)} (read: {decided})"
        if unread:
            return v.manual(expected, actual, evidence,
                            reason="not in the backup sets read here; a part of the configuration was not read "
                                   f"({'; '.join(unread[:3])}): show that it covers them")
        return found.or_error(v.failed(expected, actual, evidence,
                                       reason=f"{len(missing)} required path(s) not in the backup set of "
                                              f"{found.names()}"))
    actual = f"all {len(required)} paths covered by {decided}"
    if unread_ex or notes:
        return v.manual(expected, actual, evidence,
                        reason="covered, but some excludes were not read or evaluated "
                               f"({'; '.join((unread_ex + notes)[:3])}): show that none takes a required path out")
    return v.passed(expected, actual, evidence)


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
    art = artifacts.optional_file(snap, path)
    if art is None:
        return v.manual(expected, f"no restore-test record ({path})", [artifacts.absent_evidence(snap, path)],
                        reason="restore tests are evidence a site keeps, not configuration: show the record of "
                               "the latest restore test of each VM class (ticket or CI log: date, VM, result, "
                               f"boot verified), or keep them in {path} (policy restore_test_log)")
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
