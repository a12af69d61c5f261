"""One CSV row per verdict, for spreadsheets and ticket imports.

    write(results_doc, run_dir / "results.csv")

Cells that a spreadsheet would run as a formula get a leading apostrophe: the values
come from audited hosts and must not execute in the auditor's spreadsheet. That is
any cell whose first character, or first after blanks, is =, +, -, @ (or their
full-width forms, which some spreadsheets fold), or that starts with a tab or a line
break, unless the whole cell is a plain number like -1 or -2.5 (`-2+3+cmd|...` is not).
"""

from __future__ import annotations

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
    # CRLF rows (RFC 4180), the cells quoted as csv.writer quotes them (_cell): with a
    # lone-LF terminator csv left a CR bare, so a host's '\r' split the row
    out.write(",".join(COLUMNS) + "\r\n")
    cell = _CellOnce()
    for rec in doc["verdicts"]:
        out.write(",".join(_cells(rec, cell)) + "\r\n")


def _cell(value) -> str:
    """A value as csv.writer(lineterminator="\r\n") writes it after _safe(): quoted when
    it holds a comma, a quote, CR or LF, its quotes doubled (QUOTE_MINIMAL, the
    default dialect). Written here, not by csv.writer: most cells repeat from row to
    row (_CellOnce), and csv's writer cost more than everything else per row."""
    text = _safe(value)
    if "," in text or '"' in text or "\r" in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


class _CellOnce(dict):
    """_cell() of each distinct value, made once: a fleet's rows repeat a few hundred
    controls, titles, hosts and statuses in most of their cells (83,000 rows at 300 hosts)."""

    def __missing__(self, value):
        text = _cell(value)
        # only a str (or None) is remembered: False == 0 == 0.0 as keys, not as cells
        if type(value) is str or value is None:
            self[value] = text
        return text


def _cells(rec: dict, once: _CellOnce) -> list[str]:
    """row(rec)'s cells in COLUMNS' order, each _cell(): through `once` where a value
    repeats from row to row, directly where it is the verdict's own (actual, reason,
    evidence, test), so what is remembered stays small."""
    get = rec.get
    waiver = get("waiver") or {}
    try:
        return [once[rec["control"]], once[get("title")], once[get("domain")], once[get("severity")],
                once[rec["host"]], once[get("vm")], once[rec["status"]], once[get("expected")],
                _cell(get("actual")), _cell(get("reason")), once[waiver.get("approver")],
                once[waiver.get("ticket")], once[waiver.get("expires")],
                once[waiver.get("expired") if waiver else None],
                _cell("; ".join(f"{e['source']}={e['sha256']}" for e in get("evidence", []))),
                _cell(get("test"))]
    except TypeError:   # a value that cannot be remembered (not a results.json of ours): as row() says
        cells = row(rec)
        return [_cell(cells[k]) for k in COLUMNS]


def render(doc: dict) -> str:
    out = io.StringIO()
    _rows(doc, out)
    return out.getvalue()


def write(doc: dict, path: Path) -> Path:
    """Written as a stream: a fleet's CSV is never one string in memory."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        _rows(doc, out)
    return Path(path)
