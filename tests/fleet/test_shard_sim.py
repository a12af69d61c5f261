"""The issue's acceptance test: 12 hosts served over SSH on loopback by the fleet
simulator (bench/fleet_sim.py), audited by 4 shard processes at once (--shard 1/4 ..
4/4) and merged with `python -m hvconform merge`, give exactly the verdicts of one
run over all 12 (status, actual, test id), the isolation analyses across hosts
included. Needs no lab: the simulator is its own process, ended here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from hvconform.deliver import bundle
from hvconform.inputs.shard import bucket
from tests.conftest import ROOT
from tests.conftest import merged as merge
from tests.conftest import status_and_actual as verdicts

SIM = ROOT / "bench" / "fleet_sim.py"
HOSTS = 12


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """The simulator's inventory; the simulator is stopped after the module."""
    where = tmp_path_factory.mktemp("fleet")
    proc = subprocess.Popen([sys.executable, str(SIM), "--hosts", str(HOSTS), "--dir", str(where),
                             "--timeout", "900"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["hosts"] == HOSTS
        yield info["inventory"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def audit_process(inventory, reports, run_id, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--inventory={inventory}",
           f"--run-id={run_id}", f"--reports-dir={reports}", "-q", "--tb=no", "-rN", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def finished(procs) -> list[str]:
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode in (0, 1), out[-3000:]          # 1: findings
        assert "INCOMPLETE" not in out, out[-3000:]
    return outputs


def test_four_shards_of_the_simulated_fleet_merged_equal_one_run(fleet, tmp_path):
    reports = tmp_path / "reports"
    [single_out] = finished([audit_process(fleet, reports, "single")])
    shards = finished([audit_process(fleet, reports, f"shard{k}", f"--shard={k}/4") for k in range(1, 5)])
    single = json.loads((reports / "single" / "results.json").read_text())
    names = [h["name"] for h in single["hosts"]]
    assert len(names) == HOSTS and all(h["status"] == "collected" for h in single["hosts"]), single["hosts"]
    sizes = Counter(bucket(n, 4) for n in names)
    for k, out in enumerate(shards, 1):
        assert f"shard {k}/4 (from --shard): {sizes[k]} of the {HOSTS} selected host(s)" in out

    paths = [reports / f"shard{k}" / "bundle.tar.gz" for k in range(1, 5)]
    out = tmp_path / "merged"
    merged = merge(paths, out)
    assert verdicts(merged) == verdicts(single)
    assert len(merged["verdicts"]) > HOSTS * 250
    isolation = [t for t in verdicts(single) if "/test_isolation.py::test_fleet[" in t]
    assert len(isolation) >= HOSTS and any(verdicts(single)[t][0] == "fail" for t in isolation)
    assert [h["name"] for h in merged["hosts"]] == names
    assert merged["inventory"] == single["inventory"]

    manifest = bundle.verify(out / "bundle.tar.gz").manifest
    assert sorted(h for s in manifest["shards"] for h in s["hosts"]) == sorted(names)
    assert [s["shard"] for s in manifest["shards"]] == ["1/4", "2/4", "3/4", "4/4"]
    assert manifest["incomplete"] is None
