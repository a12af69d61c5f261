"""A site's overlays applied to the catalog: its controls added, ours tailored, its policy.

    cat = load([("inventories/site-overlay.example.yaml", None)])   # OverlayError, located
    cat.overlays[0].as_dict()      # results.json catalog.overlays[0]: path, sha256, added, tailored
    excluded(cat.by_id("HOST-020"))   # its not_applicable verdict ("tailored out: ...")

Overlays apply in the order given: a later one may tailor an earlier one's control, never
redefine one, and two that set one policy key differently are an error, not an order to
remember. So is an inventory that sets a key an overlay sets (policy_conflicts, before
collecting); in a replay, the overlays' values win over those the bundle's snapshots
recorded (its inventory's, with the defaults when it was recorded by tests/data/record_lab.py). The catalog's digest covers the overlays' bytes (catalog.digest_with_overlays),
so a replay with other overlays says its catalog changed.

An excluded control is still collected: the evidence stays in the bundle, so a replay
without the tailoring judges it. Its verdict is not_applicable, saying who approved it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import inventory_schema as rules
from hvconform.inputs import overlay as overlay_mod
from hvconform.inputs.overlay import OverlayError
from hvconform.judge import site_cases
from hvconform.model import verdict as v


@dataclass(frozen=True)
class Applied:
    """What one overlay did to the catalog, as results.json and the manifest record it."""

    path: str
    name: str
    sha256: str
    text: bytes
    added: tuple = ()       # ids of its controls
    tailored: tuple = ()    # one dict per tailored control (as Control.tailoring)
    policy: dict = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"path": self.path, "name": self.name, "sha256": self.sha256,
                "added": list(self.added), "tailored": [dict(t) for t in self.tailored],
                "policy": dict(self.policy)}


def load(sources, base: catalog_mod.Catalog | None = None) -> catalog_mod.Catalog:
    """The catalog (ours unless `base`) with the overlays of `sources` applied: a list of
    (path, bytes or None to read the file, name errors give or None). OverlayError lists
    every problem of every overlay at once."""
    base = base if base is not None else catalog_mod.load()
    overlays, errors = [], []
    for source in sources:
        path, text, name = (tuple(source) + (None, None))[:3]
        try:
            overlays.append(overlay_mod.load(path, text, name))
        except OverlayError as exc:
            errors += exc.errors
    if errors:
        raise OverlayError(errors)
    return apply(base, overlays)


def apply(base: catalog_mod.Catalog, overlays) -> catalog_mod.Catalog:
    if not overlays:
        return base
    ours = {c.id: c for c in base.controls}
    controls = dict(ours)                    # id -> Control, in catalog order
    added_by: dict[str, str] = {}            # site id -> the row's place
    policy, policy_from = {}, {}
    applied, errors = [], []
    for ov in overlays:
        mine = {c.id for c in ov.controls}
        for c in ov.controls:
            if c.id in ours:
                errors.append(f"{c.source}: {c.id} redefines hvconform's control ({ours[c.id].source}): "
                              "tailor it (tailoring:) instead")
            elif c.id in added_by:
                errors.append(f"{c.source}: {c.id} is already added by {added_by[c.id]}")
            else:
                controls[c.id], added_by[c.id] = c, c.source
        tailored = []
        for t in ov.tailoring:
            target = controls.get(t.control)
            if t.control in mine:
                errors.append(f"{t.source}: tailoring: {t.control} is this overlay's own control: "
                              "change its row instead")
            elif target is None:
                errors.append(f"{t.source}: tailoring: no control {t.control} in the catalog"
                              f"{rules.suggest(t.control, list(controls))}")
            elif target.tailoring:
                errors.append(f"{t.source}: tailoring: {t.control} is already tailored at "
                              f"{target.tailoring['source']}")
            else:
                record = _record(t, ov, target)
                controls[t.control] = dataclasses.replace(
                    target, tailoring=record, severity=t.severity or target.severity)
                tailored.append(record)
        for key, value in ov.policy.items():
            if key in policy and policy[key] != value:
                errors.append(f"{ov.policy_sources[key]}: policy.{key}: {rules.show(value)} here, but "
                              f"{policy_from[key]} sets {rules.show(policy[key])}: set it in one place")
            policy[key], policy_from[key] = value, ov.policy_sources[key]
        applied.append(Applied(ov.path, ov.name, ov.sha256, ov.text, tuple(c.id for c in ov.controls),
                               tuple(tailored), dict(ov.policy)))
    if errors:
        raise OverlayError(errors)
    cat = catalog_mod.Catalog(list(controls.values()),
                              catalog_mod.digest_with_overlays(base.digest, [o.sha256 for o in overlays]),
                              applied, policy)
    errors = [e for ov in overlays for e in site_cases.lint(ov, cat)]
    if errors:
        raise OverlayError(errors)
    return cat


def _record(t, ov, control) -> dict:
    """What results.json says of a tailored control (its records carry it as `tailoring`);
    its source names the overlay as first given, so a replay records the same."""
    out = {"control": t.control, "overlay": ov.name, "source": f"{ov.path}:{t.line}",
           "reason": t.reason, "approver": t.approver, "ticket": t.ticket}
    if t.exclude:
        out["exclude"] = True
    else:
        out["severity_from"], out["severity"] = control.severity, t.severity
    return out


def excluded(control) -> v.Verdict | None:
    """The verdict of a control the site tailored out, or None when it is judged."""
    t = getattr(control, "tailoring", None)
    if not t or not t.get("exclude"):
        return None
    return v.not_applicable(f"tailored out: {t['reason']} (approved by {t['approver']}"
                            + (f", {t['ticket']}" if t.get("ticket") else "") + ")")


def with_policy(snapshots: dict, catalog) -> dict:
    """The snapshots as judging sees them: the overlays' policy values over the ones each
    snapshot recorded. No overlay policy: the same objects."""
    extra = getattr(catalog, "policy", None)
    if not extra:
        return snapshots
    return {h: dataclasses.replace(s, policy={**(s.policy or {}), **extra}) for h, s in snapshots.items()}


def policy_conflicts(catalog, policies: dict) -> list[str]:
    """Where an inventory and an overlay set one policy key to different values:
    `policies` maps a place ("inventories/lab.yaml") to its values."""
    out = []
    for key, value in (getattr(catalog, "policy", None) or {}).items():
        for where, values in policies.items():
            if key in (values or {}) and values[key] != value:
                line = (f"{where}: policy.{key}: {rules.show(values[key])}, but an overlay sets "
                        f"{rules.show(value)}: set it in one place")
                if line not in out:
                    out.append(line)
    return out
