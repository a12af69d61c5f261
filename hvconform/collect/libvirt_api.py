"""Collection through the libvirt API alone (`connection: libvirt`), for sites that grant
the auditor read-only libvirt access and no shell.

    snap, sent = collect_host(host, policy)    # never raises, like collector.collect_host

The URI (checked and completed by hvconform/inputs/libvirt_uri.py) is opened read-only
with libvirt-python (`virConnectOpenAuth(uri, auth, VIR_CONNECT_RO)`); the auth callback
refuses every credential, so nothing ever prompts. libvirt calls can block (a dead peer,
a hung daemon), so they run in a thread that is given `connect_timeout` to open and
`command_timeout` to read; past either, the host is a timeout and what was read is kept.

What it reads, under the artifact keys the checks already read (judge/read/*), each
with its API call as `source`, and redacted as the SSH path does (collect/redact.py):
  cmd:hostname             virConnectGetHostname()
  cmd:virsh_capabilities   virConnectGetCapabilities()
  cmd:virsh_list_all|running|autostart   virConnectListAllDomains(0), each domain's state
                           and autostart; names in virsh's order (running by id, then by name)
  domain:<name>:inactive   virDomainGetXMLDesc(name, VIR_DOMAIN_XML_INACTIVE)
  domain:<name>:live       virDomainGetXMLDesc(name, 0), running domains only
  cmd:virsh_net_list       virConnectListAllNetworks(0), as virsh's `net-list --all` table
  cmd:virsh_net_dumpxml_all  `### network <name>` and virNetworkGetXMLDesc(net, INACTIVE)
  cmd:virsh_pool_xmls      virConnectListAllStoragePools(0), virStoragePoolGetXMLDesc(pool, 0)
  libvirt:node_info        virNodeGetInfo(), as JSON
VIR_DOMAIN_XML_SECURE is never asked for (a read-only connection is refused it anyway).
Everything else (files, processes, sysctl, packages) is not collected; the checks that
need it end as an error saying so (hvconform/judge/libvirt_only.py), never as a pass.
"""

from __future__ import annotations

import json
import threading
import time

from hvconform.collect.redact import redact_artifact
from hvconform.inputs.libvirt_uri import LOCAL_TRANSPORTS, SSH_TRANSPORTS, transport
from hvconform.judge.libvirt_only import CONNECTION
from hvconform.model.snapshot import (AUTH_FAILED, COLLECTED, ERROR, PARTIAL, TIMEOUT,
                                      UNREACHABLE, Artifact, Domain, Snapshot)

try:
    import libvirt
except ImportError:   # the error names the package when a libvirt host is collected
    libvirt = None
else:
    # libvirt prints every error on stderr by default; they are raised and reported instead
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

_UNREACHABLE = ("Connection refused", "No route to host", "Network is unreachable",
                "Name or service not known", "Temporary failure in name resolution",
                "Connection timed out", "Could not resolve")
_UNKNOWN = "the cause is unknown"   # libvirt's text when no error was set
_HOST_KEY = ("host key", "known_hosts", "certificate")


_loop_lock = threading.Lock()
_loop_started = False


def _event_loop() -> None:
    """libvirt's default event loop, run once per process in a daemon thread. Without it
    a qemu+libssh connection (libvirt 9.0) stalls for good on a reply larger than a few
    KB (measured on the lab: capabilities, 11 KB); with it the reply comes (about 5 s
    late), and keepalives can notice a dead peer."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, daemon=True, name="libvirt-events").start()
        _loop_started = True


class _Abandoned(Exception):
    """The deadline passed: the worker stops adding to what the caller already took."""


class _Work:
    """What the worker thread has read so far, shared with the caller under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.artifacts: list[Artifact] = []
        self.calls: list[dict] = []   # the sent/ log: one entry per API call
        self.domains: list[Domain] = []
        self.identity: dict = {}
        self.asked: list[str] = []    # credentials libvirt asked for (always refused)
        self.error: tuple[str, str] | None = None
        self.abandoned = False
        self.opened, self.done = threading.Event(), threading.Event()

    def call(self, source: str, fn):
        """fn() with its time and outcome logged; (value, None) or (None, error text)."""
        started = time.time()
        try:
            value, error, rc = fn(), None, 0
        except libvirt.libvirtError as exc:
            value, error, rc = None, _message(exc), 1
        with self.lock:
            if self.abandoned:
                raise _Abandoned()
            self.calls.append({"sent_at": _iso(started), "seconds": round(time.time() - started, 3),
                               "rc": rc, "commands": [source], "note": error or ""})
        return value, error

    def add(self, key: str, source: str, text: str | None, error: str | None) -> None:
        art = Artifact(key=key, source=source, rc=1 if error else 0, stdout=text or "",
                       stderr=(error + "\n") if error else "", collected_at=_iso(time.time()))
        redact_artifact(art)
        with self.lock:
            if self.abandoned:
                raise _Abandoned()
            self.artifacts.append(art)


