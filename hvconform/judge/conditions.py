"""Rows whose check is a list of conditions over a set of key -> value settings
(sysctls, libvirt conf keys, sshd -T). Shared here so each kind only says where
its values come from.

A condition is `{key, op[, value][, default]}`, or `{any: [...]}` / `{all: [...]}`
over conditions, for requirements like "AllowGroups or AllowUsers set". The list
under `expect` is an implicit `all`.
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.ops import OPS, compare, describe, octal

_KEYS = {"key", "op", "value", "default"}
_LISTS = ("in", "not_in", "each_in")


def validate(check: dict) -> list[str]:
    conds = check.get("expect")
    if not isinstance(conds, list) or not conds:
        return ["'expect' must be a non-empty list of {key, op, value}"]
    return [e for i, c in enumerate(conds) for e in _validate(c, f"expect[{i}]")]


def _validate(c, where: str) -> list[str]:
    if isinstance(c, dict) and len(c) == 1 and next(iter(c)) in ("any", "all"):
        group = next(iter(c.values()))
        if not isinstance(group, list) or not group:
            return [f"{where}: '{next(iter(c))}' needs a non-empty list of conditions"]
        return [e for i, sub in enumerate(group) for e in _validate(sub, f"{where}.{next(iter(c))}[{i}]")]
    if not isinstance(c, dict) or "key" not in c or "op" not in c:
        return [f"{where} needs 'key' and 'op' (or is an 'any'/'all' group)"]
    op, value = c["op"], c.get("value")
    if set(c) - _KEYS:
        return [f"{where}: unknown keys {sorted(set(c) - _KEYS)}"]
    if op not in OPS:
        return [f"{where}: unknown op '{op}' (known: {', '.join(OPS)})"]
    if op not in ("present", "absent") and "value" not in c:
        return [f"{where}: op '{op}' needs a 'value'"]
    if op in _LISTS and not isinstance(value, list):
        return [f"{where}: op '{op}' needs a list value"]
    if op == "mode_within" and octal(value) is None:
        return [f"{where}: op 'mode_within' needs an octal mode like \"0770\", got {value!r}"]
    if op in ("matches", "not_matches"):
        try:
            re.compile(value)
        except (re.error, TypeError) as exc:
            return [f"{where}: bad regular expression {value!r}: {exc}"]
    return []


def keys(conds: list) -> list[str]:
    """Every key the conditions read, in order, once."""
    out: dict[str, None] = {}
    for c in conds:
        group = c.get("any", c.get("all")) if "key" not in c else None
        for k in (keys(group) if group is not None else [c["key"]]):
            out.setdefault(k, None)
    return list(out)


def _one(c, values, actual: dict) -> tuple[bool, str]:
    if "key" not in c:
        mode = "any" if "any" in c else "all"
        results = [_one(sub, values, actual) for sub in c[mode]]
        ok = (any if mode == "any" else all)(r[0] for r in results)
        return ok, "(" + f" {'or' if mode == 'any' else 'and'} ".join(r[1] for r in results) + ")"
    key, val = c["key"], values.get(c["key"])
    shown = "unset" if val is None else val
    if val is None and "default" in c:
        val = c["default"]
        shown = f"unset (default {val})"
    actual.setdefault(f"{key} = {shown}", None)
    return compare(val, c["op"], c.get("value")), describe(key, c["op"], c.get("value"))


def evaluate(conds: list[dict], values: dict) -> tuple[bool, str, str, list[str]]:
    """Apply conditions to `values` (key -> str, missing = unset).

    Returns (ok, expected, actual, failing) where expected/actual are one line each
    and `failing` names the conditions not met. An unset key takes the row's
    `default` (the built-in value) when the row gives one.
    """
    ok, expected, actual, failing = True, [], {}, []
    for c in conds:
        met, exp = _one(c, values, actual)
        expected.append(exp)
        if not met:
            ok = False
            failing.append(exp)
    return ok, "; ".join(expected), "; ".join(actual), failing


def verdict(conds: list[dict], values: dict, evidence: list):
    """Pass or fail `values` against the conditions, with one line each of expected and actual."""
    ok, expected, actual, failing = evaluate(conds, values)
    if ok:
        return v.passed(expected, actual, evidence)
    return v.failed(expected, actual, evidence, reason="not met: " + "; ".join(failing))
