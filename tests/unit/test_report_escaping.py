"""Host text escaped in Python (hvconform.deliver.report.escaping): each verdict's block
and the filters' options are written outside the template, and must be escaped
exactly as its autoescape (markupsafe) escapes, however often a text repeats."""

from __future__ import annotations

import json

from markupsafe import escape as autoescape

from hvconform.deliver.report import escaping, html
from tests.unit.test_report_html import HOSTILE, sample

VALUES = [HOSTILE, "", "a & b", "'\"", "<!--verdicts-->", "é → ü <x>", 3, 1.5, True, False, 1, 0,
          ["<x>", 1], {"a": "<b>"}, ("'",)]


def test_escaped_as_autoescape_escapes():
    for value in VALUES:
        assert escaping.escape(value) == str(autoescape(value)), value
    assert escaping.escape(None) == ""     # as the template's finalize shows None


def test_a_remembered_text_is_never_another_value_s():
    # True == 1 == 1.0 as dictionary keys: each must still show as its own str()
    for _ in range(2):
        assert [escaping.escape(v) for v in (1, True, 1.0, "1")] == ["1", "True", "1.0", "1"]


def test_past_its_limit_it_starts_again_and_stays_right(monkeypatch):
    # the limit is in characters: a host's long texts count as long
    monkeypatch.setattr(escaping._Escaped, "LIMIT", 40)
    for i in range(10):
        assert escaping.escape(f"<{i}>") == f"&lt;{i}&gt;"
        assert escaping._ESCAPED.size == sum(len(k) + len(v) for k, v in escaping._ESCAPED.items()) <= 40
    assert escaping.escape("<" * 30) == "&lt;" * 30           # longer than the limit: escaped, not kept
    assert escaping._ESCAPED.size <= 40


def test_a_report_s_texts_are_not_kept_after_it_is_rendered(tmp_path):
    html.render(sample())
    assert not escaping._ESCAPED
    results = tmp_path / "results.json"
    results.write_text(json.dumps(sample()))
    html.write(results, tmp_path / "report.html")
    assert not escaping._ESCAPED
