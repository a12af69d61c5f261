"""The report's HTML, byte for byte: a results.json that uses every section (every
status, waivers valid and expired, manual, isolation, drift, overlays, identity
conflicts, a replay that was interrupted) and hostile text in every field, rendered
as one page and as a fleet's summary with host pages, against files rendered before.

Any change to what the report says, or to how a value is escaped, shows here as a
diff; a speed-up must leave them unchanged. After a change meant to show, regenerate
the files and read their diff:

    python -m tests.unit.test_report_golden

The inlined CSS and JavaScript and the Content-Security-Policy that hashes them are
left out of the comparison: they are the package's own files, and
test_report_html.test_self_contained_... checks the hashes match them.
"""

from __future__ import annotations

import re
from pathlib import Path

from hvconform.deliver.report import html
from hvconform.inputs.catalog import Catalog, Control
from tests.unit.test_report_html import HOSTILE, evidence
from tests.unit.test_report_model import doc, rec

GOLDEN = Path(__file__).resolve().parent / "report_golden"


def _control(cid, domain="qemu", applies_to="host", refs=None, rationale="because"):
    return Control(id=cid, domain=domain, title=f"title of {cid}", severity="high", applies_to=applies_to,
                   check={"kind": "function"}, rationale=rationale, remediation="", references=refs or {})


REFS = {"nist": ["AC-12", "AC-3"], "pp_virt": "FPT_VIV_EXT.1 (no degradation of other VMs)",
        "libvirt": ["docs/kbase/launch_security_sev.rst 'SEV'"], "site<x>": [HOSTILE]}
CATALOG = Catalog([_control("QEMU-001", refs=REFS, rationale=HOSTILE),
                   _control("QEMU-002", refs={"nist": ["AC-3"]}),
                   _control("ISO-026", "isolation", "inventory", refs={"nist": ["SC-7"]}),
                   _control("HOST-099", "host", refs={"nist": ["CM-6"]})], "1" * 64)


