"""Shards joined again: the bundles of one audit split with --shard K/N (or of plain
runs over disjoint hosts of one inventory), verified and laid out as one run whose
snapshots are all of theirs, to be judged once over every host.

    combined = combine(["s1/bundle.tar.gz", "s2/bundle.tar.gz"], "merged", Path("out"))
    combined.run          # a Run over every shard's snapshots, in the inventory's order
    combined.shards       # the manifest's `shards` entries: path, run, sha256, signer, hosts
    combined.waivers      # the shards' waivers file (bytes; the same in every shard) or None

hvconform.audit.merge() judges the run and writes the run folder. Refused, with one
line per problem (MergeError): a bundle that does not verify (or, with `pubkey`,
that another key signed), the same bundle or run given twice, a host in two
bundles, shards judged with different catalogs or taken from different
inventories, shards of different splits, differing waivers files, a host name
that is not a safe file name. Bundles are hostile input: every value read from
one is checked before it is used, and nothing is written outside the run folder.

Not refused: a shard that was interrupted (its `incomplete` goes into the merged
manifest) and a shard missing from a K/N split (its hosts, named by the shards'
common selection, become error snapshots saying so; the manifest's `incomplete`
lists the missing shards; a missing shard that holds none of the selected hosts
misses nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.deliver.merge_part import MergeError, Part, load_part
from hvconform.inputs import shard as shard_mod
from hvconform.model.run import Run
from hvconform.model.snapshot import ERROR, Snapshot

__all__ = ["MergeError", "Part", "Combined", "combine", "load_part"]


@dataclass
class Combined:
    run: Run
    parts: list[Part]
    sent: dict[str, list]
    waivers: bytes | None
    catalog_digest: str | None
    inventory_entry: dict | None
    missing_shards: list[str] = field(default_factory=list)   # labels, e.g. ["3/4"]
    overlays: list = field(default_factory=list)   # the shards' site overlays: [(path, bytes, member)]

    @property
    def shards(self) -> list[dict]:
        return [p.entry() for p in self.parts]

    @property
    def interrupted(self) -> str | None:
        """Why shards stopped early, each named: the merged run's `interrupted`."""
        said = [f"{p.label} ({p.path}): {p.incomplete['interrupted']}" for p in self.parts
                if p.incomplete and p.incomplete["interrupted"]]
        return "; ".join(said) or None

    def incomplete(self, merged: dict | None) -> dict | None:
        """The merged manifest's `incomplete`: the merged run's own (`merged`, from
        run_folder.incomplete: hosts not collected by any shard or held by a missing
        one), with the shards that were incomplete and the shards missing."""
        shards = [{"bundle": p.path, "shard": p.shard["label"] if p.shard else None, **p.incomplete}
                  for p in self.parts if p.incomplete]
        if not (merged or shards or self.missing_shards):
            return None
        return {**(merged or {"interrupted": None, "hosts_not_collected": [], "cases_not_judged": []}),
                "shards_incomplete": shards, "shards_missing": list(self.missing_shards)}


def combine(paths, run_id: str, run_dir: Path, pubkey: str | None = None,
            own_waivers: bool = False) -> Combined:
    """Verify and read every bundle, check they are parts of one audit, and return
    them as one run (not yet saved). MergeError lists every problem found.
    `own_waivers`: the merge applies a waivers file of its own, so the shards' may differ."""
    if not paths:
        raise MergeError(["no bundle given"])
    parts, errors = [], []
    for path in paths:
        try:
            parts.append(load_part(path, pubkey))
        except MergeError as exc:
            errors += exc.lines
    if errors:
        raise MergeError(errors)
    distinct = list({p.manifest_sha256: p for p in reversed(parts)}.values())[::-1]
    errors = (_duplicates(parts) + _overlaps(distinct) + _same("catalog", distinct, _catalog)
              + _same("inventory", distinct, _inventory_digest) + _same_split(distinct)
              + ([] if own_waivers else _same_waivers(distinct)) + _same_overlays(distinct))
    if errors:
        raise MergeError(errors)
    order, missing_hosts, missing_shards = _order(parts)
    snapshots, sent = {}, {}
    by_host = {h: p for p in parts for h in p.snapshots}
    started = min(p.started for p in parts)
    for name in order:
        if name in by_host:
            snapshots[name] = by_host[name].snapshots[name]
            sent[name] = by_host[name].sent.get(name, [])
        else:   # a host of a shard whose bundle was not given: an error, never dropped
            snapshots[name] = Snapshot(host=name, status=ERROR, started=started, finished=started,
                                       error=f"not audited: no bundle of shard {missing_hosts[name]} "
                                             f"was given to the merge")
            sent[name] = []
    run = Run(run_id, Path(run_dir), inventory=parts[0].inventory, started=started,
              accepted_new_host_keys=any(p.accepted_new_host_keys for p in parts),
              snapshots=snapshots)
    return Combined(run, parts, sent, parts[0].waivers, _catalog(parts[0]),
                    parts[0].manifest.get("inventory"), missing_shards, parts[0].overlays)


