"""Text from hosts (VM names, error texts, command output) on a terminal, made inert.

A domain named "\x1b]2;owned\x07" or an error quoting a hostile banner would
otherwise rewrite the auditor's terminal (title, colours, cursor, or a line that
hides the one before it). printable() shows every control character as an escape
(\x1b, \r, \u202e) instead; it is applied to each line hvconform prints.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder text
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """`text` as one inert terminal line: controls (newlines too) shown escaped."""
    return _CONTROL.sub(_escape, str(text))


def _escape(m: re.Match) -> str:
    c = m[0]
    if c == "\t":
        return " "
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
