"""Drift: which verdicts changed since a baseline run, and the evidence behind each.

    base = load_baseline("reports/last-night/bundle.tar.gz")   # or a results.json
    section = compare(base, results_doc)                        # results.json `drift`

A change is a verdict whose status differs between the two runs, keyed by
(control, host, vm); a target present in one run only counts too (before or after
is null). New failures (now fail or error, before anything else) come first, then
the rest, each by severity. Behind each change: every evidence source whose
sha256 differs, with both excerpts, so the reader sees the value that moved.
"""

from __future__ import annotations

import json
from pathlib import Path

from hvconform.deliver import bundle
from hvconform.model import results

FAILING = ("fail", "error")
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class BaselineError(Exception):
    """A baseline that cannot be read, with the path named."""


def load_baseline(path: str | Path) -> dict:
    """results.json of an older run: a bundle (.tar.gz or unpacked) or the file itself."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            doc = results.loads(path.read_text())
        else:
            files = bundle.read(path)
            if "results.json" not in files:
                raise BaselineError(f"{path}: the bundle has no results.json")
            doc = results.loads(files["results.json"])
    except bundle.BundleError as exc:
        raise BaselineError(str(exc)) from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("verdicts"), list):
        raise BaselineError(f"{path}: not a results.json (no verdicts list)")
    return doc


def _key(rec: dict) -> tuple:
    return rec["control"], rec["host"], rec.get("vm")


def is_new_failure(before: str | None, after: str | None) -> bool:
    return after in FAILING and before not in FAILING


def evidence_changes(before: dict | None, after: dict | None) -> list[dict]:
    """Evidence sources whose sha256 differs (or that one side lacks)."""
    old = {e["source"]: e for e in (before or {}).get("evidence", [])}
    new = {e["source"]: e for e in (after or {}).get("evidence", [])}
    out = []
    for source in sorted(set(old) | set(new)):
        b, a = old.get(source), new.get(source)
        if b and a and b["sha256"] == a["sha256"]:
            continue
        out.append({"source": source,
                    "before_sha256": b["sha256"] if b else None,
                    "after_sha256": a["sha256"] if a else None,
                    "before_excerpt": b.get("excerpt") if b else None,
                    "after_excerpt": a.get("excerpt") if a else None})
    return out


def compare(baseline: dict, current: dict, baseline_name: str = "") -> dict:
    """The `drift` section of results.json."""
    old = {_key(r): r for r in baseline["verdicts"]}
    new = {_key(r): r for r in current["verdicts"]}
    changes = []
    for key in set(old) | set(new):
        b, a = old.get(key), new.get(key)
        before, after = (b or {}).get("status"), (a or {}).get("status")
        if before == after:
            continue
        meta = a or b
        changes.append({"control": key[0], "host": key[1], "vm": key[2],
                        "title": meta.get("title"), "severity": meta.get("severity"),
                        "before": before, "after": after,
                        "new_failure": is_new_failure(before, after),
                        "reason": (a or {}).get("reason"),
                        "evidence": evidence_changes(b, a)})
    changes.sort(key=lambda c: (not c["new_failure"], SEVERITY_ORDER.get(c["severity"], 3),
                                c["control"], c["host"], c["vm"] or ""))
    return {"baseline": baseline_name,
            "baseline_run": baseline.get("run", {}).get("id"),
            "new_failures": sum(c["new_failure"] for c in changes),
            "changes": changes}
