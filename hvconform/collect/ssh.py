"""SSH to a target, through every jump host of its chain, every host key checked.

One session per host, reused for every round trip (paramiko). Each host key, the
target's and each jump host's, is checked against the known_hosts of whoever
declares it. Accepting an unknown key is an explicit opt-in
(--accept-new-host-keys) whose use is recorded per hop: the identity says which
keys were accepted, and the target counts as verified only when every hop was.

A jump chain `target -> b -> c` (target's jump_host is b, b's is c) is followed
whole: connect to c, from c open a tunnel to b, log in to b through it, from b a
tunnel to the target. A chain that comes back to a host it passed is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
from dataclasses import dataclass

import paramiko

from hvconform.collect import commands
from hvconform.collect.channels import ChannelRefused, Reader, SSHStream, TransportError, limits_of
from hvconform.collect.known_hosts import KnownHosts
from hvconform.collect.rounds import RoundTrips, SentLog
from hvconform.inputs.inventory import parse_jump
from hvconform.model.snapshot import AUTH_FAILED, ERROR, TIMEOUT, UNREACHABLE


def fingerprint(key) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return f"{key.get_name()} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


@dataclass(frozen=True)
class Hop:
    """One host to log in to on the way: its label (inventory name or the jump_host
    text), where it is, and the SSH settings that apply (its own for an inventory host,
    else those of the host naming it)."""

    label: str
    address: str
    port: int
    user: str
    ssh: object          # inputs.inventory.SSHSettings

    @property
    def where(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"


def jump_chain(host, jump_hosts: dict) -> list[Hop]:
    """The jump hosts between the auditor and `host`, the first to connect to first.
    `jump_hosts`: inventory hosts by name, which a jump_host may name."""
    chain, current = [], host
    seen = {("name", host.name), ("at", host.address, host.ssh.port)}
    path = [host.name]
    jump_hosts = {**jump_hosts, host.name: host}   # a chain may come back to its target
    while current.ssh.jump_host:
        named = jump_hosts.get(current.ssh.jump_host)
        if named is not None:
            if named.connection != "ssh":
                raise TransportError(ERROR, f"jump host {named.name} has connection: {named.connection}")
            hop = Hop(named.name, named.address, named.ssh.port, named.ssh.user, named.ssh)
            marks = {("name", named.name), ("at", named.address, named.ssh.port)}
        else:
            parsed = parse_jump(current.ssh.jump_host)
            if parsed is None:
                raise TransportError(ERROR, f"jump_host {current.ssh.jump_host!r} is neither an "
                                     "inventory host nor [user@]host[:port]")
            user, address, port = parsed
            hop = Hop(current.ssh.jump_host, address, port or 22, user or current.ssh.user, current.ssh)
            marks = {("at", address, port or 22)}
        path.append(hop.label)
        if marks & seen:
            raise TransportError(ERROR, f"jump hosts loop: {' -> '.join(path)}")
        seen |= marks
        chain.append(hop)
        if named is None:
            break            # a jump_host given as an address declares no jump of its own
        current = named
    return list(reversed(chain))


class _Keys(paramiko.MissingHostKeyPolicy):
    """What to do with a key missing from known_hosts: refuse it (the default) or, with
    --accept-new-host-keys, accept it; either way remember its fingerprint."""

    def __init__(self, accept: bool):
        self.accept = accept
        self.unknown = None

    def missing_host_key(self, client, hostname, key):
        self.unknown = fingerprint(key)
        if not self.accept:
            raise paramiko.SSHException(f"host key {self.unknown} not found in known_hosts")


_KNOWN_HOSTS: dict[str, tuple] = {}   # path -> ((mtime, size), KnownHosts)
_KNOWN_HOSTS_LOCK = threading.Lock()


def _known_keys(path: str, name: str) -> dict:
    """The keys known_hosts holds for `name` (as paramiko looks it up: "addr", or
    "[addr]:port" off port 22). The file is parsed once per version, not once per
    host: loading all of it into each client made collecting a fleet quadratic (a
    thousand hosts, each parsing a thousand lines; bench/README.md), and looked up
    by known_hosts.KnownHosts, which finds a name without trying every line."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    with _KNOWN_HOSTS_LOCK:
        cached = _KNOWN_HOSTS.get(path)
        if cached is None or cached[0] != stamp:
            cached = _KNOWN_HOSTS[path] = (stamp, KnownHosts(path))
    return cached[1].keys_for(name)


