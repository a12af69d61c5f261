"""The trend as one self-contained HTML page: charts drawn here as inline SVG.

    trend_html.write(trend.build(found.runs), "trend.html", found.skipped)

Three pictures a person reads at a glance: the whole fleet's compliance over the runs
with the failures each run added (up, red) and fixed (down, green); then hosts x runs
and domains x runs, each cell coloured by its compliance and showing it. Below them,
each run with the failures it added and fixed. The numbers are trend.percent's, the
same as the CSV's.

Host, run and control names come from the runs read, someone else's data: this module
only computes coordinates, the template (autoescape) writes every string, and the
Content-Security-Policy allows no script at all and only this page's own style.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from hvconform import __version__
from hvconform.deliver.trend import Step, Trend, percent

TEMPLATES = Path(__file__).resolve().parent / "report" / "templates"
LINE = {"left": 52, "top": 18, "plot_w": 640, "plot_h": 150, "bars_h": 70, "right": 40, "pad": 28}
CELL_W, CELL_H, LABEL_W, HEAD_H = 76, 26, 200, 34
NAME_SHOWN = 28         # longer names are cut in the charts (the full name is in the tooltip)


@dataclass
class Point:
    x: float
    y: float
    text: str           # "84.2%" or "n/a"
    title: str
    run: str


@dataclass
class Bar:
    x: float
    y: float
    h: float
    n: int
    kind: str           # "new" or "fixed"
    title: str


@dataclass
class Cell:
    x: float
    y: float
    bucket: str         # hm-0 .. hm-10, hm-na, or "absent"
    text: str           # the compliance shown (as in the CSV), "" when absent
    title: str
    run: str
    row: str
    new: int | None
    fixed: int | None


@dataclass
class Grid:
    rows: list          # [(name, shown name, y, [Cell])]
    columns: list       # [(x, label, run id)]
    width: float
    height: float


def _short(name: str) -> str:
    return name if len(name) <= NAME_SHOWN else name[: NAME_SHOWN - 1] + "…"


def _label(step: Step) -> str:
    text = step.run.started_text
    return text[5:16].replace("T", " ") if len(text) >= 16 else text


def _bucket(t) -> str:
    if t is None:
        return "absent"
    return t.bucket


def line_chart(trend: Trend) -> dict:
    g = LINE
    n = len(trend.steps)
    inner = g["plot_w"] - 2 * g["pad"]          # points stay clear of the axis labels
    step_x = inner / (n - 1) if n > 1 else 0

    def x(i):
        return round(g["left"] + g["pad"] + (i * step_x if n > 1 else inner / 2), 1)

    points = []
    for i, s in enumerate(trend.steps):
        c = s.overall.compliance
        y = g["top"] + g["plot_h"] * (1 - (c if c is not None else 0))
        pct = percent(s.overall)
        points.append(Point(x(i), round(y, 1), f"{pct}%" if pct else "n/a",
                            f"{s.run.id} ({s.run.started_text}): {s.overall.counts['pass']} pass of "
                            f"{s.overall.assessed} assessed", s.run.id))
    path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points)
                    if trend.steps[i].overall.compliance is not None)
    base = g["top"] + g["plot_h"] + 24 + g["bars_h"] / 2        # the bars' zero line
    most = max([s.new_in() or 0 for s in trend.steps] + [s.fixed_in() or 0 for s in trend.steps] + [1])
    half = g["bars_h"] / 2 - 2
    bars = []
    for i, s in enumerate(trend.steps):
        for kind, count in (("new", s.new_in()), ("fixed", s.fixed_in())):
            if not count:
                continue
            h = round(max(2.0, half * count / most), 1)
            bars.append(Bar(x(i) - 7, base - h if kind == "new" else base, h, count, kind,
                            f"{s.run.id}: {count} {'new failure(s)' if kind == 'new' else 'fixed'}"))
    ticks = [(round(g["top"] + g["plot_h"] * (1 - p / 100), 1), f"{p}%") for p in (0, 25, 50, 75, 100)]
    labels = [(x(i), _label(s), s.run.id) for i, s in enumerate(trend.steps)]
    return {"points": points, "path": path, "bars": bars, "ticks": ticks, "labels": labels,
            "base": base, "left": g["left"], "right_edge": g["left"] + g["plot_w"],
            "top": g["top"], "plot_bottom": g["top"] + g["plot_h"],
            "width": g["left"] + g["plot_w"] + g["right"], "height": base + g["bars_h"] / 2 + 28}


def grid(trend: Trend, names: list[str], of) -> Grid:
    """Rows `names`, one column per run; `of(step, name)` -> (Tally or None, new, fixed)."""
    columns = [(LABEL_W + i * CELL_W + CELL_W / 2, _label(s), s.run.id) for i, s in enumerate(trend.steps)]
    rows = []
    for r, name in enumerate(names):
        y = HEAD_H + r * CELL_H
        cells = []
        for i, s in enumerate(trend.steps):
            t, new, fixed = of(s, name)
            pct = percent(t) if t is not None else ""
            if t is None:
                title = f"{name}: not in run {s.run.id}"
            else:
                title = (f"{name}, run {s.run.id} ({s.run.started_text}): "
                         f"{pct + '%' if pct else 'nothing assessed'}, {t.counts['pass']} pass of {t.assessed} "
                         f"assessed" + ("" if new is None else f"; {new} new failure(s), {fixed} fixed"))
            cells.append(Cell(LABEL_W + i * CELL_W, y, _bucket(t), pct if t is not None else "",
                              title, s.run.id, name, new, fixed))
        rows.append((name, _short(name), y, cells))
    return Grid(rows, columns, LABEL_W + len(trend.steps) * CELL_W + 8, HEAD_H + len(names) * CELL_H + 4)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render(trend: Trend, skipped=()) -> str:
    css = (TEMPLATES / "trend.css").read_text()
    csp = ("default-src 'none'; img-src 'none'; script-src 'none'; base-uri 'none'; "
           f"form-action 'none'; style-src {_csp_hash(css)}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             finalize=lambda value: "" if value is None else value)
    env.filters["pct"] = lambda t: (percent(t) + "%") if t is not None and percent(t) else "n/a"
    hosts = grid(trend, trend.hosts, lambda s, h: (s.hosts.get(h), s.new_in(host=h) if h in s.hosts else None,
                                                   s.fixed_in(host=h) if h in s.hosts else None))
    domains = grid(trend, trend.domains, lambda s, d: (s.domains.get(d),
                                                       s.new_in(domain=d) if d in s.domains else None,
                                                       s.fixed_in(domain=d) if d in s.domains else None))
    return env.get_template("trend.html.j2").render(
        t=trend, line=line_chart(trend) if trend.steps else None, hosts=hosts, domains=domains,
        skipped=list(skipped), css=css, csp=Markup(csp), version=__version__, cell_w=CELL_W,
        cell_h=CELL_H, label_w=LABEL_W)


def write(trend: Trend, path, skipped=()) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(trend, skipped), encoding="utf-8")
    return path
