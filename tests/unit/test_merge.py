"""`python -m hvconform merge`: shards' bundles, made from the recorded lab snapshots
as a --shard K/N run makes them, joined into one run whose verdicts are a single
run's, with the isolation analyses across hosts judged over every host; and every
bundle that cannot be part of one audit refused, one line naming it."""

from __future__ import annotations

import base64
import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import jsonschema
import pytest

from hvconform import audit
from hvconform.collect.collector import INTERRUPTED
from hvconform.deliver import bundle, run_folder
from hvconform.deliver.merge import MergeError
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs.catalog import Catalog
from hvconform.inputs import waivers as waivers_mod
from hvconform.inputs.shard import Shard, bucket
from hvconform.model import results
from hvconform.model.run import Run
from hvconform.model.snapshot import ERROR, Artifact, Snapshot
from tests.conftest import ROOT, SHARED

LAB = ROOT / "tests" / "data" / "lab-snapshots"
HOSTS = ["hardened", "default", "weak"]           # inventories/lab.yaml's order
CAT = catalog_mod.load()
# Where a test needs no comparison with a whole run, its bundles and merge judge a
# few controls (host, per-VM, across hosts): the same digest, a tenth of the time.
SMALL = Catalog([c for c in CAT.controls if c.id in ("QEMU-001", "HOST-001", "ISO-023", "ISO-015")],
                CAT.digest)
WAIVERS = (b"waivers:\n  - control: QEMU-001\n    scope: {hosts: [weak]}\n"
           b"    justification: legacy guests\n    approver: J. Doe\n    ticket: SEC-1\n"
           b"    expires: 2099-01-01\n")


STARTED = "2026-11-23T16:10:57Z"    # when the lab snapshots were recorded


def lab_snapshots() -> dict[str, Snapshot]:
    return {h: Snapshot.load(LAB / f"{h}.json") for h in HOSTS}


def make_bundle(where: Path, run_id: str, snaps: dict, shard: Shard | None = None,
                waivers: bytes | None = None, signer=None, catalog_digest=None, inventory=None,
                interrupted=None) -> Path:
    """A run over `snaps` written as fixtures/bundle.py writes it at the end of a session."""
    run = Run(run_id, where / run_id, "inventories/lab.yaml", STARTED, snapshots=dict(snaps),
              shard=shard.record(HOSTS) if shard else None)
    run.save({})
    loaded, name = [], None
    if waivers is not None:
        (run.run_dir / "waivers.yaml").write_bytes(waivers)
        loaded, name = waivers_mod.load(run.run_dir / "waivers.yaml"), "site-waivers.yaml"
    doc = audit.judge_run(run, SMALL, loaded, results.Extras(waivers_file=name, interrupted=interrupted))
    if catalog_digest:
        doc["tool"]["catalog_digest"] = catalog_digest
    entry = inventory or {"path": "inventories/lab.yaml",
                          "sha256": bundle.file_digest(ROOT / "inventories" / "lab.yaml")}
    return run_folder.finish(run, doc, signer or bundle.signer_from(None), SMALL,
                             inventory_entry=entry, render_report=False).bundle


def shard_bundles(where: Path, snaps=None, count=4, **kw) -> list[Path]:
    snaps = snaps or lab_snapshots()
    return [make_bundle(where, f"shard{k}", {h: s for h, s in snaps.items() if bucket(h, count) == k},
                        Shard(k, count, "--shard"), **kw) for k in range(1, count + 1)]


def verdicts(doc) -> dict:
    return {r["test"]: (r["status"], r["actual"], r["reason"]) for r in doc["verdicts"]}


def single_run(where: Path, snaps=None, waivers=(), catalog=CAT) -> dict:
    run = Run("single", where / "single", "inventories/lab.yaml", STARTED,
              snapshots=snaps or lab_snapshots())
    run.save({})
    return audit.judge_run(run, catalog, list(waivers))


def merge(paths, out: Path, catalog=SMALL, **kw) -> audit.MergedRun:
    return audit.merge(paths, out, catalog=catalog, render_report=False, **kw)