def _connect(hop: Hop, accept_new: bool, sock=None):
    """A logged-in client for `hop`, and the record of its key."""
    ssh = hop.ssh
    client = paramiko.SSHClient()
    if ssh.known_hosts is not None:
        name = hop.address if hop.port == 22 else f"[{hop.address}]:{hop.port}"
        for keytype, key in _known_keys(str(ssh.known_hosts), name).items():
            client.get_host_keys().add(name, keytype, key)
    keys = _Keys(accept_new)
    client.set_missing_host_key_policy(keys)
    where = hop.where
    try:
        client.connect(hop.address, port=hop.port, username=hop.user,
                       key_filename=str(ssh.identity_file) if ssh.identity_file else None,
                       timeout=ssh.connect_timeout, banner_timeout=ssh.connect_timeout,
                       auth_timeout=ssh.connect_timeout,
                       # no identity_file: the auditor's agent and ~/.ssh keys, as ssh would
                       allow_agent=ssh.identity_file is None,
                       look_for_keys=ssh.identity_file is None, sock=sock)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a located TransportError
        client.close()
        raise _connect_error(exc, where, ssh, keys) from None
    fp = fingerprint(client.get_transport().get_remote_server_key())
    return client, {"host": hop.label, "address": hop.address, "port": hop.port,
                    "host_key": fp, "host_key_verified": keys.unknown is None}


def _connect_error(exc, where: str, ssh, keys: _Keys) -> TransportError:
    timeout = ssh.connect_timeout
    if isinstance(exc, paramiko.BadHostKeyException):
        return TransportError(ERROR, f"{where}: host key does not match known_hosts "
                              f"({ssh.known_hosts}): got {fingerprint(exc.key)}")
    if isinstance(exc, paramiko.AuthenticationException):
        return TransportError(AUTH_FAILED, f"{where}: authentication failed ({exc})")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TransportError(TIMEOUT, f"{where}: no answer within {timeout}s")
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        if keys.unknown is not None and "not found in known_hosts" in text:
            return TransportError(ERROR, f"{where}: host key {keys.unknown} not in known_hosts "
                                  f"({ssh.known_hosts}); verify it and add it, or pass "
                                  "--accept-new-host-keys")
        # a listener that accepts and never speaks SSH: paramiko gives up on the banner
        # (or, racing it, finds no session); either way the host did not answer in time
        if "banner" in text or "No existing session" in text:
            return TransportError(TIMEOUT, f"{where}: no SSH answer within {timeout}s "
                                  "(the port accepts connections but sends no SSH banner)")
        return TransportError(ERROR, f"{where}: SSH failed: {text}")
    if isinstance(exc, OSError):
        return TransportError(UNREACHABLE, f"{where}: {exc.strerror or exc}")
    return TransportError(ERROR, f"{where}: SSH failed: {type(exc).__name__}: {exc}")


class SSHTransport(RoundTrips):
    def __init__(self, host, accept_new_host_keys: bool = False, hops: list[Hop] = (),
                 reader: Reader | None = None):
        self.host = host
        self.sudo = host.sudo
        self.log = SentLog()
        self.reader = reader or Reader(limits_of(host))
        self._clients = []
        target = Hop(host.name, host.address, host.ssh.port, host.ssh.user, host.ssh)
        records, sock = [], None
        try:
            for i, hop in enumerate(hops):
                client, record = _connect(hop, accept_new_host_keys, sock)
                self._clients.append(client)
                records.append(record)
                nxt = hops[i + 1] if i + 1 < len(hops) else target
                sock = self._tunnel(client, hop, nxt)
            client, own = _connect(target, accept_new_host_keys, sock)
        except TransportError as exc:
            self.close()
            if records:   # say which way it went
                exc.args = (f"{exc} (via {' -> '.join(r['host'] for r in records)})",)
            raise
        self._clients.append(client)
        self.client = client
        accepted = [r["host"] for r in records + [own] if not r["host_key_verified"]]
        self.identity = {"host_key": own["host_key"], "connection": "ssh",
                         # the target is only as verified as the way to it
                         "host_key_verified": not accepted}
        if records:
            self.identity["jump_hosts"] = records
        if accepted:
            self.identity["accepted_new_host_keys"] = accepted

    def _tunnel(self, client, hop: Hop, nxt: Hop):
        try:
            return client.get_transport().open_channel(
                "direct-tcpip", (nxt.address, nxt.port), ("127.0.0.1", 0),
                timeout=nxt.ssh.connect_timeout)
        except (paramiko.SSHException, OSError) as exc:
            raise TransportError(UNREACHABLE, f"jump host {hop.label} ({hop.where}) could not "
                                 f"connect to {nxt.address}:{nxt.port}: {exc}") from None

    def _open(self, script: str, timeout: float) -> SSHStream:
        try:
            chan = self.client.get_transport().open_session(timeout=timeout)
        except paramiko.ChannelException as exc:   # refused by sshd, e.g. past its MaxSessions
            raise ChannelRefused(f"{self.host.name} refused one more session channel "
                                 f"({exc.text or exc}; sshd MaxSessions?)") from None
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            raise TransportError(ERROR, f"connection to {self.host.name} lost: {exc}") from None
        try:
            chan.exec_command(commands.wrap(script, timeout, self.sudo))
        except (paramiko.SSHException, OSError, EOFError) as exc:
            chan.close()
            raise TransportError(ERROR, f"connection to {self.host.name} lost: {exc}") from None
        return SSHStream(chan, self.host.name)

    def close(self) -> None:
        for client in reversed(self._clients):   # the target first, then the hops
            client.close()
