"""How a batch script reaches a target: this machine (`local`) or SSH (paramiko).

One SSH session per host, reused for every round trip. Host keys are checked
against known_hosts; accepting an unknown key is an explicit opt-in whose use is
recorded (and shown in the report). Every script is checked against
hvconform.collect.commands before it is sent, and logged with its time and exit code.
"""

from __future__ import annotations

import base64
import hashlib
import os
import select
import shlex
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

import paramiko

from hvconform.collect import commands
from hvconform.inputs.inventory import parse_jump
from hvconform.model.snapshot import AUTH_FAILED, ERROR, TIMEOUT, UNREACHABLE


class TransportError(Exception):
    """A host could not be reached or used; `status` is a results.json host status."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


@dataclass
class SentLog:
    """Every script sent to one host: what, when, how it ended."""

    entries: list[dict] = field(default_factory=list)

    def add(self, sent: list[str], started: float, rc: int | None, note: str = "") -> None:
        self.entries.append({"sent_at": _iso(started), "seconds": round(time.time() - started, 3),
                             "rc": rc, "commands": sent, "note": note})


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


_SUDO_PROMPT = ("a password is required", "a terminal is required", "may not run sudo",
                "is not in the sudoers", "not allowed to execute")


def _wrap(script: str, sudo: bool) -> str:
    """sh -c keeps the batch POSIX whatever the remote login shell is."""
    inner = f"sh -c {shlex.quote(script)}"
    return f"sudo -n {inner}" if sudo else inner


def _sudo_failure(host, result: Result) -> None:
    if any(s in result.stderr for s in _SUDO_PROMPT):
        raise TransportError(ERROR, f"sudo -n refused on {host.name} for user "
                             f"{host.ssh.user!r} ({result.stderr.strip().splitlines()[-1]}): "
                             "grant it passwordless sudo for the audit, or set sudo: false")


class LocalTransport:
    """This machine, no SSH: for `inventories/local.yaml` and the first run."""

    def __init__(self, host):
        self.host = host
        self.log = SentLog()
        self.identity = {"host_key": None, "connection": "local"}

    def run(self, script: str, timeout: float) -> Result:
        sent = commands.check_script(script)  # refuses an undeclared line before sending
        sudo = self.host.sudo and os.geteuid() != 0
        started = time.time()
        try:
            proc = subprocess.run(["sh", "-c", _wrap(script, sudo)], capture_output=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.log.add(sent, started, None, f"timed out after {timeout}s")
            raise TransportError(TIMEOUT, f"commands did not finish within {timeout}s") from None
        self.log.add(sent, started, proc.returncode)
        result = Result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                        proc.stderr.decode("utf-8", "replace"))
        if sudo:
            _sudo_failure(self.host, result)
        return result

    def close(self) -> None:
        pass


class _RecordUnknownKey(paramiko.MissingHostKeyPolicy):
    """The opt-in (--accept-new-host-keys): accept a key not in known_hosts, but
    remember that we did, so the report can say the identity was not verified."""

    def __init__(self):
        self.accepted = None

    def missing_host_key(self, client, hostname, key):
        self.accepted = fingerprint(key)


def fingerprint(key) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return f"{key.get_name()} SHA256:{base64.b64encode(digest).decode().rstrip('=')}"


_KNOWN_HOSTS: dict[str, tuple] = {}   # path -> ((mtime, size), paramiko.HostKeys)
_KNOWN_HOSTS_LOCK = threading.Lock()


def _known_keys(path: str, name: str) -> dict:
    """The keys known_hosts holds for `name` (as paramiko looks it up: "addr", or
    "[addr]:port" off port 22). The file is parsed once per version, not once per
    host: loading all of it into each client made collecting a fleet quadratic (a
    thousand hosts, each parsing a thousand lines; bench/README.md)."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    with _KNOWN_HOSTS_LOCK:
        cached = _KNOWN_HOSTS.get(path)
        if cached is None or cached[0] != stamp:
            cached = _KNOWN_HOSTS[path] = (stamp, paramiko.HostKeys(path))
    return dict(cached[1].lookup(name) or {})


