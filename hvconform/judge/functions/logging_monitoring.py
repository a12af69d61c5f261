"""Python controls of the logging domain, watching the host: a synchronised clock
(for log timestamps that line up), an intrusion detection agent and a metrics
exporter that is not exposed.

  LOG-012  time_synchronised     clock synchronised to an approved source, maxpoll bounded
                                 (chrony with its confdir/sourcedir files, else systemd-timesyncd)
  LOG-013  ids_agent_running     one of policy ids_agents running
  LOG-014  monitoring_exporter   an exporter running, listening only on loopback or the monitoring network
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, host_state, time_sources
from hvconform.judge.functions.registry import control


CHRONY_CONFS = ["/etc/chrony.conf", "/etc/chrony/chrony.conf"]
MAXPOLL_MAX = 16


def synchronised(chronyc, timedatectl) -> tuple[bool | None, str]:
    """Whether the clock is synchronised, from `chronyc -n sources` (a `^*` line is the
    selected source) or `timedatectl show -p NTPSynchronized`; None when neither answered."""
    if chronyc is not None and chronyc.ok:
        selected = [line for line in chronyc.stdout.splitlines() if line.startswith("^*") or line.startswith("=*")]
        return bool(selected), (selected[0] if selected else "chronyc: no selected source (^*)")
    if timedatectl is not None and timedatectl.ok and "NTPSynchronized=" in timedatectl.stdout:
        value = timedatectl.stdout.strip()
        return value == "NTPSynchronized=yes", value
    return None, "; ".join(((a.stderr or a.stdout).strip().splitlines() or ["no output"])[-1]
                           for a in (chronyc, timedatectl) if a is not None)


def configured_sources(snap):
    """(client, [Source], the artifact they were read from): chrony's when a chrony.conf
    exists, else systemd-timesyncd's (judge/read/time_sources.py)."""
    confs = [snap.file(p) for p in CHRONY_CONFS]
    if None in confs:
        raise artifacts.End(v.error("the chrony configuration was not collected"))
    for path, art in zip(CHRONY_CONFS, confs):
        if not art.ok and not artifacts.is_absent(art):
            raise artifacts.End(artifacts.failure(art, path))
    dirs = snap.get("cmd:time_sources_d")
    if dirs is None:
        raise artifacts.End(v.error("the NTP clients' drop-in files were not collected"))
    if dirs.rc not in (0, 1) and not artifacts.is_absent(dirs):   # grep: 1 = nothing there
        raise artifacts.End(artifacts.failure(dirs, "the NTP clients' drop-in files"))
    extra = time_sources.dropins(dirs.stdout)
    conf = next(((p, a) for p, a in zip(CHRONY_CONFS, confs) if a.ok), None)
    if conf:
        return "chrony", time_sources.chrony_sources(conf[0], conf[1].stdout, extra), conf[1]
    timesyncd = artifacts.optional_file(snap, time_sources.TIMESYNCD)
    found, _, _ = time_sources.timesyncd_sources(timesyncd.stdout if timesyncd else None, extra)
    return "systemd-timesyncd", found, timesyncd or confs[-1]


@control("LOG-012", needs=[*[("cat", p) for p in CHRONY_CONFS], ("cat", time_sources.TIMESYNCD),
                           ("time_sources_d", ""), ("chronyc_sources", ""), ("timedatectl_ntp", "")])
