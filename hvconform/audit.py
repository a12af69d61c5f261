"""The audit without pytest: snapshots in, results.json and the run folder out.

    doc = judge_run(run, catalog)                          # every case, as results.json
    written = rejudge("old/bundle.tar.gz", Path("out"))    # a bundle judged again, offline

pytest is the auditor's front end (conftest.py, fixtures/); these functions are the
same steps for a script, a merge of shards or a re-render, and give the same
records, test ids included.
"""

from __future__ import annotations

from pathlib import Path

from hvconform.deliver import bundle, replay, run_folder
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import waivers as waivers_mod
from hvconform.judge.cases import Cases, test_id
from hvconform.judge.fleet.reconcile import reconcile
from hvconform.model import results
from hvconform.model.run import new_run_id


def judge_run(run, catalog, waivers=(), extras: results.Extras | None = None,
              only: set[str] | None = None, on_host=None) -> dict:
    """results.json of `run` (hvconform.model.run.Run): every case judged, waivers applied.
    `only`: the control ids to judge (a --profile), default all; `on_host(name)`: called
    as each host's cases are judged (progress). Ctrl-C while judging ends it early:
    results.json then says so and names the cases not judged."""
    cases = Cases(run.snapshots, catalog, list(waivers), waivers_mod.as_of_date(run.started))
    extras = extras or results.Extras()
    records, not_judged = judge_by_host(cases, only, on_host)
    if not_judged:
        extras.interrupted = extras.interrupted or "interrupted while judging (Ctrl-C)"
        extras.not_judged = sorted(set(extras.not_judged) | set(not_judged))
    extras.unmatched_waivers = waivers_mod.unmatched(waivers, records, {c.id for c in catalog.controls})
    if extras.vm_reconciliation is None:
        extras.vm_reconciliation = reconcile(run.snapshots)
    return results.document(run, catalog.digest, records, extras)


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
            signer: bundle.Signer | None = None) -> run_folder.Written:
    """Verify a bundle, judge its snapshots with this catalog and its own waivers, and
    write a new run folder `out_dir/<run_id>` (results.json, exports, bundle, report)."""
    run_id = run_id or new_run_id()
    loaded = replay.load(bundle_path, run_id, Path(out_dir) / run_id, pubkey)
    waivers, waivers_file = [], None
    if loaded.waivers_file:
        waivers = waivers_mod.load(loaded.waivers_file, f"{bundle_path}:{replay.WAIVERS_COPY}")
        waivers_file = f"{bundle_path}:{replay.WAIVERS_COPY}"
    catalog = catalog_mod.load()
    doc = judge_run(loaded.run, catalog, waivers,
                    results.Extras(replayed=loaded.replayed, waivers_file=waivers_file))
    return run_folder.finish(loaded.run, doc, signer or bundle.signer_from(None), catalog,
                             inventory_entry=loaded.replayed.inventory)
