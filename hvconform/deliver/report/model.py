"""What the audit report says, computed from results.json (plain dicts) and, when
given, the catalog. No HTML here: html.py only lays this out.

Compliance = pass / (every verdict but not_applicable). A manual, waived or error
verdict is never counted as a pass: it is a verdict nobody may read as "fine".

    report = model.build(json.load(open("results.json")), catalog.load())
    report.hosts[0].tally.compliance        # 0.84
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from hvconform.deliver import traceability
from hvconform.inputs.catalog import DOMAINS, SEVERITIES
from hvconform.model import identity

# Display order: what needs someone's action first.
STATUSES = ("fail", "error", "manual", "waived", "pass", "not_applicable")
LABELS = {"fail": "fail", "error": "error", "manual": "manual", "waived": "waived",
          "pass": "pass", "not_applicable": "not applicable"}
PROBLEMS = ("fail", "error")
INVENTORY_WIDE = "*"


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def assessed(self) -> int:
        return self.total - self.counts["not_applicable"]

    @property
    def compliance(self) -> float | None:
        """pass / assessed; None when nothing was assessed (all not applicable, or nothing)."""
        return self.counts["pass"] / self.assessed if self.assessed else None

    @property
    def percent(self) -> str:
        c = self.compliance
        return "n/a" if c is None else f"{c * 100:.0f}%"

    @property
    def bucket(self) -> str:
        """Heatmap colour class: hm-0 (0-9%) .. hm-10 (100%), hm-na when nothing was assessed."""
        c = self.compliance
        return "hm-na" if c is None else f"hm-{int(c * 10)}"


def tally(records) -> Tally:
    return Tally(Counter(r["status"] for r in records))


@dataclass
class Row:
    """One line of a per-host or per-domain table."""
    name: str
    tally: Tally
    host: dict | None = None     # the host's collection record (results.json "hosts")


@dataclass
class TraceControl:
    control: object              # catalog Control, or a stand-in built from records
    test: str                    # node id pattern
    tally: Tally
    records: list                # this run's records of the control

    @property
    def tests(self) -> list:
        """[(node id, status)] of this run, sorted: listed only in a small run's report.html,
        so a fleet's report does not sort every verdict for it."""
        return sorted((r.get("test") or target(r), r["status"]) for r in self.records)


@dataclass
class Report:
    doc: dict
    verdicts: list               # records, failures first
    overall: Tally
    hosts: list[Row]
    domains: list[Row]
    heatmap: dict                # (host, domain) -> Tally (absent: no verdict there)
    severity: dict               # severity -> host -> number of fail + error verdicts
    waived: list
    expired_waivers: list        # fail records whose waiver has expired
    unmatched_waivers: list
    manual: list
    isolation: list
    drift: list                  # changes, new failures first

    @property
    def drift_regressions(self) -> list:
        return [c for c in self.drift if is_regression(c)]

    @property
    def drift_others(self) -> list:
        return [c for c in self.drift if not is_regression(c)]

    @property
    def drift_other_kinds(self) -> Counter:
        return Counter(drift_kind(c) for c in self.drift_others)
    trace: dict                  # framework -> reference id -> [TraceControl]
    controls: dict               # id -> catalog control (or stand-in)

    @functools.cached_property
    def filters(self) -> dict:
        """filter name -> [(value, label)] of the list of every verdict: asked for only
        when report.html lists them (a fleet's host pages have their own, filters_of)."""
        return filters_of(self.verdicts, self.host_names)

    @property
    def run(self) -> dict:
        return self.doc.get("run", {})

    @property
    def tool(self) -> dict:
        return self.doc.get("tool", {})

    @property
    def manual_grouped(self) -> list[tuple[dict, list[str]]]:
        """Manual items once per control and thing to look at, with every target it
        concerns: the same question on ten hosts is one question."""
        groups: dict[tuple, tuple[dict, list[str]]] = {}
        for rec in self.manual:
            groups.setdefault((rec["control"], rec.get("reason")), (rec, []))[1].append(target(rec))
        return list(groups.values())

    @property
    def isolation_grouped(self) -> list[tuple[dict, Tally, list[dict]]]:
        """Isolation findings per control (first record, its tally, every record), failing controls first."""
        groups: dict[str, list[dict]] = {}
        for rec in self.isolation:
            groups.setdefault(rec["control"], []).append(rec)
        return [(recs[0], tally(recs), recs) for recs in groups.values()]

    @property
    def host_names(self) -> list[str]:
        return [r.name for r in self.hosts]

    @property
    def unverified_hosts(self) -> list[dict]:
        """Hosts whose key (or a jump host's) was accepted unverified; not those refused
        before login, which have no key to speak of."""
        return [r.host for r in self.hosts if r.host and identity.key_unverified(r.host.get("identity"))]

    def identity_conflicts(self, host: str | None = None) -> list[str]:
        """Each identity conflict (of `host`, if given) as one line (model.identity)."""
        return [identity.describe(c) for c in self.doc.get("identity_conflicts") or []
                if host is None or host in c.get("hosts", ())]

    @property
    def uncollected_hosts(self) -> list[dict]:
        return [r.host for r in self.hosts if r.host and r.host.get("status") != "collected"]


