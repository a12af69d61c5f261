"""--shard K/N in the pytest front end: the hosts of one shard are collected (after
--limit), the Kubernetes variables stand in for the option, an empty shard is a
whole run of no host whose bundle a merge can count on, and bad values stop the
run before any host is contacted."""

from __future__ import annotations

import json

from hvconform.deliver import bundle
from hvconform.inputs.shard import ALGORITHM, bucket
from tests.conftest import run_suite

HOSTS = ["h1", "h2", "h3", "h4"]        # shards of 4: h1, h4 in 1/4; h2, h3 in 3/4; 2/4 and 4/4 empty
K8S = {"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "4"}


def inventory(tmp_path):
    """Four ssh hosts on a closed loopback port: each fails to connect at once."""
    assert [bucket(h, 4) for h in HOSTS] == [1, 3, 3, 1]
    (tmp_path / "known_hosts").write_text("")
    path = tmp_path / "inv.yaml"
    path.write_text("defaults:\n  ssh: {port: 9, known_hosts: known_hosts, connect_timeout: 5}\n"
                    "groups:\n  first: [h1, h2, h3]\n"
                    "hosts:\n" + "".join(f"  {h}: {{address: 127.0.0.1}}\n" for h in HOSTS))
    return path


def audited(run_dir) -> list[str]:
    return [h["name"] for h in json.loads((run_dir / "results.json").read_text())["hosts"]]


def test_an_empty_shard_is_a_whole_run_of_no_host(tmp_path):
    proc, run_dir = run_suite(f"--inventory={inventory(tmp_path)}", "--shard=2/4", reports_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "hvconform: shard 2/4 (from --shard): 0 of the 4 selected host(s)" in proc.stdout
    assert "INCOMPLETE" not in proc.stdout
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["hosts"] == [] and doc["verdicts"] == [] and doc["run"]["not_judged"] == []
    assert doc["run"]["shard"] == {"index": 2, "count": 4, "label": "2/4"}
    report = bundle.verify(run_dir / "bundle.tar.gz")
    assert report.ok and report.manifest["incomplete"] is None
    assert report.manifest["shard"] == {"index": 2, "count": 4, "label": "2/4", "algorithm": ALGORITHM,
                                        "source": "--shard", "selected": HOSTS}


def test_the_kubernetes_variables_choose_the_shard_and_the_option_wins(tmp_path):
    inv = inventory(tmp_path)
    proc, run_dir = run_suite(f"--inventory={inv}", reports_dir=tmp_path, env=K8S)
    assert "shard 1/4 (from JOB_COMPLETION_INDEX=0, JOB_COMPLETIONS=4): 2 of the 4 selected" in proc.stdout
    assert audited(run_dir) == ["h1", "h4"]
    proc, run_dir = run_suite(f"--inventory={inv}", "--shard=3/4", reports_dir=tmp_path, env=K8S)
    assert "shard 3/4 (from --shard): 2 of the 4 selected" in proc.stdout
    assert audited(run_dir) == ["h2", "h3"]


def test_limit_first_then_the_shard(tmp_path):
    proc, run_dir = run_suite(f"--inventory={inventory(tmp_path)}", "--limit=first", "--shard=1/4",
                              reports_dir=tmp_path)
    assert audited(run_dir) == ["h1"]
    manifest = bundle.verify(run_dir / "bundle.tar.gz").manifest
    assert manifest["shard"]["selected"] == ["h1", "h2", "h3"]


def test_bad_values_stop_the_run_before_any_host_is_contacted(tmp_path):
    inv = inventory(tmp_path)
    # (every bad value is in tests/unit/test_shard.py; here: that each kind stops the run)
    cases = [(["--shard=0/4"], {}, "--shard '0/4': shards count from 1 (1/4 .. 4/4)"),
             ([], {"JOB_COMPLETION_INDEX": "1"}, "JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not"),
             (["--shard=1/2", f"--replay={tmp_path / 'b.tar.gz'}"], {}, "--replay collects none")]
    for args, env, words in cases:
        proc, run_dir = run_suite(f"--inventory={inv}", *args, reports_dir=tmp_path, env=env)
        assert proc.returncode == 4 and words in proc.stderr, (args, env, proc.stderr[-1000:])
        assert not (run_dir / "snapshots").exists()
