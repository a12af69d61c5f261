"""The auditor's HTML report, rendered from results.json (and the catalog).

    python -m hvconform.deliver.report reports/<run-id>/results.json -o report.html

model.py computes what the report says (compliance, heatmap, waivers, drift,
traceability); html.py lays it out in one self-contained file. A run writes
reports/<run-id>/report.html at its end (fixtures/auditor_report.py); the command
re-renders any results.json, e.g. one taken from a bundle or a replay.
"""

from __future__ import annotations

import json
from pathlib import Path

from hvconform.deliver.report.html import render


def write(results: Path, out: Path, catalog=None) -> Path:
    """Render results.json into out (an HTML file); returns out."""
    doc = json.loads(Path(results).read_text())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(doc, catalog), encoding="utf-8")
    return out


__all__ = ["render", "write"]
