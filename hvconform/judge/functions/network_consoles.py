"""Python controls of the network domain, the VMs' consoles: a headless VM has no
graphics, and a VNC/SPICE console reachable over the network is local, authenticated
and encrypted.

  NET-005  console_listen_local        every console listens on loopback, a socket or nothing
  NET-006  headless_without_graphics   a VM marked headless has no <graphics>
  NET-007  console_authenticated       reachable VNC/SPICE consoles need a password or SASL
  NET-008  vnc_tls_verified            reachable VNC uses TLS with client certificates
  NET-009  spice_tls                   reachable SPICE uses TLS on every channel
  NET-022  network_chardevs_tls        serial/console/channel on tcp uses TLS (its own, else chardev_tls)

Where a console listens is what is in effect for the VM: its own <listen> (or
socket=), else qemu.conf's <type>_listen or <type>_auto_unix_socket, else libvirt's
127.0.0.1 (`reachable`). qemu.conf is read only when a console defers to it, so a VM
whose consoles name their own addresses is judged without it.
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.addresses import is_loopback
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of


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


LISTENING = ("vnc", "spice", "rdp")   # the graphics types that take <listen> (formatdomain.rst)


def reachable(graphics, qconf: dict) -> str | None:
    """The non-local address a <graphics> listens on, or None when it is local only.

    formatdomain.rst 'Graphical framebuffers': a `socket` attribute makes every <listen>
    ignored; <listen type='address'> without `address` (and a <graphics> with no <listen>
    at all, which libvirt reads the same) takes "an address from config files":
    qemu.conf.in <type>_auto_unix_socket = 1 "takes preference over" <type>_listen, whose
    default is 127.0.0.1. A network listen is that network's address: not loopback."""
    kind = graphics.get("type")
    if graphics.get("socket"):
        return None
    listens = graphics.findall("listen") or [None]
    for listen in listens:
        ltype = listen.get("type", "address") if listen is not None else "address"
        if ltype in ("socket", "none"):
            continue
        if ltype == "network":
            return f"network {listen.get('network')}"
        addr = (listen.get("address") if listen is not None else None) or graphics.get("listen")
        if addr is None:
            if str(value_of(qconf, f"{kind}_auto_unix_socket", 0)) == "1":
                continue
            addr = str(value_of(qconf, f"{kind}_listen", "127.0.0.1"))
            if not is_loopback(addr):
                return f"{addr} (qemu.conf {kind}_listen)"
        elif not is_loopback(addr):
            return addr
    return None


def _defers_to_qemu_conf(graphics) -> bool:
    """A console whose address comes from qemu.conf (no socket=, no address of its own)."""
    if graphics.get("socket") or graphics.get("type") not in LISTENING:
        return False
    listens = graphics.findall("listen") or [None]
    return any((lst is None or lst.get("type", "address") == "address")
               and not (lst is not None and lst.get("address")) and not graphics.get("listen")
               for lst in listens)


def _consoles(snap, vm, kinds=LISTENING):
    """[(which XML, <graphics>, artifact)] of the VM's `kinds` consoles: its definition
    and, while it runs, its live XML (what listens now; the definition is what the next
    start listens on)."""
    out = []
    root, art = artifacts.domain_root(snap, vm)
    out += [("definition", g, art) for g in root.findall("devices/graphics") if g.get("type") in kinds]
    dom = snap.domain(vm)
    if dom is not None and dom.running:
        live, lart = artifacts.domain_root(snap, vm, live=True)
        out += [("running", g, lart) for g in live.findall("devices/graphics") if g.get("type") in kinds]
    return out


def _qemu_conf_when(needed: bool, snap) -> tuple[dict, object | None, v.Verdict | None]:
    """(qemu.conf's settings, its artifact, None) when `needed`; ({}, None, the error)
    when it could not be read, so what the domain settles alone is still judged."""
    if not needed:
        return {}, None, None
    try:
        qconf, qart = settings_of(snap, QCONF)
        return qconf, qart, None
    except artifacts.End as end:
        return {}, None, end.verdict


def _unless_undecided(verdict: v.Verdict, undecided: v.Verdict | None, what: str) -> v.Verdict:
    """A fail stands on what the domain settles alone; a pass is not one when qemu.conf,
    which decides `what`, could not be read: then the error says why."""
    if undecided is None or verdict.status == v.FAIL:
        if undecided is not None:
            verdict.actual += f" ({what} not judged: {undecided.reason})"
        return verdict
    return v.error(f"{what}: {undecided.reason}", verdict.evidence)


