"""Bespoke checks of the libvirt domain: the daemon model, polkit, /dev/kvm, hooks."""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import daemons
from hvconform.judge.kinds import file_mode
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control


@control("LIBV-001", needs=[*daemons.NEEDS, *host_state.PACKAGE_NEEDS])
@artifacts.ends
def one_daemon_model(snap, vm, policy):
    unneeded = policy["unneeded_libvirt_drivers"]
    expected = (f"libvirtd or virtqemud in use, not both; no libvirt-daemon-driver-{{{','.join(unneeded)}}} "
                "installed")
    # model() refuses to pick when both are in use, which is what this control reports
    systemd, active, active_art = daemons.socket_states(snap)
    running, ps_art = daemons.running_daemons(snap)
    both = []
    if systemd and active.get("virtqemud.socket") == active.get("libvirtd.socket") == "active":
        both.append("virtqemud.socket and libvirtd.socket both active")
    if "virtqemud" in running and "libvirtd" in running:
        both.append("virtqemud and libvirtd both running")
    _, packages, pkg_art = host_state.installed(snap)
    drivers = sorted(p for p in packages if p.startswith("libvirt-daemon-driver-"))
    extra = [p for p in drivers if p.removeprefix("libvirt-daemon-driver-").split("-")[0] in unneeded]
    evidence = [v.Evidence.of(active_art, "\n".join(f"{u}: {s}" for u, s in active.items())
                              or active_art.stderr.strip() or "no output"),
                v.Evidence.of(ps_art, "\n".join(running.values()) or "no libvirt daemon process"),
                v.Evidence.of(pkg_art, "\n".join(drivers) or "no libvirt-daemon-driver-* package")]
    model = ("both" if both else "modular" if "virtqemud" in running or active.get("virtqemud.socket") == "active"
             else "monolithic" if "libvirtd" in running or active.get("libvirtd.socket") == "active"
             else "no daemon running")
    actual = f"{model}; drivers: {', '.join(d.removeprefix('libvirt-daemon-driver-') for d in drivers) or 'none'}"
    problems = both + ([f"unneeded drivers installed: {', '.join(extra)}"] if extra else [])
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


def polkit_files(lines: list[str]) -> dict[str, list[str]]:
    """`grep -r -n -e .` lines (path:line:text) -> {path: [text lines]}."""
    files: dict[str, list[str]] = {}
    for line in lines:
        m = re.match(r"(/[^:]+):(\d+):(.*)", line)
        if m:
            files.setdefault(m.group(1), []).append(m.group(3))
    return files


def libvirt_grants(files: dict[str, list[str]]) -> list[tuple[str, list[str], list[str], bool]]:
    """For each rules file that mentions org.libvirt.unix.manage: (path, groups, users,
    grants without naming anyone). A proxy for reading the JavaScript, which a person does."""
    out = []
    for path, text in files.items():
        body = "\n".join(text)
        if "org.libvirt.unix.manage" not in body:
            continue
        groups = re.findall(r"isInGroup\(\s*[\"']([^\"']+)[\"']", body)
        users = re.findall(r"(?:isUser\(|user\s*==\s*)\s*[\"']([^\"']+)[\"']", body)
        unconditional = "polkit.Result.YES" in body and not groups and not users
        out.append((path, groups, users, unconditional))
    return out


def group_members(art) -> dict[str, list[str]]:
    """`getent group a b` -> {group: [members]} (group:x:gid:m1,m2)."""
    out = {}
    for line in art.stdout.splitlines():
        parts = line.split(":")
        if len(parts) == 4:
            out[parts[0]] = [m for m in parts[3].split(",") if m]
    return out


def _getent(snap):
    art = snap.get("cmd:getent_libvirt_groups")
    if art is None:
        raise host_state.Unknown(v.error("getent group libvirt kvm was not collected"))
    # getent exits 2 when a group does not exist: still an answer for the others
    if art.rc not in (0, 2):
        raise host_state.Unknown(artifacts.failure(art, "getent group libvirt kvm"))
    return group_members(art), art


