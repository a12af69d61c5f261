"""Collection: one Snapshot per host, in two round trips whatever the catalog size.

Round 1 sends identity, the process table, the domain lists and every static
artifact the catalog's checks declare (files, stats, sshd -T, capabilities).
Round 2 sends what round 1 revealed: each domain's XML, each QEMU process's
/proc entries (status, cmdline, cgroup; ns/mnt and exe links) and the libvirt
daemons' exe links. Artifact keys:
  file:<path>  stat:<path>  readlink:<path>  elf:<path>  stat_children:<dir>
  cmd:<command name>  domain:<name>:inactive|live
Each round runs on up to PARALLEL channels at once (collect.batch parts), so slow
commands overlap, and round 2 starts as soon as round 1's process table and domain
lists are in (ROUND_TWO_FROM), while round 1's slow commands still run. Hosts are collected concurrently; one failing host never stops
the others, a round that ends early keeps every command it completed, and an error
text built from host output is redacted like the artifacts.
A `connection: libvirt` host is read through the libvirt API instead (libvirt_api.py).
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor

from hvconform.judge import engine
from hvconform.collect import libvirt_api, redact
from hvconform.collect.batch import Batch
from hvconform.collect.redact import redact_artifact, redact_error
from hvconform.model.snapshot import COLLECTED, ERROR, PARTIAL, Domain, Snapshot, readable
from hvconform.collect.transport import TransportError, open_transport

PARALLEL = 4   # channels per round trip: the slowest commands each get one (bench/README.md)

IDENTITY = [("cmd:hostname", "hostname", {}), ("file:/etc/machine-id", "cat", {"path": "/etc/machine-id"}),
            ("file:/etc/os-release", "cat", {"path": "/etc/os-release"}),
            ("cmd:ps", "ps", {}),
            ("cmd:virsh_list_all", "virsh_list_all", {}),
            ("cmd:virsh_list_running", "virsh_list_running", {})]

_KEY_OF = {"cat": "file:{}", "stat": "stat:{}", "readlink": "readlink:{}",
           "elf_hardening": "elf:{}", "stat_children": "stat_children:{}"}
LIBVIRT_DAEMONS = ("libvirtd", "virtqemud", "virtproxyd")   # their /proc/<pid>/exe: QEMU-021


def _key(command: str, arg: str) -> str:
    return _KEY_OF[command].format(arg) if command in _KEY_OF else f"cmd:{command}"


def _add_need(batch: Batch, command: str, arg: str) -> None:
    """A (command, argument) need as a batch entry under its artifact key."""
    batch.add(_key(command, arg), command, **({"path": arg} if command in _KEY_OF else {}))


def first_round(needs) -> Batch:
    batch = Batch()
    for key, name, args in IDENTITY:
        batch.add(key, name, **args)
    for command, arg in needs:
        _add_need(batch, command, arg)
    return batch


def qemu_pids(ps_output: str) -> list[int]:
    """QEMU processes from `ps -eo pid=,uid=,user:32=,comm=,args=` (comm is cut at 15)."""
    return _pids(ps_output, lambda comm: comm.startswith("qemu-system") or comm == "qemu-kvm")


def daemon_pids(ps_output: str) -> list[int]:
    """The libvirt management daemons' pids, from the same table."""
    return _pids(ps_output, lambda comm: comm in LIBVIRT_DAEMONS)


def _pids(ps_output: str, wanted) -> list[int]:
    pids = []
    for line in ps_output.splitlines():
        parts = line.split(None, 4)
        if len(parts) >= 4 and wanted(parts[3]):
            pids.append(int(parts[0]))
    return pids


def _names(artifact) -> list[str]:
    """virsh's one name per line ("\n" only: a name may hold other line breaks)."""
    return [n.strip() for n in artifact.stdout.split("\n") if n.strip()] if artifact and artifact.ok else []


def sendable(name: str) -> bool:
    """Whether a host-supplied value can be an argument at all: a command line is a C
    string, and a NUL would cut the whole batch short. Everything else is quoted."""
    return "\0" not in name


def second_round(snap: Snapshot, vm_needs=(), exclude=()) -> Batch:
    """Per-domain and per-process reads, and the catalog's `{vm}` needs, expanded;
    not what round 1 has (or asked for: `exclude`, its artifact keys)."""
    batch = Batch()
    for command, arg in vm_needs:
        key = _key(command, arg)
        if key not in snap.artifacts and key not in exclude:
            _add_need(batch, command, arg)
    for d in snap.domains:
        if not sendable(d.name):
            continue   # its per-VM controls say its XML was not collected; the others go on
        batch.add(f"domain:{d.name}:inactive", "virsh_dumpxml_inactive", domain=d.name)
        if d.running:
            batch.add(f"domain:{d.name}:live", "virsh_dumpxml_live", domain=d.name)
    for pid in snap.qemu_pids:
        for leaf in ("status", "cmdline", "cgroup"):
            batch.add(f"file:/proc/{pid}/{leaf}", "cat", path=f"/proc/{pid}/{leaf}")
        # its mount namespace (QEMU-007) and whether its binary was replaced (QEMU-021)
        for link in ("ns/mnt", "exe"):
            batch.add(f"readlink:/proc/{pid}/{link}", "readlink", path=f"/proc/{pid}/{link}")
    ps = snap.get("cmd:ps")
    for pid in daemon_pids(ps.stdout if ps is not None else ""):
        batch.add(f"readlink:/proc/{pid}/exe", "readlink", path=f"/proc/{pid}/exe")
    return batch