def _exposed(consoles, qconf) -> list[tuple[str, str, object, object]]:
    """[(kind, 'where' with '(running)' for the live XML, <graphics>, artifact)] of the
    consoles reachable from the network, each listed once."""
    out, seen = [], set()
    for which, g, art in consoles:
        where = reachable(g, qconf)
        if where is None:
            continue
        shown = where + (" (running)" if which == "running" else "")
        key = (g.get("type"), where)
        if key not in seen:
            seen.add(key)
            out.append((g.get("type"), shown, g, art))
    return out


def _console_evidence(consoles, exposed, qconf, qart, keys) -> list:
    """The deciding <graphics> lines by artifact, and qemu.conf's keys when it was read."""
    evidence, by_art = [], {}
    for _, _, g, art in exposed or [(None, None, g, art) for _, g, art in consoles]:
        by_art.setdefault(id(art), (art, []))[1].append(xmlsafe.line_of(g))
    evidence += [v.Evidence.of(art, "\n".join(lines)) for art, lines in by_art.values()]
    if qart is not None:
        evidence.append(v.Evidence.of(qart, "; ".join(f"{k} = {value_of(qconf, k, 'unset')}" for k in keys)))
    return evidence


@control("NET-005", needs=[("cat", QCONF)])
@artifacts.ends
def console_listen_local(snap, vm, policy):
    expected = ("every VNC/SPICE/RDP console listens on loopback, a socket or nothing: its own <listen>, "
                "else qemu.conf <type>_listen / <type>_auto_unix_socket (default 127.0.0.1)")
    consoles = _consoles(snap, vm)
    if not consoles:
        root, art = artifacts.domain_root(snap, vm)
        return v.passed(expected, "no VNC/SPICE/RDP console", [v.Evidence.of(art, "/domain/devices/graphics: no match")])
    qconf, qart, undecided = _qemu_conf_when(any(_defers_to_qemu_conf(g) for _, g, _ in consoles), snap)
    if undecided is not None:        # judge only the consoles with an address of their own
        consoles = [c for c in consoles if not _defers_to_qemu_conf(c[1])]
    exposed = _exposed(consoles, qconf)
    keys = [f"{k}_{s}" for k in sorted({g.get("type") for _, g, _ in consoles}) for s in ("listen", "auto_unix_socket")]
    evidence = _console_evidence(consoles, exposed, qconf, qart, keys)
    problems = [f"{kind} on {where}" for kind, where, _, _ in exposed]
    verdict = artifacts.problems_verdict(expected, problems, f"{len(consoles)} console(s), all local", evidence,
                                         f"domain {vm}: console reachable from the network: ")
    return _unless_undecided(verdict, undecided, "consoles without an address of their own")


def _vnc_verify(qconf) -> tuple[str, str]:
    """qemu.conf.in: vnc_tls_x509_verify, else default_tls_x509_verify, else 0."""
    for key in ("vnc_tls_x509_verify", "default_tls_x509_verify"):
        if key in qconf:
            return str(qconf[key].value), key
    return "0", "default"


def _vm_vnc_exposure(snap, qconf) -> tuple[list, list, list]:
    """([(VM, where)], evidence, [unreadable VM: why]) over every domain of the host."""
    exposed, evidence, unreadable = [], [], []
    for d in snap.domains:
        try:
            consoles = _consoles(snap, d.name, ("vnc",))
        except artifacts.End as end:
            unreadable.append(f"{d.name}: {end.verdict.reason}")
            continue
        found = _exposed(consoles, qconf)
        exposed += [(d.name, where) for _, where, _, _ in found]
        evidence += _console_evidence(consoles, found, qconf, None, []) if found else []
    return exposed, evidence, unreadable


