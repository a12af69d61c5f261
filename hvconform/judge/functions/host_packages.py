"""Python controls of the host domain, packages and updates: a supported release,
security updates within the patch SLA, the newest kernel running, the virtualization
stack at the site's baseline and package signatures enforced.

  HOST-001  supported_release              ID/VERSION_ID in policy, before vendor end of support
  HOST-002  security_updates_within_sla    no security update pending past the SLA
  HOST-003  running_newest_kernel          newest installed kernel running, no reboot pending
  HOST-004  stack_at_baseline              QEMU/libvirt/kernel packages >= policy minimum_versions
  HOST-005  package_signatures_enforced    apt/dnf signature checks not switched off
"""

from __future__ import annotations

import re
from datetime import date

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import package_versions
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control


def covers(allowed: str, os_id: str, version: str) -> bool:
    """'rhel 9' covers rhel 9 and 9.4; 'ubuntu 22.04' covers only 22.04(.x)."""
    a_id, _, a_version = allowed.partition(" ")
    return a_id == os_id and (version == a_version or version.startswith(a_version + "."))


@control("HOST-001", needs=[("cat", fam.OS_RELEASE)])
@artifacts.ends
def supported_release(snap, vm, policy):
    allowed = policy["supported_releases"]
    expected = f"ID VERSION_ID in [{', '.join(allowed)}] and not past vendor end of support"
    art = artifacts.required_file(snap, fam.OS_RELEASE, expected, "the release cannot be established")
    fields = fam.os_release_lines(art.stdout)
    os_id, version = fields.get("ID", (0, ""))[1], fields.get("VERSION_ID", (0, ""))[1]
    release = f"{os_id} {version}".strip()
    evidence = [v.Evidence.of(art, "\n".join(f"{fam.OS_RELEASE}:{fields[k][0]}: {k}={fields[k][1]}"
                                             for k in ("ID", "VERSION_ID") if k in fields))]
    match = next((a for a in allowed if covers(a, os_id, version)), None)
    if match is None:
        return v.failed(expected, release or "no ID/VERSION_ID", evidence,
                        reason=f"{release or 'unknown release'} is not in policy supported_releases")
    eol, today = policy["release_eol"].get(match), (snap.started or "")[:10]
    if eol and today and today > eol:
        return v.failed(expected, f"{release}, collected {today}", evidence,
                        reason=f"vendor support for {match} ended {eol}")
    note = (f"supported until {eol}" if eol and today else
            "no end-of-support date in policy release_eol" if not eol else
            "collection date unknown: end of support not compared")
    return v.passed(expected, f"{release} ({note})", evidence)


# -- patching: HOST-002, HOST-003, HOST-004 --------------------------------------------

APT_UPGRADABLE, DNF_SECURITY = "cmd:apt_upgradable", "cmd:dnf_security_info"


def apt_security_updates(text: str) -> list[str]:
    """`apt list --upgradable` lines whose suite is a -security one:
    `qemu-system-x86/bookworm-security 1:7.2+dfsg-7+deb12u15 amd64 [upgradable from: ...]`."""
    out = []
    for line in text.splitlines():
        name, slash, rest = line.partition("/")
        suites = rest.split(" ", 1)[0].split(",") if slash else []
        if any(s.endswith("-security") for s in suites):
            out.append(line.strip())
    return out


def dnf_advisories(text: str) -> list[dict]:
    """Blocks of `dnf updateinfo info` (dnf/cli/commands/updateinfo.py display_info:
    a row of '=' around the title, then `Label: value` lines, labels right-aligned)."""
    advisories, current = [], None
    for line in text.splitlines():
        label, colon, value = line.strip().partition(": ")
        if label == "Update ID" and colon:
            current = {"id": value.strip()}
            advisories.append(current)
        elif current is not None and colon and label in ("Type", "Updated", "Severity"):
            current[label.lower()] = value.strip()
    return advisories


