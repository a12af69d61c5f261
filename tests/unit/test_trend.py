"""Trends over runs (hvconform/deliver/trend.py, trend_html.py, `python -m hvconform trend`):
three runs of the recorded lab judged into signed bundles, with changes between them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from hvconform import audit
from hvconform.__main__ import main
from hvconform.deliver import bundle, drift, run_folder, trend, trend_html
from hvconform.deliver.report import model as report_model
from hvconform.inputs import catalog as catalog_mod
from hvconform.model.run import Run
from hvconform.model.snapshot import Snapshot, sha256_text
from tests.conftest import ROOT

LAB = ROOT / "tests" / "data" / "lab-snapshots"
CAT = catalog_mod.load()
HOSTILE = '"><img src=x onerror=alert(1)><script>document.title="owned"</script>'


def set_sshd(snap: Snapshot, key: str, value: str) -> None:
    art = snap.get("cmd:sshd_effective")
    art.stdout = "".join(f"{key} {value}\n" if line.split(" ")[0] == key else line + "\n"
                         for line in art.stdout.splitlines())
    art.sha256 = sha256_text(art.stdout)


def make_bundle(folder: Path, run_id: str, started: str, change=None, rename=None) -> Path:
    snaps = {h: Snapshot.load(LAB / f"{h}.json") for h in ("hardened", "default", "weak")}
    if change:
        change(snaps)
    run = Run(run_id, folder / run_id, inventory="inventories/lab.yaml", started=started, snapshots=snaps)
    run.save({})
    doc = audit.judge_run(run, CAT)
    if rename:   # a host name no inventory would accept, as a forged bundle may carry
        for rec in doc["verdicts"]:
            rec["host"] = rename.get(rec["host"], rec["host"])
    return run_folder.finish(run, doc, bundle.signer_from(None), CAT, render_report=False).bundle


def second_night(snaps):
    set_sshd(snaps["weak"], "permitrootlogin", "no")        # HOST-009 fixed on weak
    set_sshd(snaps["hardened"], "permitrootlogin", "yes")   # HOST-009 newly failing on hardened


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nights")
    return {"n1": make_bundle(folder, "n1", "2025-06-01T02:00:00Z"),
            "n2": make_bundle(folder, "n2", "2025-06-02T02:00:00Z", second_night),
            "n3": make_bundle(folder, "n3", "2025-06-03T02:00:00Z"),
            "hostile": make_bundle(folder, "hostile", "2025-06-04T02:00:00Z", rename={"weak": HOSTILE})}


def results_of(path: Path) -> dict:
    return json.loads(bundle.read(path)["results.json"])


def test_runs_are_ordered_by_start_time_and_read_from_verified_bundles(nights):
    found = trend.read([nights["n3"], nights["n1"].parent, nights["n2"]])
    assert found.skipped == []
    assert [r.id for r in found.runs] == ["n1", "n2", "n3"]
    assert all(r.signed.startswith("verified, signed by its own per-run key SHA256:") for r in found.runs)


def test_new_and_fixed_failures_agree_with_drift(nights):
    t = trend.build(trend.read([nights["n1"], nights["n2"], nights["n3"]]).runs)
    first, second, third = t.steps
    assert first.new is None and first.fixed is None
    assert ("HOST-009", "hardened", None) in {v.key for v in second.new}
    assert ("HOST-009", "weak", None) in {v.key for v in second.fixed}
    assert ("HOST-009", "weak", None) in {v.key for v in third.new}
    for step, before, after in ((second, "n1", "n2"), (third, "n2", "n3")):
        changes = drift.compare(results_of(nights[before]), results_of(nights[after]))
        assert step.new_in() == changes["new_failures"] > 0
        assert step.fixed_in() == sum(1 for c in changes["changes"]
                                      if c["before"] in drift.FAILING and c["after"] not in (None, *drift.FAILING))
        assert step.new_in(host="hardened") + step.new_in(host="weak") + step.new_in(host="default") == step.new_in()


def test_compliance_is_the_reports(nights):
    t = trend.build(trend.read([nights["n1"], nights["n2"]]).runs)
    for step, name in zip(t.steps, ("n1", "n2")):
        report = report_model.build(results_of(nights[name]))
        assert trend.percent(step.overall) == f"{report.overall.compliance * 100:.1f}"
        for row in report.hosts:
            assert step.hosts[row.name].counts == row.tally.counts
        for row in report.domains:
            assert step.domains[row.name].counts == row.tally.counts


def test_the_csv_has_a_row_per_run_and_scope(nights, tmp_path):
    t = trend.build(trend.read([nights["n1"], nights["n2"]]).runs)
    rows = list(csv.DictReader(io.StringIO(trend.render_csv(t))))
    assert len(rows) == 2 * (1 + 3 + 9)
    by = {(r["run"], r["scope"], r["name"]): r for r in rows}
    n2 = t.steps[1]
    assert by["n2", "all", ""]["compliance_percent"] == trend.percent(n2.overall)
    assert by["n2", "host", "hardened"]["new_failures"] == str(n2.new_in(host="hardened"))
    assert by["n2", "host", "weak"]["fixed_failures"] == str(n2.fixed_in(host="weak"))
    assert by["n2", "domain", "host"]["pass"] == str(n2.domains["host"].counts["pass"])
    assert by["n1", "all", ""]["new_failures"] == ""          # the first run: nothing before it
    assert int(by["n1", "host", "weak"]["assessed"]) == n2.hosts["weak"].assessed


def test_a_bundle_that_does_not_verify_is_skipped_and_the_rest_trended(nights, tmp_path):
    unpacked = bundle.extract(nights["n2"], tmp_path / "n2-unpacked")
    doc = json.loads((unpacked / "results.json").read_text())
    doc["verdicts"][0]["status"] = "pass" if doc["verdicts"][0]["status"] != "pass" else "fail"
    (unpacked / "results.json").write_text(json.dumps(doc))
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a bundle")
    empty = tmp_path / "empty"
    empty.mkdir()
    found = trend.read([nights["n1"], unpacked, garbage, empty, tmp_path / "absent", nights["n3"]])
    assert [r.id for r in found.runs] == ["n1", "n3"]
    changed, unreadable, neither, absent = found.skipped
    assert changed == f"{unpacked}: the bundle does not verify: CHANGED results.json: sha256 differs from the manifest; skipped"
    assert unreadable.startswith(f"{garbage}: the bundle does not verify: {garbage}: not a readable bundle: ")
    assert unreadable.endswith("; skipped") and "\n" not in unreadable
    assert neither == f"{empty}: neither a bundle nor a run folder (no bundle.tar.gz or results.json); skipped"
    assert absent == f"{tmp_path / 'absent'}: no such file or folder; skipped"


def test_a_bundle_signed_by_another_key_is_skipped_with_pubkey(nights, tmp_path):
    key = bundle.signer_from(None).public_key
    found = trend.read([nights["n1"]], key)
    assert found.runs == [] and "signed by SHA256:" in found.skipped[0]


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d["verdicts"][3].update(status="sideways"), "verdicts[3]: status 'sideways' is not one of"),
    (lambda d: d["verdicts"][5].update(host=["a"]), "verdicts[5]: host is not a name"),
    (lambda d: d["verdicts"][5].update(host="h" * 300), "verdicts[5]: host is not a name"),
    (lambda d: d["run"].update(started="yesterday"), "run.started 'yesterday' is not an ISO 8601 time"),
    (lambda d: d.pop("verdicts"), "no verdicts list"),
])
def test_a_results_json_that_breaks_the_contract_is_skipped(nights, tmp_path, mutate, problem):
    folder = tmp_path / "run"
    folder.mkdir()
    doc = results_of(nights["n1"])
    mutate(doc)
    (folder / "results.json").write_text(json.dumps(doc))
    found = trend.read([folder])
    assert found.runs == [] and problem in found.skipped[0] and found.skipped[0].startswith(f"{folder}: ")


def test_a_run_folder_without_a_bundle_is_read_and_said_unsigned(nights, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "results.json").write_bytes(bundle.read(nights["n1"])["results.json"])
    [run] = trend.read([folder]).runs
    assert run.signed == "unsigned (no bundle)"


def test_hostile_names_are_text_in_the_page_and_cells_in_the_csv(nights, tmp_path):
    t = trend.build(trend.read([nights["n1"], nights["hostile"]]).runs)
    assert HOSTILE in t.hosts
    page = trend_html.render(t)
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "script-src 'none'" in page and "default-src 'none'" in page
    assert 'style="' not in page
    rows = list(csv.DictReader(io.StringIO(trend.render_csv(t))))
    assert HOSTILE in {r["name"] for r in rows}
    formula = trend.build(trend.read([make_bundle(tmp_path, "f", "2025-06-05T02:00:00Z",
                                                  rename={"weak": "=HYPERLINK(\"x\")"})]).runs)
    assert "'=HYPERLINK" in trend.render_csv(formula)


def test_the_command_writes_both_and_says_what_it_skipped(nights, tmp_path, capsys):
    html, out = tmp_path / "t.html", tmp_path / "t.csv"
    history = tmp_path / "history"
    history.mkdir()
    for name in ("n1", "n2"):
        shutil.copy(nights[name], history / f"{name}.tar.gz")
    code = main(["trend", "--history", str(history), str(nights["n3"]), str(tmp_path / "absent"),
                 "--html", str(html), "--csv", str(out)])
    printed = capsys.readouterr()
    assert code == 1 and f"skipped: {tmp_path / 'absent'}: no such file or folder" in printed.err
    assert "trend of 3 run(s)" in printed.out and html.is_file() and out.is_file()
    assert [r["run"] for r in csv.DictReader(out.open()) if r["scope"] == "all"] == ["n1", "n2", "n3"]
    assert main(["trend", str(nights["n1"]), "--html", str(html), "--csv", str(out)]) == 0
    assert main(["trend", str(tmp_path / "absent"), "--html", str(tmp_path / "no.html")]) == 2
    assert not (tmp_path / "no.html").exists()
