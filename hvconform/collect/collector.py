"""Collection: one Snapshot per host, in two round trips whatever the catalog size.

Round 1 sends identity, the process table, the domain lists and every static
artifact the catalog's checks declare (files, stats, sshd -T, capabilities).
Round 2 sends what round 1 revealed: each domain's XML, each QEMU process's
/proc entries (status, cmdline, cgroup; ns/mnt and exe links) and the libvirt
daemons' exe links. Artifact keys:
  file:<path>  stat:<path>  readlink:<path>  elf:<path>  stat_children:<dir>
  cmd:<command name>  domain:<name>:inactive|live
Hosts are collected concurrently; one failing host never stops the others.
A `connection: libvirt` host is read through the libvirt API instead (libvirt_api.py).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from hvconform.judge import engine
from hvconform.collect import libvirt_api
from hvconform.collect.batch import Batch
from hvconform.collect.redact import redact_artifact
from hvconform.model.snapshot import COLLECTED, ERROR, PARTIAL, Domain, Snapshot
from hvconform.collect.transport import TransportError, open_transport

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
    return [n.strip() for n in artifact.stdout.splitlines() if n.strip()] if artifact and artifact.ok else []


def second_round(snap: Snapshot, vm_needs=()) -> Batch:
    """Per-domain and per-process reads, and the catalog's `{vm}` needs, expanded."""
    batch = Batch()
    for command, arg in vm_needs:
        if _key(command, arg) not in snap.artifacts:
            _add_need(batch, command, arg)
    for d in snap.domains:
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


def _round(transport, batch: Batch, snap: Snapshot, timeout: float) -> None:
    started = time.time()
    result = transport.run(batch.script(), timeout)
    snap.round_trips += 1
    found = batch.parse(result.stdout, result.stderr, started)
    for artifact in found.values():
        redact_artifact(artifact)
        snap.add(artifact)
    if len(found) < len(batch):
        missing = [k for k, _ in batch.items if k not in found]
        raise TransportError(PARTIAL, f"{len(missing)} of {len(batch)} commands gave no result "
                             f"(first: {missing[0]}); rc={result.rc}: {result.stderr.strip()[-300:]}")


def collect_host(host, controls, policy: dict | None = None, accept_new_host_keys=False,
                 jump=None, overlay_policy: dict | None = None) -> tuple[Snapshot, list[dict]]:
    """Snapshot of one host for these controls, and the log of what was sent. Never raises.
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
        transport = open_transport(host, accept_new_host_keys, jump)
        snap.identity.update(transport.identity)
        _round(transport, first_round(engine.needs(controls, policy)), snap,
               host.ssh.command_timeout)
        running = set(_names(snap.get("cmd:virsh_list_running")))
        snap.domains = [Domain(n, n in running) for n in _names(snap.get("cmd:virsh_list_all"))]
        snap.qemu_pids = qemu_pids(snap.get("cmd:ps").stdout)
        batch = second_round(snap, engine.needs(controls, policy, [d.name for d in snap.domains]))
        if len(batch):
            _round(transport, batch, snap, host.ssh.command_timeout)
        snap.status = COLLECTED
    except TransportError as exc:
        # After a successful first round the snapshot is still worth judging.
        snap.status = PARTIAL if snap.round_trips and exc.status != ERROR else exc.status
        snap.error = str(exc)
    except Exception as exc:  # a bug here must not cost the other hosts their audit
        snap.status, snap.error = ERROR, f"{type(exc).__name__}: {exc}"
    finally:
        if transport is not None:
            transport.close()
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
    by_name = {h.name: h for h in (jump_hosts or hosts)}
    results = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts))))
    futures = {pool.submit(collect_host, h, catalog.controls, policy_for(h), accept_new_host_keys,
                           by_name.get(h.ssh.jump_host), getattr(catalog, "policy", None)): h
               for h in hosts}
    try:
        for future in as_completed(futures):
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
