"""Bespoke checks of the host domain."""

from __future__ import annotations

import fnmatch
import re
from datetime import date

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import package_versions
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
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


# -- packages and services: HOST-005 .. HOST-008 ----------------------------------------

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


@control("HOST-006", needs=[*host_state.PACKAGE_NEEDS, ("systemctl_default", "")])
@artifacts.ends
def no_graphical_environment(snap, vm, policy):
    expected = "default target multi-user.target; no X server or display manager package installed"
    family, packages, art = host_state.installed(snap)
    target = snap.get("cmd:systemctl_default")
    if target is None:
        return v.error("systemctl get-default was not collected")
    graphical = [f"{p} {packages[p]}" for p in policy["graphical_packages"].get(family, []) if p in packages]
    evidence = [v.Evidence.of(art, "\n".join(graphical) or "no X server or display manager package installed")]
    problems = [f"installed: {', '.join(graphical)}"] if graphical else []
    if target.rc == 127:
        default = "no systemd (systemctl not installed)"
    elif not target.ok:
        return artifacts.failure(target, "systemctl get-default")
    else:
        default = target.stdout.strip()
        evidence.append(v.Evidence.of(target, f"systemctl get-default: {default}"))
        if default != "multi-user.target":
            problems.append(f"default target {default}")
    actual = f"default target: {default}; graphical packages: {len(graphical)}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


def _running(procs, names) -> list[str]:
    return [line for comm, line in procs if comm in names]


@control("HOST-007", needs=[*host_state.PACKAGE_NEEDS, ("systemctl_unit_files", ""), ("ps", "")])
@artifacts.ends
def unneeded_services_absent(snap, vm, policy):
    services = policy["unneeded_services"]
    expected = f"packages absent; services {', '.join(services)} neither enabled nor running"
    family, packages, art = host_state.installed(snap)
    states, units = host_state.unit_states(snap)
    procs, ps = host_state.processes(snap)
    present = [f"{p} {packages[p]}" for p in policy["unneeded_packages"].get(family, []) if p in packages]
    enabled = host_state.enabled_units(states, services)
    running = _running(procs, set(services) | {"cupsd", "rpc.mountd"})   # daemons named otherwise
    evidence = [v.Evidence.of(art, "\n".join(present) or "none of the unneeded packages is installed"),
                v.Evidence.of(units, "\n".join(enabled) or "none of the services is enabled"),
                v.Evidence.of(ps, "\n".join(running) or "none of the services runs")]
    problems = ([f"installed: {', '.join(present)}"] if present else []) + \
               ([f"enabled: {', '.join(enabled)}"] if enabled else []) + \
               ([f"running: {len(running)} process(es)"] if running else [])
    actual = "; ".join(problems) or "none installed, enabled or running"
    if problems:
        return v.failed(expected, actual, evidence, reason="network services a hypervisor does not need")
    return v.passed(expected, actual, evidence)


@control("HOST-008", needs=[("systemctl_running", ""), ("ps", "")])
@artifacts.ends
def only_allowlisted_services(snap, vm, policy):
    allow, deny = policy["service_allowlist"], set(policy["service_denylist"])
    expected = "every running service in policy service_allowlist; no process of service_denylist"
    art = snap.get("cmd:systemctl_running")
    procs, ps = host_state.processes(snap)
    if art is None:
        return v.error("systemctl list-units was not collected")
    denied = _running(procs, deny)
    evidence = [v.Evidence.of(ps, "\n".join(denied) or "no process of service_denylist")]
    if art.ok:
        units = [line.split()[0] for line in art.stdout.splitlines() if line.split()]
        names = [u[:-len(".service")] if u.endswith(".service") else u for u in units]
        unapproved = [n for n in names if not any(fnmatch.fnmatchcase(n, pattern) for pattern in allow)]
        evidence.insert(0, v.Evidence.of(art, "\n".join(unapproved) and
                                         "not in service_allowlist:\n" + "\n".join(unapproved)
                                         or f"{len(names)} running services, all in service_allowlist"))
        basis = f"{len(names)} running services"
    elif art.rc == 127 or host_state.NO_SYSTEMD in art.stderr:
        # without systemd there is no list of services: judge the process table alone
        unapproved, basis = [], "systemd not running: judged from the process table against service_denylist"
        evidence.insert(0, v.Evidence.of(art, art.stderr.strip() or "systemctl not installed"))
    else:
        return artifacts.failure(art, "systemctl list-units")
    problems = ([f"not allowlisted: {', '.join(unapproved)}"] if unapproved else []) + \
               ([f"denied daemons running: {', '.join(sorted({line.split(None, 4)[3] for line in denied}))}"]
                if denied else [])
    if problems:
        return v.failed(expected, "; ".join(problems), evidence, reason="services beyond the hypervisor's role")
    return v.passed(expected, f"{basis}; none unapproved", evidence)


