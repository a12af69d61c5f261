"""The audit without pytest: snapshots in, results.json and the run folder out.

    doc = judge_run(run, catalog)                          # every case, as results.json
    written = rejudge("old/bundle.tar.gz", Path("out"))    # a bundle judged again, offline
    merged = merge(["s1/bundle.tar.gz", "s2/bundle.tar.gz"], Path("out"))   # shards joined

The catalog of rejudge is ours with the bundle's site overlays applied again
(hvconform.judge.tailoring), unless `overlays` names others ([] for none).

pytest is the auditor's front end (conftest.py, fixtures/); these functions are the
same steps for a script, a merge of shards or a re-render, and give the same
records, test ids included.
"""

from __future__ import annotations

import gc
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hvconform.deliver import bundle, replay, run_folder
from hvconform.deliver import merge as merge_mod
from hvconform.inputs import waivers as waivers_mod
from hvconform.judge import tailoring
from hvconform.judge.cases import Cases, test_id
from hvconform.judge.fleet.reconcile import reconcile
from hvconform.model import results
from hvconform.model.run import claim, new_run_id, save_overlays


def judge_run(run, catalog, waivers=(), extras: results.Extras | None = None,
              only: set[str] | None = None, on_host=None) -> dict:
    """results.json of `run` (hvconform.model.run.Run): every case judged, waivers applied.
    `only`: the control ids to judge (a --profile), default all; `on_host(name)`: called
    as each host's cases are judged (progress). Ctrl-C while judging ends it early:
    results.json then says so and names the cases not judged."""
    cases = Cases(run.snapshots, catalog, list(waivers), waivers_mod.as_of_date(run.started))
    extras = extras or results.Extras()
    with few_full_collections():   # the snapshots, and then the records, live to the end
        records, not_judged = judge_by_host(cases, only, on_host)
    if not_judged:
        extras.interrupted = extras.interrupted or "interrupted while judging (Ctrl-C)"
        extras.not_judged = sorted(set(extras.not_judged) | set(not_judged))
    extras.overlays = [a.as_dict() for a in getattr(catalog, "overlays", [])]
    extras.unmatched_waivers = waivers_mod.unmatched(waivers, records, {c.id for c in catalog.controls})
    if extras.vm_reconciliation is None:
        extras.vm_reconciliation = reconcile(run.snapshots)
    return results.document(run, catalog.digest, records, extras)


_threshold = []   # the collector's thresholds before few_full_collections(), while it holds


@contextmanager
def few_full_collections():
    """Judging and writing the run folder build records that live to the end of the run
    and make next to no garbage cycles, yet each of Python's full collections walked
    every object built so far, the loaded snapshots included: a 1,000-host audit spent
    9.8 s of its 116 s of CPU in 21 of them, which found nothing after collection, and
    judging alone grew faster than the hosts for it (bench/README.md). So what is there
    is moved out of the collector's sight (gc.freeze), and a full collection waits for
    1,000 younger ones, not 10; the young generations still run, and objects are still
    freed when their last reference goes (the judged hosts' artifacts are). judge_run
    holds it, and around judging and writing the run folder the fleet front end,
    rejudge and merge; nested, only the outermost acts, so an inner one does not
    unfreeze what the outer froze."""
    if _threshold:
        yield
        return
    _threshold.append(gc.get_threshold())
    gc.collect()
    gc.freeze()
    gc.set_threshold(_threshold[0][0], _threshold[0][1], 1000)
    try:
        yield
    finally:
        gc.set_threshold(*_threshold.pop())
        gc.unfreeze()


def judge_by_host(cases: Cases, only: set[str] | None = None, on_host=None):
    """(records, test ids not judged) of every case: the inventory-wide cases first
    (they read every host), then one host after another, so that a host's artifacts
    are read together (parse caches stay small) and, once `on_host(name)` has been
    called, are not read again (the fleet front end frees them there). The records'
    order does not matter: results.document sorts them."""
    order = {host: i for i, host in enumerate(cases.snapshots)}
    chosen = [c for c in cases.all() if only is None or c.control_id in only]
    chosen.sort(key=lambda c: (c.outcome is None, order.get(c.host, len(order))))
    records = []
    try:
        for i, case in enumerate(chosen):
            records.append(cases.record(case))
            last = i + 1 == len(chosen) or chosen[i + 1].host != case.host
            if on_host and case.outcome is None and last:
                on_host(case.host)
    except KeyboardInterrupt:
        judged = len(records)
        return records, [test_id(cases.catalog.by_id(c.control_id), c.id) for c in chosen[judged:]]
    return records, []


