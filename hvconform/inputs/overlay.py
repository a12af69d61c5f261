"""A site's catalog overlay: controls of its own, tailoring of ours, policy values.

    ov = load("inventories/site-overlay.example.yaml")   # OverlayError: every problem, located

The format, annotated: inventories/site-overlay.example.yaml.

    overlay: acme-hv              # its name (letters, digits, . _ -), shown in the report
    controls:                     # the site's own rows, as in suites/<domain>/controls.yaml,
      - id: ACME-001              #   with `domain:` (one of ours) and an id of the site's
        domain: host              #   prefix: 2-10 capital letters, not one of ours, -NNN
        ...
    tailoring:                    # our controls, changed for this site, each approved
      - {control: HOST-020, exclude: true, reason: ..., approver: ...}
      - {control: QEMU-016, severity: low, reason: ..., approver: ..., ticket: CHG-1}
    policy: {backup_rpo_hours: 12}       # keys of hvconform/inputs/policy.py
    cases:                        # optional; if given, a passing and a failing snapshot
      ACME-001:                   #   for every control the overlay adds (files, stats,
        pass: {sshd: "..."}       #   sshd, ps, cmds, domains: judge/site_cases.py)
        fail: {sshd: "..."}

An overlay is data only: a `kind: function` row can name only a function this package
registers (hvconform/judge/functions/), never bring code. Whether the ids it tailors
exist, or the ones it adds are new, is decided against the catalog it is applied to
(hvconform/judge/tailoring.py), with the places this module recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import inventory_schema as rules
from hvconform.inputs.yamlload import LocatedError, load_located

MAX_BYTES = 1 << 20                 # an overlay is a page of YAML, not a data set
TOP_KEYS = ("overlay", "controls", "tailoring", "policy", "cases")
TAILORING_KEYS = ("control", "exclude", "severity", "reason", "approver", "ticket")
CASE_NAMES = ("pass", "fail", "not_applicable")
CASE_KEYS = ("files", "stats", "sshd", "ps", "capabilities", "cmds", "domains", "running")
SITE_ID = re.compile(r"([A-Z]{2,10})-[0-9]{3}\Z")    # results.schema.json: ^[A-Z]+-[0-9]{3}$
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
OURS = tuple(catalog_mod.PREFIX.values())
# A site control may read files our redaction was not written for: these stay out of
# the evidence whatever an overlay asks (passwords, private keys, users' homes).
SECRET_PATH = re.compile(r"/etc/g?shadow-?$|/etc/security/opasswd$|^/root(/|$)|^/home(/|$)"
                         r"|/private(/|$)|\.key$|/ssh_host_[^/]*_key$")


class OverlayError(Exception):
    """Every problem found, each 'file:line: ...'."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Tailoring:
    control: str
    reason: str
    approver: str
    exclude: bool = False
    severity: str | None = None     # the new severity
    ticket: str | None = None
    source: str = ""                # "site.yaml:14", where the file is now (for errors)
    line: int = 1                   # its line, which results.json gives with the path as given


@dataclass(frozen=True)
class Overlay:
    path: str                       # as given, for messages and results.json
    name: str
    sha256: str                     # of the file's bytes: what the catalog digest covers
    text: bytes
    controls: tuple = ()            # catalog.Control, overlay=name
    tailoring: tuple = ()           # Tailoring
    policy: dict = field(default_factory=dict)
    policy_sources: dict = field(default_factory=dict)   # key -> "site.yaml:9"
    cases: dict = field(default_factory=dict)   # control id -> {case name: (spec, "site.yaml:30")}
    has_cases: bool = False         # the overlay has a `cases:` section (then every added
                                    # control needs a passing and a failing case)


