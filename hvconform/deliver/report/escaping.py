"""Host text as HTML text, for the parts of the report written in Python rather than
through the template (verdicts.py, the filters' options in html.py): escaped exactly
as the template's autoescape (markupsafe) escapes it.

    escape('</pre><b x="1">')     # '&lt;/pre&gt;&lt;b x=&#34;1&#34;&gt;'
"""

from __future__ import annotations


class _Escaped(dict):
    """text -> the text escaped, with str.replace: far faster than a translate table
    on long evidence excerpts. A fleet's verdicts repeat most of their text (a
    control's title, expected value and remediation on every host, an evidence
    excerpt on many): ~200 MB of verdicts at 300 hosts from a few MB of distinct
    text, so each distinct text is escaped once."""

    # what is kept, in characters (texts and their escapes): past it, start again. A
    # count of texts would not bound memory, since a host chooses how long its texts are
    LIMIT = 32 << 20
    size = 0

    def __missing__(self, text: str) -> str:
        out = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace('"', "&#34;").replace("'", "&#39;"))
        cost = len(text) + len(out)
        if cost > self.LIMIT:
            return out
        if self.size + cost > self.LIMIT:
            self.clear()
        self[text] = out
        self.size += cost
        return out

    def clear(self) -> None:
        super().clear()
        self.size = 0


_ESCAPED = _Escaped()


def forget() -> None:
    """Drop the texts remembered: a report's texts should not outlive its rendering."""
    _ESCAPED.clear()


def escape(value) -> str:
    """A value from results.json as HTML text: None is empty (as the template's
    finalize makes it), anything else its str(), escaped."""
    return "" if value is None else _ESCAPED[str(value)]