def rejudge(bundle_path, out_dir: Path, run_id: str | None = None, pubkey: str | None = None,
            signer: bundle.Signer | None = None, overlays=None) -> run_folder.Written:
    """Verify a bundle, judge its snapshots with this catalog, its own waivers and its
    site overlays (or the overlay files `overlays` names), and write a new run folder
    `out_dir/<run_id>` (results.json, exports, bundle, report). A bad overlay raises
    tailoring.OverlayError, located; the overlays' policy values win over the bundle's.
    The folder is claimed (hvconform.model.run.claim): a run id already there is refused."""
    run_id, run_dir = claim(Path(out_dir), run_id)
    loaded = replay.load(bundle_path, run_id, run_dir, pubkey)
    if overlays is None:
        sources = [(path, text, f"{bundle_path}:{where}") for path, text, where in loaded.overlays]
    else:
        sources = [(str(path), None, None) for path in overlays]
    catalog = tailoring.load(sources)
    save_overlays(loaded.run.run_dir, [(a.path, a.text) for a in catalog.overlays])
    waivers, waivers_file = [], None
    if loaded.waivers_file:
        waivers = waivers_mod.load(loaded.waivers_file, f"{bundle_path}:{replay.WAIVERS_COPY}")
        waivers_file = f"{bundle_path}:{replay.WAIVERS_COPY}"
    with few_full_collections():   # as the fleet front end: judging and writing the run folder
        doc = judge_run(loaded.run, catalog, waivers,
                        results.Extras(replayed=loaded.replayed, waivers_file=waivers_file))
        return run_folder.finish(loaded.run, doc, signer or bundle.signer_from(None), catalog,
                                 inventory_entry=loaded.replayed.inventory)


@dataclass
class MergedRun:
    written: run_folder.Written
    results: dict               # the merged results.json
    incomplete: dict | None     # the merged manifest's `incomplete` (None: whole)


def merge(bundle_paths, run_dir: Path, run_id: str | None = None, pubkey: str | None = None,
          signer: bundle.Signer | None = None, waivers_path=None, catalog=None,
          render_report: bool = True) -> MergedRun:
    """Verify the shards' bundles, join their snapshots into one run in `run_dir`
    (which must be empty or absent), judge every case over all of them (so the
    inventory-wide analyses see every host) and write the run folder. Waivers: the
    shards' own file (the same in each, else MergeError), or `waivers_path`
    instead. `catalog`: the loaded one to judge with (default: this checkout's, with
    the shards' site overlays, which must be the same in each). Raises
    merge.MergeError (nothing written), waivers.WaiverError or tailoring.OverlayError."""
    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise merge_mod.MergeError([f"{run_dir}: exists and is not an empty folder; "
                                    f"the merged run needs a folder of its own"])
    waivers = waivers_mod.load(waivers_path) if waivers_path else []   # its errors before any work
    combined = merge_mod.combine(bundle_paths, run_id or new_run_id(), run_dir, pubkey,
                                 own_waivers=bool(waivers_path))
    waivers_text, waivers_file = None, None
    if waivers_path:
        waivers_text, waivers_file = Path(waivers_path).read_bytes(), str(waivers_path)
    elif combined.waivers is not None:   # checked before anything is written
        waivers_text = combined.waivers
        waivers_file = f"{combined.parts[0].path}:{replay.WAIVERS_COPY}"
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / replay.WAIVERS_COPY).write_bytes(waivers_text)
            waivers = waivers_mod.load(Path(tmp) / replay.WAIVERS_COPY, waivers_file)
    # this checkout's catalog with the shards' site overlays applied again, as a replay does
    catalog = catalog or tailoring.load([(path, text, f"{combined.parts[0].path}:{where}")
                                         for path, text, where in combined.overlays])
    combined.run.save(combined.sent)
    save_overlays(run_dir, [(a.path, a.text) for a in getattr(catalog, "overlays", [])])
    if waivers_text is not None:
        (run_dir / replay.WAIVERS_COPY).write_bytes(waivers_text)
    with few_full_collections():   # as the fleet front end: judging and writing the run folder
        doc = judge_run(combined.run, catalog, waivers, results.Extras(
            interrupted=combined.interrupted, waivers_file=waivers_file,
            merged=results.Merged(combined.shards, combined.catalog_digest)))
        incomplete = combined.incomplete(run_folder.incomplete(combined.run, doc))
        written = run_folder.finish(combined.run, doc, signer or bundle.signer_from(None), catalog,
                                    inventory_entry=combined.inventory_entry, render_report=render_report,
                                    manifest_extra={"shards": combined.shards, "incomplete": incomplete})
    return MergedRun(written, doc, incomplete)
