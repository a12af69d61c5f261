"""Python controls of the host domain, hardware, integrity and platform: what the
machine itself offers an attacker, and what would notice a change to the stack.

  HOST-015  usb_storage_disabled        usb-storage disabled and not loaded (usbguard if policy requires it)
  HOST-018  file_integrity_monitoring   AIDE installed, with a database, rules over the stack and a schedule
  HOST-019  dedicated_filesystems       policy dedicated_mounts each on a filesystem other than /
  HOST-020  microcode_current           CPU microcode >= policy microcode_minimum
  HOST-021  guest_agent_channel         a qemu-guest-agent channel, to read the guest's OS and kernel
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts, memo
from hvconform.judge.read import xmlsafe
from hvconform.judge.read.backup_places import mount_point
from hvconform.judge.functions.registry import control


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
    guard = host_state.process_lines(procs, {"usbguard-daemon"})
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


def aide_coverage(grep_output: str, required: list[str]) -> dict[str, str | None]:
    """Which selection line covers each required path ({path: "file:line: rule" or None}).
    `grep_output` is what `grep -Hn` printed (file:line:text a line). A rule covers what
    is under it (AIDE matches a rule as a path prefix); a later `!` rule covering the
    path removes it."""
    last = _last_rules(grep_output)
    out = {}
    for path in required:
        parents = [path[:i] for i, c in enumerate(path) if c == "/"]   # path[i] == "/": a parent
        covering = [last[t] for t in ("/", path, *parents) if t in last]
        hit = max(covering, default=None)   # by position: the last covering rule
        out[path] = None if hit is None or hit[1] else f"{hit[2]}:{hit[3]}: {hit[4].strip()}"
    return out


@memo.per_host
def _last_rules(grep_output: str) -> dict[str, tuple]:
    """{target: (position, negated, where, line number, text) of the last rule naming it}.

    The last rule covering a path decides. A rule covers a path when its target is "/",
    the path itself or one of its parents, so only the last rule of each target matters
    and a path looks up its own few parents. A distribution's rules run to over a
    thousand lines: comparing each with each required path, and reading them again for
    every host, was most of this control's time at fleet size. Callers never change it."""
    last = {}
    for position, line in enumerate(host_state.nonblank_lines(grep_output)):
        where, n, text = (line.split(":", 2) + ["", ""])[:3]
        rule = (text.split() or [""])[0]
        last[rule.lstrip("!=").rstrip("/") or "/"] = (position, rule.startswith("!"), where, n, text)
    return last


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
    rules_art = snap.get("cmd:aide_rules")
    host_state.grep_lines(rules_art, "AIDE rules")   # Unknown when grep could not read them
    cron = host_state.grep_lines(snap.get("cmd:aide_cron"), "cron entries mentioning aide")
    states, units = host_state.unit_states(snap)
    dbs = [snap.stat(p) for p in AIDE_DBS]
    if None in dbs:
        return v.error("the AIDE database paths were not collected")
    db = next((p for p, art in zip(AIDE_DBS, dbs) if art.ok), None)
    coverage = aide_coverage(rules_art.stdout, required)
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


@memo.per_host
def mounts(text: str) -> dict[str, tuple[str, str]]:
    """/proc/<pid>/mountinfo (proc(5)) -> {mount point: (major:minor, source)}; a later
    mount over the same point wins. Octal escapes (\\040 for a space) decoded.
    Parsed once per text (judge/read/memo.py): callers read it, never change it."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 10 and "-" in fields:
            dash = fields.index("-")
            out[mount_point(fields[4])] = (fields[2], fields[dash + 2])
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
