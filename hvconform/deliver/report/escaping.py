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

    LIMIT = 100_000    # distinct texts kept; past it, start again (every test id is a new one)

    def __missing__(self, text: str) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        out = self[text] = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                            .replace('"', "&#34;").replace("'", "&#39;"))
        return out


_ESCAPED = _Escaped()


def forget() -> None:
    """Drop the texts remembered: a report's texts should not outlive its rendering."""
    _ESCAPED.clear()


def escape(value) -> str:
    """A value from results.json as HTML text: None is empty (as the template's
    finalize makes it), anything else its str(), escaped."""
    return "" if value is None else _ESCAPED[str(value)]
