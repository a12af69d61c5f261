"""Bespoke checks of the network domain: listeners, firewall, bridges and VLANs,
libvirt networks, and the per-VM console and interface rules that need them.

Command outputs read here (formats: ss(8); `ip -j`/`bridge -j` JSON of iproute2,
ip/ipaddress.c and bridge/vlan.c; libnftables-json(5); virsh(1) net-list table):
  cmd:ss_listeners           `tcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:*`
  cmd:ip_links / ip_addrs    [{"ifname": "br0", "master": ..., "linkinfo": {...}, "addr_info": [...]}]
  cmd:bridge_vlans           [{"ifname": "vnet0", "vlans": [{"vlan": 10, "flags": ["PVID"]}]}]
  cmd:nft_ruleset            {"nftables": [{"table": ...}, {"chain": ...}, {"rule": ...}]}
  cmd:virsh_net_dumpxml_all  `### network <name>` then that network's XML, per network
"""

from __future__ import annotations

import ipaddress
import json

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of

NETWORK_CONF = "/etc/libvirt/network.conf"
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
IP6_FORWARD = "/proc/sys/net/ipv6/conf/all/forwarding"
GOOD_MODES = ("nat", "route", "isolated")
BRIDGED_MODES = ("bridge", "private", "vepa", "passthrough", "hostdev")
BRIDGED_IFACES = ("bridge", "direct", "hostdev", "vhostuser")
VM_PORT_PREFIXES = ("vnet", "tap", "macvtap")
WILDCARDS = ("0.0.0.0", "::", "*")
# what libvirt's dnsmasq serves on a network's own address: DNS, DHCP, DHCPv6
GUEST_SERVICES = ("53/tcp", "53/udp", "67/udp", "547/udp")


def json_output(snap, name: str, what: str):
    art = artifacts.output(snap, name, what)
    try:
        return art, json.loads(art.stdout or "[]")
    except ValueError as exc:
        raise artifacts.End(v.error(f"{what} printed malformed JSON: {exc}", [v.Evidence.of(art)]))


# ------------------------------------------------------------------ addresses

def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


def is_loopback(addr: str) -> bool:
    ip = _ip(addr)
    return addr == "localhost" or (ip is not None and ip.is_loopback)


def in_networks(addr: str, cidrs) -> bool:
    ip = _ip(addr)
    return ip is not None and addr not in WILDCARDS and any(
        ip in ipaddress.ip_network(c, strict=False) for c in cidrs)


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


# ------------------------------------------------------------------ libvirt networks

def networks(snap) -> tuple[dict, object]:
    """{name: root element} of every libvirt network, from virsh_net_dumpxml_all."""
    art = artifacts.output(snap, "virsh_net_dumpxml_all", "virsh net-dumpxml of each network")
    sections, name = {}, None
    for line in art.stdout.splitlines():
        if line.startswith("### network "):
            name = line[len("### network "):]
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    out = {}
    for name, lines in sections.items():
        try:
            out[name] = xmlsafe.parse("\n".join(lines))
        except xmlsafe.XMLError as exc:
            raise artifacts.End(v.error(f"network {name}: no readable definition ({exc})",
                                     [v.Evidence.of(art, art.stderr.strip() or "\n".join(lines))]))
    return out, art


def net_states(snap) -> tuple[dict, object]:
    """{name: (state, autostart)} from the `virsh net-list --all` table."""
    art = artifacts.output(snap, "virsh_net_list", "virsh net-list --all")
    out = {}
    for line in art.stdout.splitlines()[2:]:
        cols = line.split()
        if len(cols) >= 3:
            out[cols[0]] = (cols[1], cols[2])
    return out, art


def forward_mode(net) -> str:
    fwd = net.find("forward")
    return "isolated" if fwd is None else fwd.get("mode", "nat")


def all_domains(snap) -> dict:
    return {d.name: artifacts.domain_root(snap, d.name)[0] for d in snap.domains}


# ------------------------------------------------------------------ NET-001 / NET-002

FIREWALL_UNITS = ("firewalld", "nftables", "ufw", "iptables", "netfilter-persistent")


def nft_items(snap):
    art, doc = json_output(snap, "nft_ruleset", "nft list ruleset")
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