def target(rec: dict) -> str:
    return f"{rec['host']}/{rec['vm']}" if rec.get("vm") else rec["host"]


_TOKENS: dict[int, tuple[object, tuple]] = {}


def reference_tokens(references: dict) -> tuple[tuple[str, str], ...]:
    """(framework key, reference id) of a record's references, each once, for filters and
    the index. Remembered per references object: a control's records share one
    (_share_references), and a fleet's filters ask for it on every host page."""
    hit = _TOKENS.get(id(references))
    if hit is not None and hit[0] is references:
        return hit[1]
    tokens = tuple(dict.fromkeys((key, traceability.reference_id(key, value))
                                 for key, value in traceability.reference_values(references or {})))
    if len(_TOKENS) > 4096:
        _TOKENS.clear()
    _TOKENS[id(references)] = (references, tokens)   # kept alive, so its id is not reused
    return tokens


@functools.lru_cache(maxsize=4096)
def _token_order(token: tuple[str, str]):
    """Frameworks in FRAMEWORKS order, then AC-3 before AC-12 (sorted again on every host page)."""
    key, rid = token
    return (list(traceability.FRAMEWORKS).index(key) if key in traceability.FRAMEWORKS else 99,
            traceability.natural_key(rid))


_STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _order(rec: dict):
    return (_STATUS_RANK.get(rec["status"], len(STATUSES)),
            _SEVERITY_RANK.get(rec.get("severity"), len(SEVERITIES)),
            rec["control"], rec["host"], rec.get("vm") or "")


def _host_names(doc: dict) -> list[str]:
    names = list(dict.fromkeys(h["name"] for h in doc.get("hosts", [])))
    seen = set(names)
    for rec in doc.get("verdicts", []):
        if rec["host"] not in seen:
            names.append(rec["host"])     # e.g. "*" for an inventory-wide finding
            seen.add(rec["host"])
    return names


def _stand_in(rec: dict):
    """A control known only from its records (the catalog was not given, or no longer has it)."""
    test = rec.get("test") or ""
    kind = test.split("::test_", 1)[1].split("[", 1)[0] if "::test_" in test else "?"
    return SimpleNamespace(id=rec["control"], title=rec.get("title") or "", domain=rec.get("domain") or "",
                           severity=rec.get("severity"),
                           applies_to=("inventory" if rec.get("vms") or rec["host"] == INVENTORY_WIDE
                                       else "vm" if rec.get("vm") else "host"),
                           kind=kind, references=rec.get("references") or {}, manual=None,
                           rationale=None, when=None,
                           suite="site" if rec.get("overlay") else rec.get("domain") or "")


def _controls(records, catalog) -> dict:
    controls = {c.id: c for c in catalog.controls} if catalog is not None else {}
    for rec in records:
        if rec["control"] not in controls:
            controls[rec["control"]] = _stand_in(rec)
    return controls


def _is_isolation(rec: dict, controls: dict) -> bool:
    c = controls.get(rec["control"])
    return bool(rec.get("vms")) or rec["host"] == INVENTORY_WIDE or getattr(c, "applies_to", None) == "inventory"


def _drift_order(change: dict):
    return (0 if is_regression(change) else 1, change.get("control", ""), change.get("host", ""),
            change.get("vm") or "")


def is_regression(change: dict) -> bool:
    """A new failure, or a failure that changed (fail -> error): what a nightly run is read for."""
    before, after = change.get("before"), change.get("after")
    return bool(change.get("new_failure", after in PROBLEMS and before not in PROBLEMS)) or (
        after in PROBLEMS and before in PROBLEMS)


def drift_kind(change: dict) -> str:
    before, after = change.get("before"), change.get("after")
    if after in PROBLEMS:
        return "new failure" if before not in PROBLEMS else "failing differently"
    if after == "waived":
        return "now waived"
    if after is None:
        return "no longer judged"
    if before is None:
        return "newly judged"
    return "fixed" if before in PROBLEMS else "changed"


