"""Python controls of the host domain, services: a hypervisor runs what its role
needs and nothing else.

  HOST-006  no_graphical_environment      default target multi-user, no X server or display manager
  HOST-007  unneeded_services_absent      policy unneeded_services/packages neither installed, enabled nor running
  HOST-008  only_allowlisted_services     every running service in policy service_allowlist
"""

from __future__ import annotations

import fnmatch

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control


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
    running = host_state.process_lines(procs, set(services) | {"cupsd", "rpc.mountd"})   # daemons named otherwise
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
    denied = host_state.process_lines(procs, deny)
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