def collect_host(host, policy: dict | None = None) -> tuple[Snapshot, list[dict]]:
    """Snapshot of one libvirt host and the log of the API calls made. Never raises."""
    facts = dict(host.facts)
    if host.vms is not None:
        facts["vms"] = host.vms
    snap = Snapshot(host=host.name, facts=facts, policy=dict(policy or {}), started=_iso(time.time()))
    snap.identity.update(connection=CONNECTION, uri=host.uri, host_key=None, machine_id=None,
                         **_key_check(host.uri))
    work = _Work()
    if libvirt is None:
        work.error = (ERROR, "libvirt-python is not installed: pip install -r requirements.txt "
                             "(it pins libvirt-python; it builds against libvirt-dev)")
    else:
        _event_loop()
        threading.Thread(target=_worker, args=(host, work), daemon=True,
                         name=f"libvirt-{host.name}").start()
        if not work.opened.wait(host.ssh.connect_timeout):
            work.error = (TIMEOUT, f"{host.uri}: no connection within {host.ssh.connect_timeout:g}s")
        elif not work.done.wait(host.ssh.command_timeout):
            work.error = (TIMEOUT, f"{host.uri}: reading did not finish within "
                                   f"{host.ssh.command_timeout:g}s")
    with work.lock:
        work.abandoned = True   # a blocked call may still return: nothing more is added
        for art in work.artifacts:
            snap.add(art)
        snap.domains, calls = list(work.domains), list(work.calls)
        snap.identity.update(work.identity)
        error = work.error
    snap.round_trips = len(calls)
    if error:
        status, message = error
        snap.status = PARTIAL if status == TIMEOUT and snap.artifacts else status
        snap.error = message + (f" (libvirt asked: {'; '.join(work.asked)}; hvconform answers "
                                "no prompt: put the host key in known_hosts, use a key without "
                                "a passphrase or an agent)" if work.asked else "")
    else:
        snap.status = COLLECTED
    snap.finished = _iso(time.time())
    return snap, calls


def _worker(host, work: _Work) -> None:
    try:
        try:
            conn = _open(host.uri, work)
        except libvirt.libvirtError as exc:
            # libvirt's libssh2 transport can lose the remote command's exit status when
            # the channel closes first (seen under load): it then says only "cause is
            # unknown". One more attempt gives the real cause, or the connection.
            if _UNKNOWN not in _message(exc):
                raise
            work.calls.append({"sent_at": _iso(time.time()), "seconds": 0, "rc": 1, "note": "tried again",
                               "commands": [f"libvirt: virConnectOpenAuth({host.uri}, VIR_CONNECT_RO): "
                                            f"{_message(exc)}"]})
            conn = _open(host.uri, work)
        work.opened.set()
        try:
            _read(conn, work)
        finally:
            conn.close()
    except _Abandoned:
        pass
    except libvirt.libvirtError as exc:
        work.error = _classify(host.uri, exc)
    except Exception as exc:  # a bug here must not cost the other hosts their audit
        work.error = (ERROR, f"{type(exc).__name__}: {exc}")
    finally:
        work.opened.set()
        work.done.set()