@control("LIBV-010", needs=[("polkit_rules", ""), ("getent_libvirt_groups", "")])
@artifacts.ends
def polkit_libvirt_admins(snap, vm, policy):
    groups_ok, users_ok = policy["libvirt_admin_groups"], policy["libvirt_admin_users"]
    expected = (f"org.libvirt.unix.manage granted only to groups {groups_ok} (or users {users_ok}); "
                f"their members within {users_ok}")
    rules_art = snap.get("cmd:polkit_rules")
    files = polkit_files(host_state.grep_lines(rules_art, "the polkit rules"))
    grants = libvirt_grants(files)
    members, getent_art = _getent(snap)
    problems = []
    for path, groups, users, unconditional in grants:
        if unconditional:
            problems.append(f"{path} grants libvirt management without naming a group or user")
        problems += [f"{path} grants group {g}" for g in groups if g not in groups_ok]
        problems += [f"{path} grants user {u}" for u in users if u not in users_ok]
    granted = sorted({g for _, groups, _, _ in grants for g in groups})
    for g in granted:
        problems += [f"group {g} has member {m}, not in policy libvirt_admin_users"
                     for m in members.get(g, []) if m not in users_ok]
    evidence = [v.Evidence.of(rules_art, "\n".join(f"{p}: {' '.join(files[p])}"[:600] for p, *_ in grants)
                              or "no rules file mentions org.libvirt.unix.manage"),
                v.Evidence.of(getent_art)]
    actual = ("; ".join(f"{p}: groups {g or '-'}, users {u or '-'}" for p, g, u, _ in grants)
              or "no polkit rule for org.libvirt.unix.manage (only polkit's admin default)")
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


@control("LIBV-012", needs=[("stat", "/dev/kvm"), ("getent_libvirt_groups", "")])
@artifacts.ends
def kvm_device_access(snap, vm, policy):
    allowed = policy["kvm_group_members"]
    expected = f"/dev/kvm mode <= 0660, root:kvm; kvm members within {allowed}"
    art = snap.stat("/dev/kvm")
    if art is None:
        return v.error("stat of /dev/kvm was not collected")
    if artifacts.is_absent(art):
        return v.not_applicable("/dev/kvm does not exist: no KVM on this host (see QEMU-011)",
                                [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return artifacts.failure(art, "stat /dev/kvm")
    mode, owner, group = (art.stdout.split(" ", 3) + ["", "", ""])[:3]
    members, getent_art = _getent(snap)
    problems = []
    if int(mode, 8) & ~0o660:
        problems.append(f"/dev/kvm mode {mode}")
    if owner != "root" or group != "kvm":
        problems.append(f"/dev/kvm owned {owner}:{group}")
    problems += [f"kvm group member {m} not in policy kvm_group_members"
                 for m in members.get("kvm", []) if m not in allowed]
    evidence = [v.Evidence.of(art, f"/dev/kvm: {art.stdout.strip()}"), v.Evidence.of(getent_art)]
    actual = f"/dev/kvm {mode} {owner}:{group}; kvm members: {', '.join(members.get('kvm', [])) or 'none'}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


@control("LIBV-015", needs=[("libvirt_hooks_stat", "")])
@artifacts.ends
def hooks_protected(snap, vm, policy):
    expected = "/etc/libvirt/hooks and every hook root-owned, not group/world writable"
    art = snap.get("cmd:libvirt_hooks_stat")
    if art is None:
        return v.error("stat of /etc/libvirt/hooks was not collected")
    # an unmatched glob (no hooks) is stat's 'No such file'; anything else is a failure
    if [e for e in art.stderr.splitlines() if e.strip() and "No such file" not in e]:
        return artifacts.failure(art, "stat of /etc/libvirt/hooks")
    entries = [(*e, path) for path, e in file_mode.stat_entries(art.stdout).items()]
    if not entries:
        return v.not_applicable("/etc/libvirt/hooks does not exist: no hooks can run",
                                [v.Evidence.of(art, art.stderr.strip())])
    bad = [f"{e[4]}: {e[0]} {e[1]}" for e in entries
           if e[1] != "root" or (e[3] != "symbolic link" and int(e[0], 8) & 0o022)]
    evidence = [v.Evidence.of(art)]
    hooks = [e[4] for e in entries if e[4] != "/etc/libvirt/hooks"]
    actual = f"{len(hooks)} hook files" + (f"; {'; '.join(bad)}" if bad else "")
    if bad:
        return v.failed(expected, actual, evidence, reason="writable by others or not root's: " + "; ".join(bad))
    return v.passed(expected, actual + (f": {', '.join(hooks)}" if hooks else ""), evidence)