@control("HOST-002", needs=[("apt_upgradable", ""), ("apt_lists_dates", ""), ("dnf_security_info", "")])
@artifacts.ends
def security_updates_within_sla(snap, vm, policy):
    sla, critical = policy["patch_sla_days"], policy["patch_sla_days_critical"]
    expected = (f"no pending security update older than {sla} days ({critical} days for critical); "
                "judged from the cached package metadata")
    family = fam.family(snap)
    if family is None:
        return v.error(f"cannot tell the distribution family of {snap.host}")
    art = snap.get(APT_UPGRADABLE if family == fam.DEBIAN else DNF_SECURITY)
    if art is None:
        return v.error(f"{'apt list' if family == fam.DEBIAN else 'dnf updateinfo'} was not collected")
    if not art.ok:
        return artifacts.failure(art, art.source)
    if family == fam.DEBIAN:
        pending = apt_security_updates(art.stdout)
        evidence = [v.Evidence.of(art, "\n".join(pending) or "no upgradable package from a -security suite")]
        if pending:
            return v.failed(expected, f"{len(pending)} security update(s) pending", evidence,
                            reason="apt records no advisory date: a pending security update counts as overdue")
        stale = _stale_apt_lists(snap, sla, evidence)
        if stale:
            return v.failed(expected, stale, evidence,
                            reason="without fresh package lists apt cannot know what is pending")
        return v.passed(expected, "no security update pending", evidence)
    today = (snap.started or "")[:10]
    overdue = []
    for adv in dnf_advisories(art.stdout):
        limit = critical if adv.get("severity", "").lower() == "critical" else sla
        day = adv.get("updated", "")[:10]
        if not day or not today or _days_between(day, today) > limit:
            overdue.append(f"{adv['id']} {adv.get('severity', '?')} updated {day or '?'} (SLA {limit} d)")
    evidence = [v.Evidence.of(art, "\n".join(overdue) or art.stdout.strip() or "no security advisory pending")]
    if overdue:
        return v.failed(expected, f"{len(overdue)} advisory(ies) past the SLA", evidence,
                        reason="security advisories pending longer than the patch SLA")
    return v.passed(expected, "no security advisory past the SLA", evidence)


def _stale_apt_lists(snap, sla: int, evidence: list) -> str | None:
    """Why apt's cached metadata cannot vouch for "nothing pending" (none, or older than
    the SLA), else None. Adds the newest list file to `evidence`."""
    art = artifacts.output(snap, "apt_lists_dates", "the dates of apt's package lists")
    dates = sorted(line.split(" ", 1) for line in art.stdout.splitlines() if " " in line)
    if not dates:
        evidence.append(v.Evidence.of(art, "no Release file in /var/lib/apt/lists"))
        return "no package lists (apt-get update has never run)"
    newest, name = dates[-1]
    evidence.append(v.Evidence.of(art, f"newest list: {name}, dated {newest}"))
    today = (snap.started or "")[:10]
    age = _days_between(newest, today) if today else 0
    return f"package lists last changed {newest}, {age} days ago" if age > sla else None


def _days_between(first: str, last: str) -> int:
    return (date.fromisoformat(last) - date.fromisoformat(first)).days


OSRELEASE, REBOOT_MARKER = "/proc/sys/kernel/osrelease", "/var/run/reboot-required"


