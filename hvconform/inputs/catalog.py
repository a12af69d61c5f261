"""The catalog: suites/<domain>/controls.yaml, loaded and validated.

Each file holds one domain's controls. A control is plain metadata plus a `check`
(a kind from hvconform.judge and its parameters). Errors name the file, the line
and the key, and every error in every file is reported, not only the first.

The catalog's digest (results.json tool.catalog_digest, the bundle manifest) covers
everything that decides a verdict, not only the rows: see digest_of. A site's overlays
(hvconform/inputs/overlay.py, applied by hvconform/judge/tailoring.py) add controls of
their own, tailor ours and set policy values; the digest then covers them too.
"""

from __future__ import annotations

import hashlib
import re
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hvconform.inputs import policy
from hvconform.inputs.yamlload import LocatedError, load_located

DOMAINS = ("host", "kernel_mac", "qemu", "libvirt", "isolation", "network", "logging",
           "backup", "crypto")
PREFIX = {"host": "HOST", "kernel_mac": "KMAC", "qemu": "QEMU", "libvirt": "LIBV",
          "isolation": "ISO", "network": "NET", "logging": "LOG", "backup": "BKP",
          "crypto": "CRY"}
SEVERITIES = ("high", "medium", "low")
APPLIES_TO = ("host", "vm", "inventory")
REFERENCE_KEYS = ("nist", "pp_virt", "stig", "cis", "cac", "osg", "seed", "libvirt", "qemu")
REQUIRED = ("id", "title", "severity", "applies_to", "check", "rationale", "remediation",
            "references")
OPTIONAL = ("expected", "manual", "when")

SUITES = Path(__file__).resolve().parents[2] / "suites"
SITE_SUITE = "site"   # suites/site/test_site.py: every control an overlay adds
PACKAGE = Path(__file__).resolve().parents[1]   # hvconform/, whose judge/ is digested too


@dataclass(frozen=True)
class Control:
    id: str
    domain: str
    title: str
    severity: str
    applies_to: str
    check: dict
    rationale: str
    remediation: str
    references: dict
    expected: str | None = None
    manual: str | None = None      # what a person must look at; the control never passes
    when: dict | None = None       # gate: {family: rhel} or {present: /path} (judge/when.py)
    source: str = ""          # "suites/qemu/controls.yaml:42", for error messages
    overlay: str | None = None     # a site's control: the name of the overlay that added it
    tailoring: dict | None = None  # excluded or severity changed by an overlay (judge/tailoring.py)

    @property
    def kind(self) -> str:
        return self.check["kind"]

    @property
    def suite(self) -> str:
        """The folder of suites/ whose tests run it: its domain's, or `site` for a site's
        own control (suites/site/test_site.py runs those of every domain)."""
        return SITE_SUITE if self.overlay else self.domain


@dataclass
class Catalog:
    controls: list[Control] = field(default_factory=list)
    digest: str = ""
    overlays: list = field(default_factory=list)   # judge.tailoring.Applied, in the order given
    policy: dict = field(default_factory=dict)     # the overlays' policy values (not the defaults)

    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def by_id(self, control_id: str) -> Control:
        if len(self._index) != len(self.controls):   # built once, on first use
            self._index = {c.id: c for c in self.controls}
        return self._index[control_id]

    def of(self, suite: str, kind: str | None = None) -> list[Control]:
        """The controls suites/<suite>/ runs: a domain's own, or the sites' (`site`)."""
        return [c for c in self.controls
                if c.suite == suite and (kind is None or c.kind == kind)]


class CatalogError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("catalog is invalid:\n  " + "\n  ".join(errors))
        self.errors = errors


def load(suites: Path = SUITES) -> Catalog:
    """Load every suites/<domain>/controls.yaml; raise CatalogError listing all problems."""
    from hvconform.judge.engine import KINDS, RENAMED  # late: judging imports the catalog types

    errors, controls = [], []
    for domain in DOMAINS:
        path = suites / domain / "controls.yaml"
        if not path.exists():
            errors.append(f"{path}: missing (one controls.yaml per domain)")
            continue
        try:
            doc, lines = load_located(path)
        except LocatedError as exc:
            errors.append(str(exc))
            continue
        rows = doc.get("controls") if isinstance(doc, dict) else None
        if not isinstance(rows, list):
            errors.append(f"{path}:1: expected a mapping with a 'controls' list")
            continue
        for i, row in enumerate(rows):
            where = f"{path}:{lines.get(('controls', i), 1)}"
            controls_or_errors = _control(domain, row, where, KINDS, RENAMED)
            if isinstance(controls_or_errors, Control):
                controls.append(controls_or_errors)
            else:
                errors.extend(controls_or_errors)
    seen: dict[str, str] = {}
    for c in controls:
        if c.id in seen:
            errors.append(f"{c.source}: id {c.id} already defined at {seen[c.id]}")
        seen[c.id] = c.source
    if errors:
        raise CatalogError(errors)
    return Catalog(controls, digest_of(suites))


