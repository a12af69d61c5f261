"""Bespoke checks of the backup domain. Where backups are kept is site policy
(hvconform.inputs.policy), so these checks' needs are functions of the policy."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from hvconform.model import verdict as v
from hvconform.judge.read import libvirt_grammar
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.ops import octal

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


@control("BKP-001", needs=lambda policy: [("cat", policy["backup_manifest"])])
@artifacts.ends
def config_in_backup_set(snap, vm, policy):
    manifest, required = policy["backup_manifest"], policy["backup_required_paths"]
    expected = f"{manifest} lists (or a parent of) each of {', '.join(required)}"
    art = artifacts.required_file(
        snap, manifest, expected, "no backup manifest: nothing shows the configuration is backed up")
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
    entries = _entries(art.stdout)
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
    actual = f"last success {_when(_entries(art.stdout)[0][1]).isoformat()}, {age:.1f} h before collection"
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


def _repository(snap, policy, expected):
    """(repository line, its artifact); End when no repository is configured."""
    path = policy["backup_repository_file"]
    art = artifacts.required_file(snap, path, expected, "no backup repository is configured")
    entries = _entries(art.stdout)
    if not entries:
        raise artifacts.End(v.failed(expected, f"{path} is empty", [v.Evidence.of(art, f"{path}: empty")],
                                     reason="no backup repository is configured"))
    return entries[0][1], art


@control("BKP-005", needs=lambda policy: [("cat", policy["backup_repository_file"]),
                                          ("stat", policy["backup_password_file"])])
@artifacts.ends
def backup_key_protected(snap, vm, policy):
    key = policy["backup_password_file"]
    expected = f"a backup repository configured; its key {key} mode <= 0600, owned by root"
    repo, repo_art = _repository(snap, policy, expected)
    st = snap.stat(key)
    if st is None:
        return v.error(f"{key} was not collected")
    evidence = [v.Evidence.of(repo_art, f"repository: {repo}")]
    if artifacts.is_absent(st):
        evidence.append(v.Evidence.of(st, st.stderr.strip()))
        return v.failed(expected, f"repository {repo}, no key file", evidence,
                        reason=f"no {key}: nothing shows the repository is encrypted with a key kept here")
    if not st.ok:
        return artifacts.failure(st, key)
    mode, owner = (st.stdout.split() + ["", ""])[:2]
    evidence.append(v.Evidence.of(st, f"{key}: {st.stdout.strip()}"))
    actual = f"repository {repo}; {key} mode {mode} owner {owner}"
    bits = octal(mode)
    bad = ([f"mode {mode} is beyond 0600"] if bits is None or bits & ~0o600 else []) + (
        [f"owned by {owner}, not root"] if owner != "root" else [])
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)


MOUNTINFO = "/proc/self/mountinfo"
# restic and borg repository forms that name another machine
_REMOTE = re.compile(r"(?:sftp|rest|s3|b2|azure|gs|swift|rclone):|ssh://|[\w.-]+@[\w.-]+:|[\w.-]+:/")
_URL_HOST = re.compile(r"(?:^(?:sftp|rest|s3|b2|azure|gs|swift|rclone):(?:[a-z+]+://)?|//)"
                       r"(?:[^@/\s]+@)?(\[[^\]]+\]|[^:/\s]+)|^(?:[\w.-]+@)?([\w.-]+):")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}


def mounts(text: str) -> list[tuple[str, str, str]]:
    """proc(5) mountinfo lines -> [(mount point, major:minor, source)], in mount order."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if "-" in fields[6:] and len(fields) >= 5:
            rest = fields[fields.index("-", 6) + 1:]
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
            out.append((point, fields[2], rest[1] if len(rest) > 1 else ""))
    return out


def mount_of(path: str, table) -> tuple[str, str, str] | None:
    """The mount a path lies on: the longest mount point above it, the last mounted there."""
    best = None
    for entry in table:
        point = entry[0].rstrip("/") or "/"
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[0].rstrip("/") or "/"):
                best = entry
    return best