# ------------------------------------------------------------------ consoles (NET-006, 007, 009)

HEADLESS = ("/domain/metadata/*[namespace-uri()=$ns]/descendant-or-self::*"
            "[local-name()='console'][normalize-space()='headless']")


@control("NET-006")
@artifacts.ends
def headless_without_graphics(snap, vm, policy):
    root, art = artifacts.domain_root(snap, vm)
    ns = policy["vm_metadata_namespace"]
    if not root.xpath(HEADLESS, ns=ns):
        return v.not_applicable(f"domain {vm} is not marked headless (<console>headless</console> "
                                f"in its {ns} metadata)")
    graphics = root.findall("devices/graphics")
    expected = "a headless VM has no <graphics>"
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(g) for g in graphics) or "no <graphics>")]
    if graphics:
        return v.failed(expected, f"{len(graphics)} graphics device(s)", evidence,
                        reason=f"domain {vm} is marked headless but has a graphical console")
    return v.passed(expected, "no graphics device", evidence)


def reachable(graphics, qconf: dict) -> str | None:
    """The non-local address a <graphics> listens on, or None when it is local only."""
    listens = graphics.findall("listen")
    kind = graphics.get("type")
    for listen in listens:
        ltype = listen.get("type", "address")
        if ltype in ("socket", "none"):
            continue
        if ltype == "network":
            return f"network {listen.get('network')}"
        addr = listen.get("address") or graphics.get("listen")
        if addr is None:
            addr = str(value_of(qconf, f"{kind}_listen", "127.0.0.1"))
        if not is_loopback(addr):
            return addr
    if listens:
        return None
    if kind == "vnc" and str(value_of(qconf, "vnc_auto_unix_socket", 0)) == "1":
        return None
    addr = graphics.get("listen") or str(value_of(qconf, f"{kind}_listen", "127.0.0.1"))
    return None if is_loopback(addr) else addr


def _persistent_config(vm: str) -> str:
    return f"/etc/libvirt/qemu/{vm}.xml"


@control("NET-007", needs=[("cat", QCONF), ("cat", "/etc/libvirt/qemu/{vm}.xml")])
@artifacts.ends
def console_authenticated(snap, vm, policy):
    # The read-only connection never shows passwd; libvirt's own copy of the definition
    # does (root), redacted at collection: its presence is what counts.
    expected = "every network-reachable VNC/SPICE console has a passwd, or qemu.conf <type>_password / <type>_sasl = 1"
    qconf, qart = settings_of(snap, QCONF)
    root, art = artifacts.domain_root(snap, vm)
    path = _persistent_config(vm)
    stored = snap.file(path)
    if stored is None:
        raise artifacts.End(v.error(f"{path} was not collected"))
    if stored.ok:
        try:
            root, art = xmlsafe.parse(stored.stdout), stored
        except xmlsafe.XMLError as exc:
            raise artifacts.End(v.error(f"{path} is malformed: {exc}"))
    elif not artifacts.is_absent(stored):   # absent: a transient domain, only the virsh XML exists
        raise artifacts.End(artifacts.failure(stored, path))
    bad, shown = [], []
    for g in root.findall("devices/graphics"):
        kind, where = g.get("type"), reachable(g, qconf)
        if where is None or kind not in ("vnc", "spice", "rdp"):
            continue
        shown.append(xmlsafe.line_of(g))
        global_auth = (str(value_of(qconf, f"{kind}_sasl", 0)) == "1"
                       or bool(value_of(qconf, f"{kind}_password")))
        if g.get("passwd") is None and not global_auth:
            bad.append(f"{kind} on {where}")
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no network-reachable console"),
                v.Evidence.of(qart, "; ".join(f"{k} {'set' if k in qconf else 'not set'}" for k in
                                              ("vnc_password", "vnc_sasl", "spice_password", "spice_sasl")))]
    if bad:
        return v.failed(expected, "without authentication: " + ", ".join(bad), evidence,
                        reason=f"domain {vm}: anyone who reaches the console port controls the guest")
    return v.passed(expected, f"{len(shown)} reachable console(s), all authenticated", evidence)