def auditor_key(where: Path) -> Path:
    key = where / "auditor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab's recorded hosts as 4 shards signed by an auditor's key, a single run
    over them, and the shards merged with the whole catalog, checked against that key."""
    where = tmp_path_factory.mktemp("lab")
    key = auditor_key(where)
    paths = shard_bundles(where, signer=bundle.signer_from(key))
    merged = audit.merge(paths, where / "merged", "merged", pubkey=bundle.load_public_key(f"{key}.pub"),
                         catalog=CAT)
    return {"where": where, "key": key, "paths": paths, "single": single_run(where), "merged": merged}


def refused(paths, out: Path, **kw) -> str:
    with pytest.raises(MergeError) as err:
        audit.merge(paths, out, **kw)
    assert not out.exists(), "a refused merge writes nothing"
    return str(err.value)


# -- the merge equals a single run -------------------------------------------------

def test_four_shards_merged_give_the_verdicts_of_one_run(lab):
    assert [bucket(h, 4) for h in HOSTS] == [2, 3, 2]      # shards 1/4 and 4/4 hold no host
    paths, merged, single = lab["paths"], lab["merged"], lab["single"]
    assert verdicts(merged.results) == verdicts(single) and len(single["verdicts"]) > 900
    assert [h["name"] for h in merged.results["hosts"]] == HOSTS   # the inventory's order
    assert merged.results["inventory"] == single["inventory"]      # VMs reconciled over all hosts
    assert merged.incomplete is None
    jsonschema.validate(merged.results, json.loads((SHARED / "results.schema.json").read_text()))
    assert merged.results["run"]["merged_from"] == [
        {"bundle": str(p), "run": f"shard{k}", "shard": f"{k}/4"} for k, p in enumerate(paths, 1)]
    assert merged.results["run"]["catalog_changed"] is None


def test_the_merged_bundle_is_signed_and_its_manifest_lists_the_shards(lab):
    paths, merged = lab["paths"], lab["merged"]
    shard_signer = bundle.signer_from(lab["key"])
    report = bundle.verify(merged.written.bundle)
    assert report.ok and merged.written.report.is_file() and merged.written.results.is_file()
    shards = report.manifest["shards"]
    assert [s["bundle"] for s in shards] == [str(p) for p in paths]
    assert [s["run"] for s in shards] == ["shard1", "shard2", "shard3", "shard4"]
    assert [s["shard"] for s in shards] == ["1/4", "2/4", "3/4", "4/4"]
    assert [s["hosts"] for s in shards] == [[], ["hardened", "weak"], ["default"], []]
    for s, path in zip(shards, paths):
        assert s["sha256"] == bundle.sha256_bytes(path.read_bytes())
        assert s["signer"] == {"fingerprint": bundle.fingerprint(shard_signer.public_key),
                               "key": "auditor", "checked_against_given_key": True}
        assert s["incomplete"] is None
    assert [h["name"] for h in report.manifest["hosts"]] == HOSTS
    assert report.manifest["catalog_digest"] == CAT.digest and report.manifest["incomplete"] is None
    assert report.manifest["inventory"]["sha256"] == bundle.file_digest(ROOT / "inventories" / "lab.yaml")
    files = bundle.read(merged.written.bundle)
    assert {f"snapshots/{h}.json" for h in HOSTS} <= set(files)


def with_network_disk(snap: Snapshot, vm: str) -> Snapshot:
    """`vm` of `snap` with one more disk: a writable Ceph image any host can open."""
    disk = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
            "<source protocol='rbd' name='vms/shared-volume'><host name='ceph1' port='6789'/></source>"
            "<target dev='vdz' bus='virtio'/></disk>\n  </devices>")
    for key in (f"domain:{vm}:live", f"domain:{vm}:inactive"):
        a = snap.artifacts[key]
        snap.artifacts[key] = Artifact(a.key, a.source, a.rc, a.stdout.replace("</devices>", disk, 1),
                                       a.stderr, a.collected_at)
    return snap


def test_a_finding_across_hosts_of_two_shards_is_found_by_the_merge(tmp_path):
    snaps = lab_snapshots()
    with_network_disk(snaps["hardened"], "hardened-guest")   # shard 2/4
    with_network_disk(snaps["default"], "default-guest")     # shard 3/4
    single = single_run(tmp_path, snaps, catalog=SMALL)
    cross = [r for r in single["verdicts"] if r["control"] == "ISO-023" and r["status"] == "fail"
             and r["host"] == "*"]
    assert [r["vms"] for r in cross] == [["hardened/hardened-guest", "default/default-guest"]]
    assert "rbd vms/shared-volume" in cross[0]["actual"]
    paths = shard_bundles(tmp_path, snaps)
    alone = [r for p in paths
             for r in json.loads(bundle.read(p)["results.json"])["verdicts"] if r["host"] == "*"]
    assert alone == []                       # no shard sees both VMs
    merged = merge(paths, tmp_path / "merged")
    assert verdicts(merged.results) == verdicts(single)
    assert merge(paths[::-1], tmp_path / "reversed").results["verdicts"] == merged.results["verdicts"]


def test_plain_runs_over_disjoint_hosts_merge_too(tmp_path):
    snaps = lab_snapshots()
    a = make_bundle(tmp_path, "a", {"hardened": snaps["hardened"]})
    b = make_bundle(tmp_path, "b", {"default": snaps["default"], "weak": snaps["weak"]})
    merged = merge([str(a), str(b)], tmp_path / "merged")
    assert verdicts(merged.results) == verdicts(single_run(tmp_path, catalog=SMALL))
    assert [s["shard"] for s in merged.results["run"]["merged_from"]] == [None, None]


def test_an_unpacked_bundle_folder_is_a_bundle_too(lab, tmp_path):
    paths = lab["paths"]
    folder = bundle.extract(paths[1], tmp_path / "unpacked")
    merged = merge([paths[0], folder, *paths[2:]], tmp_path / "merged")
    assert verdicts(merged.results) == verdicts(single_run(tmp_path, catalog=SMALL))
    assert merged.results["run"]["merged_from"][1]["bundle"] == str(folder)


# -- waivers -------------------------------------------------------------------------

def test_the_shards_common_waivers_apply_to_the_merge(tmp_path):
    paths = shard_bundles(tmp_path, waivers=WAIVERS)
    merged = merge(paths, tmp_path / "merged")
    waived = [r for r in merged.results["verdicts"] if r["status"] == "waived"]
    assert {(r["control"], r["host"]) for r in waived} == {("QEMU-001", "weak")}
    assert merged.results["waivers"]["file"] == f"{paths[0]}:waivers.yaml"
    assert bundle.read(merged.written.bundle)["waivers.yaml"] == WAIVERS
    (tmp_path / "w.yaml").write_bytes(WAIVERS)
    single = single_run(tmp_path, waivers=waivers_mod.load(tmp_path / "w.yaml"), catalog=SMALL)
    assert verdicts(merged.results) == verdicts(single)


def test_differing_waivers_are_refused_unless_the_merge_is_given_its_own(tmp_path):
    snaps = lab_snapshots()
    paths = [make_bundle(tmp_path, "s2", {h: snaps[h] for h in ("hardened", "weak")},
                         Shard(2, 4), waivers=WAIVERS),
             make_bundle(tmp_path, "s3", {"default": snaps["default"]}, Shard(3, 4))]
    message = refused(paths, tmp_path / "merged")
    assert "different waivers files" in message and str(paths[0]) in message and "no waivers" in message
    own = tmp_path / "site.yaml"
    own.write_bytes(WAIVERS.replace(b"SEC-1", b"SEC-2"))
    merged = merge(paths, tmp_path / "merged", waivers_path=own)
    waived = [r for r in merged.results["verdicts"] if r["status"] == "waived"]
    assert [(r["host"], r["waiver"]["ticket"]) for r in waived] == [("weak", "SEC-2")]
    assert merged.results["waivers"]["file"] == str(own)
    assert bundle.read(merged.written.bundle)["waivers.yaml"] == own.read_bytes()


def test_a_malformed_waivers_file_in_the_shards_is_located_and_nothing_is_written(tmp_path):
    snaps = lab_snapshots()
    bad = b"waivers:\n  - control: QEMU-001\n    expires: soon\n"
    paths = [make_bundle(tmp_path, "s", dict(snaps), Shard(1, 1))]
    # the file is only read at the end of a run; forge a bundle that carries a bad one
    forged = forge(paths[0], tmp_path / "forged.tar.gz", {"waivers.yaml": bad})
    with pytest.raises(waivers_mod.WaiverError) as err:
        merge([forged], tmp_path / "merged")
    assert f"{forged}:waivers.yaml:2: waivers[0]: missing key 'scope'" in str(err.value)
    assert not (tmp_path / "merged").exists()


# -- interrupted and missing shards --------------------------------------------------

def test_an_interrupted_shard_carries_into_the_merged_manifest(tmp_path):
    snaps = lab_snapshots()
    cut = dict(snaps)
    cut["weak"] = Snapshot(host="weak", status=ERROR, error=INTERRUPTED, started=snaps["weak"].started,
                           finished=snaps["weak"].started)
    paths = [make_bundle(tmp_path, "s2", {h: cut[h] for h in ("hardened", "weak")}, Shard(2, 4),
                         interrupted="interrupted while collecting (Ctrl-C)"),
             *[make_bundle(tmp_path, f"s{k}", {h: snaps[h] for h in HOSTS if bucket(h, 4) == k},
                           Shard(k, 4)) for k in (1, 3, 4)]]
    merged = merge(paths, tmp_path / "merged")
    inc = bundle.verify(merged.written.bundle).manifest["incomplete"]
    assert inc == merged.incomplete
    assert inc["interrupted"] == f"shard 2/4 ({paths[0]}): interrupted while collecting (Ctrl-C)"
    assert [h["name"] for h in inc["hosts_not_collected"]] == ["weak"]
    assert inc["shards_incomplete"] == [{"bundle": str(paths[0]), "shard": "2/4",
                                         "interrupted": "interrupted while collecting (Ctrl-C)",
                                         "hosts_not_collected": ["weak"], "cases_not_judged": 0}]
    assert inc["shards_missing"] == []
    weak = [r for r in merged.results["verdicts"] if r["host"] == "weak"]
    assert weak and {r["status"] for r in weak} == {"error"}
    assert merged.results["run"]["interrupted"] == inc["interrupted"]


def test_a_missing_shard_leaves_its_hosts_as_errors_and_the_merge_incomplete(lab, tmp_path):
    merged = merge([p for p in lab["paths"] if "shard3" not in str(p)], tmp_path / "merged")
    assert merged.incomplete["shards_missing"] == ["3/4"]
    [gone] = merged.incomplete["hosts_not_collected"]
    assert gone["name"] == "default"
    assert gone["error"] == "not audited: no bundle of shard 3/4 was given to the merge"
    assert [h["name"] for h in merged.results["hosts"]] == HOSTS
    assert {r["status"] for r in merged.results["verdicts"] if r["host"] == "default"} == {"error"}


def test_a_missing_shard_that_holds_no_host_changes_nothing(lab, tmp_path):
    merged = merge(lab["paths"][1:3], tmp_path / "merged")      # 1/4 and 4/4 hold no host
    assert merged.incomplete is None
    assert verdicts(merged.results) == verdicts(single_run(tmp_path, catalog=SMALL))


# -- refused ------------------------------------------------------------------------

def test_a_bundle_that_does_not_verify_stops_the_merge_naming_it(lab, tmp_path):
    paths = lab["paths"]
    folder = bundle.extract(paths[1], tmp_path / "unpacked")
    snap = folder / "snapshots" / "weak.json"
    snap.write_text(snap.read_text().replace('"collected"', '"partial"', 1))
    message = refused([paths[0], folder, *paths[2:]], tmp_path / "merged")
    assert message == f"{folder}: does not verify: CHANGED snapshots/weak.json: sha256 differs from the manifest"
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tar")
    message = refused([garbage], tmp_path / "merged")
    assert message.startswith(f"{garbage}: does not verify: UNREADABLE") and "\n" not in message


def test_pubkey_checks_every_shards_signer(lab, tmp_path):
    paths = lab["paths"]                     # signed by lab["key"], not by this one
    key = auditor_key(tmp_path)
    message = refused(paths, tmp_path / "merged", pubkey=bundle.load_public_key(f"{key}.pub"))
    lines = message.splitlines()
    assert len(lines) == 4 and all("does not verify: SIGNATURE MANIFEST.json: signed by SHA256:" in line
                                   and "not by the given key" in line for line in lines)
    assert [line.split(":", 1)[0] for line in lines] == [str(p) for p in paths]


def test_the_same_bundle_twice_is_refused(lab, tmp_path):
    paths = lab["paths"]
    assert refused([*paths, paths[1]], tmp_path / "m") == \
        f"{paths[1]}: the same bundle as {paths[1]} (given twice)"
    copy = tmp_path / "copy.tar.gz"
    shutil.copyfile(paths[2], copy)
    assert refused([*paths, copy], tmp_path / "m") == f"{copy}: the same bundle as {paths[2]} (given twice)"
    folder = bundle.extract(paths[0], tmp_path / "unpacked")
    assert refused([*paths, folder], tmp_path / "m") == f"{folder}: the same bundle as {paths[0]} (given twice)"


def test_overlapping_hosts_are_refused(tmp_path):
    snaps = lab_snapshots()
    a = make_bundle(tmp_path, "a", {"hardened": snaps["hardened"], "weak": snaps["weak"]})
    b = make_bundle(tmp_path, "b", {"default": snaps["default"], "weak": snaps["weak"]})
    assert refused([a, b], tmp_path / "m") == f"{b}: host weak is also in {a} (run a); the shards overlap"


def test_one_shard_run_twice_is_refused(lab, tmp_path):
    paths = lab["paths"]
    again = make_bundle(tmp_path, "again", {h: s for h, s in lab_snapshots().items() if bucket(h, 4) == 3},
                        Shard(3, 4))
    message = refused([*paths, again], tmp_path / "m")
    assert f"{again}: host default is also in {paths[2]} (shard 3/4); the shards overlap" in message
    assert f"{again}: shard 3/4 is given twice (also {paths[2]})" in message


def test_different_catalogs_or_inventories_are_refused(lab, tmp_path):
    paths = lab["paths"]
    snaps = lab_snapshots()
    other = make_bundle(tmp_path, "other", {"default": snaps["default"]}, Shard(3, 4),
                        catalog_digest="0" * 64)
    message = refused([paths[1], other], tmp_path / "m")
    assert message.startswith("the bundles were judged with different catalogs (catalog sha256 ")
    assert f"0000000000000000: {other}" in message and f"{CAT.digest[:16]}: {paths[1]}" in message
    elsewhere = make_bundle(tmp_path, "elsewhere", {"default": snaps["default"]}, Shard(3, 4),
                            inventory={"path": "site.yaml", "sha256": "1" * 64})
    message = refused([paths[1], elsewhere], tmp_path / "m")
    assert message.startswith("the bundles were taken from different inventory files") and str(elsewhere) in message


def test_shards_of_different_splits_are_refused(lab, tmp_path):
    snaps = lab_snapshots()
    four = lab["paths"]
    three = make_bundle(tmp_path, "of3", {h: s for h, s in snaps.items() if bucket(h, 3) == 1}, Shard(1, 3))
    message = refused([four[1], three], tmp_path / "m")
    assert f"{three}: shard 1/3 is not of the same split as {four[1]} (shard 2/4)" in message
    plain = make_bundle(tmp_path, "plain", {"default": snaps["default"]})
    assert refused([four[1], plain], tmp_path / "m") == (
        f"{plain}: not a shard, but {four[1]} is shard 2/4: merge the shards of one split, or plain runs, not both")


def test_a_shard_holding_hosts_the_split_puts_elsewhere_is_refused(tmp_path):
    snaps = lab_snapshots()
    wrong = make_bundle(tmp_path, "wrong", {"default": snaps["default"]}, Shard(2, 4))
    assert refused([wrong], tmp_path / "m") == \
        f"{wrong}: shard 2/4 holds default but the split puts hardened, weak there"


def test_an_output_folder_that_is_not_empty_is_refused(lab, tmp_path):
    paths = lab["paths"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(MergeError) as err:
        audit.merge(paths, out)
    assert str(err.value) == f"{out}: exists and is not an empty folder; the merged run needs a folder of its own"
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]


# -- hostile bundles ---------------------------------------------------------------

def forge(original: Path, out: Path, changes: dict, drop=(), manifest_changes=None) -> Path:
    """`original`'s files with `changes` (member name -> bytes) and without `drop`,
    under a new manifest signed by a new key: what anyone can make, so a merge
    must judge its content, not trust it."""
    files = bundle.read(original)
    manifest = json.loads(files.pop(bundle.MANIFEST))
    files.pop(bundle.SIGNATURE)
    for name in drop:
        files.pop(name)
    files.update(changes)
    manifest.update(manifest_changes or {})
    signer = bundle.signer_from(None)
    manifest["files"] = {n: bundle.sha256_bytes(d) for n, d in sorted(files.items())}
    manifest["signature"] = {"algorithm": "ed25519", "key": "per-run", "public_key": signer.public_key,
                             "fingerprint": bundle.fingerprint(signer.public_key)}
    data = json.dumps(manifest).encode()
    files[bundle.MANIFEST] = data
    files[bundle.SIGNATURE] = base64.b64encode(signer.key.sign(data))
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(f"forged/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    assert bundle.verify(out).ok
    return out


def renamed(original: Path, out: Path, old: str, new) -> Path:
    """A bundle whose host `old` is called `new` everywhere (run.json, its files)."""
    files = bundle.read(original)
    meta = json.loads(files["run.json"])
    meta["hosts"] = [new if h == old else h for h in meta["hosts"]]
    snap = json.loads(files[f"snapshots/{old}.json"])
    snap["host"] = new
    name = new if isinstance(new, str) else str(new)
    return forge(original, out, {"run.json": json.dumps(meta).encode(),
                                 f"snapshots/{name}.json": json.dumps(snap).encode(),
                                 f"sent/{name}.json": files[f"sent/{old}.json"]},
                 drop=(f"snapshots/{old}.json", f"sent/{old}.json"))


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped-abs", "..", "a/b", "we ak", "x" * 201,
                                  "host\n2", 7, None])
def test_a_host_name_that_is_not_a_safe_file_name_is_refused(tmp_path, name):
    snaps = lab_snapshots()
    plain = make_bundle(tmp_path, "plain", {"weak": snaps["weak"]})
    bad = renamed(plain, tmp_path / "bad.tar.gz", "weak", name)
    out = tmp_path / "deep" / "er" / "merged"
    message = refused([bad], out)
    assert message.startswith(f"{bad}: run.json: hosts: host name ") and "is not a safe file name" in message
    assert "\n" not in message and len(message) < 400
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped-abs.json").exists()


def test_a_hostile_shard_selection_is_refused_too(tmp_path):
    snaps = lab_snapshots()
    s2 = make_bundle(tmp_path, "s2", {h: snaps[h] for h in ("hardened", "weak")}, Shard(2, 4))
    meta = json.loads(bundle.read(s2)["run.json"])
    meta["shard"]["selected"] = ["hardened", "../x", "weak"]
    bad = forge(s2, tmp_path / "bad.tar.gz", {"run.json": json.dumps(meta).encode()})
    assert refused([bad], tmp_path / "m").startswith(
        f"{bad}: run.json: shard.selected: host name '../x' is not a safe file name")
    for shard, words in (({"index": 0, "count": 4}, "shard 0/4 is not K/N"),
                         ({**meta["shard"], "algorithm": "md5"}, "shard split by 'md5'"),
                         ("2/4", "shard is not a mapping")):
        meta["shard"] = shard
        bad = forge(s2, tmp_path / "bad.tar.gz", {"run.json": json.dumps(meta).encode()})
        assert refused([bad], tmp_path / "m") == f"{bad}: not a run's bundle: run.json: {words}" \
            + (" with 1 <= K <= N" if "K/N" in words else ", this merge knows 'sha256-jump/1'"
               if "md5" in words else "")


def test_a_hostile_manifest_is_refused_in_one_line(tmp_path):
    plain = make_bundle(tmp_path, "plain", {"weak": lab_snapshots()["weak"]})
    for change, words in (({"catalog_digest": ["x"]}, "the manifest's catalog_digest is not a string"),
                          ({"inventory": "inv.yaml"}, "the manifest's inventory is not a mapping"),
                          ({"inventory": {"path": "i", "sha256": "../x"}},
                           "the manifest's inventory.sha256 is not a sha256"),
                          ({"run": "other"}, "the manifest's run 'other' is not run.json's 'plain'"),
                          ({"run": "r" * 600}, "the manifest's run is not a string of 1 to 500")):
        bad = forge(plain, tmp_path / "bad.tar.gz", {}, manifest_changes=change)
        message = refused([bad], tmp_path / "m")
        assert message.startswith(f"{bad}: not a run's bundle: {words}") and "\n" not in message, message


def test_a_snapshot_of_another_host_is_refused(tmp_path):
    snaps = lab_snapshots()
    plain = make_bundle(tmp_path, "plain", {"weak": snaps["weak"], "default": snaps["default"]})
    files = bundle.read(plain)
    bad = forge(plain, tmp_path / "bad.tar.gz", {"snapshots/weak.json": files["snapshots/default.json"]})
    assert refused([bad], tmp_path / "m") == (
        f"{bad}: not a run's bundle: snapshots/weak.json is the snapshot of another host ('default')")
    gone = forge(plain, tmp_path / "gone.tar.gz", {}, drop=("snapshots/weak.json",))
    assert refused([gone], tmp_path / "m") == (
        f"{gone}: not a run's bundle: run.json lists host weak but there is no snapshots/weak.json")
    junk = forge(plain, tmp_path / "junk.tar.gz", {"snapshots/weak.json": b"[1, 2]"})
    assert refused([junk], tmp_path / "m") == f"{junk}: not a run's bundle: snapshots/weak.json is not a mapping"


def test_every_bad_bundle_is_named_at_once(lab, tmp_path):
    paths = lab["paths"]
    missing = tmp_path / "nope.tar.gz"
    lines = refused([missing, *paths, tmp_path], tmp_path / "m").splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{missing}: does not verify: UNREADABLE")
    assert lines[1].startswith(f"{tmp_path}: does not verify:")


# -- the command ----------------------------------------------------------------------

def merge_command(*args, cwd=ROOT):
    """`python -m hvconform merge ...` in a process that must never import pytest."""
    script = ("import sys\n"
              "from hvconform.__main__ import main\n"
              "code = main(sys.argv[1:])\n"
              "assert not any(m == 'pytest' or m.startswith(('pytest.', '_pytest')) for m in sys.modules)\n"
              "sys.exit(code)\n")
    return subprocess.run([sys.executable, "-c", script, "merge", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_command_merges_and_says_where(lab, tmp_path):
    paths = lab["paths"]
    out = tmp_path / "merged"
    proc = merge_command(*paths, "-o", out, "--run-id", "nightly")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("merged 4 bundle(s) (1/4, 2/4, 3/4, 4/4): 3 host(s), ")
    assert f"bundle:  {out / 'bundle.tar.gz'} (verify: python -m hvconform verify {out / 'bundle.tar.gz'})" in lines
    assert json.loads((out / "results.json").read_text())["run"]["id"] == "nightly"
    assert (out / "report.html").is_file() and bundle.verify(out / "bundle.tar.gz").ok


def test_the_command_exit_codes(lab, tmp_path):
    paths = lab["paths"]
    proc = merge_command(*paths, paths[0], "-o", tmp_path / "a")
    assert proc.returncode == 1 and proc.stderr == f"error: {paths[0]}: the same bundle as {paths[0]} (given twice)\n"
    proc = merge_command(*paths[:2], paths[3], "-o", tmp_path / "b")      # 3/4 (default) missing
    assert proc.returncode == 3 and "INCOMPLETE: not interrupted; hosts not collected: default; " \
                                    "shards missing: 3/4" in proc.stderr
    assert bundle.verify(tmp_path / "b" / "bundle.tar.gz").ok
    proc = merge_command(*paths, "-o", tmp_path / "c", "--pubkey", tmp_path / "none.pub")
    assert proc.returncode == 1 and "none.pub: cannot read the public key" in proc.stderr
    proc = merge_command("-o", tmp_path / "d")
    assert proc.returncode == 2 and "the following arguments are required: bundles" in proc.stderr


def test_shards_judged_with_different_site_overlays_are_refused(lab, tmp_path):
    paths = lab["paths"]
    tailored = forge(paths[2], tmp_path / "tailored.tar.gz",
                     {"overlays/sources.json": b'[{"file": "1.yaml", "path": "site-overlay.yaml"}]',
                      "overlays/1.yaml": b"controls: []\n"})
    message = refused([paths[1], tailored], tmp_path / "m")
    assert message.startswith("the bundles were judged with different site overlays (no overlays: "
                              f"{paths[1]}; ") and str(tailored) in message