def _client(host, accept_new: bool, sock=None, address=None, port=None, user=None):
    ssh = host.ssh
    client = paramiko.SSHClient()
    address, port, user = address or host.address, port or ssh.port, user or ssh.user
    if ssh.known_hosts is not None:
        name = address if port == 22 else f"[{address}]:{port}"
        for keytype, key in _known_keys(str(ssh.known_hosts), name).items():
            client.get_host_keys().add(name, keytype, key)
    policy = _RecordUnknownKey() if accept_new else paramiko.RejectPolicy()
    client.set_missing_host_key_policy(policy)
    where = f"{user}@{address}:{port}"
    try:
        client.connect(address, port=port, username=user,
                       key_filename=str(ssh.identity_file) if ssh.identity_file else None,
                       timeout=ssh.connect_timeout, banner_timeout=ssh.connect_timeout,
                       auth_timeout=ssh.connect_timeout,
                       # no identity_file: the auditor's agent and ~/.ssh keys, as ssh would
                       allow_agent=ssh.identity_file is None,
                       look_for_keys=ssh.identity_file is None, sock=sock)
    except paramiko.BadHostKeyException as exc:
        raise TransportError(ERROR, f"{where}: host key does not match known_hosts "
                             f"({ssh.known_hosts}): got {fingerprint(exc.key)}") from None
    except paramiko.AuthenticationException as exc:
        raise TransportError(AUTH_FAILED, f"{where}: authentication failed ({exc})") from None
    except (socket.timeout, TimeoutError):
        raise TransportError(TIMEOUT, f"{where}: no answer within {ssh.connect_timeout}s") from None
    except paramiko.SSHException as exc:
        if "not found in known_hosts" in str(exc):
            raise TransportError(ERROR, f"{where}: host key not in known_hosts "
                                 f"({ssh.known_hosts}); verify it and add it, or pass "
                                 "--accept-new-host-keys") from None
        raise TransportError(ERROR, f"{where}: SSH failed: {exc}") from None
    except OSError as exc:
        raise TransportError(UNREACHABLE, f"{where}: {exc.strerror or exc}") from None
    return client, policy


class SSHTransport:
    def __init__(self, host, accept_new_host_keys: bool = False, jump=None):
        self.host = host
        self.log = SentLog()
        self._jump = None
        sock = None
        if host.ssh.jump_host:
            # `jump` is the inventory Host the jump_host names, else parse user@host:port
            if jump is not None:
                jclient, _ = _client(jump, accept_new_host_keys)
            else:
                u, a, p = parse_jump(host.ssh.jump_host)
                jclient, _ = _client(host, accept_new_host_keys, address=a, port=p or 22,
                                     user=u or host.ssh.user)
            self._jump = jclient
            sock = jclient.get_transport().open_channel(
                "direct-tcpip", (host.address, host.ssh.port), ("127.0.0.1", 0),
                timeout=host.ssh.connect_timeout)
        self.client, policy = _client(host, accept_new_host_keys, sock=sock)
        key = self.client.get_transport().get_remote_server_key()
        self.identity = {"host_key": fingerprint(key), "connection": "ssh",
                         "host_key_verified": getattr(policy, "accepted", None) is None}

    def run(self, script: str, timeout: float) -> Result:
        sent = commands.check_script(script)  # refuses an undeclared line before sending
        started = time.time()
        try:
            chan = self.client.get_transport().open_session(timeout=timeout)
            chan.exec_command(_wrap(script, self.host.sudo))
            rc, out, err = _drain(chan, started + timeout)
        except TransportError as exc:
            self.log.add(sent, started, None, str(exc))
            raise
        except (paramiko.SSHException, OSError) as exc:
            self.log.add(sent, started, None, str(exc))
            raise TransportError(ERROR, f"connection to {self.host.name} lost: {exc}") from None
        self.log.add(sent, started, rc)
        result = Result(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
        if self.host.sudo:
            _sudo_failure(self.host, result)
        return result

    def close(self) -> None:
        self.client.close()
        if self._jump:
            self._jump.close()


def _drain(chan, deadline: float):
    """Read stdout and stderr together (a full stderr pipe must not stall stdout)."""
    out, err = bytearray(), bytearray()
    while True:
        left = deadline - time.time()
        if left <= 0:
            chan.close()
            raise TransportError(TIMEOUT, "commands did not finish in time (command_timeout)")
        select.select([chan], [], [], min(left, 0.5))
        while chan.recv_ready():
            out += chan.recv(1 << 16)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(1 << 16)
        # the exit status can overtake the last stderr data: wait for EOF as well
        done = chan.exit_status_ready() and (chan.eof_received or chan.closed)
        if done and not chan.recv_ready() and not chan.recv_stderr_ready():
            return chan.recv_exit_status(), bytes(out), bytes(err)


def open_transport(host, accept_new_host_keys: bool = False, jump=None):
    if host.connection == "local":
        return LocalTransport(host)
    return SSHTransport(host, accept_new_host_keys, jump)