# -- access: HOST-010, HOST-013, HOST-014 -----------------------------------------------

PAM_SSHD, SSSD_CONF = "/etc/pam.d/sshd", "/etc/sssd/sssd.conf"


def pam_modules(text: str, stack: str = "auth") -> list[tuple[int, str]]:
    """(line number, line) of a PAM file's `stack` lines, `@include`s and substacks kept."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if words and (words[0].lstrip("-") == stack or words[0] == "@include"):
            out.append((n, line.strip()))
    return out


@control("HOST-010", needs=[("sshd_effective", ""), ("cat", PAM_SSHD), ("cat", SSSD_CONF)])
def admin_mfa(snap, vm, policy):
    modules = policy["mfa_pam_modules"]
    expected = ("sshd AuthenticationMethods: every list has two methods; keyboard-interactive backed "
                f"by one of {', '.join(modules)} in {PAM_SSHD}")
    sshd = snap.get("cmd:sshd_effective")
    if sshd is None:
        return v.error("sshd -T was not collected")
    if sshd.rc == 127:
        return v.not_applicable("sshd is not installed", [v.Evidence.of(sshd, sshd.stderr.strip())])
    if not sshd.ok:
        return artifacts.failure(sshd, "sshd -T")
    methods = next((line.split(None, 1)[1] for line in sshd.stdout.splitlines()
                    if line.lower().startswith("authenticationmethods ")), "any")
    evidence = [v.Evidence.of(sshd, f"authenticationmethods {methods}")]
    lists = [entry.split(",") for entry in methods.split()]
    single = [",".join(x) for x in lists if len(set(x)) < 2]
    problems = ["AuthenticationMethods allows one factor" + (f" ({', '.join(single)})" if methods != "any" else " (any)")] \
        if single or methods == "any" else []
    if any(m.startswith("keyboard-interactive") for x in lists for m in x):
        pam = snap.file(PAM_SSHD)
        if pam is None:
            return v.error(f"{PAM_SSHD} was not collected")
        if not pam.ok:
            return artifacts.failure(pam, PAM_SSHD)
        second = [(n, line) for n, line in pam_modules(pam.stdout)
                  if any(re.search(rf"\b{re.escape(m)}\.so\b", line) for m in modules)]
        evidence.append(v.Evidence.of(pam, "\n".join(f"{PAM_SSHD}:{n}: {line}" for n, line in second)
                                      or f"{PAM_SSHD}: no auth line with {', '.join(modules)}"))
        if not second:
            problems.append("keyboard-interactive has no OTP/U2F/PIV module in PAM")
    sssd = snap.file(SSSD_CONF)
    if sssd is not None and sssd.ok and re.search(r"(?m)^\s*pam_cert_auth\s*=\s*true", sssd.stdout):
        evidence.append(v.Evidence.of(sssd, f"{SSSD_CONF}: pam_cert_auth = true (smart card)"))
    if problems:
        return v.failed(expected, f"authenticationmethods {methods}", evidence, reason="; ".join(problems))
    return v.passed(expected, f"authenticationmethods {methods}", evidence)


FAILLOCK_CONF = "/etc/security/faillock.conf"
PAM_AUTH_FILES = {fam.DEBIAN: ["/etc/pam.d/common-auth"],
                  fam.RHEL: ["/etc/pam.d/system-auth", "/etc/pam.d/password-auth"]}


def faillock_deny(conf_text: str, pam_lines) -> tuple[int, str]:
    """pam_faillock's deny: an argument on a PAM line wins over faillock.conf, whose
    default is 3 (faillock.conf(5))."""
    for _, line in pam_lines:
        m = re.search(r"\bdeny=(\d+)", line)
        if m:
            return int(m.group(1)), f"PAM argument deny={m.group(1)}"
    for line in conf_text.splitlines():
        m = re.match(r"\s*deny\s*=\s*(\d+)", line)
        if m:
            return int(m.group(1)), f"{FAILLOCK_CONF}: {line.strip()}"
    return 3, f"{FAILLOCK_CONF}: deny unset (default 3)"


@control("HOST-013", needs=[("cat", FAILLOCK_CONF), *[("cat", p) for ps in PAM_AUTH_FILES.values() for p in ps]])
@artifacts.ends
def failed_login_lockout(snap, vm, policy):
    limit = policy["faillock_deny_max"]
    expected = f"pam_faillock in the auth stack; deny <= {limit}"
    family = fam.family(snap)
    if family is None:
        return v.error(f"cannot tell the distribution family of {snap.host}")
    evidence, missing, faillock_lines = [], [], []
    for path in PAM_AUTH_FILES[family]:
        art = artifacts.required_file(snap, path, expected, f"no {path}: the auth stack is unknown")
        lines = [(n, line) for n, line in pam_modules(art.stdout) if "pam_faillock.so" in line]
        evidence.append(v.Evidence.of(art, "\n".join(f"{path}:{n}: {line}" for n, line in lines)
                                      or f"{path}: no pam_faillock.so line"))
        faillock_lines += lines
        if not lines:
            missing.append(path)
    conf = snap.file(FAILLOCK_CONF)
    if conf is None:
        return v.error(f"{FAILLOCK_CONF} was not collected")
    if not conf.ok and not artifacts.is_absent(conf):
        return artifacts.failure(conf, FAILLOCK_CONF)
    deny, where = faillock_deny(conf.stdout if conf.ok else "", faillock_lines)
    evidence.append(v.Evidence.of(conf, where))
    problems = [f"pam_faillock not in {', '.join(missing)}"] if missing else []
    if deny == 0 or deny > limit:
        problems.append(f"deny={deny}")
    actual = f"pam_faillock {'missing' if missing else 'present'}; deny={deny}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


GRUB_FILES = ["/boot/grub2/user.cfg", "/boot/grub2/grub.cfg", "/boot/grub/grub.cfg"]


@control("HOST-014", needs=[("cat", p) for p in GRUB_FILES])
def boot_loader_password(snap, vm, policy):
    expected = "GRUB superuser with a password (GRUB2_PASSWORD in user.cfg or password_pbkdf2 in grub.cfg)"
    found = []
    for path in GRUB_FILES:
        art = snap.file(path)
        if art is None:
            return v.error(f"{path} was not collected")
        if artifacts.is_absent(art):
            continue
        if not art.ok:
            return artifacts.failure(art, path)
        hits = [f"{path}:{n}: {line.split()[0]} {line.split()[1] if len(line.split()) > 1 else ''} ..."
                for n, line in enumerate(art.stdout.splitlines(), 1)
                if re.match(r"\s*(GRUB2_PASSWORD=|password_pbkdf2\s|password\s)", line)]
        found.append((art, path, hits))
    if not found:
        return v.failed(expected, "no GRUB configuration", [v.Evidence.of(snap.file(GRUB_FILES[-1]), "\n".join(
            f"{p}: No such file or directory" for p in GRUB_FILES))],
            reason="no GRUB configuration under /boot: no boot loader password can be shown")
    evidence = [v.Evidence.of(art, "\n".join(hits) or f"{path}: no password line") for art, path, hits in found]
    if any(hits for _, _, hits in found):
        return v.passed(expected, "boot loader password set", evidence)
    return v.failed(expected, "no boot loader password", evidence,
                    reason="anyone at the console can edit the kernel command line (e.g. add mitigations=off)")


# -- hardware and integrity: HOST-015, HOST-018 ------------------------------------------

PROC_MODULES = "/proc/modules"


@control("HOST-015", needs=[("modprobe_usb_storage", ""), ("cat", PROC_MODULES), ("ps", ""),
                            ("systemctl_unit_files", "")])
@artifacts.ends
def usb_storage_disabled(snap, vm, policy):
    expected = "usb-storage `install ... /bin/false` or blacklisted, not loaded" + \
        ("; usbguard running" if policy["usbguard_required"] else "")
    art, modules = snap.get("cmd:modprobe_usb_storage"), snap.file(PROC_MODULES)
    directives = host_state.grep_lines(art, "modprobe.d")
    procs, ps = host_state.processes(snap)
    if modules is None:
        return v.error(f"{PROC_MODULES} was not collected")
    if not modules.ok and not artifacts.is_absent(modules):
        return artifacts.failure(modules, PROC_MODULES)
    # no /proc/modules: a kernel built without loadable modules, so none is loaded
    blocked = [d for d in directives if re.search(r"(/bin/false|/bin/true|blacklist)", d)]
    loaded = [line for line in modules.stdout.splitlines() if line.split(" ", 1)[0] == "usb_storage"]
    guard = _running(procs, {"usbguard-daemon"})
    evidence = [v.Evidence.of(art, "\n".join(directives) or "no install/blacklist directive for usb-storage"),
                v.Evidence.of(modules, "\n".join(loaded) or ("usb_storage not loaded" if modules.ok else
                                                               "no /proc/modules: no loadable module support")),
                v.Evidence.of(ps, "\n".join(guard) or "usbguard-daemon not running")]
    problems = ([] if blocked else ["usb-storage not disabled in modprobe.d"]) + \
               (["usb_storage is loaded"] if loaded else []) + \
               (["usbguard not running"] if policy["usbguard_required"] and not guard else [])
    actual = (f"usb-storage {'disabled' if blocked else 'allowed'}, {'loaded' if loaded else 'not loaded'}; "
              f"usbguard {'running' if guard else 'not running'}")
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


AIDE_DBS = ["/var/lib/aide/aide.db.gz", "/var/lib/aide/aide.db"]
AIDE_TIMERS = ["dailyaidecheck.timer", "aidecheck.timer", "aide.timer", "aide-check.timer"]


def aide_coverage(rule_hits: list[str], required: list[str]) -> dict[str, str | None]:
    """Which selection line covers each required path ({path: "file:line: rule" or None}).
    `rule_hits` are `grep -Hn` lines (file:line:text). A rule covers what is under it
    (AIDE matches a rule as a path prefix); a later `!` rule covering the path removes it."""
    out = {}
    for path in required:
        hit = None
        for line in rule_hits:
            where, n, text = (line.split(":", 2) + ["", ""])[:3]
            rule = (text.split() or [""])[0]
            target = rule.lstrip("!=").rstrip("/") or "/"
            if target == "/" or path == target or path.startswith(target + "/"):
                hit = None if rule.startswith("!") else f"{where}:{n}: {text.strip()}"
        out[path] = hit
    return out


def _fim_needs(policy):
    return [*host_state.PACKAGE_NEEDS, *[("stat", p) for p in AIDE_DBS], ("aide_rules", ""), ("aide_cron", ""),
            ("systemctl_unit_files", ""), *[("stat", p) for p in policy["fim_required_paths"]]]


@control("HOST-018", needs=_fim_needs)
@artifacts.ends
def file_integrity_monitoring(snap, vm, policy):
    # a required path this host does not have (the other family's binary) is skipped
    stats = {p: snap.stat(p) for p in policy["fim_required_paths"]}
    if None in stats.values():
        return v.error("the paths of policy fim_required_paths were not collected")
    required = [p for p, art in stats.items() if not artifacts.is_absent(art)]
    expected = "aide installed, database present, rules cover the virtualization stack, check scheduled"
    _, packages, pkgs = host_state.installed(snap)
    rules = host_state.grep_lines(snap.get("cmd:aide_rules"), "AIDE rules")
    cron = host_state.grep_lines(snap.get("cmd:aide_cron"), "cron entries mentioning aide")
    states, units = host_state.unit_states(snap)
    dbs = [snap.stat(p) for p in AIDE_DBS]
    if None in dbs:
        return v.error("the AIDE database paths were not collected")
    db = next((p for p, art in zip(AIDE_DBS, dbs) if art.ok), None)
    coverage = aide_coverage(rules, required)
    uncovered = [p for p, hit in coverage.items() if hit is None]
    timers = [f"{t} {states[t]}" for t in AIDE_TIMERS if states.get(t) in host_state.ENABLED]
    evidence = [v.Evidence.of(pkgs, f"aide {packages['aide']}" if "aide" in packages else "aide not installed"),
                v.Evidence.of(dbs[0], f"database: {db or 'none of ' + ', '.join(AIDE_DBS)}"),
                v.Evidence.of(snap.get("cmd:aide_rules"), "\n".join(
                    f"{p}: {hit or 'not covered'}" for p, hit in coverage.items())),
                v.Evidence.of(units if timers else snap.get("cmd:aide_cron"),
                              "\n".join(timers + cron) or "no aide timer enabled and no cron entry")]
    problems = (["aide not installed"] if "aide" not in packages else []) + \
               (["no AIDE database"] if db is None else []) + \
               ([f"not covered: {', '.join(uncovered)}"] if uncovered else []) + \
               (["no scheduled check"] if not timers and not cron else [])
    if problems:
        return v.failed(expected, "; ".join(problems), evidence, reason="changes to the stack would go unnoticed")
    return v.passed(expected, f"aide {packages['aide']}, {len(required)} paths covered, scheduled", evidence)


# -- platform: HOST-019, HOST-020, HOST-021 -----------------------------------------------

MOUNTINFO, CPUINFO = "/proc/self/mountinfo", "/proc/cpuinfo"


def mounts(text: str) -> dict[str, tuple[str, str]]:
    """/proc/<pid>/mountinfo (proc(5)) -> {mount point: (major:minor, source)}; a later
    mount over the same point wins. Octal escapes (\\040 for a space) decoded."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 10 and "-" in fields:
            dash = fields.index("-")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            out[point] = (fields[2], fields[dash + 2])
    return out


