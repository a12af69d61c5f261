"""The sharding examples of docs/ parse and agree with themselves and with the tool:
the Indexed Job's completions are the JOB_COMPLETIONS its pods read, the CI
matrix lists shards 1..N, and the merge step reads the folders the shards write.
(Checked once against the Kubernetes 1.29 and 1.37 schemas with kubernetes-validate
--strict and against GitHub's workflow schema with check-jsonschema; see README.md.)"""

from __future__ import annotations

import yaml

from hvconform.inputs import shard
from tests.conftest import ROOT

DOCS = ROOT / "docs"


def test_the_indexed_job_gives_every_pod_its_shard():
    pvc, job = yaml.safe_load_all((DOCS / "k8s" / "audit-job.yaml").read_text())
    assert (pvc["kind"], job["kind"], job["apiVersion"]) == ("PersistentVolumeClaim", "Job", "batch/v1")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] == spec["completions"]
    [pod] = spec["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in pod["env"]}
    assert int(env["JOB_COMPLETIONS"]) == spec["completions"]
    command = pod["args"][0]
    assert "--shard" not in command            # the Kubernetes variables choose the shard
    # what the pods would audit: shard INDEX+1 of COMPLETIONS, each index once
    shards = [shard.resolve(None, {"JOB_COMPLETION_INDEX": str(i), **env}).label
              for i in range(spec["completions"])]
    assert shards == [f"{k}/4" for k in range(1, 5)]
    assert '--run-id="shard-$JOB_COMPLETION_INDEX"' in command and "--reports-dir=/bundles" in command
    assert {m["mountPath"] for m in pod["volumeMounts"]} >= {"/bundles", "/config", "/keys"}


def test_the_merge_job_reads_the_shards_bundles():
    [job] = yaml.safe_load_all((DOCS / "k8s" / "merge-job.yaml").read_text())
    [pod] = job["spec"]["template"]["spec"]["containers"]
    command = pod["args"][0]
    assert "-m hvconform merge /bundles/shard-*/bundle.tar.gz" in command
    assert "--pubkey /keys/auditor.pub" in command and " -o " in command


def test_the_ci_matrix_covers_every_shard_then_merges():
    flow = yaml.safe_load((DOCS / "ci" / "github-actions-shards.yml").read_text())
    count = flow["env"]["SHARDS"]
    audit, merge = flow["jobs"]["audit"], flow["jobs"]["merge"]
    assert audit["strategy"]["matrix"]["shard"] == list(range(1, count + 1))
    assert audit["strategy"]["fail-fast"] is False
    run = next(s["run"] for s in audit["steps"] if "pytest" in s.get("run", ""))
    assert "--shard=${{ matrix.shard }}/${{ env.SHARDS }}" in run
    assert merge["needs"] == "audit"
    merging = next(s["run"] for s in merge["steps"] if "hvconform merge" in s.get("run", ""))
    assert "shards/*/bundle.tar.gz" in merging and "--pubkey" in merging
