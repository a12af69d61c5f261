"""The closed set of comparison operators a catalog row may use.

Values are compared as numbers when both sides read as numbers, else as strings,
so `kernel.kptr_restrict` "1" satisfies `{op: ge, value: 1}`.
"""

from __future__ import annotations

import re

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "matches", "not_matches",
       "present", "absent", "mode_within", "each_in")


def _num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    try:
        return int(str(v).strip(), 0) if re.fullmatch(r"\s*-?(0x[0-9a-fA-F]+|\d+)\s*", str(v)) else float(v)
    except (TypeError, ValueError):
        return None


def _same(a, b) -> bool:
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return na == nb
    return str(a).strip() == str(b).strip()


def octal(text) -> int | None:
    """'0770' or '770' -> 0o770; None when it is not an octal mode."""
    text = str(text).strip()
    return int(text, 8) if re.fullmatch(r"[0-7]{1,4}", text) else None


def items(text) -> list[str]:
    """A comma- or space-separated list, as sshd -T prints `ciphers a,b,c`."""
    return [i for i in re.split(r"[,\s]+", str(text)) if i]


def compare(actual, op: str, value=None) -> bool:
    """True when `actual` (None = absent) satisfies `op value`."""
    if op == "present":
        return actual is not None
    if op == "absent":
        return actual is None
    if actual is None:
        # an absent value satisfies only "not this"
        return op in ("ne", "not_in", "not_matches")
    if op == "eq":
        return _same(actual, value)
    if op == "ne":
        return not _same(actual, value)
    if op == "in":
        return any(_same(actual, v) for v in value)
    if op == "not_in":
        return not any(_same(actual, v) for v in value)
    if op == "matches":
        return re.search(value, str(actual)) is not None
    if op == "not_matches":
        return re.search(value, str(actual)) is None
    if op == "mode_within":
        # a permission string (libvirt's unix_sock_*_perms) with no bit outside `value`
        mode, limit = octal(actual), octal(value)
        return mode is not None and limit is not None and mode & ~limit == 0
    if op == "each_in":
        return all(any(_same(i, v) for v in value) for i in items(actual))
    na, nv = _num(actual), _num(value)
    if na is None or nv is None:
        return False
    return {"lt": na < nv, "le": na <= nv, "gt": na > nv, "ge": na >= nv}[op]


_WORDS = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
          "in": "in", "not_in": "not in", "matches": "matches", "not_matches": "does not match",
          "mode_within": "within mode", "each_in": "only from"}


def describe(key: str, op: str, value=None) -> str:
    """`describe("kernel.kptr_restrict", "ge", 1)` -> 'kernel.kptr_restrict >= 1'."""
    if op == "present":
        return f"{key} set"
    if op == "absent":
        return f"{key} not set"
    if op in ("in", "not_in", "each_in"):
        value = "[" + ", ".join(str(v) for v in value) + "]"
    return f"{key} {_WORDS[op]} {value}"
