"""Text from hosts (VM names, error texts, command output) on a terminal, made inert.

A domain named "\x1b]2;owned\x07" or an error quoting a hostile banner would
otherwise rewrite the auditor's terminal (title, colours, cursor, or a line that
hides the one before it, or text reordered by a bidirectional override).
printable() is the one function every line hvconform prints goes through: the
pytest front end (fixtures/), `python -m hvconform audit` and its progress line
(cli/progress.py) alike.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the invisible format characters that reorder or
# hide text (Arabic letter mark, zero-width, bidi embeddings, overrides and isolates,
# line and paragraph separators, word joiners, BOM)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def printable(text, limit: int | None = None) -> str:
    """`text` as one inert terminal line: each control character shown as its escape
    (\\x1b, \\n, \\u202e); cut to `limit` characters when given."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return _UNPRINTABLE.sub(lambda m: _escape(m.group(0)), text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def status_counts(counts) -> str:
    """A host's verdicts by status (a Counter), as both front ends' summaries print them:
    "150 pass, 297 fail, 0 error, 67 not applicable, 1 manual" (manual, waived if any)."""
    line = (f"{counts['pass']} pass, {counts['fail']} fail, {counts['error']} error, "
            f"{counts['not_applicable']} not applicable")
    if counts["manual"]:
        line += f", {counts['manual']} manual"
    if counts["waived"]:
        line += f", {counts['waived']} waived"
    return line
