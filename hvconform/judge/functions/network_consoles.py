"""Python controls of the network domain, the VMs' consoles: a headless VM has no
graphics, and a VNC/SPICE console reachable over the network is authenticated and,
for SPICE, encrypted.

  NET-006  headless_without_graphics   a VM marked headless has no <graphics>
  NET-007  console_authenticated       reachable VNC/SPICE consoles need a password or SASL
  NET-009  spice_tls                   reachable SPICE uses TLS on every channel
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
