"""The audit report as one self-contained HTML file: report.html.j2 with its CSS and
JavaScript inlined, nothing fetched from anywhere.

Everything from results.json is untrusted host data (evidence excerpts are file
contents), so every value is escaped: by Jinja2's autoescape, or the same way by
escaping.py where the markup is written in Python (each verdict's block, the
filters' options: a fleet has too many for the template). The page's
Content-Security-Policy allows no network and only this file's own style and
script (by their sha256): a tag that slipped through escaping could neither load
nor run anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path, PurePosixPath

import jinja2
from markupsafe import Markup

from hvconform.deliver.report import escaping, model, verdicts
from hvconform.deliver.report.escaping import escape
from hvconform.deliver.traceability import FRAMEWORKS, grouped
from hvconform.model import results as results_mod

HERE = Path(__file__).resolve().parent


# The status bars' segment widths, as classes: the CSP forbids style="" attributes.
_WIDTHS = "\n" + "".join(f".w-{n}{{width:{n}%}}" for n in range(101)) + "\n"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _environment() -> jinja2.Environment:
    # results.json promises only control, host and status in a record: a missing
    # field renders empty (default Undefined), and so does a null
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             finalize=lambda value: "" if value is None else value)
    env.filters["label"] = lambda status: model.LABELS.get(status, status)
    env.filters["target"] = model.target
    env.filters["grouped"] = lambda refs: grouped(refs or {})
    env.filters["drift_kind"] = model.drift_kind
    env.filters["options"] = _options
    return env


def _options(pairs) -> Markup:
    """The <option>s of a filter's (value, label) pairs. Written here, escaped as
    autoescape does, because a host page has ~450 of them (its references) and each
    value through Jinja cost as much as the rest of the page."""
    return Markup("".join(f'<option value="{escape(value)}">{escape(label)}</option>'
                          for value, label in pairs))


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


# Where a page's verdicts go (_verdicts.html.j2): the template is rendered around
# this mark, which the verdicts' blocks then replace. Passed through Jinja one by
# one, each block was copied and marked safe again: ~200 MB of them at 300 hosts.
# Host text is escaped, so it cannot make a "<" of its own, nor this mark.
_VERDICTS = Markup("<!--verdicts-->")


def _with_verdicts(template, blocks: list[str], **context) -> str:
    """The page `template` renders with `context`, its verdicts being `blocks`."""
    head, mark, tail = template.render(**context, verdicts=_VERDICTS, count=len(blocks)).partition(_VERDICTS)
    if not mark or _VERDICTS in tail:
        raise ValueError(f"{template.name}: the verdicts' place is not marked once")
    return "".join([head, *blocks, tail])


def render(doc: dict, catalog=None, inline_verdicts: int | None = None) -> str:
    """report.html of one results.json document, as a string (a fleet's host pages:
    render_pages)."""
    return render_pages(doc, catalog, inline_verdicts)[0]


def render_pages(doc: dict, catalog=None, inline_verdicts: int | None = None):
    """(report.html, {relative path: host page}) of one results.json document; no
    host pages when every verdict fits in report.html (INLINE_VERDICTS by default)."""
    main, pages = _pages(doc, catalog, inline_verdicts)
    pages = dict(pages)
    escaping.forget()
    return main, pages


def _pages(doc: dict, catalog, inline_verdicts: int | None):
    """(report.html, an iterator of (relative path, host page)): each host page is
    rendered when the iterator comes to it, so that write() holds one page at a time
    rather than all of a fleet's (~0.7 MB a host)."""
    inline_verdicts = INLINE_VERDICTS if inline_verdicts is None else inline_verdicts
    report = model.build(doc, catalog)
    css, js, csp = _assets()
    env = _environment()
    common = {"r": report, "css": css, "js": js, "csp": csp, "statuses": model.STATUSES,
              "frameworks": FRAMEWORKS}
    if len(report.verdicts) <= inline_verdicts:
        blocks = [verdicts.verdict_html(v, report.controls.get(v["control"])) for v in report.verdicts]
        return _with_verdicts(env.get_template("report.html.j2"), blocks,
                              **common, pages=None, filters=report.filters), iter(())
    pages = page_names(report.host_names)
    main = env.get_template("report.html.j2").render(**common, pages=pages)
    return main, _host_pages(report, env.get_template("report-host.html.j2"), pages, common)


def _host_pages(report: model.Report, template, pages: dict, common: dict):
    """(relative path, page) of each host, in the host table's order."""
    by_host: dict[str, list] = {}
    for v in report.verdicts:   # already in display order: failures first
        by_host.setdefault(v["host"], []).append(v)
    for row in report.hosts:
        recs = by_host.get(row.name, [])
        blocks = [verdicts.verdict_html(v, report.controls.get(v["control"])) for v in recs]
        yield pages[row.name], _with_verdicts(template, blocks, **common, row=row, fixed_host=row.name,
                                              filters=model.filters_of(recs, [row.name]))


def write(results: Path, out: Path, catalog=None, doc: dict | None = None) -> Path:
    """Render results.json into out (an HTML file), and a fleet's host pages into
    report-hosts/ beside it; returns out. `doc`: results.json already loaded."""
    doc = doc if doc is not None else results_mod.loads(Path(results).read_text())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.parent / PAGES_DIR
    # pages are written as they are rendered, first into a folder of their own: a
    # rendering that fails leaves the earlier report.html and its pages as they were
    partial = out.parent / (PAGES_DIR + ".partial")
    try:
        main, pages = _pages(doc, catalog, None)
        shutil.rmtree(partial, ignore_errors=True)
        for name, text in pages:
            partial.mkdir(exist_ok=True)
            (partial / PurePosixPath(name).name).write_text(text, encoding="utf-8")
        if folder.is_dir():            # an older rendering's pages would mislead
            for old in folder.glob("*.html"):
                old.unlink()
        if partial.is_dir():
            folder.mkdir(exist_ok=True)
            for page in partial.iterdir():
                page.replace(folder / page.name)
    finally:
        escaping.forget()
        shutil.rmtree(partial, ignore_errors=True)
    out.write_text(main, encoding="utf-8")
    return out
