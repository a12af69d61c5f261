"""Site overlays (hvconform/inputs/overlay.py, hvconform/judge/tailoring.py,
hvconform/judge/site_cases.py): loading, located errors, tailored verdicts, the digest,
and what a run and its bundle record."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from hvconform import audit
from hvconform.collect.collector import collect_host
from hvconform.deliver import bundle, run_folder
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import inventory
from hvconform.inputs.overlay import OverlayError
from hvconform.judge import tailoring
from hvconform.judge.cases import Cases
from hvconform.model.run import Run
from hvconform.model.snapshot import Snapshot
from tests.conftest import ROOT, SHARED
from tests.snapshots import snap

EXAMPLE = ROOT / "inventories" / "site-overlay.example.yaml"
LAB = ROOT / "tests" / "data" / "lab-snapshots"
BASE = catalog_mod.load()

GOOD_ROW = """\
controls:
  - id: ACME-001
    domain: network
    title: sysrq disabled
    severity: low
    applies_to: host
    check:
      kind: sysctl
      expect:
        - {key: kernel.sysrq, op: eq, value: 0}
    rationale: r
    remediation: m
    references: {nist: [CM-6]}
"""


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def apply(*paths) -> catalog_mod.Catalog:
    return tailoring.load([(str(p), None) for p in paths], BASE)


def errors_of(*paths) -> list[str]:
    with pytest.raises(OverlayError) as caught:
        apply(*paths)
    return caught.value.errors


def lab_run(run_dir: Path) -> Run:
    snaps = {h: Snapshot.load(LAB / f"{h}.json") for h in ("hardened", "default", "weak")}
    run = Run("recorded", run_dir, inventory="inventories/lab.yaml", started=snaps["weak"].started,
              snapshots=snaps)
    run.save({})
    return run


# -- loading ---------------------------------------------------------------------------

def test_the_example_overlay_adds_tailors_and_sets_policy():
    cat = apply(EXAMPLE)
    assert len(cat.controls) == len(BASE.controls) + 1
    site = cat.by_id("SITE-001")
    assert (site.domain, site.suite, site.overlay, site.kind) == ("host", "site", "example-site", "sshd_config")
    assert cat.of("site") == [site] and site not in cat.of("host")
    assert cat.by_id("HOST-020").tailoring["exclude"] is True
    assert cat.by_id("HOST-012").severity == "medium" and BASE.by_id("HOST-012").severity == "low"
    assert cat.by_id("HOST-012").tailoring["severity_from"] == "low"
    assert cat.policy == {"backup_rpo_hours": 12}
    [applied] = cat.overlays
    assert applied.as_dict()["added"] == ["SITE-001"]
    assert [t["control"] for t in applied.as_dict()["tailored"]] == ["HOST-020", "HOST-012"]
    assert applied.sha256 == bundle.sha256_bytes(EXAMPLE.read_bytes())


def test_no_overlay_is_our_catalog_and_its_digest():
    assert tailoring.load([], BASE) is BASE


def test_the_digest_covers_the_overlay_bytes_and_order(tmp_path):
    one = apply(EXAMPLE).digest
    assert one != BASE.digest
    edited = write(tmp_path, EXAMPLE.read_text().replace("backup_rpo_hours: 12", "backup_rpo_hours: 13"))
    assert apply(edited).digest not in (one, BASE.digest)
    other = write(tmp_path, GOOD_ROW, "other.yaml")
    assert apply(EXAMPLE, other).digest != apply(other, EXAMPLE).digest


def test_a_function_row_names_only_a_registered_function(tmp_path):
    path = write(tmp_path, GOOD_ROW.replace("kind: sysctl", "kind: function\n      function: supported_release")
                 .replace("      expect:\n        - {key: kernel.sysrq, op: eq, value: 0}\n", ""))
    assert apply(path).by_id("ACME-001").check == {"kind": "function", "function": "supported_release"}
    path = write(tmp_path, path.read_text().replace("supported_release", "my_own_python"))
    [error] = errors_of(path)
    assert error.startswith(f"{path}:2: ACME-001: check: unknown control function 'my_own_python'")


# -- located errors ----------------------------------------------------------------------

BAD = [
    # (overlay text, the error, which must name the file and this line)
    ("controls: [\n", 2, "not valid YAML"),
    ("- a\n", 1, "expected a mapping"),
    ("colour: red\n", 1, "colour: unknown key"),
    ("overlay: acme\n", 1, "changes nothing"),
    (GOOD_ROW.replace("ACME-001", "HOST-001"), 2, "id HOST-001: HOST is hvconform's prefix"),
    (GOOD_ROW.replace("ACME-001", "acme-1"), 2, "id must be the site's prefix and a number"),
    (GOOD_ROW.replace("domain: network", "domain: site"), 2, "domain must be one of host, kernel_mac"),
    (GOOD_ROW.replace("    domain: network\n", ""), 2, "missing key 'domain'"),
    (GOOD_ROW.replace("severity: low", "severity: urgent"), 2, "severity 'urgent' is not one of"),
    (GOOD_ROW.replace("applies_to: host", "applies_to: vm"), 2, "kind sysctl judges a host"),
    (GOOD_ROW.replace("op: eq", "op: like"), 2, "unknown op 'like'"),
    (GOOD_ROW.replace("kind: sysctl", "kind: bespoke"), 2, "is now called 'function'"),
    (GOOD_ROW.replace("kind: sysctl", "kind: [sysctl]"), 2, "check.kind: expected a string, got list"),
    (GOOD_ROW.replace("kernel.sysrq", "/etc/shadow"), 2, "reads /etc/shadow, which may hold secrets"),
    (GOOD_ROW + GOOD_ROW.replace("controls:\n", ""), 14, "id ACME-001 already added at"),
    ("tailoring:\n  - {control: HOST-999, exclude: true, reason: r, approver: a}\n", 2,
     "no control HOST-999 in the catalog (did you mean 'HOST-019'?)"),
    ("tailoring:\n  - {control: HOST-020, exclude: true, approver: a}\n", 2, "reason: required"),
    ("tailoring:\n  - {control: HOST-020, exclude: true, reason: r, approver: ''}\n", 2, "approver: expected text"),
    ("tailoring:\n  - {control: HOST-020, reason: r, approver: a}\n", 2, "changes nothing"),
    ("tailoring:\n  - {control: HOST-020, severity: critical, reason: r, approver: a}\n", 2,
     "severity: expected one of high, medium, low"),
    ("tailoring:\n  - {control: HOST-020, exclude: true, severity: low, reason: r, approver: a}\n", 2,
     "give exclude or severity"),
    ("tailoring:\n  - {control: HOST-020, exclude: true, reason: r, approver: a}\n"
     "  - {control: HOST-020, severity: low, reason: r, approver: a}\n", 3, "HOST-020 is tailored twice"),
    ("tailoring: HOST-020\n", 1, "expected a list"),
    ("policy:\n  backup_rpo_hours: twelve\n", 2, "policy.backup_rpo_hours: expected an integer"),
    ("policy:\n  backup_rpo_hourz: 12\n", 2, "unknown key (did you mean 'backup_rpo_hours'?)"),
    (GOOD_ROW + "tailoring:\n  - {control: ACME-001, severity: high, reason: r, approver: a}\n", 15,
     "ACME-001 is this overlay's own control"),
    (GOOD_ROW + "cases:\n  ACME-001:\n    pass: {files: {/proc/sys/kernel/sysrq: \"1\\n\"}}\n"
                "    fail: {files: {/proc/sys/kernel/sysrq: \"0\\n\"}}\n", 16,
     "cases.ACME-001.pass: ACME-001 gave fail, not pass"),
    (GOOD_ROW + "cases:\n  ACME-001:\n    pass: {files: {/proc/sys/kernel/sysrq: \"0\\n\"}}\n", 2,
     "ACME-001 has no fail case"),
    (GOOD_ROW + "cases:\n  ACME-002:\n    pass: {files: {/proc/sys/kernel/sysrq: \"0\\n\"}}\n", 16,
     "cases: ACME-002 is not a control this overlay adds"),
    (GOOD_ROW + "cases:\n  ACME-001:\n    pass: {cmds: {rm -rf /: x}}\n    fail: {files: {/x: \"\"}}\n", 16,
     "'rm' is not a command hvconform sends"),
    (GOOD_ROW + "cases:\n  ACME-001:\n    pass: {files: {/x: 3}}\n", 16, "cases.ACME-001.pass.files./x: expected text"),
]


@pytest.mark.parametrize("text, line, message", BAD, ids=[b[2][:40] for b in BAD])
def test_every_mistake_is_a_located_error(tmp_path, text, line, message):
    path = write(tmp_path, text)
    errors = errors_of(path)
    assert any(e.startswith(f"{path}:{line}: ") and message in e for e in errors), errors


def test_two_overlays_that_disagree_are_located_errors(tmp_path):
    one = write(tmp_path, GOOD_ROW + "policy: {backup_rpo_hours: 12}\n"
                "tailoring:\n  - {control: HOST-020, exclude: true, reason: r, approver: a}\n", "one.yaml")
    two = write(tmp_path, GOOD_ROW + "policy: {backup_rpo_hours: 6}\n"
                "tailoring:\n  - {control: HOST-020, severity: low, reason: r, approver: a}\n", "two.yaml")
    errors = errors_of(one, two)
    assert f"{two}:2: ACME-001 is already added by {one}:2" in errors
    assert any(e.startswith(f"{two}:16: tailoring: HOST-020 is already tailored at {one}:16") for e in errors)
    assert any(e.startswith(f"{two}:14: policy.backup_rpo_hours: 6 here, but {one}:14 sets 12") for e in errors)


def test_a_later_overlay_may_tailor_an_earlier_ones_control(tmp_path):
    one = write(tmp_path, GOOD_ROW, "one.yaml")
    two = write(tmp_path, "tailoring:\n  - {control: ACME-001, severity: high, reason: r, approver: a}\n", "two.yaml")
    assert apply(one, two).by_id("ACME-001").severity == "high"


def test_an_unreadable_or_huge_overlay_is_an_error(tmp_path):
    assert errors_of(tmp_path / "absent.yaml") == [f"{tmp_path / 'absent.yaml'}: cannot read: No such file or directory"]
    big = tmp_path / "big.yaml"
    big.write_text("# x\n" * 300_000)
    assert "an overlay may have at most" in errors_of(big)[0]


def test_the_inventory_names_overlays_relative_to_itself(tmp_path):
    write(tmp_path, GOOD_ROW)
    inv = inventory.load_text("overlays: [site.yaml]\nhosts: {me: {connection: local}}\n", tmp_path / "inv.yaml")
    assert inv.overlays == [tmp_path / "site.yaml"]
    with pytest.raises(inventory.InventoryError) as caught:
        inventory.load_text("hosts: {me: {connection: local}}\noverlays: [nope.yaml, 3]\n", tmp_path / "inv.yaml")
    assert caught.value.errors == [f"{tmp_path / 'inv.yaml'}:2: overlays[0]: no such file: {tmp_path / 'nope.yaml'}",
                                   f"{tmp_path / 'inv.yaml'}:2: overlays[1]: expected a file path, got 3"]


# -- verdicts ----------------------------------------------------------------------------

def test_tailored_and_site_verdicts_on_the_recorded_lab(tmp_path):
    cat = apply(EXAMPLE)
    doc = audit.judge_run(lab_run(tmp_path / "recorded"), cat)
    jsonschema.validate(doc, json.loads((SHARED / "results.schema.json").read_text()))
    by = {(r["control"], r["host"]): r for r in doc["verdicts"]}
    for host in ("hardened", "default", "weak"):
        out = by["HOST-020", host]
        assert out["status"] == "not_applicable"
        assert out["reason"] == ("tailored out: microcode is delivered with the vendor's firmware bundles, "
                                 "audited by the firmware process (approved by J. Doe (CISO), RISK-2041)")
        assert out["tailoring"]["source"] == f"{EXAMPLE}:45"
        assert by["HOST-012", host]["severity"] == "medium"
        assert by["HOST-012", host]["tailoring"]["severity_from"] == "low"
        assert by["SITE-001", host]["overlay"] == "example-site"
        assert by["SITE-001", host]["test"] == f"suites/site/test_site.py::test_sshd_config[{host}-SITE-001]"
    assert [by["SITE-001", h]["status"] for h in ("hardened", "default", "weak")] == ["pass", "fail", "fail"]
    assert doc["catalog"]["overlays"] == [cat.overlays[0].as_dict()]
    assert doc["tool"]["catalog_digest"] == cat.digest
    # without the overlay, the same evidence: HOST-020 judged, HOST-012 low, no SITE-001
    plain = {(r["control"], r["host"]): r for r in audit.judge_run(lab_run(tmp_path / "plain"), BASE)["verdicts"]}
    assert plain["HOST-020", "weak"]["status"] == "fail" and "tailoring" not in plain["HOST-020", "weak"]
    assert plain["HOST-012", "weak"]["severity"] == "low" and ("SITE-001", "weak") not in plain


def test_an_excluded_per_vm_and_inventory_wide_control_is_not_applicable(tmp_path):
    path = write(tmp_path, "tailoring:\n  - {control: QEMU-013, exclude: true, reason: not here, approver: me}\n"
                           "  - {control: ISO-005, exclude: true, reason: not here, approver: me}\n")
    run = lab_run(tmp_path / "r")
    cases = Cases(run.snapshots, apply(path))
    records = [cases.record(c) for c in cases.all()]
    for cid in ("QEMU-013", "ISO-005"):
        mine = [r for r in records if r["control"] == cid]
        assert mine and {r["status"] for r in mine} == {"not_applicable"}
        assert {r["reason"] for r in mine} == {"tailored out: not here (approved by me)"}


def test_overlay_policy_judges_and_wins_over_the_snapshots(tmp_path):
    """BKP-003's passing case (a backup about 10 hours old) fails the site's 1-hour RPO."""
    from tests.unit.test_catalog_cases import CASES

    path = write(tmp_path, "policy: {backup_rpo_hours: 1}\n")
    s = snap(**CASES["BKP-003"][0], policy={"backup_rpo_hours": 24})
    control = BASE.by_id("BKP-003")
    plain = Cases({"h1": s}, BASE)
    assert plain.record(plain.of(control)[0])["status"] == "pass"
    cases = Cases({"h1": s}, apply(path))
    assert cases.record(cases.of(control)[0])["status"] == "fail"
    assert s.policy == {"backup_rpo_hours": 24}    # the snapshot itself is not changed


def test_an_inventory_setting_what_an_overlay_sets_is_a_conflict():
    cat = apply(EXAMPLE)
    assert tailoring.policy_conflicts(cat, {"inv.yaml": {"backup_rpo_hours": 12, "fips_required": False}}) == []
    assert tailoring.policy_conflicts(cat, {"inv.yaml": {"backup_rpo_hours": 24}}) == [
        "inv.yaml: policy.backup_rpo_hours: 24, but an overlay sets 12: set it in one place"]


def test_collection_follows_the_overlay_policy_but_records_the_hosts_own(tmp_path):
    """A real collection on this machine (connection: local) of BKP-001 alone."""
    manifest = tmp_path / "backup-paths"
    manifest.write_text("/etc/libvirt\n")
    host = inventory.load_text("hosts: {me: {connection: local}}\n", tmp_path / "inv.yaml").hosts[0]
    s, _ = collect_host(host, [BASE.by_id("BKP-001")], {"patch_sla_days": 10},
                        overlay_policy={"backup_manifest": str(manifest)})
    assert s.file(str(manifest)).stdout == "/etc/libvirt\n"
    assert s.file("/etc/hvconform/backup-paths") is None
    assert s.policy == {"patch_sla_days": 10}


# -- the run folder, the bundle, replay ---------------------------------------------------

def test_the_bundle_carries_the_overlay_and_a_replay_applies_it_again(tmp_path):
    cat = apply(EXAMPLE)
    run = lab_run(tmp_path / "first")
    from hvconform.model.run import save_overlays
    save_overlays(run.run_dir, [(a.path, a.text) for a in cat.overlays])
    first = audit.judge_run(run, cat)
    written = run_folder.finish(run, first, bundle.signer_from(None), cat)
    files = bundle.read(written.bundle)
    assert files["overlays/1.yaml"] == EXAMPLE.read_bytes()
    manifest = json.loads(files["MANIFEST.json"])
    assert manifest["overlays"] == [{"path": str(EXAMPLE), "name": "example-site",
                                     "sha256": cat.overlays[0].sha256}]
    assert manifest["catalog_digest"] == cat.digest
    assert 'id="overlays"' in written.report.read_text()

    def verdicts(doc):
        return {r["test"]: (r["status"], r["severity"], r["reason"]) for r in doc["verdicts"]}

    again = json.loads(audit.rejudge(written.bundle, tmp_path / "out", "again").results.read_text())
    assert again["run"]["catalog_changed"] is None
    assert again["catalog"]["overlays"] == first["catalog"]["overlays"]
    assert verdicts(again) == verdicts(first)
    assert bundle.read(tmp_path / "out" / "again" / "bundle.tar.gz")["overlays/1.yaml"] == EXAMPLE.read_bytes()

    bare = json.loads(audit.rejudge(written.bundle, tmp_path / "out", "bare", overlays=[]).results.read_text())
    assert bare["run"]["catalog_changed"]["bundle"] == cat.digest
    assert bare["catalog"]["overlays"] == [] and "SITE-001" not in {r["control"] for r in bare["verdicts"]}
    other = write(tmp_path, GOOD_ROW)
    swapped = json.loads(audit.rejudge(written.bundle, tmp_path / "out", "swapped", overlays=[other])
                         .results.read_text())
    assert [o["name"] for o in swapped["catalog"]["overlays"]] == ["site"]
    assert {r["control"] for r in swapped["verdicts"]} >= {"ACME-001"}


def test_a_bundle_whose_overlay_list_lies_is_refused(tmp_path):
    from hvconform.deliver import replay
    from hvconform.model.run import overlay_files
    with pytest.raises(ValueError, match="overlays/sources.json: not a list"):
        overlay_files({"overlays/sources.json": b'[{"file": "../../etc/passwd", "path": "x"}]'})
    with pytest.raises(ValueError, match="overlays/sources.json"):
        overlay_files({"overlays/sources.json": b'{"file": 1}'})
    with pytest.raises(ValueError, match="a path that no file system gave"):
        overlay_files({"overlays/sources.json": b'[{"file": "1.yaml", "path": "\\u001b[2Jx"}]',
                       "overlays/1.yaml": b"policy: {}"})
    # signed as it is (any key signs a forged bundle): replay refuses it, naming it
    run = lab_run(tmp_path / "forged")
    (run.run_dir / "overlays").mkdir()
    (run.run_dir / "overlays" / "sources.json").write_text('[{"file": "9.yaml", "path": "x.yaml"}]')
    written = run_folder.finish(run, audit.judge_run(run, BASE), bundle.signer_from(None), BASE,
                                render_report=False)
    assert bundle.verify(written.bundle).ok
    with pytest.raises(replay.ReplayError, match=r"forged/bundle.tar.gz: overlays/sources.json: .*'9.yaml'"):
        replay.load(written.bundle, "again", tmp_path / "again")
