"""Replay: a bundle's evidence, verified, laid out as a new run folder to judge again.

    loaded = load("old/bundle.tar.gz", "r2", Path("reports/r2"))
    loaded.run            # a Run whose snapshots are the bundle's; no host is contacted
    loaded.replayed       # where they came from (results.json run.replayed_from, ...)
    loaded.waivers_file   # the bundle's waivers, copied into the run folder, or None
    loaded.overlays       # the bundle's site overlays [(path, bytes, where)], to apply again
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.model.results import Replayed
from hvconform.model import snapshot
from hvconform.model.run import Run, overlay_files

WAIVERS_COPY = "waivers.yaml"


class ReplayError(Exception):
    """A bundle that cannot be replayed, with the reason."""


@dataclass
class Loaded:
    run: Run
    replayed: Replayed
    waivers_file: Path | None
    overlays: list = field(default_factory=list)


def verified(path, what: str = "bundle", pubkey: str | None = None) -> bundle.Report:
    """The verify report of a bundle; ReplayError listing the problems unless it is intact."""
    report = bundle.verify(path, pubkey)
    if not report.ok:
        raise ReplayError(f"{what} {path} does not verify:\n  "
                          + "\n  ".join(map(str, report.problems)))
    return report


def load(path, run_id: str, run_dir: Path, pubkey: str | None = None) -> Loaded:
    """Verify the bundle at `path` and write its evidence into `run_dir` as run `run_id`."""
    manifest = verified(path, "--replay", pubkey).manifest
    files = bundle.read(path)
    try:
        overlays = overlay_files(files)
    except ValueError as exc:
        raise ReplayError(f"--replay {path}: {exc}") from None
    meta = json.loads(files["run.json"])
    try:
        snaps = {h: snapshot.from_files(files, h) for h in meta["hosts"]}
    except snapshot.BlobError as exc:
        raise ReplayError(f"--replay {path}: {exc}") from None
    sent = {h: json.loads(files[f"sent/{h}.json"]) for h in meta["hosts"] if f"sent/{h}.json" in files}
    run = Run(run_id, Path(run_dir), inventory=meta["inventory"], started=meta["started"],
              accepted_new_host_keys=meta["accepted_new_host_keys"], snapshots=snaps)
    run.save(sent)
    replayed = Replayed(bundle=str(Path(path).resolve()), run_id=meta["id"],
                        catalog_digest=manifest.get("catalog_digest"),
                        inventory=manifest.get("inventory"))
    waivers_file = None
    if WAIVERS_COPY in files:
        waivers_file = Path(run_dir) / WAIVERS_COPY
        waivers_file.write_bytes(files[WAIVERS_COPY])
    return Loaded(run, replayed, waivers_file, overlays)