def _open(uri: str, work: _Work):
    """The URI, read-only; every credential request is refused (no prompt, ever)."""
    def refuse(creds, _opaque):
        # libvirt's own prompt text (e.g. "Accept SSH host key ... (y/n)?"), cut short
        work.asked.extend(" ".join(str(c[1] or _CRED_NAMES.get(c[0], c[0])).split())[:160]
                          for c in creds)
        return -1

    creds = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE, libvirt.VIR_CRED_ECHOPROMPT,
             libvirt.VIR_CRED_NOECHOPROMPT, libvirt.VIR_CRED_REALM, libvirt.VIR_CRED_EXTERNAL]
    started = time.time()
    conn = libvirt.openAuth(uri, [creds, refuse, None], libvirt.VIR_CONNECT_RO)
    work.calls.append({"sent_at": _iso(started), "seconds": round(time.time() - started, 3), "rc": 0,
                       "commands": [f"libvirt: virConnectOpenAuth({uri}, VIR_CONNECT_RO)"], "note": ""})
    return conn


def _read(conn, work: _Work) -> None:
    hostname, err = work.call("libvirt: virConnectGetHostname()", conn.getHostname)
    work.add("cmd:hostname", "libvirt: virConnectGetHostname()", f"{hostname}\n" if hostname else "", err)
    lib, _ = work.call("libvirt: virConnectGetLibVersion()", conn.getLibVersion)
    hv_type, _ = work.call("libvirt: virConnectGetType()", conn.getType)
    hv_version, _ = work.call("libvirt: virConnectGetVersion()", conn.getVersion)
    with work.lock:
        work.identity.update(hostname=hostname, libvirt_version=_version(lib),
                             hypervisor=f"{hv_type} {_version(hv_version)}" if hv_type else None)
    info, err = work.call("libvirt: virNodeGetInfo()", conn.getInfo)
    fields = ("model", "memory_mib", "cpus", "mhz", "numa_nodes", "sockets_per_node",
              "cores_per_socket", "threads_per_core")
    work.add("libvirt:node_info", "libvirt: virNodeGetInfo()",
             json.dumps(dict(zip(fields, info))) + "\n" if info else "", err)
    caps, err = work.call("libvirt: virConnectGetCapabilities()", conn.getCapabilities)
    work.add("cmd:virsh_capabilities", "libvirt: virConnectGetCapabilities()", _nl(caps), err)
    _domains(conn, work)
    _networks(conn, work)
    _pools(conn, work)


def _domains(conn, work: _Work) -> None:
    listing = "libvirt: virConnectListAllDomains(0); virDomainGetName, virDomainGetID"
    found, err = work.call("libvirt: virConnectListAllDomains(0)", lambda: [
        (d, d.name(), d.ID(), bool(d.isActive()), bool(d.autostart())) for d in conn.listAllDomains(0)])
    found = found or []
    # virsh's order: running domains by id, then the others by name
    found.sort(key=lambda f: (not f[3], f[2] if f[3] else 0, f[1]))
    names = lambda rows: "".join(f"{r[1]}\n" for r in rows)  # noqa: E731
    work.add("cmd:virsh_list_all", listing, names(found), err)
    work.add("cmd:virsh_list_running", listing + ", virDomainIsActive", names(r for r in found if r[3]), err)
    work.add("cmd:virsh_list_autostart", listing + ", virDomainGetAutostart",
             names(r for r in found if r[4]), err)
    with work.lock:
        work.domains = [Domain(name, active) for _, name, _, active, _ in found]
    for dom, name, _, active, _ in found:
        source = f"libvirt: virDomainGetXMLDesc({name}, VIR_DOMAIN_XML_INACTIVE)"
        xml, err = work.call(source, lambda: dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        work.add(f"domain:{name}:inactive", source, _nl(xml), err)
        if active:
            source = f"libvirt: virDomainGetXMLDesc({name}, 0)"
            xml, err = work.call(source, lambda: dom.XMLDesc(0))
            work.add(f"domain:{name}:live", source, _nl(xml), err)


def _networks(conn, work: _Work) -> None:
    rows, err = work.call("libvirt: virConnectListAllNetworks(0)", lambda: sorted(
        ((n, n.name(), bool(n.isActive()), bool(n.autostart()), bool(n.isPersistent()))
         for n in conn.listAllNetworks(0)), key=lambda r: r[1]))
    rows = rows or []
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    # the `virsh net-list --all` table, which the network checks read (judge/read/libvirt_networks.py)
    table = " Name State Autostart Persistent\n" + "-" * 44 + "\n" + "".join(
        f" {name} {'active' if active else 'inactive'} {yes(auto)} {yes(persistent)}\n"
        for _, name, active, auto, persistent in rows) + "\n"
    work.add("cmd:virsh_net_list", "libvirt: virConnectListAllNetworks(0); virNetworkIsActive, "
             "virNetworkGetAutostart, virNetworkIsPersistent of each", table, err)
    parts, errors = [], [err] if err else []
    for net, name, *_ in rows:
        source = f"libvirt: virNetworkGetXMLDesc({name}, VIR_NETWORK_XML_INACTIVE)"
        xml, err = work.call(source, lambda: net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE))
        parts.append(f"### network {name}\n{_nl(xml)}")
        errors += [f"{name}: {err}"] if err else []
    work.add("cmd:virsh_net_dumpxml_all", "libvirt: virConnectListAllNetworks(0); "
             "virNetworkGetXMLDesc(<each>, VIR_NETWORK_XML_INACTIVE)", "".join(parts),
             "; ".join(errors) or None)