def _duplicates(parts: list[Part]) -> list[str]:
    errors, seen_manifest, seen_run = [], {}, {}
    for p in parts:
        if p.manifest_sha256 in seen_manifest:
            errors.append(f"{p.path}: the same bundle as {seen_manifest[p.manifest_sha256]} "
                          f"(given twice)")
            continue
        seen_manifest[p.manifest_sha256] = p.path
        if p.run_id in seen_run:
            errors.append(f"{p.path}: run {p.run_id} is also {seen_run[p.run_id]} (one run given twice)")
        seen_run.setdefault(p.run_id, p.path)
    return errors


def _overlaps(parts: list[Part]) -> list[str]:
    """A host in two bundles (the same bundle twice is said once, by _duplicates)."""
    errors, owner = [], {}
    for p in parts:
        for host in p.snapshots:
            if host in owner:
                errors.append(f"{p.path}: host {host} is also in {owner[host].path} "
                              f"({owner[host].label}); the shards overlap")
            else:
                owner[host] = p
    return errors


def _catalog(p: Part):
    return p.catalog_digest


def _inventory_digest(p: Part):
    inventory = p.manifest.get("inventory")
    return inventory.get("sha256") if isinstance(inventory, dict) else None


def _same(what: str, parts: list[Part], key) -> list[str]:
    values = {}
    for p in parts:
        values.setdefault(key(p), []).append(p.path)
    if len(values) < 2:
        return []
    shown = "; ".join(f"{k[:16] if k else 'none'}: {', '.join(v)}" for k, v in values.items())
    why = ("judged with different catalogs" if what == "catalog"
           else "taken from different inventory files")
    return [f"the bundles were {why} ({what} sha256 {shown}): merge only the parts of one audit"]


def _same_split(parts: list[Part]) -> list[str]:
    sharded = [p for p in parts if p.shard]
    if not sharded:
        return []
    if len(sharded) != len(parts):
        plain = [p.path for p in parts if not p.shard]
        return [f"{', '.join(plain)}: not a shard, but {sharded[0].path} is {sharded[0].label}: "
                f"merge the shards of one split, or plain runs, not both"]
    first, errors, seen = sharded[0].shard, [], {}
    buckets = {h: shard_mod.bucket(h, first["count"]) for h in first["selected"]}
    for p in sharded:
        if p.shard["count"] != first["count"] or p.shard["selected"] != first["selected"]:
            errors.append(f"{p.path}: {p.label} is not of the same split as {sharded[0].path} "
                          f"({sharded[0].label}): a different number of shards or host selection "
                          f"(inventory or --limit)")
            continue
        if p.shard["index"] in seen:
            errors.append(f"{p.path}: {p.label} is given twice (also {seen[p.shard['index']]})")
        seen.setdefault(p.shard["index"], p.path)
        own = [h for h in first["selected"] if buckets[h] == p.shard["index"]]
        if list(p.snapshots) != own:
            errors.append(f"{p.path}: {p.label} holds {', '.join(list(p.snapshots)[:5]) or 'no host'} "
                          f"but the split puts {', '.join(own[:5]) or 'no host'} there")
    return errors


def _same_waivers(parts: list[Part]) -> list[str]:
    """Every shard applied the same waivers file, or none did: differing waivers are
    refused, never merged (two approvals of one failure, or a waiver only one shard
    saw, would change verdicts silently); merge's --waivers replaces them all."""
    kinds = {}
    for p in parts:
        kinds.setdefault(bundle.sha256_bytes(p.waivers) if p.waivers is not None else None,
                         []).append(p.path)
    if len(kinds) < 2:
        return []
    shown = "; ".join(f"{(k[:12] if k else 'no waivers')}: {', '.join(v)}" for k, v in kinds.items())
    return [f"the bundles carry different waivers files ({shown}): give the merge one with "
            f"--waivers FILE, which replaces theirs"]


def _same_overlays(parts: list[Part]) -> list[str]:
    """Every shard was judged with the same site overlays (the same bytes, in the same
    order), or none: the merge judges with them again, as a replay does."""
    kinds = {}
    for p in parts:
        key = bundle.sha256_bytes(b"".join(bundle.sha256_bytes(t).encode() for _, t, _ in p.overlays))
        kinds.setdefault(key if p.overlays else None, []).append(p.path)
    if len(kinds) < 2:
        return []
    shown = "; ".join(f"{(k[:12] if k else 'no overlays')}: {', '.join(v)}" for k, v in kinds.items())
    return [f"the bundles were judged with different site overlays ({shown}): merge only the "
            f"parts of one audit"]


def _order(parts: list[Part]) -> tuple[list[str], dict[str, str], list[str]]:
    """The merged run's host order (the shards' common selection: the inventory's
    order, as a single run has it; else the bundles' order), the hosts no given
    shard holds (host -> the label of their shard) and the labels of the shards
    missing (those that would hold hosts)."""
    if not parts[0].shard:
        return [h for p in parts for h in p.snapshots], {}, []
    selected, count = parts[0].shard["selected"], parts[0].shard["count"]
    held = {h for p in parts for h in p.snapshots}
    missing = {h: shard_mod.bucket(h, count) for h in selected if h not in held}
    # a shard that holds none of the selected hosts is missing nothing
    return (list(selected), {h: f"{k}/{count}" for h, k in missing.items()},
            [f"{k}/{count}" for k in sorted(set(missing.values()))])