def release_key(release: str) -> list:
    """Kernel release order: numeric parts by value (6.1.0-18 after 6.1.0-9)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-+~_]", release)]


def boot_kernels(listing: str) -> list[str]:
    """Kernel releases installed in /boot (vmlinuz-<release>; RHEL's rescue image excluded)."""
    return [name[len("vmlinuz-"):] for name in listing.split()
            if name.startswith("vmlinuz-") and "rescue" not in name]


@control("HOST-003", needs=[("cat", OSRELEASE), ("ls_boot", ""), ("stat", REBOOT_MARKER),
                            ("needs_restarting", "")])
def running_newest_kernel(snap, vm, policy):
    expected = "running kernel is the newest in /boot; no reboot pending"
    running, boot = snap.file(OSRELEASE), snap.get("cmd:ls_boot")
    marker, restarting = snap.stat(REBOOT_MARKER), snap.get("cmd:needs_restarting")
    if running is None or boot is None or marker is None or restarting is None:
        return v.error("the running kernel, /boot or the reboot markers were not collected")
    if not running.ok:
        return artifacts.failure(running, OSRELEASE)
    if not boot.ok:
        return artifacts.failure(boot, "/boot")
    current, kernels = running.stdout.strip(), boot_kernels(boot.stdout)
    evidence = [v.Evidence.of(running, f"running: {current}"),
                v.Evidence.of(boot, "\n".join(f"/boot/vmlinuz-{k}" for k in kernels) or "no vmlinuz-* in /boot")]
    if not kernels:
        return v.not_applicable("no kernel image in /boot: the host boots a kernel this host does not "
                                "install (network boot, container)", evidence)
    newest = max(kernels, key=release_key)
    problems = []
    if newest != current:
        problems.append(f"newest installed kernel {newest} is not running")
    if marker.ok:
        evidence.append(v.Evidence.of(marker, f"{REBOOT_MARKER} exists"))
        problems.append(f"{REBOOT_MARKER} exists")
    elif not artifacts.is_absent(marker):
        return artifacts.failure(marker, REBOOT_MARKER)
    if restarting.rc == 1:    # needs-restarting(1): 1 = reboot needed, 0 = not
        evidence.append(v.Evidence.of(restarting))
        problems.append("needs-restarting -r: reboot needed")
    actual = f"running {current}, newest installed {newest}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


@control("HOST-004", needs=host_state.PACKAGE_NEEDS)
@artifacts.ends
def stack_at_baseline(snap, vm, policy):
    family, packages, art = host_state.installed(snap)
    minimum = policy["minimum_versions"].get(family, {})
    expected = "each installed of " + ", ".join(f"{p} >= {m}" for p, m in minimum.items())
    if not minimum:
        return v.error(f"policy minimum_versions has no {family} entry")
    compare = package_versions.dpkg_cmp if family == fam.DEBIAN else package_versions.rpm_cmp
    found = {p: packages[p] for p in minimum if p in packages}
    lines = [f"{p} {ver} (minimum {minimum[p]})" for p, ver in found.items()]
    evidence = [v.Evidence.of(art, "\n".join(lines) or "none of the listed packages is installed")]
    if not found:
        return v.failed(expected, "none installed", evidence,
                        reason=f"none of {', '.join(minimum)} is installed: the stack's version is unknown")
    old = [f"{p} {ver} < {minimum[p]}" for p, ver in found.items() if compare(ver, minimum[p]) < 0]
    actual = "; ".join(f"{p} {ver}" for p, ver in found.items())
    if old:
        return v.failed(expected, actual, evidence, reason="below the site baseline: " + "; ".join(old))
    return v.passed(expected, actual, evidence)


# -- package trust: HOST-005 ------------------------------------------------------------

DNF_CONF = "/etc/dnf/dnf.conf"
_TRUE = ("1", "yes", "true", "on")
_APT_OPTION = re.compile(r'(?i)\b(allowunauthenticated|allowinsecurerepositories|'
                         r'allowdowngradetoinsecurerepositories|allow-insecure|allow-weak|'
                         r'allow-downgrade-to-insecure)\s*[=:]?\s*"?([\w-]+)')


def apt_trust_overrides(hits: list[str]) -> list[str]:
    """`grep -rn` hits (file:line:text) that switch apt's signature checks off:
    `[trusted=yes]` / `Trusted: yes` on a source, `allow-insecure=yes`,
    `APT::Get::AllowUnauthenticated "true";` and the like. `#` comments are ignored
    (apt.conf's `//` too, but not in a source line, where it starts a URL)."""
    bad = []
    for hit in hits:
        path, _, rest = hit.partition(":")
        text = rest.partition(":")[2].split("#", 1)[0]
        if ".list" not in path and ".sources" not in path:
            text = text.split("//", 1)[0]
        m = _APT_OPTION.search(text)
        if re.search(r"(?i)\btrusted\s*[=:]\s*yes\b", text) or (m and m.group(2).lower() in _TRUE):
            bad.append(hit)
    return bad


def ini_sections(lines) -> dict[str, dict[str, tuple[str, str]]]:
    """INI lines [(where, text)] -> {section: {key: (value, where)}} (dnf.conf, *.repo)."""
    sections: dict = {}
    current = None
    for where, text in lines:
        text = text.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if text.startswith("[") and text.endswith("]"):
            current = sections.setdefault(text[1:-1].strip(), {})
        elif current is not None and "=" in text:
            key, _, value = text.partition("=")
            current[key.strip().lower()] = (value.strip(), where)
    return sections


def _repo_files(hits: list[str]) -> dict[str, list[tuple[str, str]]]:
    files: dict = {}
    for hit in hits:
        path, _, rest = hit.partition(":")
        n, _, text = rest.partition(":")
        if path.endswith(".repo"):
            files.setdefault(path, []).append((f"{path}:{n}", text))
    return files


@control("HOST-005", needs=[("apt_trust", ""), ("cat", DNF_CONF), ("dnf_repos", "")])
@artifacts.ends
def package_signatures_enforced(snap, vm, policy):
    family = fam.family(snap)
    if family is None:
        return v.error(f"cannot tell the distribution family of {snap.host}")
    if family == fam.DEBIAN:
        expected = "no [trusted=yes] / Trusted: yes source and no AllowUnauthenticated-like option under /etc/apt"
        art = snap.get("cmd:apt_trust")
        hits = host_state.grep_lines(art, "/etc/apt")
        bad = apt_trust_overrides(hits)
        evidence = [v.Evidence.of(art, "\n".join(bad) or "no line under /etc/apt disables signature checks")]
        if bad:
            return v.failed(expected, f"{len(bad)} override(s)", evidence,
                            reason="apt installs packages from these sources without checking signatures")
        return v.passed(expected, "signature checks not overridden", evidence)
    expected = "gpgcheck=1 in dnf.conf [main] and in (or inherited by) every enabled repository"
    conf = artifacts.required_file(snap, DNF_CONF, expected, "no dnf.conf: gpgcheck defaults to off")
    repos_art = snap.get("cmd:dnf_repos")
    repo_hits = host_state.grep_lines(repos_art, "/etc/yum.repos.d")
    main = ini_sections([(f"{DNF_CONF}:{n}", t) for n, t in enumerate(conf.stdout.splitlines(), 1)]).get("main", {})
    main_check, main_where = main.get("gpgcheck", ("unset (dnf default 0)", DNF_CONF))
    problems, lines = [], [f"{main_where}: gpgcheck={main_check}"]
    if main_check.lower() not in _TRUE:
        problems.append("dnf.conf [main] gpgcheck is not 1")
    for path, file_lines in _repo_files(repo_hits).items():
        for name, keys in ini_sections(file_lines).items():
            if keys.get("enabled", ("1", ""))[0].lower() not in _TRUE:
                continue
            value, where = keys.get("gpgcheck", (main_check, f"{path} [{name}] (inherits [main])"))
            lines.append(f"{where}: [{name}] gpgcheck={value}")
            if value.lower() not in _TRUE:
                problems.append(f"repository {name} ({path}) has gpgcheck={value}")
    evidence = [v.Evidence.of(conf, lines[0]), v.Evidence.of(repos_art, "\n".join(lines[1:]) or "no enabled repository")]
    if problems:
        return v.failed(expected, "; ".join(problems), evidence, reason="packages installed without signature check")
    return v.passed(expected, f"gpgcheck on in [main] and {len(lines) - 1} enabled repositories", evidence)
