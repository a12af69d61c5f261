"""`python -m hvconform audit --inventory INV [...]`: the audit without pytest, for fleets.

The same run as `pytest --inventory INV`: the same collection, cases, records (test
ids included), waivers and run folder (results.json, junit.xml, report.html, the
exports and the signed bundle), written by hvconform.audit and
hvconform.deliver.run_folder. What it leaves out is pytest itself: one test item per
case costs pytest ~0.6 ms and memory of its own, which at a thousand hosts (~220,000
cases) is most of the run (bench/README.md). pytest stays the front end for -k, -m,
xdist, --replay, --baseline and plugins; this one is for large inventories.

Exit codes as pytest's: 0 every verdict passed (or was not applicable, manual or
waived), 1 a control failed or errored, 2 interrupted, 4 a usage error (a bad
inventory, waivers file, profile or key: one located message, no traceback).
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hvconform import audit
from hvconform.cli.progress import Progress, printable
from hvconform.model.terminal import status_counts
from hvconform.collect.collector import INTERRUPTED, Interrupted, collect_all
from hvconform.deliver import bundle, replay, run_folder
from hvconform.deliver.export import junit
from hvconform.inputs import inventory as inventory_mod
from hvconform.inputs import profiles as profiles_mod
from hvconform.inputs import shard as shard_mod
from hvconform.inputs import waivers as waivers_mod
from hvconform.judge import tailoring
from hvconform.judge.fleet.reconcile import reconcile, summary as vm_summary
from hvconform.model import identity, results
from hvconform.model import safe_names
from hvconform.model.run import Run, RunIdTaken, claim, save_overlays

HELP = "audit an inventory without pytest (large fleets): the same run folder as pytest's"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAX_CONNECTIONS = 32
# exit codes, as pytest's
OK, FINDINGS, INTERRUPTED_EXIT, USAGE = 0, 1, 2, 4


def add_arguments(parser) -> None:
    parser.add_argument("--inventory", required=True, help="inventory YAML of the hosts to audit")
    parser.add_argument("--limit", default=None,
                        help="comma-separated host or group names from the inventory (default: all)")
    parser.add_argument("--profile", action="append", default=[], metavar="NAME",
                        help="judge only the controls of this profile (suites/profiles.yaml); "
                             "repeat for a union")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS, metavar="N",
                        help=f"hosts collected at once (default {DEFAULT_MAX_CONNECTIONS}); "
                             "each is one SSH connection (two through a jump host)")
    parser.add_argument("--run-id", default=None, help="name of the run folder (default: time-based)")
    parser.add_argument("--reports-dir", type=Path, default=ROOT / "reports",
                        help="where run folders are written (default: reports/)")
    parser.add_argument("--waivers", type=Path, default=None, metavar="PATH",
                        help="YAML file of waivers (hvconform/inputs/waivers.py)")
    parser.add_argument("--bundle-key", default=None, metavar="PATH",
                        help="the auditor's Ed25519 private key that signs the bundle "
                             f"(default: ${bundle.KEY_ENV}, else a key made for this run)")
    parser.add_argument("--overlay", action="append", default=[], metavar="PATH",
                        help="a site overlay (hvconform/inputs/overlay.py), repeatable; replaces "
                             "the inventory's `overlays:`")
    parser.add_argument("--no-overlay", action="store_true",
                        help="apply no overlay, not even the inventory's")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="audit the K-th of N stable shares of the hosts (by host name; "
                             "default: $JOB_COMPLETION_INDEX of $JOB_COMPLETIONS when set); "
                             "merge the shards' bundles with `python -m hvconform merge`")
    parser.add_argument("--accept-new-host-keys", action="store_true",
                        help="accept SSH host keys missing from known_hosts (recorded and shown "
                             "in the report as unverified); default is to refuse them")


class UsageError(Exception):
    pass


@dataclass
class Outcome:
    """What `execute` did: its exit code, the deliverables and the time each phase took."""

    code: int
    run_dir: Path | None = None
    written: run_folder.Written | None = None
    results: dict | None = None
    timings: dict = field(default_factory=dict)   # collect, judge, report, bundle (seconds)


def run(args) -> int:
    return execute(args).code


def execute(args, out=None) -> Outcome:
    out = out or sys.stderr
    try:
        return _audit(args, out)
    except UsageError as exc:
        out.write(f"error: {exc}\n")
        return Outcome(USAGE)


def _prepare(args):
    if args.max_connections < 1:
        raise UsageError("--max-connections: at least 1")
    try:
        inv = inventory_mod.load(args.inventory)
        selected = inventory_mod.select(inv, args.limit)
        shard = shard_mod.resolve(args.shard, os.environ)
    except inventory_mod.InventoryError as exc:
        raise UsageError(str(exc)) from None
    except shard_mod.ShardError as exc:
        raise UsageError(str(exc)) from None
    hosts = shard_mod.select(selected, shard)   # --limit first, then the shard
    args.shard_record = shard.record([h.name for h in selected]) if shard else None
    # the catalog with the site's overlays, chosen as pytest chooses them (fixtures/targets.py)
    if args.no_overlay:
        sources = []
    elif args.overlay:
        sources = [(str(path), None, None) for path in args.overlay]
    else:
        sources = [(str(path), None, None) for path in getattr(inv, "overlays", None) or ()]
    try:
        catalog = tailoring.load(sources)
    except tailoring.OverlayError as exc:
        raise UsageError(f"invalid overlay:\n{exc}") from None
    policies = {str(inv.path): inv.policy,
                **{f"{h.source or h.name} (host {h.name})": h.policy for h in inv.hosts if h.policy}}
    conflicts = tailoring.policy_conflicts(catalog, policies)
    if conflicts:
        raise UsageError("policy set twice:\n" + "\n".join(conflicts))
    only = None
    if args.profile:
        try:
            only = profiles_mod.select(catalog, args.profile)
        except profiles_mod.ProfileError as exc:
            raise UsageError(f"--profile: {exc}") from None
    try:
        signer = bundle.signer_from(args.bundle_key or os.environ.get(bundle.KEY_ENV))
    except bundle.BundleError as exc:
        raise UsageError(f"--bundle-key: {exc}") from None
    waivers = []
    if args.waivers:
        try:
            waivers = waivers_mod.load(args.waivers)
        except waivers_mod.WaiverError as exc:
            raise UsageError(f"--waivers: invalid waivers file:\n{exc}") from None
    return inv, hosts, catalog, only, signer, waivers


def _audit(args, out) -> Outcome:
    inv, hosts, catalog, only, signer, waivers = _prepare(args)
    try:   # a fresh folder, claimed atomically: a run id in use or used before is refused
        run_id, run_dir = claim(Path(args.reports_dir).resolve(), args.run_id)
    except (RunIdTaken, safe_names.UnsafeName, OSError) as exc:
        raise UsageError(f"--run-id: {exc}") from None
    save_overlays(run_dir, [(a.path, a.text) for a in catalog.overlays])
    if args.waivers:
        shutil.copyfile(args.waivers, run_dir / replay.WAIVERS_COPY)
    tty = out.isatty() if hasattr(out, "isatty") else False
    outcome = Outcome(OK, run_dir)
    t = outcome.timings

    started_at, cpu = time.monotonic(), time.process_time()
    run, interrupted = _collect(args, inv, hosts, catalog, run_id, run_dir, out, tty)
    t["collect"] = time.monotonic() - started_at
    t["collect_cpu"], cpu = time.process_time() - cpu, time.process_time()

    with audit.few_full_collections():   # the snapshots and then the records live to the end
        mark = time.monotonic()
        judging = Progress(len(hosts), "hosts", "judged", out.write, tty, details_up_to=0)
        extras = results.Extras(profile=",".join(args.profile) or None, interrupted=interrupted,
                                waivers_file=str(args.waivers) if args.waivers else None,
                                vm_reconciliation=reconcile(run.snapshots))
        def judged(host):
            # the host's snapshot is in the run folder (snapshots/, blobs/) and its cases
            # are judged: free its artifacts (~0.5 MB a host) rather than hold every host's
            if host in run.snapshots:
                run.snapshots[host].artifacts = {}
            judging.item()
        doc = audit.judge_run(run, catalog, waivers, extras, only=only, on_host=judged)
        judging.close()
        t["judge"] = time.monotonic() - mark
        t["judge_cpu"], cpu = time.process_time() - cpu, time.process_time()

        mark = time.monotonic()
        junit.write(doc, run_dir / "junit.xml", seconds=mark - started_at)
        outcome.written = run_folder.finish(run, doc, signer, catalog, timings=t)
        t["report"] = time.monotonic() - mark - t.get("bundle", 0.0)
        t["report_and_bundle_cpu"] = time.process_time() - cpu
    outcome.results = doc
    _summary(doc, outcome.written, out)
    statuses = Counter(r["status"] for r in doc["verdicts"])
    if doc["run"]["interrupted"]:
        outcome.code = INTERRUPTED_EXIT
    elif statuses["fail"] or statuses["error"]:
        outcome.code = FINDINGS
    return outcome


class _Settling:
    """While hosts are collected, the snapshots of those done pile up, and each full
    collection walked them all again (quadratic: 4.9 s of CPU at 1,000 hosts). Every
    EVERY hosts done, garbage is collected and what is left frozen, so later full
    collections walk only what came after. What was frozen of a connection still
    running (at most --max-connections of them) waits for close(), which unfreezes."""

    EVERY = 100

    def __init__(self):
        self.done = 0

    def after(self, on_done):
        def done(snap):   # collect_all calls it from its own (the main) thread
            on_done(snap)
            self.done += 1
            if self.done % self.EVERY == 0:
                gc.collect()
                gc.freeze()
        return done

    def close(self) -> None:
        gc.unfreeze()


def _collect(args, inv, hosts, catalog, run_id, run_dir, out, tty):
    accept = args.accept_new_host_keys
    how = " (an Ansible inventory, read by ansible-inventory)" if inv.format == "ansible" else ""
    out.write(f"hvconform: collecting {len(hosts)} host(s) from {args.inventory}{how}, "
              f"{min(args.max_connections, len(hosts))} at a time"
              + (" (ACCEPTING UNKNOWN HOST KEYS)" if accept else "") + "\n")
    progress = Progress(len(hosts), "hosts", "collected", out.write, tty)
    settling = _Settling()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    interrupted = None
    try:
        # an Ansible host may carry its own hvconform_policy (group or host vars), as in pytest
        collected = collect_all(hosts, catalog, lambda h: {**inv.policy, **h.policy}, accept,
                                settling.after(lambda snap: progress.item(*host_line(snap))),
                                workers=args.max_connections, jump_hosts=inv.hosts)
    except Interrupted as stop:
        collected = stop.results
        interrupted = "interrupted while collecting (Ctrl-C)"
        out.write(f"\nhvconform: {interrupted}; hosts not collected: "
                  + ", ".join(n for n, (s, _) in collected.items() if s.error == INTERRUPTED) + "\n")
    finally:
        settling.close()
    progress.close()
    run = Run(run_id, run_dir, inventory=str(args.inventory), started=started,
              accepted_new_host_keys=accept,
              snapshots={name: snap for name, (snap, _) in collected.items()},
              shard=getattr(args, "shard_record", None))
    run.save({name: sent for name, (_, sent) in collected.items()})
    return run, interrupted


def host_line(snap) -> tuple[str, bool]:
    """The progress detail of one collected host, and whether it is a problem."""
    if snap.error:
        return f"  {snap.host}: {snap.status}: {printable(snap.error)}", True
    return (f"  {snap.host}: ok, {len(snap.artifacts)} artifacts, {len(snap.domains)} "
            f"domain(s), {snap.round_trips} round trips"), False


def _summary(doc: dict, written, out, per_host_up_to: int = 50) -> None:
    per_host: dict[str, Counter] = {}
    for rec in doc["verdicts"]:
        per_host.setdefault(rec["host"], Counter())[rec["status"]] += 1
    hosts = doc["hosts"]
    if len(hosts) <= per_host_up_to:
        for h in hosts:
            out.write(f"{h['name']}: {status_counts(per_host.get(h['name'], Counter()))}"
                      + ("" if h["status"] == "collected"
                         else f"  [{h['status']}: {printable(h['error'])}]") + "\n")
    else:
        total = Counter(r["status"] for r in doc["verdicts"])
        by_status = Counter(h["status"] for h in hosts)
        out.write(f"{len(hosts)} hosts ({', '.join(f'{n} {s}' for s, n in by_status.most_common())}): "
                  f"{status_counts(total)}\n")
        for h in hosts:
            if h["status"] != "collected":
                out.write(f"  {h['name']}: {h['status']}: {printable(h['error'])}\n")
    conflicts = doc.get("identity_conflicts") or []
    for c in conflicts[:20]:   # hosts that are one machine, or clones (model/identity.py)
        out.write(printable(f"IDENTITY CONFLICT: {identity.describe(c)}", None) + "\n")
    if len(conflicts) > 20:
        out.write(f"... and {len(conflicts) - 20} more identity conflicts (results.json)\n")
    findings = [r for r in doc["verdicts"] if "vms" in r and r["status"] == "fail"]
    if any("vms" in r for r in doc["verdicts"]):
        out.write(f"isolation across the inventory: {len(findings)} finding(s) "
                  f"in {len({r['control'] for r in findings})} control(s)\n")
    vm_lines = vm_summary(doc.get("inventory", {}).get("vms", []))
    for line in vm_lines[:per_host_up_to]:
        out.write(printable(line) + "\n")
    if len(vm_lines) > per_host_up_to:
        out.write(f"... and {len(vm_lines) - per_host_up_to} more (results.json inventory.vms)\n")
    if doc["run"]["interrupted"]:
        out.write(f"INCOMPLETE: {doc['run']['interrupted']}; {len(doc['run']['not_judged'])} "
                  "case(s) not judged (listed in results.json)\n")
    out.write(f"results: {written.results}\n")
    out.write(f"bundle:  {written.bundle} (verify: python -m hvconform verify {written.bundle})\n")
    if written.report:
        out.write(f"report:  {written.report}\n")

