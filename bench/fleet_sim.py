"""A fleet of simulated hypervisor hosts for the benchmark: ONE process serving N
virtual hosts over real SSH on loopback, so the auditor's own cost can be measured
at fleet size on one machine, without host-side CPU.

    .venv/bin/python bench/fleet_sim.py --hosts 1000 --dir /tmp/fleet [--timeout 1800]

writes into --dir: `inventory.yaml` (the N hosts, each 127.0.0.1 and its own port),
`known_hosts` (each host's own Ed25519 host key, made at start) and `id_ed25519`
(the auditor's key, the only one the hosts accept), then prints one JSON line
{"inventory", "hosts", "pid"} and serves until --timeout seconds have passed or it
is sent SIGTERM/SIGINT.

What a host answers: each batch script the collector sends (hvconform/collect/batch.py
frames each command with markers carrying a per-batch nonce) is read line by line.
The fixed preamble and the marker printf lines are answered as sh would print them;
every other line is looked up, verbatim, among the command lines of a recorded lab
snapshot (tests/data/lab-snapshots/<template>.json: each artifact's `source`, with its
rc, stdout and stderr). It is NOT a shell: nothing is executed, and a line that was
not recorded gets rc 127 and "not found" on stderr, as sh would say of a missing
program. Per host, the template's text is varied: its own hostname, machine-id,
VM names (and their systemd-escaped forms) and domain UUIDs; templates rotate
(mostly `default`, some `hardened`, some `weak`) and some `default` hosts take a few
of `weak`'s failing settings (sshd, qemu.conf, sysctl), so verdicts differ by host.

One file of ~400 lines on purpose: the benchmark's whole host side (which hosts,
what they answer, the SSH server) is one thing to read and one process to start.

Bounds: loopback only; at most --max-sessions SSH connections at once (more are
closed at accept); answers by a fixed pool of threads; each connection closed
--session-timeout seconds after it opened; the whole process ends by itself at --timeout.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import re
import resource
import selectors
import shlex
import signal
import socket
import sys
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import paramiko
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "data" / "lab-snapshots"
LAB_INVENTORY = ROOT / "inventories" / "lab.yaml"
USER = "audit"
LOOPBACK = "127.0.0.1"
# Which recorded host each simulated host copies, in rotation: most hosts as packaged,
# some hardened, some weak (the lab's three hosts: lab/README.md).
ROTATION = ("default", "hardened", "default", "weak", "default", "hardened", "default", "weak")
# A `default` host whose index is a multiple of this takes weak's artifacts for these
# sources: a few failing settings on an otherwise default host.
DRIFT_EVERY = 5
DRIFT_SOURCES = ("sshd -T", "cat -- /etc/libvirt/qemu.conf", "cat -- /etc/sysctl.conf")

PREAMBLE = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; LC_ALL=C; export PATH LC_ALL"
# the marker lines of hvconform/collect/batch.py: printf 'FORMAT' 'NONCE' INDEX ["$?"] [>&2]
_MARKER = re.compile(r"printf '(?P<fmt>[^']*)' '(?P<nonce>[0-9a-f]{16})' (?P<i>[0-9]+)"
                     r"(?P<rc> \"\$\?\")?(?P<err> >&2)?\Z")


# -- hosts: which template, what varies ------------------------------------------

@dataclass(frozen=True)
class SimHost:
    index: int
    name: str
    template: str
    drift: bool       # a default host with some of weak's settings

    @property
    def machine_id(self) -> str:
        return hashlib.sha256(f"machine-id:{self.name}".encode()).hexdigest()[:32]


def plan(n: int) -> list[SimHost]:
    hosts = []
    for i in range(n):
        template = ROTATION[i % len(ROTATION)]
        hosts.append(SimHost(i, f"sim-{i:04d}", template,
                             template == "default" and i % DRIFT_EVERY == 0))
    return hosts


def load_templates() -> dict[str, dict]:
    return {name: json.loads((SNAPSHOTS / f"{name}.json").read_text())
            for name in sorted(set(ROTATION) | {"weak"})}


def _vm_name(template_host: str, vm: str, host: SimHost) -> str:
    rest = vm[len(template_host) + 1:] if vm.startswith(template_host + "-") else vm
    return f"{host.name}-{rest}"


def _renamer(template: dict, host: SimHost):
    """A function rewriting the template's text for `host`: VM names (also as systemd
    escapes them, '-' as \\x2d), domain UUIDs, the machine-id."""
    tname = template["host"]
    vms = [d["name"] for d in template["domains"]] + list((template["facts"].get("vms") or {}))
    pairs = {}
    for vm in sorted(set(vms), key=len, reverse=True):
        new = _vm_name(tname, vm, host)
        pairs[vm] = new
        pairs[vm.replace("-", "\\x2d")] = new.replace("-", "\\x2d")
    for key, art in template["artifacts"].items():
        if key.startswith("domain:"):
            for old in re.findall(r"<uuid>([0-9a-f-]{36})</uuid>", art["stdout"]):
                pairs[old] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{host.name}:{old}"))
    machine_id = template["identity"].get("machine_id")
    if machine_id:
        pairs[machine_id] = host.machine_id
    names = sorted(pairs, key=len, reverse=True)
    pattern = re.compile("(?:" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9_])")

    def rename(text: str) -> str:
        return pattern.sub(lambda m: pairs[m.group(0)], text) if text else text
    return rename


def answers(templates: dict[str, dict], host: SimHost) -> dict[str, tuple[int, str, str]]:
    """command line -> (rc, stdout, stderr) of one simulated host."""
    template = templates[host.template]
    rename = _renamer(template, host)
    artifacts = dict(template["artifacts"])
    if host.drift:
        weak = {a["source"]: a for a in templates["weak"]["artifacts"].values()}
        for key, art in artifacts.items():
            if art["source"] in DRIFT_SOURCES and art["source"] in weak:
                artifacts[key] = weak[art["source"]]
    table = {}
    for key, art in artifacts.items():
        if key == "cmd:hostname":
            table[art["source"]] = (art["rc"], host.name + "\n", "")
            continue
        table[rename(art["source"])] = (art["rc"], rename(art["stdout"]), rename(art["stderr"]))
    return table


# -- answering a batch -------------------------------------------------------------

def _printf(fmt: str, args: list[str]) -> str:
    """The two escapes and the %s of batch.py's marker formats, as printf prints them."""
    out, it = fmt.replace("\\n", "\n"), iter(args)
    return re.sub(r"%s", lambda _: next(it, ""), out)