def load(path, text: bytes | None = None, name: str | None = None) -> Overlay:
    """Read and check the overlay at `path` (or its bytes `text`; errors then name
    `name`, e.g. "bundle.tar.gz:overlays/1.yaml"). OverlayError lists every problem."""
    where = str(name or path)
    if text is None:
        try:
            size = Path(path).stat().st_size
            if size > MAX_BYTES:
                raise OverlayError([f"{where}: {size} bytes; an overlay may have at most {MAX_BYTES}"])
            text = Path(path).read_bytes()
        except OSError as exc:
            raise OverlayError([f"{where}: cannot read: {exc.strerror}"]) from None
    if len(text) > MAX_BYTES:
        raise OverlayError([f"{where}: {len(text)} bytes; an overlay may have at most {MAX_BYTES}"])
    try:
        doc, lines = load_located(Path(where), text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise OverlayError([f"{where}: not UTF-8 text (byte {exc.start})"]) from None
    except LocatedError as exc:
        raise OverlayError([str(exc)]) from None
    if not isinstance(doc, dict):
        raise OverlayError([f"{where}:1: expected a mapping with some of {', '.join(TOP_KEYS)}, "
                            f"got {rules.kind(doc)}"])
    check = rules.Check(Path(where), lines)
    doc = check.keys((), doc, TOP_KEYS)
    ov_name = _name(check, doc.get("overlay"), Path(where).stem)
    controls = _controls(check, doc.get("controls"), ov_name, where, lines)
    tailoring = _tailoring(check, doc.get("tailoring"), where, lines)
    policy = rules.policy(check, doc.get("policy")) if doc.get("policy") is not None else {}
    cases = _cases(check, doc.get("cases"), where, lines)
    if not any(doc.get(k) for k in ("controls", "tailoring", "policy")):
        check((), "changes nothing: give controls, tailoring or policy")
    if check.errors:
        raise OverlayError(check.sorted_errors())
    return Overlay(path=str(path), name=ov_name, sha256=hashlib.sha256(text).hexdigest(), text=text,
                   controls=tuple(controls), tailoring=tuple(tailoring), policy=policy,
                   policy_sources={k: f"{where}:{lines.get(('policy', k), 1)}" for k in policy},
                   cases=cases, has_cases="cases" in doc)


def _name(check, raw, default: str) -> str:
    if raw is None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", default)[:64]
        return safe or "overlay"
    if isinstance(raw, str) and NAME.match(raw):
        return raw
    check(("overlay",), f"expected a name of letters, digits, '.', '_' or '-' (at most 64), "
                        f"got {rules.show(raw)}")
    return "overlay"


def _controls(check, raw, ov_name: str, where: str, lines: dict) -> list:
    from hvconform.judge.engine import FLEET_KINDS, KINDS, PER_VM_KINDS, RENAMED  # late: as catalog.load

    if raw is None:
        return []
    if not isinstance(raw, list):
        check(("controls",), f"expected a list of controls, got {rules.kind(raw)}")
        return []
    out, seen = [], {}
    for i, row in enumerate(raw):
        at = ("controls", i)
        here = f"{where}:{lines.get(at, 1)}"
        if not isinstance(row, dict):
            check(at, f"a control must be a mapping, got {rules.kind(row)}")
            continue
        row = dict(row)
        domain = row.pop("domain", None)
        cid = row.get("id")
        errors = _site_id(cid)
        if domain not in catalog_mod.DOMAINS:
            # results.schema.json's `domain` is one of ours: a site's control joins one
            errors.append(f"domain must be one of {', '.join(catalog_mod.DOMAINS)}, got {rules.show(domain)}"
                          if domain is not None else
                          f"missing key 'domain' (one of {', '.join(catalog_mod.DOMAINS)})")
        if isinstance(cid, str) and cid in seen:
            errors.append(f"id {cid} already added at {seen[cid]}")
        for e in errors:
            check(at, e)
        if errors:
            continue
        seen[cid] = here
        try:
            made = catalog_mod._control(domain, row, here, KINDS, RENAMED, site=True)
        except Exception as exc:   # a row no validator expected (e.g. a list where a name goes)
            made = [f"{here}: {cid}: cannot be read: {type(exc).__name__}: {exc}"]
        if not isinstance(made, catalog_mod.Control):
            check.errors += [(lines.get(at, 1), e) for e in made]
            continue
        shape = _shape(made, PER_VM_KINDS, FLEET_KINDS) + _secret_reads(made, KINDS)
        for e in shape:
            check(at, f"{cid}: {e}")
        if not shape:
            out.append(dataclasses.replace(made, overlay=ov_name))
    return out


def _site_id(cid) -> list[str]:
    if not isinstance(cid, str) or not SITE_ID.match(cid):
        return [f"id must be the site's prefix and a number, like SITE-001 (2-10 capital "
                f"letters, '-', 3 digits), got {rules.show(cid)}"]
    prefix = SITE_ID.match(cid).group(1)
    if prefix in OURS:
        return [f"id {cid}: {prefix} is hvconform's prefix ({', '.join(OURS)}): an overlay cannot "
                f"redefine or add hvconform's controls; it tailors them (tailoring:) and adds its "
                f"own under a prefix of its own, like SITE-001"]
    return []


def _shape(control, per_vm, fleet) -> list[str]:
    """As tests/unit/test_catalog.py holds our rows to: a kind judges one kind of target."""
    if control.kind in per_vm and control.applies_to != "vm":
        return [f"check kind {control.kind} judges a VM: applies_to must be vm"]
    if control.kind in fleet and control.applies_to != "inventory":
        return [f"check kind {control.kind} judges the inventory: applies_to must be inventory"]
    if control.kind not in (*per_vm, *fleet, "function") and control.applies_to != "host":
        return [f"check kind {control.kind} judges a host: applies_to must be host"]
    return []


def _secret_reads(control, kinds) -> list[str]:
    try:
        wanted = kinds[control.kind].needs(control.check, None)
    except Exception as exc:
        return [f"check: cannot say what it reads: {type(exc).__name__}: {exc}"]
    return [f"reads {arg}, which may hold secrets: an overlay may not collect it"
            for command, arg in wanted if command == "cat" and SECRET_PATH.search(arg)]


def _tailoring(check, raw, where: str, lines: dict) -> list[Tailoring]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        check(("tailoring",), f"expected a list of {{control, exclude or severity, reason, approver}}, "
                              f"got {rules.kind(raw)}")
        return []
    out, seen = [], {}
    for i, item in enumerate(raw):
        at = ("tailoring", i)
        entry = check.keys(at, item, TAILORING_KEYS) if isinstance(item, dict) else None
        if entry is None:
            check(at, f"expected a mapping {{control, exclude or severity, reason, approver}}, "
                      f"got {rules.kind(item)}")
            continue
        bad = len(check.errors)
        cid = entry.get("control")
        if not isinstance(cid, str) or not cid:
            check(at + ("control",), f"expected a control id like HOST-020, got {rules.show(cid)}")
        elif cid in seen:
            check(at + ("control",), f"{cid} is tailored twice (also at {seen[cid]}): "
                                     "one entry per control")
        for key in ("reason", "approver"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                check(at + (key,), "required: say why, and who approved it (it is recorded "
                                   "in the evidence)" if key not in entry else
                      f"expected text, got {rules.show(entry[key])}")
        if "ticket" in entry and not isinstance(entry["ticket"], (str, int)):
            check(at + ("ticket",), f"expected a ticket id, got {rules.show(entry['ticket'])}")
        exclude, severity = entry.get("exclude", False), entry.get("severity")
        if exclude not in (True, False):
            check(at + ("exclude",), f"expected true or false, got {rules.show(exclude)}")
        if severity is not None and severity not in catalog_mod.SEVERITIES:
            check(at + ("severity",), f"expected one of {', '.join(catalog_mod.SEVERITIES)}, "
                                      f"got {rules.show(severity)}")
        if exclude is True and severity is not None:
            check(at, "an excluded control has no severity to change: give exclude or severity")
        elif exclude is not True and severity is None:
            check(at, "changes nothing: give exclude: true or a severity")
        if len(check.errors) > bad:
            continue
        seen[cid] = f"{where}:{lines.get(at, 1)}"
        out.append(Tailoring(control=cid, reason=entry["reason"].strip(),
                             approver=entry["approver"].strip(), exclude=exclude is True,
                             severity=severity,
                             ticket=None if entry.get("ticket") is None else str(entry["ticket"]),
                             source=seen[cid], line=lines.get(at, 1)))
    return out


def _cases(check, raw, where: str, lines: dict) -> dict:
    """{control id: {case name: (snapshot spec, place)}}, each spec's shape checked here;
    whether each gives its verdict is judge/site_cases.py's part."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check(("cases",), f"expected a mapping of control id -> {{pass: ..., fail: ...}}, "
                          f"got {rules.kind(raw)}")
        return {}
    out = {}
    for cid, named in check.keys(("cases",), raw, None).items():
        at = ("cases", cid)
        named = check.keys(at, named, CASE_NAMES) if named is not None else {}
        out[cid] = {}
        for case, spec in named.items():
            before = len(check.errors)
            _spec(check, at + (case,), spec)
            if len(check.errors) == before:
                out[cid][case] = (spec or {}, f"{where}:{lines.get(at + (case,), 1)}")
    return out


def _spec(check, at: tuple, spec) -> None:
    spec = check.keys(at, spec, CASE_KEYS)
    for key, value in spec.items():
        here = at + (key,)
        if key in ("sshd", "ps", "capabilities"):
            if not isinstance(value, str):
                check(here, f"expected the command's output as text, got {rules.kind(value)}")
        elif key == "running":
            if not (isinstance(value, list) and all(isinstance(n, str) for n in value)):
                check(here, "expected a list of domain names")
        else:
            texts = check.keys(here, value, None)
            for name, text in texts.items():
                if key == "cmds":
                    if not (isinstance(text, str) or _rc_out_err(text)):
                        check(here + (name,), "expected the output as text, or [rc, stdout, stderr]")
                elif not (isinstance(text, str) or (text is None and key != "domains")):
                    check(here + (name,), "expected text" + ("" if key == "domains" else
                                                             ", or null for a path that does not exist"))


def _rc_out_err(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and rules._int(value[0])
            and all(isinstance(x, str) for x in value[1:]))
