"""The audit without pytest: snapshots in, results.json and the run folder out.

    doc = judge_run(run, catalog)                          # every case, as results.json
    written = rejudge("old/bundle.tar.gz", Path("out"))    # a bundle judged again, offline

The catalog of rejudge is ours with the bundle's site overlays applied again
(hvconform.judge.tailoring), unless `overlays` names others ([] for none).

pytest is the auditor's front end (conftest.py, fixtures/); these functions are the
same steps for a script, a merge of shards or a re-render, and give the same
records, test ids included.
"""

from __future__ import annotations

from pathlib import Path

from hvconform.deliver import bundle, replay, run_folder
from hvconform.inputs import waivers as waivers_mod
from hvconform.judge import tailoring
from hvconform.judge.cases import Cases
from hvconform.judge.fleet.reconcile import reconcile
from hvconform.model import results
from hvconform.model.run import claim, save_overlays


def judge_run(run, catalog, waivers=(), extras: results.Extras | None = None) -> dict:
    """results.json of `run` (hvconform.model.run.Run): every case judged, waivers applied."""
    cases = Cases(run.snapshots, catalog, list(waivers), waivers_mod.as_of_date(run.started))
    records = [cases.record(case) for case in cases.all()]
    extras = extras or results.Extras()
    extras.overlays = [a.as_dict() for a in getattr(catalog, "overlays", [])]
    extras.unmatched_waivers = waivers_mod.unmatched(waivers, records, {c.id for c in catalog.controls})
    if extras.vm_reconciliation is None:
        extras.vm_reconciliation = reconcile(run.snapshots)
    return results.document(run, catalog.digest, records, extras)


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
    doc = judge_run(loaded.run, catalog, waivers,
                    results.Extras(replayed=loaded.replayed, waivers_file=waivers_file))
    return run_folder.finish(loaded.run, doc, signer or bundle.signer_from(None), catalog,
                             inventory_entry=loaded.replayed.inventory)