def _pools(conn, work: _Work) -> None:
    pools, err = work.call("libvirt: virConnectListAllStoragePools(0)",
                           lambda: sorted(((p, p.name()) for p in conn.listAllStoragePools(0)),
                                          key=lambda r: r[1]))
    parts, errors = [], [err] if err else []
    for pool, name in pools or []:
        source = f"libvirt: virStoragePoolGetXMLDesc({name}, 0)"
        xml, err = work.call(source, lambda: pool.XMLDesc(0))
        parts.append(_nl(xml))
        errors += [f"{name}: {err}"] if err else []
    work.add("cmd:virsh_pool_xmls", "libvirt: virConnectListAllStoragePools(0); "
             "virStoragePoolGetXMLDesc(<each>, 0)", "".join(parts), "; ".join(errors) or None)


def _key_check(uri: str) -> dict:
    """Who checked the peer's identity: libvirt's transport, with checking never turned off
    (hvconform/inputs/libvirt_uri.py refuses no_verify and known_hosts_verify=auto|ignore)."""
    trans = transport(uri)
    if trans in LOCAL_TRANSPORTS:
        return {"host_key_verified": True, "host_key_checked_by": "local socket"}
    if trans == "ssh":
        by = "OpenSSH in batch mode: ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts"
    elif trans in SSH_TRANSPORTS:
        by = f"libvirt's {trans} against known_hosts= of the URI"
    else:
        by = "libvirt's TLS: the server certificate against the CA of pkipath"
    return {"host_key_verified": True, "host_key_checked_by": by}


def _classify(uri: str, exc) -> tuple[str, str]:
    said = _message(exc)
    message, code, lower = f"{uri}: {said}", exc.get_error_code(), said.lower()
    if any(s in lower for s in _HOST_KEY):   # before auth: libssh2 files a changed key there
        return ERROR, message
    if code in (libvirt.VIR_ERR_AUTH_FAILED, libvirt.VIR_ERR_AUTH_CANCELLED,
                libvirt.VIR_ERR_AUTH_UNAVAILABLE) or "permission denied" in lower:
        return AUTH_FAILED, message
    if any(s.lower() in lower for s in _UNREACHABLE):
        return UNREACHABLE, message
    if "remote command terminated" in lower:
        return ERROR, message + (" (the remote side could not reach libvirt's socket: may this "
                                 "user use it? e.g. unix_sock_ro_perms, the libvirt group)")
    return ERROR, message


def _message(exc) -> str:
    text = " ".join((exc.get_error_message() or str(exc)).split())
    return text if len(text) <= 500 else text[:497] + "..."


def _version(number) -> str | None:
    if not number:
        return None
    return f"{number // 1000000}.{number // 1000 % 1000}.{number % 1000}"


def _nl(text: str | None) -> str:
    """As virsh prints an XML document (`vshPrint("%s\\n", xml)`): the text and a newline."""
    return "" if text is None else text + "\n"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


_CRED_NAMES = {} if libvirt is None else {
    libvirt.VIR_CRED_AUTHNAME: "a user name", libvirt.VIR_CRED_PASSPHRASE: "a passphrase",
    libvirt.VIR_CRED_ECHOPROMPT: "an answer to a prompt", libvirt.VIR_CRED_NOECHOPROMPT: "a secret",
    libvirt.VIR_CRED_REALM: "a realm", libvirt.VIR_CRED_EXTERNAL: "an external credential"}