@control("NET-009", needs=[("cat", QCONF)])
@artifacts.ends
def spice_tls(snap, vm, policy):
    expected = "network-reachable SPICE: qemu.conf spice_tls = 1 and defaultMode='secure' (or every channel secure)"
    qconf, qart = settings_of(snap, QCONF)
    root, art = artifacts.domain_root(snap, vm)
    tls = str(value_of(qconf, "spice_tls", 0)) == "1"
    bad, shown = [], []
    for g in root.findall("devices/graphics[@type='spice']"):
        where = reachable(g, qconf)
        if where is None:
            continue
        shown.append(xmlsafe.line_of(g))
        channels = g.findall("channel")
        secure = g.get("defaultMode") == "secure" or (
            channels and all(c.get("mode") == "secure" for c in channels))
        if not tls:
            bad.append(f"SPICE on {where} with spice_tls off")
        elif not secure:
            bad.append(f"SPICE on {where} allows insecure channels")
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no network-reachable SPICE console"),
                v.Evidence.of(qart, f"{QCONF}: spice_tls = {value_of(qconf, 'spice_tls', '0 (default)')}")]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: SPICE traffic in cleartext")
    return v.passed(expected, f"{len(shown)} reachable SPICE console(s), all TLS", evidence)


# ------------------------------------------------------------------ libvirt networks (NET-011, 021)

def _used_networks(snap) -> set[str]:
    return {s.get("network") for root in all_domains(snap).values()
            for s in root.findall("devices/interface[@type='network']/source")}


@control("NET-011", needs=[("virsh_net_list", ""), ("virsh_net_dumpxml_all", "")])
@artifacts.ends
def network_modes(snap, vm, policy):
    allowed = policy["bridged_networks_allowed"]
    expected = (f"forward mode nat, route or isolated (bridged modes only for [{', '.join(allowed)}]); "
                "never open; no unused network autostarted")
    nets, art = networks(snap)
    states, list_art = net_states(snap)
    used = _used_networks(snap)
    bad, shown = [], []
    for name, net in nets.items():
        mode = forward_mode(net)
        state, autostart = states.get(name, ("?", "?"))
        shown.append(f"{name}: mode {mode}, {state}, autostart {autostart}")
        if mode == "open":
            bad.append(f"{name}: mode open (libvirt adds no firewall rules)")
        elif mode in BRIDGED_MODES and name not in allowed:
            bad.append(f"{name}: mode {mode} not in bridged_networks_allowed")
        elif mode not in GOOD_MODES + BRIDGED_MODES:
            bad.append(f"{name}: unknown mode {mode}")
        if autostart == "yes" and name not in used:
            bad.append(f"{name}: autostarted but no VM uses it")
    evidence = [v.Evidence.of(list_art), v.Evidence.of(art, "\n".join(shown) or "no libvirt networks")]
    actual = "; ".join(shown) or "no libvirt networks"
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)


@control("NET-021", needs=[("cat", IP_FORWARD), ("cat", IP6_FORWARD), ("virsh_net_list", ""),
                           ("virsh_net_dumpxml_all", "")])
@artifacts.ends
def forwarding_only_when_needed(snap, vm, policy):
    expected = "ip_forward and IPv6 forwarding 0, unless an active nat/route network needs them"
    values, evidence = {}, []
    for path in (IP_FORWARD, IP6_FORWARD):
        art = snap.file(path)
        if art is None:
            raise artifacts.End(v.error(f"{path} was not collected"))
        if artifacts.is_absent(art) and path == IP6_FORWARD:
            continue   # IPv6 disabled in this kernel: nothing to forward
        if not art.ok:
            raise artifacts.End(artifacts.failure(art, path))
        values[path] = art.stdout.strip()
        evidence.append(v.Evidence.of(art, f"{path}: {values[path]}"))
    nets, net_art = networks(snap)
    states, _ = net_states(snap)
    needing = [n for n, net in nets.items() if forward_mode(net) in ("nat", "route", "open")
               and states.get(n, ("",))[0] == "active"]
    evidence.append(v.Evidence.of(net_art, "active nat/route/open networks: " + (", ".join(needing) or "none")))
    on = [p for p, val in values.items() if val != "0"]
    actual = "; ".join(f"{p.rsplit('/', 3)[-3] if 'ipv6' in p else 'ip_forward'} = {val}"
                       for p, val in values.items())
    if on and not needing:
        return v.failed(expected, actual, evidence,
                        reason="forwarding on, and no active libvirt nat/route network needs it")
    note = f" (needed by {', '.join(needing)}: documented exception to STIG/CIS)" if on else ""
    return v.passed(expected, actual + note, evidence)