@control("BKP-006", needs=lambda policy: [("cat", policy["backup_repository_file"]), ("cat", MOUNTINFO)])
@artifacts.ends
def backup_separate_failure_domain(snap, vm, policy):
    images = policy["vm_image_dirs"]
    expected = f"a repository on another host, or on another device than {', '.join(images)}"
    repo, repo_art = _repository(snap, policy, expected)
    evidence = [v.Evidence.of(repo_art, f"repository: {repo}")]
    if _REMOTE.match(repo) and not repo.startswith("local:"):
        match = _URL_HOST.search(repo)
        host = next((g for g in match.groups() if g), "") if match else ""
        own = {snap.identity.get("hostname") or "", snap.host} - {""}
        if host.lower() in _LOCAL_HOSTS | {h.lower() for h in own}:
            return v.failed(expected, f"repository {repo} is on this host ({host})", evidence,
                            reason="a remote-style URL that points back at this host")
        return v.passed(expected, f"remote repository on {host or repo}", evidence)
    art = artifacts.required_file(snap, MOUNTINFO, expected, "the mount table is unreadable")
    path = repo.removeprefix("local:")
    table = mounts(art.stdout)
    target = mount_of(path, table)
    shared = [(d, m) for d in images if (m := mount_of(d, table)) and target and m[1] == target[1]]
    excerpt = [f"{p} on {m[0]} (device {m[1]}, {m[2]})" for p, m in [(path, target)] + shared if m] + [
        f"{d} on {m[0]} (device {m[1]}, {m[2]})" for d in images
        if (m := mount_of(d, table)) and (d, m) not in shared]
    evidence.append(v.Evidence.of(art, "\n".join(excerpt) or "no mount matched"))
    if target is None:
        return v.error(f"{MOUNTINFO}: no mount holds {path}", evidence)
    if shared:
        return v.failed(expected, f"{path} and {', '.join(d for d, _ in shared)} are on device {target[1]}",
                        evidence, reason="one failing disk or filesystem loses the VMs and their backups")
    return v.passed(expected, f"{path} on device {target[1]} ({target[2]}), not the images' device", evidence)


def restore_records(text: str) -> tuple[list[tuple[int, dict]], list[int]]:
    """JSON Lines -> ([(line, record)], [lines that are not a JSON object])."""
    good, bad = [], []
    for n, line in _entries(text):
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


QCONF = "/etc/libvirt/qemu.conf"


def _backup_tls_verify(snap) -> tuple[str, v.Evidence]:
    """qemu.conf's effective backup_tls_x509_verify ('1' or '0') and its evidence; an
    unset key falls back to default_tls_x509_verify, then to 1 (libvirt >= 6.10).
    End when qemu.conf was not collected, is unreadable or does not parse."""
    art = artifacts.optional_file(snap, QCONF)
    if art is None:
        return "1", v.Evidence.of(snap.file(QCONF), f"{QCONF}: absent (built-in default 1)")
    try:
        conf = libvirt_grammar.parse(art.stdout)
    except libvirt_grammar.ConfSyntaxError as exc:
        raise artifacts.End(v.error(f"{QCONF}: {exc}", [v.Evidence.of(art, str(exc))]))
    for key in ("backup_tls_x509_verify", "default_tls_x509_verify"):
        if key in conf:
            return str(conf[key].value), v.Evidence.of(art, f"{QCONF}:{conf[key].line}: {conf[key].text}")
    return "1", v.Evidence.of(art, f"{QCONF}: backup_tls_x509_verify and default_tls_x509_verify unset (default 1)")


@control("BKP-008", needs=lambda policy: [("cat", f"{policy['backup_job_dir']}/{{vm}}.xml"), ("cat", QCONF)])
@artifacts.ends
def backup_export_protected(snap, vm, policy):
    path = f"{policy['backup_job_dir']}/{vm}.xml"
    expected = ("push mode, or pull mode over transport='unix' or with tls='yes' and client "
                "certificates verified (backup_tls_x509_verify unset or 1)")
    art = snap.file(path)
    if art is None:
        return v.error(f"{path} was not collected")
    if artifacts.is_absent(art):
        return v.not_applicable(f"no stored backup job for {vm} ({path}): no libvirt backup export to judge",
                                [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return artifacts.failure(art, path)
    try:
        root = xmlsafe.parse(art.stdout)
    except xmlsafe.XMLError as exc:
        return v.failed(expected, "backup job is not valid XML", [v.Evidence.of(art, str(exc))],
                        reason=f"{path}: {exc}")
    mode = root.get("mode", "push")
    server = next(iter(root.xpath("/domainbackup/server")), None)
    evidence = [v.Evidence.of(art, "\n".join(filter(None, [
        f"line {root.sourceline}: <domainbackup mode='{mode}'>", server is not None and xmlsafe.render(server)])))]
    if root.tag != "domainbackup":
        return v.failed(expected, f"root element <{root.tag}>", evidence, reason=f"{path} is not a <domainbackup>")
    if mode != "pull":
        return v.passed(expected, f"{mode} mode: libvirt writes the backup itself, no NBD export", evidence)
    transport = server.get("transport", "tcp") if server is not None else "tcp"
    if transport == "unix":
        return v.passed(expected, "pull mode over a unix socket", evidence)
    if server is None or server.get("tls") != "yes":
        return v.failed(expected, f"pull mode over {transport} without TLS", evidence,
                        reason="the NBD export of the guest's disks is readable unencrypted by anyone who can connect")
    verify, conf_evidence = _backup_tls_verify(snap)
    evidence.append(conf_evidence)
    if verify != "1":
        return v.failed(expected, f"pull mode over TLS, backup_tls_x509_verify = {verify}", evidence,
                        reason="any client may read the export: client certificates are not verified")
    return v.passed(expected, "pull mode over TLS with client certificates verified", evidence)


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
