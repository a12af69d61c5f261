"""The lab audited as 4 shards by 4 pytest processes at once (--shard 1/4 .. 4/4; with
3 hosts, two shards hold none), joined by `python -m hvconform merge`: the same
verdicts as one run over every host (status, actual and test id), isolation
findings across the inventory included, in one signed bundle listing the shards."""

from __future__ import annotations

import os
import subprocess
import sys

from hvconform.deliver import bundle
from hvconform.inputs.shard import bucket
from tests.conftest import LAB_INVENTORY, ROOT
from tests.conftest import merged as merge
from tests.conftest import status_and_actual as verdicts

HOSTS = ["hardened", "default", "weak"]


def shard_process(k: int, reports_dir, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--inventory={LAB_INVENTORY}",
           f"--shard={k}/4", f"--run-id=shard{k}", f"--reports-dir={reports_dir}", "-q", "--tb=no", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)




def test_four_shard_processes_merged_equal_one_run(lab_audit, tmp_path):
    _, _, single = lab_audit
    assert [bucket(h, 4) for h in HOSTS] == [2, 3, 2]
    reports = tmp_path / "shards"
    # the shard holding two hosts judges on two xdist workers, as a large shard would
    procs = [shard_process(k, reports, *(["-n", "2"] if k == 2 else [])) for k in range(1, 5)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 1, 1, 0], "\n".join(o[-2000:] for o in outputs)   # findings only where hosts are
    for k, out in enumerate(outputs, 1):
        held = [h for h in HOSTS if bucket(h, 4) == k]
        assert f"hvconform: shard {k}/4 (from --shard): {len(held)} of the 3 selected host(s)" in out
        assert "INCOMPLETE" not in out
    paths = [reports / f"shard{k}" / "bundle.tar.gz" for k in range(1, 5)]
    out = tmp_path / "merged"
    merged = merge(paths, out)

    assert verdicts(merged) == verdicts(single) and len(merged["verdicts"]) > 900
    isolation = {t: v for t, v in verdicts(single).items() if "/test_isolation.py::test_fleet[" in t}
    assert any(status == "fail" for status, _ in isolation.values())
    assert {t: verdicts(merged)[t] for t in isolation} == isolation
    assert merged["inventory"] == single["inventory"]          # VMs reconciled over every host
    assert [h["name"] for h in merged["hosts"]] == HOSTS

    manifest = bundle.verify(out / "bundle.tar.gz").manifest
    assert [(s["shard"], s["hosts"]) for s in manifest["shards"]] == [
        ("1/4", []), ("2/4", ["hardened", "weak"]), ("3/4", ["default"]), ("4/4", [])]
    assert all(s["sha256"] == bundle.sha256_bytes(p.read_bytes()) for s, p in zip(manifest["shards"], paths))
    assert manifest["incomplete"] is None and (out / "report.html").is_file()