# ------------------------------------------------------------------ VM interfaces (NET-012, 013, 017)

@control("NET-012", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def approved_networks_only(snap, vm, policy):
    approved, bridged_vms = policy["approved_networks"], policy["bridged_vms"]
    expected = (f"type network to {('[' + ', '.join(approved) + ']') if approved else 'a nat/route/isolated network'}; "
                f"bridge/direct/hostdev only for [{', '.join(bridged_vms)}]; no ethernet or user")
    root, art = artifacts.domain_root(snap, vm)
    interfaces = root.findall("devices/interface")
    nets = networks(snap)[0] if interfaces else {}
    bad = []
    for i in interfaces:
        kind, src = i.get("type"), i.find("source")
        if kind == "network":
            name = src.get("network") if src is not None else None
            if approved and name not in approved:
                bad.append(f"network {name} not in approved_networks")
            elif not approved and name not in nets:
                bad.append(f"network {name} does not exist")
            elif not approved and forward_mode(nets[name]) not in GOOD_MODES:
                bad.append(f"network {name} has mode {forward_mode(nets[name])}")
        elif kind in BRIDGED_IFACES:
            if vm not in bridged_vms:
                bad.append(f"type {kind} but {vm} is not in bridged_vms")
        else:
            bad.append(f"type {kind} (unmanaged by libvirt's filtering)")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(i) for i in interfaces) or "no interfaces")]
    actual = "; ".join(bad) or f"{len(interfaces)} interface(s), all approved"
    if bad:
        return v.failed(expected, actual, evidence, reason=f"domain {vm}: " + "; ".join(bad))
    return v.passed(expected, actual, evidence)


def _vlan_of(iface, nets):
    """The <vlan> that applies to an interface: its own, else its network's portgroup's or network's."""
    own = iface.find("vlan")
    if own is not None or iface.get("type") != "network":
        return own
    src = iface.find("source")
    net = nets.get(src.get("network")) if src is not None else None
    if net is None:
        return None
    group = src.get("portgroup")
    # lxml elements without children are false: compare with None, never use `or`
    pg = net.find(f"portgroup[@name='{group}']") if group else None
    if pg is None:
        pg = net.find("portgroup[@default='yes']")
    if pg is not None and pg.find("vlan") is not None:
        return pg.find("vlan")
    return net.find("vlan")


def _segment_bridged(iface, nets) -> bool:
    if iface.get("type") in ("bridge", "direct", "hostdev"):
        return True
    if iface.find("virtualport[@type='openvswitch']") is not None:
        return True
    src = iface.find("source")
    net = nets.get(src.get("network")) if iface.get("type") == "network" and src is not None else None
    return net is not None and forward_mode(net) in BRIDGED_MODES


@control("NET-013", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def vlan_tagged(snap, vm, policy):
    guest, mgmt = [str(x) for x in policy["guest_vlans"]], [str(x) for x in policy["management_vlans"]]
    expected = (f"each bridged/direct/hostdev/OVS interface has one VLAN tag, no trunk, "
                f"in [{', '.join(guest) or 'any'}], never a management VLAN [{', '.join(mgmt)}]")
    root, art = artifacts.domain_root(snap, vm)
    interfaces = root.findall("devices/interface")
    nets = networks(snap)[0] if any(i.get("type") == "network" for i in interfaces) else {}
    bad, shown = [], []
    for i in interfaces:
        if not _segment_bridged(i, nets):
            continue
        shown.append(xmlsafe.line_of(i))
        vlan = _vlan_of(i, nets)
        tags = [t.get("id") for t in vlan.findall("tag")] if vlan is not None else []
        where = f"interface {i.get('type')} {(i.find('source').attrib if i.find('source') is not None else {})}"
        if not tags:
            bad.append(f"{where}: no VLAN tag")
        elif (vlan.get("trunk") == "yes") or len(tags) > 1:
            bad.append(f"{where}: trunk of VLANs {', '.join(tags)}")
        for t in tags:
            if t in mgmt:
                bad.append(f"{where}: management VLAN {t}")
            elif guest and t not in guest:
                bad.append(f"{where}: VLAN {t} not in guest_vlans")
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no bridged/direct/hostdev/OVS interface")]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: VLAN segregation missing")
    return v.passed(expected, f"{len(shown)} bridged interface(s), each on one approved VLAN", evidence)