def mount_of(table: dict, path: str) -> str:
    """The mount point a path lives on: the longest mount point that is a prefix of it."""
    return max((p for p in table if p == "/" or path == p or path.startswith(p.rstrip("/") + "/")), key=len)


@control("HOST-019", needs=[("cat", MOUNTINFO)])
@artifacts.ends
def dedicated_filesystems(snap, vm, policy):
    paths = policy["dedicated_mounts"]
    expected = f"{', '.join(paths)} each on a filesystem other than /"
    art = artifacts.required_file(snap, MOUNTINFO, expected, "the mount table is unknown")
    table = mounts(art.stdout)
    if "/" not in table:
        return v.error(f"{MOUNTINFO} has no root mount")
    root_dev = table["/"][0]
    lines, shared = [], []
    for path in paths:
        point = mount_of(table, path)
        dev, source = table[point]
        lines.append(f"{path}: on {point} (device {dev}, {source})")
        # a bind mount of a directory of / has the root's device: not a filesystem of its own
        if dev == root_dev:
            shared.append(path)
    evidence = [v.Evidence.of(art, "\n".join(lines + [f"/: device {root_dev} ({table['/'][1]})"]))]
    if shared:
        return v.failed(expected, "on the root filesystem: " + ", ".join(shared), evidence,
                        reason="guests' images or logs can fill the root filesystem")
    return v.passed(expected, "all on filesystems of their own", evidence)


