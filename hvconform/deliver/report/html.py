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
from pathlib import Path

import jinja2
from markupsafe import Markup

from hvconform.deliver.report import model
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


def render(doc: dict, catalog=None) -> str:
    """The report of one results.json document, as a string of HTML."""
    report = model.build(doc, catalog)
    css = (HERE / "templates" / "report.css").read_text() + _WIDTHS
    js = (HERE / "templates" / "report.js").read_text()
    csp = ("default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
           f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}")
    return _environment().get_template("report.html.j2").render(
        r=report, css=css, js=js, csp=Markup(csp), statuses=model.STATUSES, frameworks=FRAMEWORKS)


def write(results: Path, out: Path, catalog=None) -> Path:
    """Render results.json into out (an HTML file); returns out."""
    doc = json.loads(Path(results).read_text())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(doc, catalog), encoding="utf-8")
    return out