@control("NET-017", needs=[("virsh_net_dumpxml_all", "")])
@artifacts.ends
def no_guest_rx_filters(snap, vm, policy):
    expected = "trustGuestRxFilters absent or 'no' on every interface and the networks they use"
    root, art = artifacts.domain_root(snap, vm)
    interfaces = root.findall("devices/interface")
    nets = networks(snap)[0] if any(i.get("type") == "network" for i in interfaces) else {}
    bad, shown = [], []
    for i in interfaces:
        own = i.get("trustGuestRxFilters")
        src = i.find("source")
        net = nets.get(src.get("network")) if i.get("type") == "network" and src is not None else None
        inherited = net.get("trustGuestRxFilters") if net is not None else None
        if own == "yes" or (own is None and inherited == "yes"):
            bad.append(xmlsafe.line_of(i) + ("" if own == "yes" else f" (network {src.get('network')} trusts)"))
        shown.append(xmlsafe.line_of(i))
    evidence = [v.Evidence.of(art, "\n".join(bad or shown) or "no interfaces")]
    if bad:
        return v.failed(expected, f"{len(bad)} interface(s) trust the guest's RX filters", evidence,
                        reason=f"domain {vm}: the guest can change the host NIC's MAC/multicast filters")
    return v.passed(expected, f"{len(interfaces)} interface(s), none trusted", evidence)


# ------------------------------------------------------------------ host bridges (NET-014, 018, 020)

def _links(snap):
    art, links = json_output(snap, "ip_links", "ip -d -j link show")
    return art, [link for link in links if isinstance(link, dict)]


def _vm_bridges(snap, links) -> set[str]:
    """Bridges that carry VMs: masters of vnet/tap/macvtap ports, bridges VM interfaces
    name, and bridges of libvirt networks."""
    names = {link.get("master") for link in links
             if str(link.get("ifname", "")).startswith(VM_PORT_PREFIXES) and link.get("master")}
    doms = all_domains(snap)
    names |= {s.get("bridge") for root in doms.values()
              for s in root.findall("devices/interface[@type='bridge']/source") if s.get("bridge")}
    try:
        nets = networks(snap)[0]
    except artifacts.End:
        nets = {}
    names |= {b.get("name") for n in nets.values() for b in n.findall("bridge") if b.get("name")}
    return names


def _vlan_bridges(snap) -> set[str]:
    """Bridges on which some VM interface (or its network) asks for a VLAN."""
    out = set()
    for root in all_domains(snap).values():
        for i in root.findall("devices/interface[@type='bridge']"):
            if i.find("vlan") is not None and i.find("source") is not None:
                out.add(i.find("source").get("bridge"))
    return out


@control("NET-014", needs=[("ip_links", ""), ("bridge_vlans", "")])
@artifacts.ends
def bridge_vlan_filtering(snap, vm, policy):
    mgmt = {int(x) for x in policy["management_vlans"]}
    expected = "VLAN-aware VM bridges have vlan_filtering 1; each VM port in one VLAN, never a management VLAN"
    art, links = _links(snap)
    bridges = {link["ifname"]: link for link in links
               if link.get("linkinfo", {}).get("info_kind") == "bridge"}
    vm_bridges = _vm_bridges(snap, links) & set(bridges)
    aware = _vlan_bridges(snap) & set(bridges)
    vart, ports = json_output(snap, "bridge_vlans", "bridge -j vlan show")
    bad, shown = [], []
    for name in sorted(vm_bridges):
        filtering = bridges[name].get("linkinfo", {}).get("info_data", {}).get("vlan_filtering")
        shown.append(f"{name}: vlan_filtering {filtering}{', VLAN-aware' if name in aware else ''}")
        if name in aware and filtering != 1:
            bad.append(f"{name}: VMs ask for VLANs but vlan_filtering is {filtering}")
    for port in ports if isinstance(ports, list) else []:
        ifname = str(port.get("ifname", ""))
        if not ifname.startswith(VM_PORT_PREFIXES):
            continue
        vids = [int(x.get("vlan", 0)) for x in port.get("vlans", [])]
        shown.append(f"{ifname}: VLANs {vids}")
        if len(vids) > 1:
            bad.append(f"{ifname}: member of VLANs {vids}")
        if mgmt & set(vids):
            bad.append(f"{ifname}: in management VLAN {sorted(mgmt & set(vids))}")
    evidence = [v.Evidence.of(art, "\n".join(shown) or "no bridge carries VMs"), v.Evidence.of(vart)]
    if not vm_bridges:
        return v.not_applicable("no bridge on this host carries VM ports or is named by a VM or network",
                                evidence)
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason="VLANs not enforced on the host bridge")
    return v.passed(expected, "; ".join(shown), evidence)