@control("NET-008", needs=[("cat", QCONF)])
@artifacts.ends
def vnc_tls_verified(snap, vm, policy):
    # Host-wide (REQUIREMENTS.md: not per VM), but judged on what each VM gets: a domain's
    # own <listen address=...> overrides qemu.conf's vnc_listen (formatdomain.rst
    # 'Graphical framebuffers'), so a host whose qemu.conf keeps loopback can still publish
    # a guest's VNC on every address. TLS and its verification are qemu.conf's alone.
    expected = ("every network-reachable VNC console (each VM's own <listen>, else qemu.conf vnc_listen, "
                "which is also judged itself): qemu.conf vnc_tls = 1 and vnc_tls_x509_verify = 1 "
                "(or unset with default_tls_x509_verify = 1)")
    qconf, qart = settings_of(snap, QCONF)
    default = (None if str(value_of(qconf, "vnc_auto_unix_socket", 0)) == "1"
               else str(value_of(qconf, "vnc_listen", "127.0.0.1")))
    exposed, vm_evidence, unreadable = _vm_vnc_exposure(snap, qconf)
    where = [f"{name}: VNC on {addr}" for name, addr in exposed]
    if default is not None and not is_loopback(default):
        where.insert(0, f"qemu.conf vnc_listen = {default} (every VNC console without an address of its own)")
    keys = ["vnc_listen", "vnc_auto_unix_socket", "vnc_tls", "vnc_tls_x509_verify", "default_tls_x509_verify"]
    evidence = [v.Evidence.of(qart, "; ".join(f"{k} = {value_of(qconf, k, 'unset')}" for k in keys)), *vm_evidence]
    vms = sorted({name for name, _ in exposed})
    if not where:
        if unreadable:
            return v.error("the VNC consoles of some domains could not be read: " + "; ".join(unreadable), evidence)
        return v.passed(expected, f"no network-reachable VNC console on {len(snap.domains)} VM(s); "
                                  f"qemu.conf vnc_listen local", evidence)
    tls = str(value_of(qconf, "vnc_tls", 0)) == "1"
    verify, source = _vnc_verify(qconf)
    if tls and verify == "1":
        return v.passed(expected, "; ".join(where) + ": TLS with client certificate verification", evidence)
    if not tls:
        why = f"without TLS (vnc_tls = {value_of(qconf, 'vnc_tls', '0 (default)')})"
    else:
        why = ("with TLS but without client certificate verification ("
               + ("vnc_tls_x509_verify and default_tls_x509_verify unset (default 0)" if source == "default"
                  else f"{source} = {verify}") + ")")
    subject = f"domain {', '.join(vms)}: " if vms else ""
    return v.failed(expected, "; ".join(where) + " " + why, evidence,
                    reason=f"{subject}VNC reachable from the network {why}")


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


# ---- NET-022: character devices on the network ------------------------------------------

NETWORK_CHARDEVS = ("/domain/devices/*[self::serial or self::console or self::channel or self::parallel]"
                    "[@type='udp' or @type='telnet' or @type='tcp']")


@control("NET-022", needs=[("cat", QCONF)])
@artifacts.ends
def network_chardevs_tls(snap, vm, policy):
    # formatdomain.rst 'TCP client/server': "If chardev_tls is enabled, then unless the tls
    # attribute is set to 'no', libvirt will use the host configured TLS environment"; a
    # tls='yes' chardev uses it even with chardev_tls off. UDP has no TLS.
    expected = ("no serial/console/channel/parallel on udp; a tcp one with TLS: its own <source tls='yes'>, "
                "or no tls= and qemu.conf chardev_tls = 1")
    root, art = artifacts.domain_root(snap, vm)
    devices = root.xpath(NETWORK_CHARDEVS)
    deferring = [d for d in devices if d.get("type") == "tcp" and (d.find("source") is None
                                                                  or d.find("source").get("tls") is None)]
    qconf, qart, undecided = _qemu_conf_when(bool(deferring), snap)
    default_tls = str(value_of(qconf, "chardev_tls", 0)) == "1"
    problems = []
    for d in devices:
        if undecided is not None and d in deferring:
            continue
        name = f"{d.tag} {d.get('type')}"
        tls = d.find("source").get("tls") if d.find("source") is not None else None
        if d.get("type") != "tcp":
            problems.append(f"{name} (no TLS possible)")
        elif tls == "no":
            problems.append(f"{name} with its own tls='no'")
        elif tls is None and not default_tls:
            problems.append(f"{name} without TLS (no tls=, qemu.conf chardev_tls = "
                            f"{value_of(qconf, 'chardev_tls', '0 (default)')})")
    evidence = [v.Evidence.of(art, xmlsafe.render_all(devices) or f"{NETWORK_CHARDEVS}: no match")]
    if qart is not None:
        evidence.append(v.Evidence.of(qart, f"{QCONF}: chardev_tls = {value_of(qconf, 'chardev_tls', 'unset (default 0)')}"))
    ok = (f"{len(devices)} network character device(s), all TLS" if devices
          else "no character device on the network")
    return _unless_undecided(artifacts.problems_verdict(expected, problems, ok, evidence, f"domain {vm}: "),
                             undecided, "tcp devices without tls=")
