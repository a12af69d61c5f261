"""One CSV row per verdict, for spreadsheets and ticket imports.

    write(results_doc, run_dir / "results.csv")

Cells that a spreadsheet would run as a formula (a value read from a host starting
with =, +, @, or - followed by a letter) get a leading apostrophe: the values come
from audited hosts and must not execute in the auditor's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

COLUMNS = ("control", "title", "domain", "severity", "host", "vm", "status", "expected",
           "actual", "reason", "waiver_approver", "waiver_ticket", "waiver_expires",
           "waiver_expired", "evidence", "test")


def _safe(value) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and text[1:2].isalpha()):
        return "'" + text
    return text


def row(rec: dict) -> dict:
    waiver = rec.get("waiver") or {}
    return {"control": rec["control"], "title": rec.get("title"), "domain": rec.get("domain"),
            "severity": rec.get("severity"), "host": rec["host"], "vm": rec.get("vm"),
            "status": rec["status"], "expected": rec.get("expected"), "actual": rec.get("actual"),
            "reason": rec.get("reason"), "waiver_approver": waiver.get("approver"),
            "waiver_ticket": waiver.get("ticket"), "waiver_expires": waiver.get("expires"),
            "waiver_expired": waiver.get("expired") if waiver else None,
            # source=sha256 per artifact: the row points at the hashed evidence
            "evidence": "; ".join(f"{e['source']}={e['sha256']}" for e in rec.get("evidence", [])),
            "test": rec.get("test")}


def _rows(doc: dict, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rec in doc["verdicts"]:
        cells = row(rec)
        writer.writerow([_safe(cells[k]) for k in COLUMNS])


def render(doc: dict) -> str:
    out = io.StringIO()
    _rows(doc, out)
    return out.getvalue()


def write(doc: dict, path: Path) -> Path:
    """Written as a stream: a fleet's CSV is never one string in memory."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        _rows(doc, out)
    return Path(path)