def host_error(text: str) -> str:
    """An error text that may quote host output (stderr of a killed batch, a banner):
    redacted whole before it is cut, shown with undecodable bytes as U+FFFD."""
    return redact_error(readable(text))


class _Trip:
    """One round trip of a host: its batch, split into parts started at once."""

    def __init__(self, transport, batch: Batch, timeout: float):
        self.batch, self.parts = batch, batch.parts(PARALLEL)
        self.started = time.time()
        self.where = {key: (i, j) for i, p in enumerate(self.parts) for j, (key, _) in enumerate(p.items)}
        self.round = transport.start([(p.nonce, p.script(), p.lines()) for p in self.parts], timeout)
        self.kept: set[str] = set()
        self.counted = False

    def count(self, snap: Snapshot) -> None:
        """A round whose every channel ended is a round trip made (once)."""
        if self.round.done and not self.counted:
            snap.round_trips += 1
            self.counted = True

    def ended(self, keys) -> bool:
        return all(self.round.ended(*self.where[k]) for k in keys if k in self.where)

    def keep(self, snap: Snapshot, early: bool = False) -> None:
        """Every command that ended so far into the snapshot, redacted (also when the
        round itself ends early). `early`, while the round still runs: only commands
        whose stderr is in as well, since a kept artifact is not read again."""
        for part, out in zip(self.parts, self.round.outputs):
            for key, artifact in part.parse(out.stdout, out.stderr, self.started, whole=early,
                                            skip=self.kept).items():
                redact_artifact(artifact)
                snap.add(artifact)
                self.kept.add(key)

    def complete(self) -> None:
        """Raise PARTIAL when a command of a round that ended gave no result."""
        if len(self.kept) < len(self.batch):
            outputs = self.round.outputs
            missing = [k for k, _ in self.batch.items if k not in self.kept]
            stderr = "".join(bytes(o.stderr).decode("utf-8", "replace") for o in outputs)
            rcs = sorted({o.rc for o in outputs}, key=str)
            raise TransportError(PARTIAL, f"{len(missing)} of {len(self.batch)} commands gave no result "
                                 f"(first: {missing[0]}); rc={'/'.join(map(str, rcs))}: "
                                 f"{host_error(stderr).strip()[-300:]}")


def _round(transport, batch: Batch, snap: Snapshot, timeout: float) -> None:
    """One round trip alone, read to its end; what ended is kept, whatever happens."""
    trip = _Trip(transport, batch, timeout)
    try:
        transport.wait([trip.round])
    finally:
        trip.keep(snap)
    trip.count(snap)
    trip.complete()


# What round 2 is made of: it starts as soon as these have come back, while the rest
# of round 1 (apt, systemctl, ...) still runs. Still two round trips: round 2 asks
# only for what round 1's answers named.
ROUND_TWO_FROM = ("cmd:ps", "cmd:virsh_list_all", "cmd:virsh_list_running")


def _both_rounds(transport, host, controls, policy, snap: Snapshot) -> None:
    timeout = host.ssh.command_timeout
    first = _Trip(transport, first_round(engine.needs(controls, policy)), timeout)
    trips = [first]
    try:
        transport.wait([first.round], until=lambda: first.ended(ROUND_TWO_FROM))
        first.keep(snap, early=not first.round.done)
        if first.round.done:      # round 1 ended before what round 2 needs came back
            first.count(snap)
            first.complete()
        running = set(_names(snap.get("cmd:virsh_list_running")))
        snap.domains = [Domain(n, n in running) for n in _names(snap.get("cmd:virsh_list_all"))]
        snap.qemu_pids = qemu_pids(snap.get("cmd:ps").stdout)
        batch = second_round(snap, engine.needs(controls, policy, [d.name for d in snap.domains]),
                             exclude=first.where)
        if len(batch):
            trips.append(_Trip(transport, batch, timeout))
        transport.wait([t.round for t in trips])
    finally:   # also when a round failed: what ended is kept, rounds that ended count
        for trip in trips:
            trip.keep(snap)
            trip.count(snap)
    for trip in trips:
        trip.complete()


