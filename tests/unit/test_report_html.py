"""The auditor report's HTML (hvconform.deliver.report): one self-contained file, every value
escaped, each status shown for what it is. The browser test (tests/integration/
test_report_browser.py) opens it in Chromium; these read the markup."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from hvconform import __main__ as cli
from hvconform.deliver.report.html import render
from tests.unit.test_report_model import doc, rec

HOSTILE = '</pre><script>alert(1)</script>"><img src=x onerror=alert(2)>'


def evidence(excerpt="ok", source="cat -- /etc/libvirt/qemu.conf"):
    return [{"source": source, "sha256": "a" * 64, "excerpt": excerpt, "collected_at": "2026-01-01T00:00:00Z"}]


def sample():
    waiver = {"approver": "Jane Doe (CISO)", "expires": "2027-01-31", "justification": "legacy guest",
              "ticket": "SEC-1234", "expired": False}
    return doc(
        rec("QEMU-001", "a", "fail", severity="high", evidence=evidence("user = \"root\""),
            references={"pp_virt": ["FPT_VIV_EXT.1"], "nist": ["AC-6"]}),
        rec("QEMU-002", "a", "waived", waiver=waiver, evidence=evidence()),
        rec("HOST-021", "b", "manual", domain="host", reason="compare each guest's OS with the baseline"),
        rec("QEMU-013", "b", "pass", vm="vm1", evidence=evidence()),
        rec("ISO-026", "*", "fail", domain="isolation", vms=["a/vm1", "b/vm2"]),
        waivers={"file": "waivers.yaml", "unmatched": [
            {"control": "NET-001", "scope": {"hosts": ["c*"], "vms": None}, "approver": "Bob",
             "expires": "2026-12-31", "ticket": "SEC-9", "reason": "no NET-001 verdict in scope"}]})


def test_hostile_evidence_and_names_are_escaped_everywhere():
    d = doc(rec("QEMU-001", HOSTILE, "fail", title=HOSTILE, reason=HOSTILE, vm=HOSTILE,
                evidence=evidence(HOSTILE, source=HOSTILE), references={"nist": [HOSTILE]}))
    page = render(d)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # one script element: the report's own
    assert len(re.findall(r"<script\b", page)) == 1


def test_self_contained_and_the_policy_allows_only_its_own_style_and_script():
    page = render(sample())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "<link" not in page and "@import" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp, tag
    assert ' style="' not in page   # the policy would block it


def test_summary_numbers():
    page = render(sample())
    assert '<div class="value" id="overall-compliance">20%</div>' in page   # 1 pass of 5 assessed
    for status, n in (("fail", 2), ("waived", 1), ("manual", 1), ("pass", 1), ("error", 0)):
        assert re.search(rf'id="count-{status}"><div class="value">{n}</div>', page), status


def test_waived_shows_who_and_until_when_and_unmatched_waivers_are_listed():
    page = render(sample())
    waived = page[page.index('id="waived-table"'):page.index("</table>", page.index('id="waived-table"'))]
    assert "Jane Doe (CISO)" in waived and "2027-01-31" in waived and "SEC-1234" in waived
    unmatched = page[page.index('id="unmatched-waivers"'):]
    assert "NET-001" in unmatched and "no NET-001 verdict in scope" in unmatched and "c*" in unmatched


def test_manual_is_its_own_status_with_what_to_look_at():
    page = render(sample())
    manual = page[page.index('id="manual-table"'):page.index("</table>", page.index('id="manual-table"'))]
    assert "HOST-021" in manual and "compare each guest&#39;s OS with the baseline" in manual
    assert 'data-status="manual"' in page and '<span class="badge s-manual">manual</span>' in page


def test_isolation_section_lists_the_vms_of_a_cross_vm_finding():
    page = render(sample())
    iso = page[page.index('id="isolation-list"'):page.index('id="details"')]
    assert "ISO-026" in iso and "<code>a/vm1</code>" in iso and "QEMU-001" not in iso


def test_each_verdict_carries_its_filter_attributes_and_evidence():
    page = render(sample())
    row = re.search(r'<details class="verdict s-fail" data-host="a"[^>]*data-control="QEMU-001"[^>]*>', page).group(0)
    assert 'data-severity="high"' in row and 'data-domain="qemu"' in row
    assert 'data-refs="|pp_virt|nist|pp_virt:FPT_VIV_EXT.1|nist:AC-6|"' in row
    assert 'data-vm="b/vm1"' in page
    assert "a" * 64 in page and "user = &#34;root&#34;" in page and "2026-01-01T00:00:00Z" in page


def test_drift_section_only_when_results_have_drift():
    assert 'id="drift"' not in render(sample())
    change = {"control": "QEMU-001", "host": "a", "vm": None, "before": "pass", "after": "fail",
              "new_failure": True, "evidence": [{"source": "cat -- /etc/libvirt/qemu.conf",
                                                 "before_sha256": "b" * 64, "after_sha256": "c" * 64,
                                                 "before_excerpt": 'user = "qemu"', "after_excerpt": 'user = "root"'}]}
    page = render({**sample(), "drift": {"baseline": "reports/last-night/bundle.tar.gz", "baseline_run": "night-1",
                                         "new_failures": 1, "changes": [change]}})
    assert '<b id="new-failures">1 new failure(s)</b>' in page and "night-1" in page
    drift = page[page.index('id="drift-table"'):]
    assert "new failure" in drift and "user = &#34;qemu&#34;" in drift and "user = &#34;root&#34;" in drift
    assert "reports/last-night/bundle.tar.gz" in page


def test_replay_catalog_change_and_interruption_are_announced():
    d = sample()
    d["run"].update(replayed_from="/r/bundle.tar.gz", replayed_run="night-1",
                    catalog_changed={"bundle": "1" * 64, "current": "2" * 64, "note": "new catalog"},
                    interrupted="interrupted (KeyboardInterrupt)",
                    not_judged=["suites/qemu/test_qemu.py::test_function[c-QEMU-001]"])
    page = render(d)
    assert 'id="replayed"' in page and "/r/bundle.tar.gz" in page and "night-1" in page
    assert 'id="catalog-changed"' in page and "1" * 16 in page and "2" * 16 in page
    incomplete = page[page.index('id="incomplete"'):]
    assert "KeyboardInterrupt" in incomplete and "test_function[c-QEMU-001]" in incomplete
    quiet = render(sample())
    assert 'id="replayed"' not in quiet and 'id="catalog-changed"' not in quiet and 'id="incomplete"' not in quiet


def test_unverified_host_key_and_uncollected_host_are_flagged():
    d = sample()
    d["hosts"][0].update(identity={"host_key": "ssh-ed25519 SHA256:x", "host_key_verified": False})
    d["hosts"][1].update(status="unreachable", error="connection refused")
    page = render(d)
    assert "NOT VERIFIED" in page and "connection refused" in page


def test_traceability_section_links_references_to_controls_and_verdicts():
    page = render(sample())
    trace = page[page.index('id="traceability"'):]
    assert 'data-ref="pp_virt:FPT_VIV_EXT.1"' in trace
    assert 'href="#ref=pp_virt%3AFPT_VIV_EXT.1"' in trace
    assert "suites/qemu/test_qemu.py::test_function[a-QEMU-001]" in trace


def test_command_line_renders_a_results_file(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(sample()))
    assert cli.main(["report", str(results), "--no-catalog"]) == 0
    out = tmp_path / "report.html"
    assert f"report: {out}" in capsys.readouterr().out
    assert "QEMU-001" in out.read_text()
