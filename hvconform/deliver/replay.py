"""Replay: a bundle's evidence, verified, laid out as a new run folder to judge again.

    loaded = load("old/bundle.tar.gz", "r2", Path("reports/r2"))
    loaded.run            # a Run whose snapshots are the bundle's; no host is contacted
    loaded.replayed       # where they came from (results.json run.replayed_from, ...)
    loaded.waivers_file   # the bundle's waivers, copied into the run folder, or None
    loaded.overlays       # the bundle's site overlays [(path, bytes, where)], to apply again
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hvconform.deliver import bundle, replay_checks
from hvconform.model.results import Replayed
from hvconform.model.run import Run, overlay_files
from hvconform.model.snapshot import bundle_blobs

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
    """Verify the bundle at `path` and write its evidence into `run_dir` as run `run_id`.

    `pubkey` (an OpenSSH line): the key the bundle must be signed with; without it a
    bundle re-signed by anyone verifies. Nothing in the bundle names a path: host
    names go through hvconform.model.safe_names and every file is written below
    `run_dir` (Run.save), so a crafted run.json cannot write anywhere else."""
    manifest = verified(path, "--replay", pubkey).manifest
    try:
        files = bundle.read(path)
        overlays = overlay_files(files)
        meta = replay_checks.run_meta(files)
        blobs = bundle_blobs(files)                  # one text per blob, for every host
        snaps = {h: replay_checks.snapshot(files, h, blobs) for h in meta["hosts"]}
        sent = {h: replay_checks.sent_log(files, h) for h in meta["hosts"]}
    except (bundle.BundleError, replay_checks.BadMember, ValueError) as exc:
        raise ReplayError(oneline(f"--replay {path}: {exc}")) from None
    run = Run(run_id, Path(run_dir), inventory=meta["inventory"], started=meta["started"],
              accepted_new_host_keys=meta["accepted_new_host_keys"], snapshots=snaps)
    run.save(sent)
    inventory = manifest.get("inventory")
    replayed = Replayed(bundle=str(Path(path).resolve()), run_id=meta["id"],
                        catalog_digest=_text_or_none(manifest.get("catalog_digest")),
                        inventory=inventory if isinstance(inventory, dict) else None)
    waivers_file = None
    if WAIVERS_COPY in files:
        waivers_file = Path(run_dir) / WAIVERS_COPY
        waivers_file.write_bytes(files[WAIVERS_COPY])
    return Loaded(run, replayed, waivers_file, overlays)


def oneline(text: str) -> str:
    """An error text with the control characters a bundle may carry (newlines, terminal
    escapes) shown escaped, so it stays one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _text_or_none(value):
    return value if isinstance(value, str) else None
