"""`python -m hvconform verify` on bundles an adversary made (issue 10): a gzip bomb,
too many members, a duplicate member whose first copy is tampered, a manifest whose
signature block is missing or malformed. Each ends in one line and its exit code
(0 OK, 1 files differ, 2 signature, 3 not a readable bundle), never a traceback,
and within bounded memory."""

from __future__ import annotations

import gzip
import io
import json
import resource
import subprocess
import sys
import tarfile
import time

import pytest

from hvconform.deliver import bundle, bundle_archive
from tests.conftest import ROOT
from tests.hostile_bundles import craft, manifest_for, recorded_files, signed

MEMORY_LIMIT = 768 << 20   # address space for the verifying process: far below any bomb


def verify_cli(*args, limit_memory: bool = False):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    return subprocess.run([sys.executable, "-m", "hvconform", "verify", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if limit_memory else None)


def one_line_outcome(proc, code: int, *words: str):
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    for word in words:
        assert word in out, out[-3000:]


def tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def gzip_bomb(path, gigabytes: float = 2.75):
    """About 2.9 MB of gzip that inflates to `gigabytes` of zeros inside one tar member:
    gzip members may be concatenated, so one compressed 64 MiB block is repeated."""
    block = gzip.compress(b"\0" * (64 << 20), compresslevel=9, mtime=0)
    count = int(gigabytes * (1 << 30)) // (64 << 20)
    with open(path, "wb") as out:
        out.write(gzip.compress(tar_header("run/snapshots/weak.json", count * (64 << 20)), mtime=0))
        for _ in range(count):
            out.write(block)
    return path


def test_a_gzip_bomb_is_refused_in_bounded_memory_and_time(tmp_path):
    bomb = gzip_bomb(tmp_path / "bomb.tar.gz")
    assert 2_000_000 < bomb.stat().st_size < 4_000_000
    started = time.monotonic()
    proc = verify_cli(bomb, limit_memory=True)
    one_line_outcome(proc, bundle.UNREADABLE, "would pass the limit of 1.0 GiB")
    assert time.monotonic() - started < 60


def long_name_headers(count: int, size: int) -> bytes:
    """`count` GNU long-name headers in a row, each `size` bytes: bytes no member declares."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = tarfile.GNUTYPE_LONGNAME, size
    one = info.tobuf(format=tarfile.USTAR_FORMAT) + b"n" * size + b"\0" * (-size % 512)
    return one * count


def test_undeclared_bytes_past_the_limit_are_refused_too(tmp_path, monkeypatch):
    # headers that no member's size declares still count against the limit
    monkeypatch.setattr(bundle_archive, "MAX_BYTES", 4 << 20)
    monkeypatch.setattr(bundle_archive, "MAX_RATIO", 0)     # the bound alone, whatever the size
    (tmp_path / "long.tar").write_bytes(long_name_headers(20, 512 << 10) + b"\0" * 1024)
    report = bundle.verify(tmp_path / "long.tar")
    assert report.code == bundle.UNREADABLE
    assert "decompresses to more than 4.0 MiB" in str(report.problems)


def test_a_fleets_bundle_larger_than_the_fixed_bounds_verifies_and_reads(tmp_path, monkeypatch):
    """The bounds grow with the archive: 1,000 hosts made a 261 MB bundle of 1.6 GB in
    12,850 members, past 1 GiB and near 20,000 (bench/README.md); here the same at a
    small scale, the fixed bounds lowered below a genuine bundle's size and count."""
    files = recorded_files()
    files.update({f"blobs/{i:064x}": f"{i} evidence".encode() * 40 for i in range(300)})
    path = craft(tmp_path / "fleet.tar.gz", files)
    inflated = sum(map(len, files.values()))
    monkeypatch.setattr(bundle_archive, "MAX_BYTES", inflated // 4)
    monkeypatch.setattr(bundle_archive, "MAX_MEMBERS", 50)
    assert path.stat().st_size << 4 > inflated and path.stat().st_size >> 10 > 50
    assert bundle.verify(path).ok, bundle.verify(path).problems
    assert len(bundle.read(path)) == len(files) + 2
    unpacked = tmp_path / "unpacked"
    with tarfile.open(path) as tar:
        tar.extractall(unpacked, filter="data")
    assert bundle.verify(unpacked / "recorded").ok
    # a bomb of that size is still one: past 16 times its own size
    monkeypatch.setattr(bundle_archive, "MAX_RATIO", 2)
    report = bundle.verify(path)
    assert report.code == bundle.UNREADABLE and "refused" in str(report.problems)


def test_a_sparse_file_in_an_unpacked_bundle_is_bounded_by_its_room_on_disk(tmp_path):
    genuine = craft(tmp_path / "genuine.tar.gz", recorded_files())
    with tarfile.open(genuine) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    folder = tmp_path / "unpacked" / "recorded"
    with open(folder / "snapshots" / "huge.json", "wb") as f:
        f.truncate(3 << 30)     # 3 GiB that take no room: read() would hold them all
    report = bundle.verify(folder)
    assert report.code == bundle.UNREADABLE and "would pass the limit" in str(report.problems)


def test_a_chain_of_headers_deeper_than_python_recursion_is_one_line(tmp_path):
    (tmp_path / "chain.tar").write_bytes(long_name_headers(5000, 10) + b"\0" * 1024)
    proc = verify_cli(tmp_path / "chain.tar")
    one_line_outcome(proc, bundle.UNREADABLE, "not a readable bundle")


def test_a_huge_extended_header_is_refused_before_it_is_read(tmp_path):
    pax = b"".join(f"{len(r) + 8} x={r}\n".encode() for r in ["a" * 1000] * 2000)  # > 1 MiB
    pax_len = f"{len(pax)}"
    with open(tmp_path / "pax.tar", "wb") as out:
        info = tarfile.TarInfo("run/././@PaxHeader")
        info.type, info.size = tarfile.XHDTYPE, len(pax)
        out.write(info.tobuf(format=tarfile.USTAR_FORMAT) + pax + b"\0" * (-len(pax) % 512))
        out.write(b"\0" * 1024)
    assert int(pax_len) > bundle_archive.MAX_HEADER
    report = bundle.verify(tmp_path / "pax.tar")
    assert report.code == bundle.UNREADABLE and "extended tar header" in str(report.problems)


def test_too_many_members_are_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(bundle_archive.MAX_MEMBERS + 1):
            tar.addfile(tarfile.TarInfo(f"run/f{i}"), io.BytesIO(b""))
    (tmp_path / "many.tar").write_bytes(buf.getvalue())
    proc = verify_cli(tmp_path / "many.tar")
    one_line_outcome(proc, bundle.UNREADABLE, f"more than {bundle_archive.MAX_MEMBERS} members")


def test_a_duplicate_member_whose_first_copy_is_tampered_is_detected(tmp_path):
    genuine = craft(tmp_path / "genuine.tar.gz", recorded_files())
    assert bundle.verify(genuine).ok
    with tarfile.open(genuine) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    tampered = json.loads(dict(members)["recorded/run.json"])
    tampered["hosts"] = ["weak"]
    forged = [("recorded/run.json", json.dumps(tampered).encode())] + members
    with tarfile.open(tmp_path / "dup.tar.gz", "w:gz") as tar:
        for name, data in forged:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    proc = verify_cli(tmp_path / "dup.tar.gz")
    one_line_outcome(proc, bundle.FILES_DIFFER, "DUPLICATE run.json")
    with pytest.raises(bundle.BundleError, match="run.json: twice in the bundle"):
        bundle.read(tmp_path / "dup.tar.gz")


def signature_block_bundle(tmp_path, change) -> object:
    """A bundle whose manifest's signature block is changed by `change`, then signed."""
    files = recorded_files()
    signer = bundle.signer_from(None)
    manifest = manifest_for(files, signer)
    change(manifest["signature"], signer)
    everything = {**files, **signed(manifest, signer)}
    with tarfile.open(tmp_path / "b.tar.gz", "w:gz") as tar:
        for name, data in everything.items():
            info = tarfile.TarInfo(f"r/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return tmp_path / "b.tar.gz"


@pytest.mark.parametrize("change, words", [
    (lambda sig, s: sig.pop("public_key"), "signature.public_key: missing"),
    (lambda sig, s: sig.update(public_key=5), "signature.public_key: expected an OpenSSH ed25519 key"),
    (lambda sig, s: sig.update(public_key=["ssh-ed25519"]), "signature.public_key: expected"),
    (lambda sig, s: sig.update(public_key="ssh-ed25519"), "signature.public_key: expected"),
    (lambda sig, s: sig.update(public_key="ssh-ed25519 !!!notbase64"), "signature.public_key: expected"),
    (lambda sig, s: sig.pop("key"), "signature.key: missing"),
    (lambda sig, s: sig.pop("fingerprint"), "signature.fingerprint: missing"),
    (lambda sig, s: sig.update(fingerprint="SHA256:someone-else"),
     "signature.fingerprint: 'SHA256:someone-else' is not the fingerprint of its public_key"),
    (lambda sig, s: sig.update(key={"a": 1}), "signature.key: expected a string"),
])
def test_a_signed_manifest_with_a_broken_key_entry_is_a_signature_problem(tmp_path, change, words):
    path = signature_block_bundle(tmp_path, change)
    one_line_outcome(verify_cli(path), bundle.BAD_SIGNATURE, words)


def test_a_manifest_nested_too_deep_for_json_is_refused(tmp_path):
    files = recorded_files()
    deep = b"[" * 200_000 + b"]" * 200_000
    with tarfile.open(tmp_path / "deep.tar.gz", "w:gz") as tar:
        for name, data in {**files, bundle.MANIFEST: deep, bundle.SIGNATURE: b"x"}.items():
            info = tarfile.TarInfo(f"r/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    one_line_outcome(verify_cli(tmp_path / "deep.tar.gz"), bundle.BAD_SIGNATURE, "not a manifest")


def test_an_incomplete_note_of_any_shape_prints_without_a_traceback(tmp_path):
    files = recorded_files()
    path = craft(tmp_path / "inc.tar.gz", files, incomplete={"hosts_not_collected": [3, {"x": 1}]})
    proc = verify_cli(path)
    one_line_outcome(proc, bundle.OK, "OK:", "the run was incomplete")