def cpu_signature(text: str) -> tuple[str, str]:
    """(signature "<vendor_id> <family>-<model>-<stepping>", microcode revision) of the
    first CPU in /proc/cpuinfo."""
    fields = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            if fields:
                break           # end of the first processor's block
            continue
        fields.setdefault(key.strip(), value.strip())
    signature = (f"{fields.get('vendor_id', '?')} {fields.get('cpu family', '?')}-"
                 f"{fields.get('model', '?')}-{fields.get('stepping', '?')}")
    return signature, fields.get("microcode", "")


@control("HOST-020", needs=[("cat", CPUINFO)])
@artifacts.ends
def microcode_current(snap, vm, policy):
    table = policy["microcode_minimum"]
    art = artifacts.required_file(snap, CPUINFO, "microcode >= policy microcode_minimum", "no /proc/cpuinfo")
    signature, revision = cpu_signature(art.stdout)
    minimum = table.get(signature)
    expected = f"microcode >= {minimum} for {signature}" if minimum else f"microcode >= the site baseline for {signature}"
    evidence = [v.Evidence.of(art, f"{CPUINFO}: {signature}, microcode {revision or 'not shown'}")]
    if not revision:
        return v.failed(expected, "no microcode revision in /proc/cpuinfo", evidence,
                        reason="the revision is unknown (a virtual machine, or an architecture without it)")
    if minimum is None:
        # no baseline is a gap in the site's data, not a finding about the host
        return v.manual(expected, f"microcode {revision}", evidence,
                        reason=f"policy microcode_minimum has no entry '{signature}': a person must compare "
                               f"{revision} with the CPU vendor's latest release (or add the entry)")
    if int(revision, 16) < int(minimum, 16):
        return v.failed(expected, f"microcode {revision}", evidence, reason=f"older than {minimum}")
    return v.passed(expected, f"microcode {revision}", evidence)