def collect_host(host, controls, policy: dict | None = None, accept_new_host_keys=False,
                 jump_hosts=None, overlay_policy: dict | None = None) -> tuple[Snapshot, list[dict]]:
    """Snapshot of one host for these controls, and the log of what was sent. Never raises.
    `jump_hosts`: the inventory hosts (a list, or by name) its jump chain may name.
    `overlay_policy`: the site overlays' values (judge/tailoring.py): what to collect follows
    them too, but the snapshot records the host's own `policy` (a replay may apply others)."""
    if host.problem:   # an inventory entry that cannot be used: not contacted
        return Snapshot(host=host.name, status=ERROR, error=host.problem, started=_now(),
                        finished=_now()), []
    if host.connection == "libvirt":     # the libvirt API alone, no shell (collect/libvirt_api.py)
        return libvirt_api.collect_host(host, policy)
    facts = dict(host.facts)
    if host.vms is not None:  # the VMs the inventory expects, for reconciliation and isolation
        facts["vms"] = host.vms
    snap = Snapshot(host=host.name, facts=facts, policy=dict(policy or {}), started=_now())
    policy = {**(policy or {}), **(overlay_policy or {})}
    transport = None
    try:
        transport = open_transport(host, accept_new_host_keys, jump_hosts)
        snap.identity.update(transport.identity)
        _both_rounds(transport, host, controls, policy, snap)
        snap.status = COLLECTED
    except TransportError as exc:
        # After a successful first round the snapshot is still worth judging.
        snap.status = PARTIAL if snap.round_trips and exc.status != ERROR else exc.status
        snap.error = host_error(str(exc))
    except Exception as exc:  # a bug here must not cost the other hosts their audit
        snap.status, snap.error = ERROR, host_error(f"{type(exc).__name__}: {exc}")
    finally:
        if transport is not None:
            transport.close()
    snap.error = redact_error(snap.error)   # error texts may quote a host's output
    snap.identity.setdefault("hostname", _first_line(snap.get("cmd:hostname")))
    snap.identity.setdefault("machine_id", _first_line(snap.get("file:/etc/machine-id")))
    snap.finished = _now()
    return snap, (transport.log.entries if transport else [])


def _first_line(artifact):
    return artifact.stdout.strip().splitlines()[0] if artifact and artifact.ok and artifact.stdout.strip() else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while collecting: `results` holds every host, those not finished as
    error snapshots that say so, so the run can still be judged and bundled."""

    def __init__(self, results: dict):
        super().__init__("interrupted while collecting")
        self.results = results


INTERRUPTED = "interrupted (Ctrl-C) before its collection finished: not collected"


def collect_all(hosts, catalog, policy_for, accept_new_host_keys=False, on_done=None,
                workers: int = 16, jump_hosts=None) -> dict:
    """Collect every host concurrently. `policy_for(host)` gives its policy values;
    `on_done(snapshot)` is called as each host finishes (for progress lines);
    `jump_hosts` are the inventory's hosts a jump_host may name (all, not only
    the selected ones). Ctrl-C raises Interrupted with what was finished."""
    try:
        return _collect_all(hosts, catalog, policy_for, accept_new_host_keys, on_done, workers, jump_hosts)
    finally:
        redact.forget()    # the texts redacted once for all hosts: not kept past collection


def _collect_all(hosts, catalog, policy_for, accept_new_host_keys, on_done, workers, jump_hosts) -> dict:
    by_name = {h.name: h for h in (jump_hosts or hosts)}
    results = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts))))
    # Each future puts itself here when it ends. concurrent.futures.wait() over the
    # futures still pending walked all of them at every wake-up: quadratic in the hosts
    # (bench/collect_scheduling.py).
    ended: queue.SimpleQueue = queue.SimpleQueue()
    futures = {pool.submit(collect_host, h, catalog.controls, policy_for(h), accept_new_host_keys,
                           by_name, getattr(catalog, "policy", None)): h for h in hosts}
    order = {future: i for i, future in enumerate(futures)}
    for future in futures:
        future.add_done_callback(ended.put)
    try:
        left = len(futures)
        while left:
            # woken twice a second: Python runs a signal's handler in the main thread
            # only when it runs, and Ctrl-C often lands on another thread; waiting
            # without a timeout left it for the next host to end (a silent one: its
            # whole connect timeout), and raised it wherever the main thread was then
            try:
                finished = [ended.get(timeout=0.5)]
            except queue.Empty:
                continue
            while not ended.empty():
                finished.append(ended.get())
            left -= len(finished)
            for future in sorted(finished, key=order.get):   # inventory order when several
                snap, sent = future.result()
                results[snap.host] = (snap, sent)
                if on_done:
                    on_done(snap)
    except KeyboardInterrupt:
        # not waited for here; threads still in flight end at their command timeout
        pool.shutdown(wait=False, cancel_futures=True)
        for h in hosts:
            if h.name not in results:
                results[h.name] = (Snapshot(host=h.name, started=_now(), status=ERROR,
                                            error=INTERRUPTED, finished=_now()), [])
        raise Interrupted({h.name: results[h.name] for h in hosts}) from None
    pool.shutdown()
    return {h.name: results[h.name] for h in hosts}