def golden_doc() -> dict:
    """Every section of the report, with host text that tries to break out everywhere."""
    waiver = {"approver": HOSTILE, "expires": "2027-01-31", "justification": HOSTILE,
              "ticket": "SEC-1234", "source": "waivers.yaml:3", "expired": False}
    expired = {**waiver, "approver": "J. Doe", "expires": "2020-01-01", "ticket": None, "expired": True}
    verdicts = [
        rec("QEMU-001", "a", "fail", severity="high", references=dict(REFS), reason=HOSTILE,
            evidence=evidence('user = "root" é → ü') + evidence("", source=HOSTILE)),
        rec("QEMU-001", "b", "pass", severity="high", references=dict(REFS), evidence=evidence()),
        rec("QEMU-001", HOSTILE, "error", severity="high", references=dict(REFS),
            reason="host unreachable", actual=None, expected=None),
        rec("QEMU-002", "a", "waived", waiver=waiver, references={"nist": ["AC-3"]},
            evidence=[{"source": "cat -- /etc/x", "sha256": None, "excerpt": None}]),
        rec("QEMU-002", "b", "fail", waiver=expired, references={"nist": ["AC-3"]}),
        rec("QEMU-013", "b", "not_applicable", vm="vm1", reason="no such device"),
        rec("QEMU-013", "b", "pass", vm=HOSTILE, expected=3, actual=["x", 1], severity="low"),
        rec("HOST-021", "a", "manual", domain="host", reason=HOSTILE),
        rec("HOST-021", "b", "manual", domain="host", reason=HOSTILE),
        rec("HOST-022", "a", "pass", domain="host", severity="weird<sev>", title=HOSTILE),
        rec("ISO-026", "*", "fail", domain="isolation", vms=["a/vm1", HOSTILE, 7], severity="critical"),
        rec("SITE-001", "a", "fail", domain="site<d>", overlay="ours", test=None),
        {"control": "BARE-001", "host": "b", "status": "odd<status>"},
    ]
    d = doc(*verdicts,
            waivers={"file": "waivers.yaml", "as_of": "2026-01-01", "unmatched": [
                {"control": "NET-001", "scope": {"hosts": ["c*", HOSTILE], "vms": None}, "approver": "Bob",
                 "expires": "2026-12-31", "ticket": "SEC-9", "reason": "no NET-001 verdict in scope"},
                HOSTILE]},
            identity_conflicts=[{"field": "machine_id", "value": HOSTILE, "hosts": ["a", "b"]}],
            catalog={"overlays": [{"name": HOSTILE, "path": "site/ours.yaml", "sha256": "2" * 64,
                                   "added": ["SITE-001", "SITE-404"],
                                   "tailored": [{"control": "QEMU-002", "severity_from": "high",
                                                 "severity": "low", "reason": HOSTILE,
                                                 "approver": "CISO", "ticket": "T-1"},
                                                {"control": "HOST-099", "exclude": True, "reason": "n/a",
                                                 "approver": "CISO", "source": "site/ours.yaml:9"}],
                                   "policy": {"max_age": 3, HOSTILE: HOSTILE}}]},
            drift={"baseline": "reports/night/bundle.tar.gz", "baseline_run": HOSTILE, "new_failures": 1,
                   "changes": [
                       {"control": "QEMU-001", "host": "a", "vm": None, "before": "pass", "after": "fail",
                        "new_failure": True, "reason": HOSTILE,
                        "evidence": [{"source": HOSTILE, "before_sha256": "b" * 64, "after_sha256": None,
                                      "before_excerpt": 'user = "qemu"', "after_excerpt": HOSTILE}]},
                       {"control": "QEMU-002", "host": "b", "vm": "vm1", "before": "fail", "after": "pass"},
                       {"control": "QEMU-013", "host": "b", "vm": None, "before": None, "after": "pass"},
                       {"control": "HOST-021", "host": "a", "vm": None, "before": "pass", "after": None},
                       {"control": "QEMU-002", "host": "a", "vm": None, "before": "fail", "after": "waived"}]})
    d["hosts"][0]["identity"] = {"host_key": "ssh-ed25519 SHA256:x", "host_key_verified": True,
                                 "hostname": "a", "machine_id": HOSTILE, "connection": "ssh"}
    d["hosts"][1]["identity"] = {"host_key": HOSTILE, "host_key_verified": False,
                                 "accepted_new_host_keys": [HOSTILE]}
    d["hosts"].append({"name": HOSTILE, "status": "unreachable", "error": HOSTILE, "identity": {}})
    d["run"].update(replayed_from=HOSTILE, replayed_run="night-1", profile=HOSTILE, inventory="inv.yaml",
                    catalog_changed={"bundle": "3" * 64, "current": "4" * 64, "note": HOSTILE},
                    interrupted=HOSTILE, not_judged=[HOSTILE, "suites/x.py::test_y[a-X-1]"])
    return d


def renderings() -> dict[str, str]:
    """file name under report_golden/ -> its text, as this checkout renders it."""
    out = {"inline.html": html.render(golden_doc(), CATALOG),
           "inline-no-catalog.html": html.render(golden_doc())}
    main, pages = html.render_pages(golden_doc(), CATALOG, inline_verdicts=0)
    out["pages/report.html"] = main
    out.update({f"pages/{name}": text for name, text in pages.items()})
    return {name: _without_assets(text) for name, text in out.items()}


def _without_assets(page: str) -> str:
    # the first <style>, <script> and policy are the report's own: host text is escaped
    page = re.sub(r"<style>.*?</style>", "<style>(report.css)</style>", page, count=1, flags=re.S)
    page = re.sub(r"<script>.*?</script>", "<script>(report.js)</script>", page, count=1, flags=re.S)
    return re.sub(r'(http-equiv="Content-Security-Policy" content=")[^"]*"', r'\1(hashes)"', page, count=1)


def test_the_report_renders_as_it_did_byte_for_byte():
    expected = {p.relative_to(GOLDEN).as_posix(): p.read_text(encoding="utf-8")
                for p in sorted(GOLDEN.rglob("*.html"))}
    actual = renderings()
    assert sorted(actual) == sorted(expected)
    for name, text in actual.items():
        assert text == expected[name], f"{name} changed: python -m tests.unit.test_report_golden, then read the diff"


if __name__ == "__main__":
    for old in GOLDEN.rglob("*.html"):
        old.unlink()
    for name, text in renderings().items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)