@artifacts.ends
def time_synchronised(snap, vm, policy):
    approved = policy["approved_time_sources"]
    expected = f"clock synchronised; >= 1 server matching {', '.join(approved)}; maxpoll <= {MAXPOLL_MAX}"
    chronyc, timedatectl = snap.get("cmd:chronyc_sources"), snap.get("cmd:timedatectl_ntp")
    if chronyc is None or timedatectl is None:
        return v.error("chronyc sources or timedatectl was not collected")
    client, sources, art = configured_sources(snap)
    good = [s for s in sources if any(fnmatch.fnmatchcase(s.name, pattern) for pattern in approved)]
    slow = [s for s in sources if s.maxpoll is not None and s.maxpoll > MAXPOLL_MAX]
    synced, how = synchronised(chronyc, timedatectl)
    evidence = [v.Evidence.of(art, "\n".join(s.cite() for s in sources) or f"{client}: no time source configured"),
                v.Evidence.of(chronyc if chronyc.ok or not timedatectl.ok else timedatectl, how)]
    problems = (["no approved time source configured"] if not good else []) + \
               ([f"maxpoll > {MAXPOLL_MAX}: {', '.join(s.name for s in slow)}"] if slow else []) + \
               (["not synchronised" if synced is False else "synchronisation state unknown (no chronyd or timedated answered)"]
                if not synced else [])
    actual = f"{client}: {len(good)} approved of {len(sources)} source(s); {how}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


@control("LOG-013", needs=[("ps", "")])
@artifacts.ends
def ids_agent_running(snap, vm, policy):
    agents = policy["ids_agents"]
    expected = f"one of {', '.join(agents)} running"
    procs, ps = host_state.processes(snap)
    found = [line for comm, line in procs if comm in agents]
    evidence = [v.Evidence.of(ps, "\n".join(found) or "no approved IDS agent in the process table")]
    if not found:
        return v.failed(expected, "no IDS agent running", evidence, reason="intrusions on the hypervisor go unseen")
    return v.passed(expected, f"{len(found)} agent process(es)", evidence)


def listeners(text: str) -> list[tuple[str, str, str]]:
    """`ss -Htlnp` -> [(local address, port, process names)]."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            address, _, port = parts[3].rpartition(":")
            names = ",".join(re.findall(r'\(\("([^"]+)"', line)) or ",".join(re.findall(r'"([^"]+)"', line))
            out.append((address.strip("[]").split("%")[0], port, names))
    return out


def exposed(address: str, networks: list[str]) -> bool:
    """Whether a listening address is outside loopback and the allowed networks
    (a wildcard address is everywhere)."""
    if address in ("*", "0.0.0.0", "::"):
        return True
    ip = ipaddress.ip_address(address)
    return not ip.is_loopback and not any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


@control("LOG-014", needs=[("ps", ""), ("ss_listeners_procs", "")])
@artifacts.ends
def monitoring_exporter(snap, vm, policy):
    exporters, networks = policy["monitoring_exporters"], policy["monitoring_networks"]
    expected = (f"one of {', '.join(exporters)} running, listening only on loopback"
                + (f" or {', '.join(networks)}" if networks else ""))
    art = snap.get("cmd:ss_listeners_procs")
    procs, ps = host_state.processes(snap)
    if art is None:
        return v.error("ss -Htlnp was not collected")
    if not art.ok:
        return artifacts.failure(art, "ss -Htlnp")
    # ps shows a command name cut to 15 characters (TASK_COMM_LEN): prometheus-libvirt-exporter
    # runs as "prometheus-libv"
    running = [line for comm, line in procs if comm in {e[:15] for e in exporters}]
    ports = [(a, p, n) for a, p, n in listeners(art.stdout) if any(e[:15] in n.split(",") or e in n for e in exporters)]
    open_ports = [f"{a}:{p} ({n})" for a, p, n in ports if exposed(a, networks)]
    evidence = [v.Evidence.of(ps, "\n".join(running) or "no approved exporter in the process table"),
                v.Evidence.of(art, "\n".join(f"{a}:{p} {n}" for a, p, n in ports) or "no exporter listening")]
    if not running:
        return v.failed(expected, "no exporter running", evidence, reason="VM resource use is not monitored")
    if open_ports:
        return v.failed(expected, "exposed: " + ", ".join(open_ports), evidence,
                        reason="the metrics endpoint is reachable beyond the monitoring network")
    return v.passed(expected, f"{len(running)} exporter process(es), {len(ports)} endpoint(s) not exposed", evidence)
