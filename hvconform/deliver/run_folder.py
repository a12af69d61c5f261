"""Everything a run hands over, written into its folder once its verdicts are known:
results.json, the catalog it judged with, commands.tsv, the CSV and OSCAL exports,
the signed bundle and the auditor's report.html.

    paths = finish(run, doc, signer)        # doc: hvconform.model.results.document(...)

A pytest run calls it at the end of the session (fixtures/bundle.py); a replay, a
merge of shards or a script calls it the same way, without pytest.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.deliver.report import html as report_html
from hvconform.deliver.export import oscal, verdicts_csv
from hvconform.deliver.replay import WAIVERS_COPY
from hvconform.inputs import catalog as catalog_mod
from hvconform.model import results
from hvconform.model.snapshot import COLLECTED

REPORT = "report.html"


@dataclass
class Written:
    results: Path
    bundle: Path
    report: Path | None


def finish(run, doc: dict, signer: bundle.Signer, catalog=None, suites: Path = catalog_mod.SUITES,
           inventory_entry: dict | None = None, render_report: bool = True,
           timings: dict | None = None, manifest_extra: dict | None = None) -> Written:
    """Write the run's deliverables into run.run_dir and return their paths.
    `catalog` (the loaded one) lets the report show rationale and unjudged controls;
    `inventory_entry`: the manifest's inventory (a replay keeps the bundle's);
    `timings`: if given, gets the seconds each step took ("steps"; the bundle's also as
    "bundle"): the benchmark's breakdown; `manifest_extra`: more for the manifest, over
    what manifest_meta() says (a merge's shards and their incompleteness)."""
    run_dir = Path(run.run_dir)
    steps = {} if timings is None else timings.setdefault("steps", {})
    clock = _Clock(steps)
    written = clock("results.json", results.write, doc, run_dir / results.FILENAME)
    clock("catalog", write_catalog, run_dir / "catalog", suites)
    clock("commands.tsv", write_commands, run_dir)
    clock("results.csv", verdicts_csv.write, doc, run_dir / "results.csv")
    clock("oscal", oscal.write, doc, run_dir, run_dir / "assessment-results.json")
    meta = {**manifest_meta(run, doc, inventory_entry), **(manifest_extra or {})}
    path = clock("bundle", bundle.write, run_dir, meta, signer)
    if timings is not None:
        timings["bundle"] = steps["bundle"]
    html = (clock("report.html", report_html.write, written, run_dir / REPORT, catalog, doc)
            if render_report else None)
    return Written(written, path, html)


class _Clock:
    """Runs a step and notes the seconds it took (the benchmark's breakdown)."""

    def __init__(self, steps: dict):
        self.steps = steps

    def __call__(self, name, fn, *args):
        started = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.steps[name] = round(time.monotonic() - started, 2)


def write_catalog(dest: Path, suites: Path = catalog_mod.SUITES) -> None:
    """The controls.yaml files judged with, laid out so catalog.load(dest) works."""
    for domain in catalog_mod.DOMAINS:
        src = suites / domain / "controls.yaml"
        if src.exists():
            (dest / domain).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / domain / "controls.yaml")


def write_commands(run_dir: Path) -> None:
    """commands.tsv: every command line sent, when, and its exit code (from the
    snapshot's artifact; '-' when it gave no result, e.g. the host timed out)."""
    rows = ["host\tsent_at\tcollected_at\trc\tbatch_rc\tcommand"]
    for sent_file in sorted((run_dir / "sent").glob("*.json")):
        host = sent_file.stem
        snap_file = run_dir / "snapshots" / f"{host}.json"
        artifacts = (json.loads(snap_file.read_text()).get("artifacts", {})
                     if snap_file.exists() else {})
        by_source = {}
        for a in artifacts.values():
            by_source.setdefault(a["source"], a)
        for batch in json.loads(sent_file.read_text()):
            # the batch's cells once, not for each of its ~250 commands
            sent = f"{_cell(host)}\t{_cell(batch['sent_at'])}\t"
            batch_rc = _cell(batch["rc"] if batch["rc"] is not None else "-")
            for line in batch["commands"]:
                a = by_source.get(line)
                done = f"{_cell(a['collected_at'])}\t{_cell(a['rc'])}" if a else "-\t-"
                rows.append(f"{sent}{done}\t{batch_rc}\t{_cell(line)}")
    (run_dir / "commands.tsv").write_text("\n".join(rows) + "\n")


def _cell(value) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def manifest_meta(run, doc: dict, inventory_entry: dict | None = None) -> dict:
    """What the bundle's manifest says about the run besides its files."""
    inventory = inventory_entry or {"path": run.inventory,
                                    "sha256": bundle.file_digest(run.inventory)}
    return {"run": run.run_id, "tool": doc["tool"],
            "catalog_digest": doc["tool"]["catalog_digest"],
            # the inventory file's digest: it holds paths to keys, never key material
            "inventory": inventory,
            "hosts": [{"name": s.host, "status": s.status, "error": s.error,
                       "identity": s.identity} for s in run.snapshots.values()],
            "replayed_from": doc["run"]["replayed_from"],
            "waivers": WAIVERS_COPY if doc["waivers"]["file"] else None,
            # the site overlays judged with; their bytes are overlays/<n>.yaml, listed in files
            "overlays": [{"path": o["path"], "name": o["name"], "sha256": o["sha256"]}
                         for o in (doc.get("catalog") or {}).get("overlays", [])],
            "incomplete": incomplete(run, doc),
            # a shard run: its share and the selection it is a share of (inputs/shard.py)
            "shard": getattr(run, "shard", None)}


def incomplete(run, doc: dict) -> dict | None:
    """The manifest's `incomplete`: why the run stopped early, the hosts not
    collected and the cases not judged; None for a whole run."""
    not_collected = [{"name": s.host, "status": s.status, "error": s.error}
                     for s in run.snapshots.values() if s.status != COLLECTED]
    if not (doc["run"]["interrupted"] or doc["run"]["not_judged"] or not_collected):
        return None
    return {"interrupted": doc["run"]["interrupted"], "hosts_not_collected": not_collected,
            "cases_not_judged": doc["run"]["not_judged"]}
