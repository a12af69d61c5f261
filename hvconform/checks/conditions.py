"""Rows whose check is a list of `{key, op, value[, default]}` conditions over a
set of key -> value settings (sysctls, libvirt conf keys, sshd -T). Shared here so
each kind only says where its values come from."""

from __future__ import annotations

from hvconform.checks.ops import OPS, compare, describe


def validate(check: dict) -> list[str]:
    conds = check.get("expect")
    if not isinstance(conds, list) or not conds:
        return ["'expect' must be a non-empty list of {key, op, value}"]
    errs = []
    for i, c in enumerate(conds):
        if not isinstance(c, dict) or "key" not in c or "op" not in c:
            errs.append(f"expect[{i}] needs 'key' and 'op'")
        elif c["op"] not in OPS:
            errs.append(f"expect[{i}]: unknown op '{c['op']}' (known: {', '.join(OPS)})")
        elif c["op"] not in ("present", "absent") and "value" not in c:
            errs.append(f"expect[{i}]: op '{c['op']}' needs a 'value'")
        elif set(c) - {"key", "op", "value", "default"}:
            errs.append(f"expect[{i}]: unknown keys {sorted(set(c) - {'key', 'op', 'value', 'default'})}")
    return errs


def evaluate(conds: list[dict], values: dict) -> tuple[bool, str, str, list[str]]:
    """Apply conditions to `values` (key -> str, missing = unset).

    Returns (ok, expected, actual, failing) where expected/actual are one line each
    and `failing` names the conditions not met. An unset key takes the row's
    `default` (the built-in value) when the row gives one.
    """
    ok, expected, actual, failing = True, [], [], []
    for c in conds:
        key = c["key"]
        val = values.get(key)
        shown = "unset" if val is None else val
        if val is None and "default" in c:
            val = c["default"]
            shown = f"unset (default {val})"
        exp = describe(key, c["op"], c.get("value"))
        expected.append(exp)
        actual.append(f"{key} = {shown}")
        if not compare(val, c["op"], c.get("value")):
            ok = False
            failing.append(exp)
    return ok, "; ".join(expected), "; ".join(actual), failing
