"""Nightly trends: compliance per host and per domain over many runs, and the failures
each run added and fixed since the one before.

    found = read(["reports/night-1", "archive/night-2.tar.gz"])   # bundles verified first
    t = build(found.runs)                  # ordered by each run's start time
    write_csv(t, "trend.csv")              # one row per run and host, domain or the whole run
    trend_html.write(t, "trend.html", found.skipped)

A run is read from its bundle (a .tar.gz, the folder it was unpacked to, or a run folder
holding bundle.tar.gz), which must verify: one that does not is skipped with a line
saying why, and the rest are still trended. A run folder without a bundle is read from
its results.json, and said to be unsigned. Compliance is report.html's (pass / every
verdict but not_applicable); a failure is a fail or error verdict, as for drift.
Everything read is someone else's data: sizes are bounded, each record is checked
before it is counted, and a document that breaks results.schema.json's promises is
skipped whole, with the first problem named.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.deliver.drift import FAILING, is_new_failure
from hvconform.deliver.export.verdicts_csv import _safe as csv_cell
from hvconform.deliver.report.model import STATUSES, Tally, tally
from hvconform.inputs.catalog import DOMAINS
from hvconform.model import results

MAX_BUNDLE_BYTES = 2 << 30      # a bundle bigger than this is not read (it is read whole)
MAX_RESULTS_BYTES = 256 << 20
MAX_NAME = 256                  # longer host, VM, control or domain names are not ours
CSV_COLUMNS = ("run", "started", "scope", "name", "compliance_percent", "pass", "assessed",
               *[s for s in STATUSES if s != "pass"], "new_failures", "fixed_failures")


class Skipped(Exception):
    """An input that cannot be trended: the one line that says which and why."""


@dataclass(frozen=True)
class Verdict:
    control: str
    host: str
    vm: str | None
    domain: str
    status: str
    title: str

    @property
    def key(self) -> tuple:
        return self.control, self.host, self.vm

    @property
    def target(self) -> str:
        return f"{self.host}/{self.vm}" if self.vm else self.host


@dataclass
class Run:
    id: str
    started: datetime
    started_text: str
    source: str                 # the path it was read from
    signed: str                 # who signed it, as verify says; "unsigned" for a bare results.json
    verdicts: list[Verdict]


@dataclass
class Found:
    runs: list[Run] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class Step:
    """One run of the trend, compared with the run before it (none for the first)."""

    run: Run
    overall: Tally
    hosts: dict[str, Tally]
    domains: dict[str, Tally]
    new: list[Verdict] | None       # None: the first run, nothing to compare with
    fixed: list[Verdict] | None

    def new_in(self, host=None, domain=None) -> int | None:
        return None if self.new is None else sum(1 for v in self.new if _in(v, host, domain))

    def fixed_in(self, host=None, domain=None) -> int | None:
        return None if self.fixed is None else sum(1 for v in self.fixed if _in(v, host, domain))


def _in(v: Verdict, host, domain) -> bool:
    return (host is None or v.host == host) and (domain is None or v.domain == domain)


@dataclass
class Trend:
    steps: list[Step]
    hosts: list[str]            # every host of any run, in the order first seen
    domains: list[str]          # ours in catalog order, then any other a run names


# -- reading ------------------------------------------------------------------------------

def expand(inputs, history=None) -> list[Path]:
    """The inputs, and for `history` (a folder of run folders and bundles) each of its
    run folders and .tar.gz files, by name."""
    out = [Path(p) for p in inputs]
    if history is not None:
        folder = Path(history)
        if not folder.is_dir():
            raise Skipped(f"{folder}: --history needs a folder of run folders or bundles")
        out += sorted(p for p in folder.iterdir()
                      if (p.is_dir() and ((p / bundle.NAME).is_file() or (p / "results.json").is_file()))
                      or (p.is_file() and p.name.endswith(".tar.gz")))
    return out


def read(paths, pubkey: str | None = None) -> Found:
    """Every run that can be read from `paths`, and one line per input skipped."""
    found, seen = Found(), {}
    for path in paths:
        try:
            run = read_one(Path(path), pubkey)
        except Skipped as exc:
            found.skipped.append(str(exc))
            continue
        if run.id in seen:
            found.skipped.append(f"{path}: run {run.id} was already read from {seen[run.id]}; skipped")
            continue
        seen[run.id] = path
        found.runs.append(run)
    found.runs.sort(key=lambda r: (r.started, r.id))
    return found


def read_one(path: Path, pubkey: str | None = None) -> Run:
    if path.is_dir() and (path / bundle.MANIFEST).is_file():
        return _from_bundle(path, path, pubkey)
    if path.is_dir() and (path / bundle.NAME).is_file():
        return _from_bundle(path / bundle.NAME, path, pubkey)
    if path.is_dir() and (path / "results.json").is_file():
        return _parse(_bounded(path / "results.json", MAX_RESULTS_BYTES), path, "unsigned (no bundle)")
    if path.is_file():
        return _from_bundle(path, path, pubkey)
    if not path.exists():
        raise Skipped(f"{path}: no such file or folder; skipped")
    raise Skipped(f"{path}: neither a bundle nor a run folder (no {bundle.NAME} or results.json); skipped")


def _bounded(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise Skipped(f"{path}: {size} bytes, more than the {limit} a run may have; skipped")
        return path.read_bytes()
    except OSError as exc:
        raise Skipped(f"{path}: cannot read: {exc.strerror}; skipped") from None


def _from_bundle(bundle_path: Path, shown: Path, pubkey) -> Run:
    if bundle_path.is_file():
        _bounded_size(bundle_path)
    report = bundle.verify(bundle_path, pubkey)
    if not report.ok:
        # one line: an unreadable bundle's detail already names it; tarfile's run over lines
        problems = "; ".join(" ".join((p.detail if p.kind == "unreadable" else str(p)).split())[:300]
                             for p in report.problems[:3])
        more = f" (and {len(report.problems) - 3} more)" if len(report.problems) > 3 else ""
        raise Skipped(f"{shown}: the bundle does not verify: {problems}{more}; skipped")
    try:
        data = bundle.read(bundle_path).get("results.json")
    except bundle.BundleError as exc:
        raise Skipped(f"{shown}: {exc}; skipped") from None
    # read again after verifying: the bytes used must be the ones the manifest lists
    if data is None or bundle.sha256_bytes(data) != report.manifest["files"].get("results.json"):
        raise Skipped(f"{shown}: results.json is missing or changed since it was verified; skipped")
    sig = report.manifest.get("signature") or {}
    who = (f"the given key {sig.get('fingerprint')}" if report.trusted_key
           else f"its own {sig.get('key')} key {sig.get('fingerprint')}")
    return _parse(data, shown, f"verified, signed by {who}")


def _bounded_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Skipped(f"{path}: cannot read: {exc.strerror}; skipped") from None
    if size > MAX_BUNDLE_BYTES:
        raise Skipped(f"{path}: {size} bytes, more than the {MAX_BUNDLE_BYTES} a bundle may have; skipped")


def _parse(data: bytes, shown: Path, signed: str) -> Run:
    if len(data) > MAX_RESULTS_BYTES:
        raise Skipped(f"{shown}: results.json has {len(data)} bytes, more than {MAX_RESULTS_BYTES}; skipped")
    try:
        doc = results.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Skipped(f"{shown}: results.json is not JSON ({exc}); skipped") from None
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict) or not _name(run.get("id")) or not isinstance(run.get("started"), str):
        raise Skipped(f"{shown}: results.json has no run id and start time; skipped")
    try:
        started = datetime.fromisoformat(run["started"])
    except ValueError:
        raise Skipped(f"{shown}: run.started {run['started'][:40]!r} is not an ISO 8601 time; skipped") from None
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)   # ours are UTC ("...Z")
    records = doc.get("verdicts")
    if not isinstance(records, list):
        raise Skipped(f"{shown}: results.json has no verdicts list; skipped")
    verdicts = []
    for i, rec in enumerate(records):
        problem = _problem(rec)
        if problem:
            raise Skipped(f"{shown}: results.json verdicts[{i}]: {problem}; skipped")
        verdicts.append(Verdict(rec["control"], rec["host"], rec.get("vm"), rec.get("domain") or "",
                                rec["status"], rec.get("title") if isinstance(rec.get("title"), str) else ""))
    return Run(run["id"], started, run["started"], str(shown), signed, verdicts)


def _name(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME


def _problem(rec) -> str | None:
    if not isinstance(rec, dict):
        return "not a mapping"
    for key in ("control", "host"):
        if not _name(rec.get(key)):
            return f"{key} is not a name"
    if rec.get("status") not in STATUSES:
        return f"status {str(rec.get('status'))[:40]!r} is not one of {', '.join(STATUSES)}"
    if rec.get("vm") is not None and not _name(rec["vm"]):
        return "vm is not a name"
    if rec.get("domain") is not None and not _name(rec["domain"]):
        return "domain is not a name"
    return None


# -- the trend ------------------------------------------------------------------------------

def build(runs: list[Run]) -> Trend:
    """The runs (ordered by start time) as steps, each compared with the one before."""
    steps, before = [], None
    hosts, domains = [], []
    for run in runs:
        by_host, by_domain = {}, {}
        for v in run.verdicts:
            by_host.setdefault(v.host, []).append(v)
            by_domain.setdefault(v.domain, []).append(v)
        hosts += [h for h in by_host if h not in hosts]
        domains += [d for d in by_domain if d not in domains]
        now = {v.key: v for v in run.verdicts}
        new = fixed = None
        if before is not None:
            new = sorted((v for k, v in now.items()
                          if is_new_failure(before[k].status if k in before else None, v.status)),
                         key=_order)
            fixed = sorted((v for k, v in now.items()
                            if k in before and before[k].status in FAILING and v.status not in FAILING),
                           key=_order)
        steps.append(Step(run, _tally(run.verdicts), {h: _tally(vs) for h, vs in by_host.items()},
                          {d: _tally(vs) for d, vs in by_domain.items()}, new, fixed))
        before = now
    ordered = [d for d in DOMAINS if d in domains] + [d for d in domains if d not in DOMAINS]
    return Trend(steps, hosts, ordered)


def _tally(verdicts) -> Tally:
    return tally({"status": v.status} for v in verdicts)


def _order(v: Verdict):
    return v.host, v.vm or "", v.control


def percent(t: Tally | None) -> str:
    """Compliance as both outputs show it: one decimal, "" when nothing was assessed."""
    c = t.compliance if t is not None else None
    return "" if c is None else f"{c * 100:.1f}"


# -- CSV --------------------------------------------------------------------------------------

def rows(t: Trend):
    """One row per run and scope: the whole run, each host, each domain."""
    for step in t.steps:
        scopes = [("all", "", step.overall, None, None)]
        scopes += [("host", h, step.hosts[h], h, None) for h in t.hosts if h in step.hosts]
        scopes += [("domain", d, step.domains[d], None, d) for d in t.domains if d in step.domains]
        for scope, name, tl, host, domain in scopes:
            new, fixed = step.new_in(host, domain), step.fixed_in(host, domain)
            yield {"run": step.run.id, "started": step.run.started_text, "scope": scope, "name": name,
                   "compliance_percent": percent(tl), "pass": tl.counts["pass"], "assessed": tl.assessed,
                   **{s: tl.counts[s] for s in STATUSES if s != "pass"},
                   "new_failures": "" if new is None else new, "fixed_failures": "" if fixed is None else fixed}


def render_csv(t: Trend) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(t):
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return out.getvalue()


def write_csv(t: Trend, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_csv(t), encoding="utf-8")
    return path
