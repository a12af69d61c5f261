"""One CSV row per verdict, for spreadsheets and ticket imports.

    write(results_doc, run_dir / "results.csv")

Cells that a spreadsheet would run as a formula get a leading apostrophe: the values
come from audited hosts and must not execute in the auditor's spreadsheet. That is
any cell whose first character, or first after blanks, is =, +, -, @ (or their
full-width forms, which some spreadsheets fold), or that starts with a tab or a line
break, unless the whole cell is a plain number like -1 or -2.5 (`-2+3+cmd|...` is not).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

COLUMNS = ("control", "title", "domain", "severity", "host", "vm", "status", "expected",
           "actual", "reason", "waiver_approver", "waiver_ticket", "waiver_expires",
           "waiver_expired", "evidence", "test")


_FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?\Z")


def _safe(value) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    # most cells start with a letter: the number test only for those that look risky
    if text[:1] in ("\t", "\r", "\n") or text.lstrip(" \t\r\n")[:1] in _FORMULA_START:
        return text if _PLAIN_NUMBER.match(text) else "'" + text
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
    # CRLF rows (RFC 4180): the writer then quotes any cell holding a CR or LF, which
    # a lone-LF terminator left bare, so a host's '\r' split the row
    writer = csv.writer(out, lineterminator="\r\n")
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
