"""Python controls of the network domain, the host's exposure: one firewall manager
with rules loaded, inbound traffic denied by default, only allowlisted listeners, and
migration on its own network.

  NET-001  single_firewall_manager   exactly one firewall manager active, rules loaded
  NET-002  inbound_default_deny      an input chain for IPv4 and IPv6 that drops by default
  NET-003  listeners_allowlisted     no libvirt TCP; listeners on loopback, management or allowlisted
  NET-019  migration_network         qemu.conf migration_address in migration_networks, few ports

Formats read here: ss(8) (`tcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:*`) and
libnftables-json(5) (`{"nftables": [{"table": ...}, {"chain": ...}, {"rule": ...}]}`).
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control
from hvconform.judge.read.addresses import WILDCARDS, in_networks, is_loopback
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of
from hvconform.judge.read.libvirt_networks import networks

NETWORK_CONF = "/etc/libvirt/network.conf"
# what libvirt's dnsmasq serves on a network's own address: DNS, DHCP, DHCPv6
GUEST_SERVICES = ("53/tcp", "53/udp", "67/udp", "547/udp")


def listeners(text: str) -> list[tuple[str, str, int, str]]:
    """`ss -Htlnu` lines -> [(proto, address, port, line)]."""
    out = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 5:
            continue
        addr, _, port = cols[4].rpartition(":")
        if port.isdigit():
            out.append((cols[0], addr.strip("[]").split("%")[0], int(port), line.strip()))
    return out


# ------------------------------------------------------------------ NET-001 / NET-002

FIREWALL_UNITS = ("firewalld", "nftables", "ufw", "iptables", "netfilter-persistent")


def nft_items(snap):
    art, doc = artifacts.json_output(snap, "nft_ruleset", "nft list ruleset")
    return art, [i for i in (doc.get("nftables", []) if isinstance(doc, dict) else []) if isinstance(i, dict)]


@control("NET-001", needs=[("systemctl_firewalls", ""), ("ps", ""), ("nft_ruleset", ""),
                           ("cat", NETWORK_CONF)])
@artifacts.ends
def single_firewall_manager(snap, vm, policy):
    expected = ("exactly one firewall manager active, rules loaded; libvirt firewall_backend "
                "nftables or iptables (firewalld: its libvirt zone present)")
    units = snap.get("cmd:systemctl_firewalls")
    if units is None:
        raise artifacts.End(v.error("systemctl is-active was not collected"))
    nft, items = nft_items(snap)
    tables = [f"{i['table']['family']} {i['table']['name']}" for i in items if "table" in i]
    evidence = [v.Evidence.of(nft, "tables: " + (", ".join(tables) or "none"))]
    states = units.stdout.split()
    if len(states) == len(FIREWALL_UNITS):
        active = [u for u, s in zip(FIREWALL_UNITS, states) if s == "active"]
        evidence.append(v.Evidence.of(units, " ".join(f"{u}={s}" for u, s in zip(FIREWALL_UNITS, states))))
        how = "systemd units"
    elif host_state.NO_SYSTEMD in units.stderr:
        # no service manager to ask: a running firewalld is in the process table, and
        # rules loaded once (nftables/iptables services are one-shot) are in the ruleset
        lines, ps = host_state.running(snap, "firewalld")
        if lines is None:
            raise artifacts.End(v.error("systemd is not running and the process table was not collected"))
        active = ["firewalld"] if lines else (["a loaded ruleset"] if tables else [])
        evidence.append(v.Evidence.of(units, units.stderr.strip().splitlines()[0]))
        evidence.append(v.Evidence.of(ps, "\n".join(lines) or "no firewalld process"))
        how = "no systemd: process table and ruleset"
    else:
        raise artifacts.End(artifacts.failure(units, "systemctl is-active"))
    settings, netconf = settings_of(snap, NETWORK_CONF)
    backend = value_of(settings, "firewall_backend")
    evidence.append(v.Evidence.of(netconf, f"{NETWORK_CONF}: firewall_backend = {backend}"
                                  if backend else f"{NETWORK_CONF}: firewall_backend not set (build default)"))
    problems = []
    if len(active) > 1:
        problems.append("several firewall managers active: " + ", ".join(active))
    if not active:
        problems.append("no firewall manager active")
    if not tables:
        problems.append("no firewall rules loaded")
    if backend is not None and str(backend) not in ("nftables", "iptables"):
        problems.append(f"firewall_backend {backend!r} is not nftables or iptables")
    if "firewalld" in active and not any(
            "chain" in i and "libvirt" in i["chain"]["name"] for i in items):
        problems.append("firewalld runs without the libvirt zone")
    actual = f"active: {', '.join(active) or 'none'} ({how}); {len(tables)} table(s); backend {backend or 'default'}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


def _ends_in_deny(rules) -> bool:
    if not rules:
        return False
    verbs = [next(iter(e)) for e in rules[-1].get("expr", []) if isinstance(e, dict)]
    return bool(verbs) and verbs[-1] in ("drop", "reject") and set(verbs) <= {"counter", "log", "drop", "reject"}


@control("NET-002", needs=[("nft_ruleset", "")])
@artifacts.ends
def inbound_default_deny(snap, vm, policy):
    expected = "an input-hook chain for IPv4 and for IPv6 with policy drop or a final unconditional drop/reject"
    art, items = nft_items(snap)
    rules: dict = {}
    for i in items:
        if "rule" in i:
            r = i["rule"]
            rules.setdefault((r["family"], r["table"], r["chain"]), []).append(r)
    covered, shown = set(), []
    for i in items:
        c = i.get("chain", {})
        if c.get("hook") != "input" or c.get("family") not in ("ip", "ip6", "inet"):
            continue
        key = (c["family"], c["table"], c["name"])
        deny = c.get("policy") == "drop" or _ends_in_deny(rules.get(key, []))
        shown.append(f"{c['family']} {c['table']} {c['name']}: hook input, policy {c.get('policy')}"
                     f"{', ends in drop/reject' if _ends_in_deny(rules.get(key, [])) else ''}")
        if deny:
            covered |= {"ip": {"IPv4"}, "ip6": {"IPv6"}, "inet": {"IPv4", "IPv6"}}[c["family"]]
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no chain with hook input")]
    missing = sorted({"IPv4", "IPv6"} - covered)
    actual = f"default deny for: {', '.join(sorted(covered)) or 'nothing'}"
    if missing:
        return v.failed(expected, actual, evidence,
                        reason="inbound traffic accepted by default for " + ", ".join(missing))
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ NET-003

@control("NET-003", needs=[("ss_listeners", ""), ("virsh_net_dumpxml_all", "")])
@artifacts.ends
def listeners_allowlisted(snap, vm, policy):
    mgmt, allow = policy["management_networks"], policy["listen_allowlist"]
    expected = (f"no :16509; every other listener on loopback, in management_networks "
                f"[{', '.join(mgmt)}], allowlisted [{', '.join(allow)}], or dnsmasq on a libvirt network address")
    art = artifacts.output(snap, "ss_listeners", "ss -Htlnu")
    try:
        nets, _ = networks(snap)
    except artifacts.End:
        nets = {}   # without them no dnsmasq address is exempt: stricter, never a false pass
    gateways = {ip.get("address") for n in nets.values() for ip in n.findall("ip")}
    bad = []
    found = listeners(art.stdout)
    for proto, addr, port, line in found:
        service = f"{port}/{proto}"
        if port == 16509 and proto == "tcp":
            bad.append(f"{line}  (libvirt TCP: unencrypted management)")
        elif is_loopback(addr) or service in allow:
            continue
        elif addr in WILDCARDS:
            bad.append(f"{line}  (all addresses)")
        elif addr in gateways and service in GUEST_SERVICES:
            continue
        elif not in_networks(addr, mgmt):
            bad.append(f"{line}  (not in management_networks)")
    evidence = [v.Evidence.of(art, "\n".join(bad) or art.stdout.strip() or "no listeners")]
    actual = f"{len(found)} listener(s), {len(bad)} outside the allowlist"
    if bad:
        return v.failed(expected, actual, evidence, reason=f"{len(bad)} listener(s) exposed beyond policy")
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ NET-019

@control("NET-019", needs=[("cat", QCONF)])
@artifacts.ends
def migration_network(snap, vm, policy):
    nets, span_max = policy["migration_networks"], policy["migration_port_span_max"]
    expected = (f"qemu.conf migration_address in migration_networks [{', '.join(nets)}]; "
                f"migration port range at most {span_max} ports")
    qconf, art = settings_of(snap, QCONF)
    addr = str(value_of(qconf, "migration_address", "0.0.0.0"))
    low = value_of(qconf, "migration_port_min", 49152)
    high = value_of(qconf, "migration_port_max", 49215)
    keys = ("migration_address", "migration_host", "migration_port_min", "migration_port_max")
    evidence = [v.Evidence.of(art, "\n".join(f"{QCONF}:{qconf[k].line}: {qconf[k].text}" if k in qconf
                                             else f"{QCONF}: {k}: not set" for k in keys))]
    problems = []
    if addr in WILDCARDS or not in_networks(addr, nets):
        problems.append(f"migration_address {addr}{' (default: all addresses)' if 'migration_address' not in qconf else ''}"
                        " is not in migration_networks")
    try:
        span = int(high) - int(low) + 1
    except (TypeError, ValueError):
        span = None
    if span is None or span < 1 or span > span_max:
        problems.append(f"migration ports {low}-{high}")
    actual = f"migration_address {addr}; ports {low}-{high}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)