@control("NET-018", needs=[("ip_links", "")])
@artifacts.ends
def sriov_vf_spoofcheck(snap, vm, policy):
    expected = "every SR-IOV VF: spoof checking on, trust off, a VLAN set"
    art, links = _links(snap)
    bad, shown = [], []
    for link in links:
        for vf in link.get("vfinfo_list", []) or []:
            vlans = [x.get("vlan", 0) for x in vf.get("vlan_list", [])] or [vf.get("vlan", 0)]
            desc = (f"{link.get('ifname')} vf {vf.get('vf')}: spoofchk {vf.get('spoofchk')}, "
                    f"trust {vf.get('trust')}, vlan {vlans}")
            shown.append(desc)
            if vf.get("spoofchk") is not True or vf.get("trust") is not False or not any(vlans):
                bad.append(desc)
    evidence = [v.Evidence.of(art, "\n".join(bad or shown) or "no VFs")]
    if not shown:
        return v.not_applicable("no link on this host has SR-IOV virtual functions", evidence)
    if bad:
        return v.failed(expected, f"{len(bad)} of {len(shown)} VF(s) not locked down", evidence,
                        reason="a guest on such a VF can spoof MACs or change its own filters")
    return v.passed(expected, f"{len(shown)} VF(s) locked down", evidence)


@control("NET-020", needs=[("ip_links", ""), ("ip_addrs", ""), ("sshd_effective", "")])
@artifacts.ends
def management_plane_separate(snap, vm, policy):
    mgmt = policy["management_networks"]
    expected = (f"management addresses (in [{', '.join(mgmt)}]) not on a bridge carrying VMs; "
                "sshd listens only on management or loopback addresses")
    art, links = _links(snap)
    aart, addrs = json_output(snap, "ip_addrs", "ip -j addr show")
    sshd = artifacts.output(snap, "sshd_effective", "sshd -T")
    vm_bridges = _vm_bridges(snap, links)
    bad, mine = [], []
    for link in addrs if isinstance(addrs, list) else []:
        for a in link.get("addr_info", []):
            if in_networks(a.get("local", ""), mgmt):
                mine.append(f"{a['local']} on {link.get('ifname')}")
                if link.get("ifname") in vm_bridges:
                    bad.append(f"management address {a['local']} is on VM bridge {link.get('ifname')}")
    listen = [line.split(None, 1)[1] for line in sshd.stdout.splitlines()
              if line.lower().startswith("listenaddress ") and len(line.split()) > 1]
    for entry in listen:
        addr = entry.rpartition(":")[0].strip("[]") if entry.count(":") == 1 or entry.startswith("[") else entry
        if not is_loopback(addr) and not in_networks(addr, mgmt):
            bad.append(f"sshd listens on {entry}")
    if not mine:
        bad.append("no address of this host is in management_networks")
    evidence = [v.Evidence.of(aart, "management addresses: " + (", ".join(mine) or "none")),
                v.Evidence.of(art, "VM bridges: " + (", ".join(sorted(vm_bridges)) or "none")),
                v.Evidence.of(sshd, "\n".join(f"listenaddress {e}" for e in listen))]
    actual = f"management {', '.join(mine) or 'unknown'}; sshd on {', '.join(listen)}"
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
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