def digest_of(suites: Path = SUITES, package: Path = PACKAGE, defaults: dict | None = None) -> str:
    """sha256 over what decides a verdict: each domain's controls.yaml in `suites`, every
    .py file under `package`/judge (path and bytes, in path order) and the policy
    `defaults` (the running ones unless given; canonical JSON). A changed check or
    default thus changes the digest, and a replay with it reports a changed judge.

    Files are read, never imported, so a copy of the package digests as it stands.
    load(suites) digests another suites folder (a run's copy of the catalog) with the
    running package's judge and defaults: those are what judge the replay.
    """
    digest = hashlib.sha256()

    def part(name: str, raw: bytes):
        # name and length first, so no two different inputs hash the same stream
        digest.update(f"{name}\0{len(raw)}\0".encode() + raw)

    for domain in DOMAINS:
        part(f"suites/{domain}/controls.yaml", (suites / domain / "controls.yaml").read_bytes())
    judge = package / "judge"
    for path in sorted(judge.rglob("*.py"), key=lambda p: p.relative_to(judge).as_posix()):
        part(f"judge/{path.relative_to(judge).as_posix()}", path.read_bytes())
    defaults = policy.DEFAULTS if defaults is None else defaults
    part("policy/DEFAULTS", json.dumps(defaults, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def digest_with_overlays(base: str, overlay_digests) -> str:
    """The digest of a catalog with overlays: the base digest and each overlay's sha256,
    in order (the order matters: a later overlay may tailor an earlier one's control).
    No overlay: the base digest itself, so a run without overlays digests as before."""
    overlay_digests = list(overlay_digests)
    if not overlay_digests:
        return base
    return hashlib.sha256("\0".join([base, *(f"overlay:{d}" for d in overlay_digests)])
                          .encode()).hexdigest()


def _control(domain, row, where, kinds, renamed, site=False):
    """One row as a Control, or its errors. `site`: an overlay's row, whose id the
    overlay checks (hvconform/inputs/overlay.py) instead of the domain's prefix."""
    if not isinstance(row, dict):
        return [f"{where}: a control must be a mapping"]
    errs = [f"{where}: missing key '{k}'" for k in REQUIRED if k not in row]
    errs += [f"{where}: unknown key '{k}'" for k in row if k not in REQUIRED + OPTIONAL]
    if errs:
        return errs
    for key in ("severity", "applies_to"):
        if not isinstance(row[key], str):   # a list or mapping here cannot be looked up
            return [f"{where}: {key}: expected a string, got {type(row[key]).__name__}"]
    if isinstance(row["check"], dict) and not isinstance(row["check"].get("kind", ""), str):
        return [f"{where}: check.kind: expected a string, got {type(row['check']['kind']).__name__}"]
    cid = str(row["id"])
    if not site and (not cid.startswith(PREFIX[domain] + "-") or not cid[len(PREFIX[domain]) + 1:].isdigit()):
        errs.append(f"{where}: id '{cid}' does not look like {PREFIX[domain]}-NNN")
    if row["severity"] not in SEVERITIES:
        errs.append(f"{where}: {cid}: severity '{row['severity']}' is not one of {SEVERITIES}")
    if row["applies_to"] not in APPLIES_TO:
        errs.append(f"{where}: {cid}: applies_to '{row['applies_to']}' is not one of {APPLIES_TO}")
    refs = row["references"]
    if not isinstance(refs, dict):
        errs.append(f"{where}: {cid}: references must be a mapping")
    else:
        errs += [f"{where}: {cid}: unknown reference key '{k}' (known: {', '.join(REFERENCE_KEYS)})"
                 for k in refs if k not in REFERENCE_KEYS]
    check = row["check"]
    if not isinstance(check, dict) or "kind" not in check:
        errs.append(f"{where}: {cid}: check must be a mapping with a 'kind'")
    elif check["kind"] in renamed:
        errs.append(f"{where}: {cid}: check kind '{check['kind']}' is now called "
                    f"'{renamed[check['kind']]}': write kind: {renamed[check['kind']]}")
    elif check["kind"] not in kinds:
        errs.append(f"{where}: {cid}: unknown check kind '{check['kind']}' "
                    f"(known: {', '.join(sorted(kinds))})")
    else:
        errs += [f"{where}: {cid}: check: {e}" for e in _validated(kinds[check["kind"]].validate, check)]
    if "when" in row:
        from hvconform.judge import when
        errs += [f"{where}: {cid}: when: {e}" for e in _validated(when.validate, row["when"])]
    if row["applies_to"] == "inventory" and ("when" in row or "manual" in row):
        # inventory-wide outcomes are judged over all hosts at once, not through engine.judge
        errs.append(f"{where}: {cid}: 'when' and 'manual' are not supported on applies_to: inventory")
    if "manual" in row and not str(row["manual"] or "").strip():
        errs.append(f"{where}: {cid}: manual must say what a person must look at")
    if errs:
        return errs
    return Control(id=cid, domain=domain, title=str(row["title"]), severity=row["severity"],
                   applies_to=row["applies_to"], check=check, rationale=str(row["rationale"]),
                   remediation=str(row["remediation"]), references=refs,
                   expected=row.get("expected"), manual=row.get("manual"), when=row.get("when"),
                   source=where)


def _validated(validate, value) -> list[str]:
    """A kind's or when:'s own validation; a value of a shape it never expected (a
    list where it reads a string, ...) is a located problem too, not a traceback."""
    try:
        return list(validate(value))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, re.error) as exc:
        return [f"cannot be read: {type(exc).__name__}: {str(exc)[:120]}"]
