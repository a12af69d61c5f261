"""Profiles (suites/profiles.yaml): named selections of the catalog, by rule, not by list.

A rule-based profile follows the catalog: a control that gains a pp_virt reference
joins `pp-virt` without anyone editing a list. `select(catalog, names)` gives the
control ids of the union of the named profiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hvconform.inputs.catalog import DOMAINS, REFERENCE_KEYS, SUITES
from hvconform.inputs.yamlload import LocatedError, load_located

PATH = SUITES / "profiles.yaml"
RULES = ("automated", "references", "domains", "ids")


class ProfileError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    automated: bool = False
    references: tuple = ()
    domains: tuple = ()
    ids: tuple = ()

    def selects(self, control) -> bool:
        return ((self.automated and not control.manual)
                or any(k in control.references for k in self.references)
                or control.domain in self.domains
                or control.id in self.ids)


def load(path: Path = PATH, known_ids=None) -> dict[str, Profile]:
    """name -> Profile; every problem at once, each with file:line (ProfileError)."""
    try:
        doc, lines = load_located(path)
    except LocatedError as exc:
        raise ProfileError([str(exc)]) from None
    rows = (doc or {}).get("profiles")
    if not isinstance(rows, dict) or not rows:
        raise ProfileError([f"{path}:1: expected a mapping 'profiles' of name -> rules"])
    profiles, errors = {}, []
    for name, rule in rows.items():
        where = f"{path}:{lines.get(('profiles', name), 1)}: profile {name}"
        if not isinstance(rule, dict):
            errors.append(f"{where}: must be a mapping")
            continue
        errs = [f"{where}: unknown key '{k}' (known: description, {', '.join(RULES)})"
                for k in rule if k not in ("description", *RULES)]
        errs += [f"{where}: unknown reference key '{k}'" for k in rule.get("references", [])
                 if k not in REFERENCE_KEYS]
        errs += [f"{where}: unknown domain '{d}'" for d in rule.get("domains", []) if d not in DOMAINS]
        if known_ids is not None:
            errs += [f"{where}: no control {i} in the catalog" for i in rule.get("ids", [])
                     if i not in known_ids]
        if not any(rule.get(k) for k in RULES):
            errs.append(f"{where}: selects nothing (give one of {', '.join(RULES)})")
        errors += errs
        if not errs:
            profiles[name] = Profile(name, str(rule.get("description", "")), bool(rule.get("automated")),
                                     tuple(rule.get("references", ())), tuple(rule.get("domains", ())),
                                     tuple(rule.get("ids", ())))
    if errors:
        raise ProfileError(errors)
    return profiles


def select(catalog, names, path: Path = PATH) -> set[str]:
    """Ids of the controls in any of the named profiles; an unknown name is an error."""
    profiles = load(path, {c.id for c in catalog.controls})
    unknown = [n for n in names if n not in profiles]
    if unknown:
        raise ProfileError([f"unknown profile '{n}' (known: {', '.join(profiles)})" for n in unknown])
    return {c.id for c in catalog.controls if any(profiles[n].selects(c) for n in names)}
