"""A fleet's report (hvconform.deliver.report.html): above a number of verdicts,
report.html is the summary and each host's verdicts are on a page of its own, with the
same escaping, filters, CSS, JavaScript and Content-Security-Policy. The browser test
at fleet size is tests/integration/test_report_browser.py."""

from __future__ import annotations

import json
import re

import pytest

from hvconform.deliver.report import html
from tests.unit.test_report_html import HOSTILE, evidence, sample
from tests.unit.test_report_model import doc, rec


def csp(page: str) -> str:
    return re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)


def test_small_runs_keep_every_verdict_in_report_html():
    main, pages = html.render_pages(sample())
    assert pages == {} and main.count('<details class="verdict') == 5


def test_above_the_limit_each_host_has_its_page_one_click_from_the_summary():
    main, pages = html.render_pages(sample(), inline_verdicts=0)
    assert '<details class="verdict' not in main and 'id="pages-note"' in main
    assert set(pages) == {"report-hosts/00000-a.html", "report-hosts/00001-b.html",
                          "report-hosts/00002-inventory-wide.html"}
    # the host table links each host to its page, and says where it is for the script
    assert '<tr data-host="a" data-page="report-hosts/00000-a.html">' in main
    assert '<a href="report-hosts/00000-a.html">a</a>' in main
    # the heatmap opens a host's page filtered to a domain
    assert 'href="report-hosts/00000-a.html#domain=qemu"' in main
    a = pages["report-hosts/00000-a.html"]
    assert a.count('<details class="verdict') == 2 and 'data-host="b"' not in a
    assert 'href="../report.html"' in a and 'id="filters"' in a
    assert 'data-control="QEMU-001"' in a and "user = &#34;root&#34;" in a
    assert csp(a) == csp(main) and "default-src 'none'" in csp(a)
    # every verdict is on exactly one page
    assert sum(p.count('<details class="verdict') for p in pages.values()) == len(sample()["verdicts"])


def test_host_page_names_are_safe_whatever_the_host_is_called():
    names = html.page_names(["../../etc/passwd", HOSTILE, ".hidden", "*", "ok-host_1.a"])
    for name in names.values():
        assert re.fullmatch(r"report-hosts/\d{5}-[A-Za-z0-9_.-]+\.html", name), name
        assert "/.." not in name and not name.split("/", 1)[1].split("-", 1)[1].startswith(".")
    assert names["ok-host_1.a"] == "report-hosts/00004-ok-host_1.a.html"
    main, pages = html.render_pages(doc(rec("QEMU-001", HOSTILE, "fail", title=HOSTILE)), inline_verdicts=0)
    assert "<script>alert" not in main and all("<script>alert" not in p for p in pages.values())


def test_a_rendering_replaces_the_pages_of_an_earlier_one(tmp_path):
    results = tmp_path / "results.json"
    big = sample()
    results.write_text(json.dumps(big))
    stale = tmp_path / html.PAGES_DIR / "00009-gone.html"
    stale.parent.mkdir()
    stale.write_text("old")
    old_limit, html.INLINE_VERDICTS = html.INLINE_VERDICTS, 0
    try:
        html.write(results, tmp_path / "report.html")
    finally:
        html.INLINE_VERDICTS = old_limit
    assert not stale.exists()
    assert (tmp_path / "report-hosts" / "00000-a.html").is_file()


def test_host_text_cannot_stand_for_where_the_verdicts_go():
    mark = "<!--verdicts-->"     # html.py puts the verdicts' blocks in its place
    d = doc(rec("QEMU-001", "a", "fail", title=mark, reason=mark, evidence=evidence(mark, source=mark)))
    main, pages = html.render_pages(d, inline_verdicts=0)
    for page in (html.render(d), pages["report-hosts/00000-a.html"]):
        assert page.count('<details class="verdict') == 1 and mark not in page
        assert "&lt;!--verdicts--&gt;" in page


def test_written_pages_are_the_rendered_ones(tmp_path, monkeypatch):
    # write() renders each host page as it writes it; render_pages() returns them all
    results = tmp_path / "results.json"
    results.write_text(json.dumps(sample()))
    monkeypatch.setattr(html, "INLINE_VERDICTS", 0)
    html.write(results, tmp_path / "report.html")
    main, pages = html.render_pages(sample())
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == main
    written = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8")
               for p in (tmp_path / html.PAGES_DIR).glob("*.html")}
    assert written == pages and len(pages) == 3


def test_a_rendering_that_fails_leaves_the_earlier_report_whole(tmp_path, monkeypatch):
    # host pages are written as they are rendered: one that fails half-way must not
    # leave the earlier report.html pointing at a mix of old pages and new ones
    results = tmp_path / "results.json"
    results.write_text(json.dumps(sample()))
    monkeypatch.setattr(html, "INLINE_VERDICTS", 0)
    html.write(results, tmp_path / "report.html")
    before = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
              for p in [tmp_path / "report.html", *(tmp_path / html.PAGES_DIR).glob("*")]}
    rendered = html._host_pages

    def fails_on_the_second(*args):
        for i, page in enumerate(rendered(*args)):
            if i == 1:
                raise RuntimeError("rendering failed")
            yield page
    monkeypatch.setattr(html, "_host_pages", fails_on_the_second)
    with pytest.raises(RuntimeError):
        html.write(results, tmp_path / "report.html")
    after = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
             for p in [tmp_path / "report.html", *(tmp_path / html.PAGES_DIR).glob("*")]}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report-hosts", "report.html", "results.json"]