AGENT_CHANNEL = "org.qemu.guest_agent.0"


@control("HOST-021")
def guest_agent_channel(snap, vm, policy):
    expected = f"a virtio channel {AGENT_CHANNEL} (qemu-guest-agent) to read the guest's OS and kernel"
    art = snap.domain_xml(vm)
    if art is None or not art.ok:
        return v.error(f"the definition of {vm} was not collected")
    try:
        root = xmlsafe.parse(art.stdout)
    except xmlsafe.XMLError as exc:
        return v.error(f"domain {vm}: inactive XML is malformed: {exc}")
    channels = root.xpath(f"/domain/devices/channel[target/@name='{AGENT_CHANNEL}']")
    live = snap.domain_xml(vm, live=True)
    state = ""
    if channels and live is not None and live.ok:
        try:
            states = xmlsafe.parse(live.stdout).xpath(
                f"/domain/devices/channel/target[@name='{AGENT_CHANNEL}']/@state")
            state = f", agent {states[0]}" if states else ""
        except xmlsafe.XMLError:
            state = ""
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.render(c) for c in channels)
                              or f"/domain/devices/channel[target/@name='{AGENT_CHANNEL}']: no match")]
    if not channels:
        return v.failed(expected, "no guest agent channel", evidence,
                        reason="without a guest agent the guest's release and patch level cannot be read")
    return v.passed(expected, f"guest agent channel defined{state}", evidence)
