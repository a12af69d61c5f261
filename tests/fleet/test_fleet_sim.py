"""The fleet simulator (bench/fleet_sim.py) and the fleet front end (`python -m hvconform
audit`), without the lab: simulated hosts over real SSH on loopback, answering the
collector's real batches; the fleet front end and pytest then give the same records
for them; and a small run of the benchmark itself (bench/fleet.py)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from bench import fleet_sim
from hvconform.collect import collector
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import inventory as inventory_mod
from hvconform.judge import engine
from tests.conftest import ROOT, merged, run_suite, status_and_actual, timeless

CATALOG = catalog_mod.load()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Three simulated hosts (default with weak's drift, hardened, default) for this module."""
    where = tmp_path_factory.mktemp("fleet")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fleet_sim.py"), "--hosts", "3",
                             "--dir", str(where), "--timeout", "600"],
                            stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline())
        yield inventory_mod.load(ready["inventory"]), ready["inventory"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_batch_is_answered_from_the_recorded_command_lines():
    templates = fleet_sim.load_templates()
    host = fleet_sim.plan(3)[2]                      # sim-0002: default, no drift
    table = fleet_sim.answers(templates, host)
    batch = collector.first_round(engine.needs(CATALOG.controls))
    batch.add("cmd:unknown", "cat", path="/not/recorded")
    rc, out, err = fleet_sim.run_batch(table, "sh -c " + shlex.quote(batch.script()))
    found = batch.parse(out.decode(), err.decode(), 0)
    assert len(found) == len(batch)
    recorded = {a["source"]: a for a in templates["default"]["artifacts"].values()}
    same = [k for k, a in found.items() if a.source in recorded and k != "cmd:hostname"
            and (a.rc, a.stdout) == (recorded[a.source]["rc"], recorded[a.source]["stdout"])]
    assert len(same) > 150
    assert found["cmd:hostname"].stdout == "sim-0002\n"
    assert found["file:/etc/machine-id"].stdout.strip() == host.machine_id
    assert found["cmd:unknown"].rc == 127 and "not found" in found["cmd:unknown"].stderr
    assert fleet_sim.run_batch(table, "rm -rf /")[0] == 127      # only `sh -c SCRIPT`


def test_the_simulated_hosts_are_collected_over_ssh_each_its_own(fleet):
    inv, _ = fleet
    done = collector.collect_all(inv.hosts, CATALOG, lambda h: inv.policy, workers=2)
    snaps = [s for s, _ in done.values()]
    assert [s.status for s in snaps] == ["collected"] * 3, [s.error for s in snaps]
    assert all(s.round_trips == 2 and s.identity["host_key_verified"] for s in snaps)
    assert len({s.identity["host_key"] for s in snaps}) == 3
    assert [s.identity["hostname"] for s in snaps] == ["sim-0000", "sim-0001", "sim-0002"]
    assert len({s.identity["machine_id"] for s in snaps}) == 3
    assert [d.name for d in snaps[1].domains] == ["sim-0001-guest", "sim-0001-net"]
    assert snaps[1].get("domain:sim-0001-guest:inactive").ok     # the second round, renamed
    # sim-0000 is a default host with some of weak's settings: sshd -T differs
    assert snaps[0].get("cmd:sshd_effective").stdout != snaps[2].get("cmd:sshd_effective").stdout


def _records(doc):
    """Every record by its test id, without the time each evidence was collected (nor a
    backup's age, measured from it)."""
    out = {}
    for rec in doc["verdicts"]:
        evidence = [{k: v for k, v in e.items() if k != "collected_at"} for e in rec["evidence"]]
        rec = dict(rec, actual=timeless(rec["actual"]), reason=timeless(rec["reason"]), evidence=evidence)
        out[rec["test"]] = rec
    return out


def test_the_fleet_front_end_and_pytest_give_the_same_records(fleet, tmp_path):
    _, inventory = fleet
    proc = subprocess.run([sys.executable, "-m", "hvconform", "audit", f"--inventory={inventory}",
                           f"--reports-dir={tmp_path}", "--run-id=fleet", "--max-connections=2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]          # findings, as pytest's exit 1
    assert "sim-0001: " in proc.stderr and "bundle:" in proc.stderr
    fleet_dir = tmp_path / "fleet"
    piped, pytest_dir = run_suite(f"--inventory={inventory}", reports_dir=tmp_path, run_id="pytest")
    assert piped.returncode == 1, piped.stdout[-3000:]
    fleet_doc = json.loads((fleet_dir / "results.json").read_text())
    pytest_doc = json.loads((pytest_dir / "results.json").read_text())
    assert len(fleet_doc["verdicts"]) > 500
    assert _records(fleet_doc) == _records(pytest_doc)
    assert fleet_doc["inventory"] == pytest_doc["inventory"]
    # the same files, junit.xml naming the same tests as pytest's own
    for name in ("results.json", "junit.xml", "results.csv", "assessment-results.json",
                 "commands.tsv", "report.html", "bundle.tar.gz", "run.json"):
        assert (fleet_dir / name).is_file(), name

    def cases(path):
        return {(c.get("classname"), c.get("name")) for c in ET.parse(path).iter("testcase")}
    assert cases(fleet_dir / "junit.xml") == cases(pytest_dir / "junit.xml")
    verify = subprocess.run([sys.executable, "-m", "hvconform", "verify", str(fleet_dir / "bundle.tar.gz")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout


def test_a_bad_inventory_is_one_located_line_and_exit_4(tmp_path):
    bad = tmp_path / "inv.yaml"
    bad.write_text("hosts:\n  h1: {address: 10.0.0.1, ssh: {port: 99999}}\n")
    proc = subprocess.run([sys.executable, "-m", "hvconform", "audit", f"--inventory={bad}",
                           f"--reports-dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert "inv.yaml:2" in proc.stderr and "port" in proc.stderr


def _bench(script: str, *args: str) -> dict:
    """The one JSON line a bench/ script prints last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_benchmark_runs_a_small_fleet(tmp_path):
    figures = _bench("fleet.py", "--hosts", "3", "--keep", str(tmp_path))
    assert set(figures) == {"hosts", "wall_s", "collect_s", "judge_s", "report_s", "bundle_s",
                            "cpu_s", "peak_rss_mib", "run_dir_mib", "report_html_mib", "items"}
    assert figures["hosts"] == 3 and figures["items"] > 500 and figures["cpu_s"] > 0
    io = _bench("run_folder_io.py", str(tmp_path / "bench-3"), "--repeat", "1")
    assert io["hosts"] == 3 and io["load_cpu_s"] >= 0 and io["save_cpu_ms_per_host"] > 0


def test_the_benchmarks_of_collection_and_known_hosts_run_small():
    collected = _bench("collect_only.py", "--hosts", "4")
    assert collected["hosts"] == 4 and collected["cpu_ms_per_host"] > 0
    assert 0 < collected["texts_repeated"] < 1 and 0 < collected["chars_repeated"] < 1
    forms = [json.loads(line) for line in subprocess.run(
        [sys.executable, str(ROOT / "bench" / "known_hosts_lookup.py"), "--hosts", "20"],
        capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()]
    assert [f["form"] for f in forms] == ["plain", "hashed"] and all(f["hosts"] == 20 for f in forms)
    scheduling = _bench("collect_scheduling.py", "--hosts", "50")
    assert scheduling["hosts"] == 50 and scheduling["main_thread_cpu_s"] > 0


def test_limit_and_profile_narrow_the_fleet_run_as_they_narrow_pytest(fleet, tmp_path):
    _, inventory = fleet
    proc = subprocess.run([sys.executable, "-m", "hvconform", "audit", f"--inventory={inventory}",
                           f"--reports-dir={tmp_path}", "--run-id=narrow", "--limit=sim-0001",
                           "--profile=pp-virt"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    doc = json.loads((tmp_path / "narrow" / "results.json").read_text())
    from hvconform.inputs import profiles
    wanted = profiles.select(CATALOG, ["pp-virt"])
    assert [h["name"] for h in doc["hosts"]] == ["sim-0001"]
    assert doc["run"]["profile"] == "pp-virt"
    assert doc["verdicts"] and {r["control"] for r in doc["verdicts"]} <= wanted
    assert {r["host"] for r in doc["verdicts"]} <= {"sim-0001", "*"}


def test_the_fleet_front_end_refuses_a_run_id_already_used(fleet, tmp_path):
    _, inventory = fleet
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "results.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "hvconform", "audit", f"--inventory={inventory}",
                           f"--reports-dir={tmp_path}", "--run-id=taken"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4 and "run id 'taken' is taken" in proc.stderr, proc.stderr
    assert (tmp_path / "taken" / "results.json").read_text() == "{}"   # left alone


def test_fleet_front_end_shards_merged_equal_one_fleet_run(fleet, tmp_path):
    _, inventory = fleet

    def audit(run_id, *extra):
        proc = subprocess.run([sys.executable, "-m", "hvconform", "audit", f"--inventory={inventory}",
                               f"--reports-dir={tmp_path}", f"--run-id={run_id}", *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
        return tmp_path / run_id

    single = json.loads((audit("one") / "results.json").read_text())
    parts = [audit(f"part{k}", f"--shard={k}/2") for k in (1, 2)]
    hosts = [json.loads((p / "run.json").read_text())["hosts"] for p in parts]
    assert sorted(hosts[0] + hosts[1]) == sorted(h["name"] for h in single["hosts"])
    doc = merged([p / "bundle.tar.gz" for p in parts], tmp_path / "merged")
    assert status_and_actual(doc) == status_and_actual(single)