_TIMEOUT = re.compile(r"\Atimeout -k \d+ \d+ ")   # hvconform.collect.commands.WRAPPER


def _script_of(command: str) -> str | None:
    """SCRIPT of `[sudo -n ][timeout -k G N ]sh -c SCRIPT`, as the transport quotes it (shlex.quote);
    undone directly (shlex.split reads a 30 kB script a character at a time, which was
    a third of the simulator's time) and checked by quoting it again."""
    rest = command.removeprefix("sudo -n ")
    rest = _TIMEOUT.sub("", rest, count=1)   # the host-side bound every batch runs under
    if not rest.startswith("sh -c "):
        return None
    quoted = rest[len("sh -c "):]
    if len(quoted) >= 2 and quoted[0] == quoted[-1] == "'":
        script = quoted[1:-1].replace("'\"'\"'", "'")
        if shlex.quote(script) == quoted:
            return script
    try:
        words = shlex.split(quoted)
    except ValueError:
        return None
    return words[0] if len(words) == 1 else None


def run_batch(table: dict, command: str) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of `[sudo -n] sh -c SCRIPT` on a simulated host."""
    script = _script_of(command)
    if script is None:
        return 127, b"", b"fleet_sim: only `sh -c SCRIPT` is answered\n"
    out, err, rc = [], [], 0
    for line in script.split("\n"):
        if not line or line == PREAMBLE:
            continue
        m = _MARKER.match(line)
        if m:
            args = [m["nonce"], m["i"]] + ([str(rc)] if m["rc"] else [])
            (err if m["err"] else out).append(_printf(m["fmt"], args))
            continue
        found = table.get(line)
        if found is None:
            rc = 127
            err.append(f"sh: 1: {line.split()[0] if line.split() else line}: not found\n")
            continue
        rc, stdout, stderr = found
        out.append(stdout)
        err.append(stderr)
    return rc, "".join(out).encode("utf-8", "surrogateescape"), "".join(err).encode("utf-8", "surrogateescape")


# -- SSH ---------------------------------------------------------------------------

def _ed25519() -> tuple[paramiko.Ed25519Key, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem)), key


class _HostServer(paramiko.ServerInterface):
    def __init__(self, fleet: "Fleet", host: SimHost):
        self.fleet, self.host = fleet, host

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        ok = username == USER and key.asbytes() == self.fleet.auditor_blob
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return (paramiko.OPEN_SUCCEEDED if kind == "session"
                else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)

    def check_channel_exec_request(self, channel, command):
        # answered from the pool, after paramiko has confirmed the exec to the client
        self.fleet.pool.submit(self.fleet.answer, self.host, channel,
                               command.decode("utf-8", "surrogateescape"))
        return True


class Fleet:
    """The listening sockets, the SSH sessions and the answer tables."""

    def __init__(self, hosts: list[SimHost], max_sessions: int, session_timeout: float,
                 cache: int = 128):
        self.hosts = hosts
        self.templates = load_templates()
        self.max_sessions, self.session_timeout = max_sessions, session_timeout
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="answer")
        self._tables: OrderedDict[str, dict] = OrderedDict()
        self._cache = cache
        self._lock = threading.Lock()
        self._sessions: list[paramiko.Transport] = []
        self.auditor_key, self.auditor_blob = None, b""
        self.listeners: dict[int, tuple[socket.socket, SimHost, paramiko.PKey]] = {}
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()

    def table(self, host: SimHost) -> dict:
        with self._lock:
            if host.name in self._tables:
                self._tables.move_to_end(host.name)
                return self._tables[host.name]
        table = answers(self.templates, host)
        with self._lock:
            self._tables[host.name] = table
            while len(self._tables) > self._cache:
                self._tables.popitem(last=False)
        return table

    def answer(self, host: SimHost, channel, command: str) -> None:
        # EOF, not close: paramiko confirms the exec (in its own thread) after
        # check_channel_exec_request returns, and a channel closed before that
        # confirmation is an error to the client; the client closes it when done
        try:
            rc, out, err = run_batch(self.table(host), command)
            channel.sendall(out)
            channel.sendall_stderr(err)
            channel.send_exit_status(rc)
            channel.shutdown_write()
        except Exception as exc:  # a client gone mid-answer must not stop the others
            print(f"fleet_sim: {host.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            channel.close()

    def listen(self, directory: Path) -> Path:
        """Open one port per host, write the auditor's key, known_hosts and the inventory."""
        directory.mkdir(parents=True, exist_ok=True)
        pkey, raw = _ed25519()
        self.auditor_key, self.auditor_blob = pkey, pkey.asbytes()
        key_file = directory / "id_ed25519"
        key_file.write_bytes(raw.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.OpenSSH,
                                               serialization.NoEncryption()))
        key_file.chmod(0o600)
        known, entries = [], {}
        for host in self.hosts:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sock.listen(16)
            sock.setblocking(False)
            port = sock.getsockname()[1]
            host_key, _ = _ed25519()
            self.listeners[port] = (sock, host, host_key)
            self.selector.register(sock, selectors.EVENT_READ, port)
            known.append(f"[{LOOPBACK}]:{port} {host_key.get_name()} {host_key.get_base64()}")
            entries[host.name] = self._inventory_entry(host, port)
        (directory / "known_hosts").write_text("\n".join(known) + "\n")
        inventory = directory / "inventory.yaml"
        policy = self._policy()
        doc = {"defaults": {"connection": "ssh",
                            "ssh": {"user": USER, "identity_file": "id_ed25519",
                                    "known_hosts": "known_hosts", "connect_timeout": 30,
                                    "command_timeout": 120},
                            "sudo": False},
               "policy": policy, "hosts": entries}
        inventory.write_text("# written by bench/fleet_sim.py: simulated hosts on loopback\n"
                             + yaml.safe_dump(doc, sort_keys=False))
        return inventory

    def _policy(self) -> dict:
        """The lab inventory's policy, its VM names (bridged_vms) renamed for every host."""
        policy = yaml.safe_load(LAB_INVENTORY.read_text()).get("policy") or {}
        bridged = []
        for host in self.hosts:
            tname = self.templates[host.template]["host"]
            bridged += [_vm_name(tname, vm, host) for vm in policy.get("bridged_vms", [])
                        if vm.startswith(tname + "-")]
        if "bridged_vms" in policy:
            policy["bridged_vms"] = bridged
        return policy

    def _inventory_entry(self, host: SimHost, port: int) -> dict:
        template = self.templates[host.template]
        facts = {k: v for k, v in template["facts"].items() if k != "vms"}
        entry = {"address": LOOPBACK, "ssh": {"port": port}, "facts": facts}
        if host.template == "hardened":
            entry["sudo"] = True          # as the lab's hardened host: commands via sudo -n
        listed = template["facts"].get("vms")
        if listed is not None:            # the template's VM list, renamed, for reconciliation
            entry["vms"] = [({"name": _vm_name(template["host"], vm, host), **facts_of}
                             if facts_of else _vm_name(template["host"], vm, host))
                            for vm, facts_of in listed.items()]
        return entry

    def serve(self, deadline: float) -> None:
        while not self.stopping.is_set() and time.monotonic() < deadline:
            for key, _ in self.selector.select(timeout=0.5):
                sock, host, host_key = self.listeners[key.data]
                try:
                    conn, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                self._start(conn, host, host_key)
            self._reap()
        self.close()

    def _start(self, conn: socket.socket, host: SimHost, host_key) -> None:
        self._reap()
        if len(self._sessions) >= self.max_sessions:
            conn.close()   # bounded: the auditor sees a refused connection
            return
        conn.setblocking(True)
        transport = paramiko.Transport(conn)
        transport.add_server_key(host_key)
        transport.set_keepalive(0)
        try:
            transport.start_server(server=_HostServer(self, host))
        except (paramiko.SSHException, OSError, EOFError):
            transport.close()
            return
        transport.sim_started = time.monotonic()
        self._sessions.append(transport)

    def _reap(self) -> None:
        now, alive = time.monotonic(), []
        for t in self._sessions:
            if not t.is_active():
                continue
            if now - t.sim_started > self.session_timeout:   # a client that never closes
                t.close()
                continue
            alive.append(t)
        self._sessions = alive

    def close(self) -> None:
        for t in self._sessions:
            t.close()
        for sock, _, _ in self.listeners.values():
            sock.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--dir", type=Path, required=True, help="where to write the inventory and keys")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds, then the process ends")
    ap.add_argument("--max-sessions", type=int, default=256, help="SSH connections at once")
    ap.add_argument("--session-timeout", type=float, default=300,
                    help="seconds a connection may stay open")
    args = ap.parse_args(argv)
    if not 1 <= args.hosts <= 5000:
        ap.error("--hosts: 1 to 5000")
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)   # clients that hang up are normal
    _raise_fd_limit(args.hosts + args.max_sessions * 2 + 64)
    fleet = Fleet(plan(args.hosts), args.max_sessions, args.session_timeout)
    inventory = fleet.listen(args.dir)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: fleet.stopping.set())
    print(json.dumps({"inventory": str(inventory), "hosts": args.hosts, "pid": os.getpid()}),
          flush=True)
    fleet.serve(time.monotonic() + args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
