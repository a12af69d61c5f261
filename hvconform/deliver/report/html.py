"""The audit report as one self-contained HTML file: report.html.j2 with its CSS and
JavaScript inlined, nothing fetched from anywhere.

Everything from results.json is untrusted host data (evidence excerpts are file
contents), so Jinja2 escapes every value, and the page's Content-Security-Policy
allows no network and only this file's own style and script (by their sha256):
a tag that slipped through escaping could neither load nor run anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import jinja2
from markupsafe import Markup

from hvconform.deliver.report import model, verdicts
from hvconform.deliver.traceability import FRAMEWORKS, grouped

HERE = Path(__file__).resolve().parent


# The status bars' segment widths, as classes: the CSP forbids style="" attributes.
_WIDTHS = "\n" + "".join(f".w-{n}{{width:{n}%}}" for n in range(101)) + "\n"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _refs_attr(references) -> str:
    """data-refs of a verdict: "|nist|nist:AC-3|pp_virt|pp_virt:FPT_VIV_EXT.1|", so the
    reference filter matches a framework or one of its ids with a plain substring test."""
    tokens = model.reference_tokens(references)
    keys = dict.fromkeys(k for k, _ in tokens)
    return "|" + "|".join([*keys, *(f"{k}:{i}" for k, i in tokens)]) + "|"


def _environment() -> jinja2.Environment:
    # results.json promises only control, host and status in a record: a missing
    # field renders empty (default Undefined), and so does a null
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             finalize=lambda value: "" if value is None else value)
    env.filters["label"] = lambda status: model.LABELS.get(status, status)
    env.filters["target"] = model.target
    env.filters["refs_attr"] = _refs_attr
    env.filters["grouped"] = lambda refs: grouped(refs or {})
    env.filters["drift_kind"] = model.drift_kind
    return env


# Up to this many verdicts (~20 hosts), report.html holds every verdict; above, it is
# the summary and each host's verdicts are on a page of its own (report-hosts/), so
# that a fleet's report opens in a browser in seconds (bench/README.md).
INLINE_VERDICTS = 5000
PAGES_DIR = "report-hosts"


def page_names(host_names) -> dict[str, str]:
    """host -> its page, relative to report.html. Host names come from results.json
    (hostile): the file name is a number and the name's safe characters, cut short."""
    out = {}
    for i, host in enumerate(host_names):
        safe = ("inventory-wide" if host == model.INVENTORY_WIDE
                 else re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:60].lstrip(".") or "host")
        out[host] = f"{PAGES_DIR}/{i:05d}-{safe}.html"
    return out


def _assets():
    css = (HERE / "templates" / "report.css").read_text() + _WIDTHS
    js = (HERE / "templates" / "report.js").read_text()
    csp = ("default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
           f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}")
    return css, js, Markup(csp)


def render(doc: dict, catalog=None, inline_verdicts: int | None = None) -> str:
    """report.html of one results.json document, as a string (a fleet's host pages:
    render_pages)."""
    return render_pages(doc, catalog, inline_verdicts)[0]


def render_pages(doc: dict, catalog=None, inline_verdicts: int | None = None):
    """(report.html, {relative path: host page}) of one results.json document; no
    host pages when every verdict fits in report.html (INLINE_VERDICTS by default)."""
    inline_verdicts = INLINE_VERDICTS if inline_verdicts is None else inline_verdicts
    report = model.build(doc, catalog)
    css, js, csp = _assets()
    env = _environment()
    common = {"r": report, "css": css, "js": js, "csp": csp, "statuses": model.STATUSES,
              "frameworks": FRAMEWORKS}
    if len(report.verdicts) <= inline_verdicts:
        blocks = [verdicts.verdict_html(v, report.controls.get(v["control"])) for v in report.verdicts]
        return env.get_template("report.html.j2").render(
            **common, pages=None, blocks=blocks, filters=report.filters), {}
    pages = page_names(report.host_names)
    main = env.get_template("report.html.j2").render(**common, pages=pages)
    host_page = env.get_template("report-host.html.j2")
    by_host: dict[str, list] = {}
    for v in report.verdicts:   # already in display order: failures first
        by_host.setdefault(v["host"], []).append(v)
    out = {}
    for row in report.hosts:
        recs = by_host.get(row.name, [])
        blocks = [verdicts.verdict_html(v, report.controls.get(v["control"])) for v in recs]
        out[pages[row.name]] = host_page.render(
            **common, row=row, blocks=blocks, fixed_host=row.name,
            filters=model.filters_of(recs, [row.name]))
    return main, out


def write(results: Path, out: Path, catalog=None, doc: dict | None = None) -> Path:
    """Render results.json into out (an HTML file), and a fleet's host pages into
    report-hosts/ beside it; returns out. `doc`: results.json already loaded."""
    doc = doc if doc is not None else json.loads(Path(results).read_text())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    main, pages = render_pages(doc, catalog)
    folder = out.parent / PAGES_DIR
    if folder.is_dir():            # an older rendering's pages would mislead
        for old in folder.glob("*.html"):
            old.unlink()
    for name, text in pages.items():
        path = out.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    out.write_text(main, encoding="utf-8")
    return out