def filters_of(records, host_names) -> dict:
    """The options of each filter of the verdict list; one pass over the records (the
    references of a control are one object shared by its records: read once)."""
    distinct = {id(r.get("references")): r.get("references") for r in records}
    refs = sorted({t for refs in distinct.values() for t in reference_tokens(refs)}, key=_token_order)
    ids_of: dict[str, list[str]] = {}     # framework -> its ids, frameworks as they come first
    for key, rid in refs:
        ids_of.setdefault(key, []).append(rid)
    ref_options = []
    for key, rids in ids_of.items():
        ref_options.append((key, f"{key}: any"))
        ref_options += [(f"{key}:{rid}", f"{key}: {rid}") for rid in rids]
    present = {r["status"] for r in records}
    domains = {r.get("domain") for r in records}
    severities = {r.get("severity") for r in records}
    return {
        "host": [(h, h) for h in host_names],
        "vm": [(v, v) for v in sorted({target(r) for r in records if r.get("vm")})],
        "domain": [(d, d) for d in DOMAINS if d in domains],
        "severity": [(s, s) for s in SEVERITIES if s in severities],
        "status": [("fail,error", "fail or error")] + [(s, LABELS[s]) for s in STATUSES if s in present],
        "ref": ref_options,
    }


def _trace(records, controls) -> dict:
    by_control: dict[str, list] = {}
    for rec in records:
        by_control.setdefault(rec["control"], []).append(rec)
    # each control once, however many references cite it (a fleet has ~1,000 records a control)
    of_control = {}
    for c in controls.values():
        recs = by_control.get(c.id, [])
        of_control[c.id] = (tally(recs), recs)
    index = traceability.by_reference(controls.values())
    out = {}
    for key, refs in index.items():
        out[key] = {}
        for rid, cs in refs.items():
            out[key][rid] = [TraceControl(c, traceability.test_node(c) if c.kind != "?" else "",
                                          *of_control[c.id]) for c in cs]
    return out


def _share_references(records) -> None:
    """One `references` object per distinct value: records read from JSON each have
    their own copy, and what is derived from references (filters, data-refs) is then
    computed once per control rather than once per verdict."""
    shared: dict = {}
    for rec in records:
        refs = rec.get("references")
        if isinstance(refs, dict):
            key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in refs.items())
            try:
                rec["references"] = shared.setdefault(key, refs)
            except TypeError:      # an unhashable value (not from hvconform): leave it
                pass


def _tallies(records) -> tuple[Tally, dict, dict, dict]:
    """The tally of all records, of each host, of each domain and of each (host, domain),
    from one count of (host, domain, status): a few thousand sums, not a pass over the
    records for each table."""
    overall, by_host, by_domain, by_cell = Tally(), defaultdict(Tally), defaultdict(Tally), defaultdict(Tally)
    cells = Counter((r["host"], r.get("domain"), r["status"]) for r in records)
    for (host, domain, status), n in cells.items():
        for t in (overall, by_host[host], by_domain[domain], by_cell[(host, domain)]):
            t.counts[status] += n
    return overall, by_host, by_domain, by_cell


def build(doc: dict, catalog=None) -> Report:
    """The report of one results.json document (catalog: hvconform.inputs.catalog.Catalog or None).
    Every table is grouped in one pass over the records: linear in the verdicts."""
    records = sorted(doc.get("verdicts", []), key=_order)
    _share_references(records)
    controls = _controls(records, catalog)
    host_names = _host_names(doc)
    host_docs = {h["name"]: h for h in doc.get("hosts", [])}
    overall, by_host, by_domain, by_cell = _tallies(records)
    problems = Counter((r["host"], r.get("severity")) for r in records if r["status"] in PROBLEMS)

    hosts = [Row(h, by_host.get(h, Tally()), host_docs.get(h)) for h in host_names]
    domains = [Row(d, by_domain[d]) for d in DOMAINS if d in by_domain]
    heatmap = {(h, d.name): by_cell[(h, d.name)] for h in host_names for d in domains
               if (h, d.name) in by_cell}
    severity = {s: {h: problems[(h, s)] for h in host_names} for s in SEVERITIES}
    waivers = doc.get("waivers") or {}
    drift = sorted((doc.get("drift") or {}).get("changes") or [], key=_drift_order)
    return Report(
        doc=doc, verdicts=records, overall=overall, hosts=hosts, domains=domains,
        heatmap=heatmap, severity=severity,
        waived=[r for r in records if r["status"] == "waived"],
        expired_waivers=[r for r in records if (r.get("waiver") or {}).get("expired")],
        unmatched_waivers=list(waivers.get("unmatched") or []),
        manual=[r for r in records if r["status"] == "manual"],
        isolation=[r for r in records if _is_isolation(r, controls)],
        drift=drift,
        trace=_trace(records, controls), controls=controls)
