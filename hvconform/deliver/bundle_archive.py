"""Reading a bundle archive someone else made, within fixed bounds.

A bundle is hostile input: a 2.9 MB gzip bomb once made `verify` hold 2.1 GB. Here
a .tar.gz (or plain .tar, or the folder it was unpacked to) is read as a stream,
one member at a time, and refused as soon as it passes a limit:

    MAX_BYTES     decompressed bytes in all: 1 GiB, or MAX_RATIO (16) times the size of
                  the archive if that is more (headers and padding count too)
    MAX_MEMBERS   members: 20,000, or one per KiB of the archive if that is more
    MAX_HEADER    one PAX or GNU long-name header, 1 MiB (tarfile would read any size)

The first two grow with the archive because a fleet's bundle is large by right: 1,000
hosts make 261 MB of gzip holding 1.6 GB in 12,850 members (bench/README.md). A bomb
is not: gzip of repeated bytes inflates ~1,000 times, real evidence 6-10 times.

    for name, chunks in walk(path):      # name below the bundle's top folder
        data = b"".join(chunks)          # at most the member's declared size, read in chunks

Only regular files and folders are accepted: links, devices and sparse members are
refused (in an unpacked folder, a sparse file counts by its size, bounded by the room
the folder takes on disk). Names are returned as they are: a name seen twice is for the caller to
report (verify) or refuse (read).
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from pathlib import Path

from isal import igzip, isal_zlib

MAX_BYTES = 1 << 30
MAX_RATIO = 16
MAX_MEMBERS = 20_000
MAX_HEADER = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# what a damaged or truncated archive raises while it is read
# (RecursionError: tarfile follows a chain of long-name headers by recursion)
_UNREADABLE = (OSError, EOFError, tarfile.TarError, gzip.BadGzipFile, ValueError, zlib.error,
               isal_zlib.error, RecursionError)


class ArchiveError(Exception):
    """The archive cannot be read within the limits, or is not one: the reason, one line."""


class _Bounded(io.RawIOBase):
    """The decompressed stream, refusing to give more than `limit` bytes in all."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.count = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # one byte past the limit is asked for: getting it proves the stream goes on
        data = self.raw.read(min(len(buffer), self.limit - self.count + 1))
        self.count += len(data)
        if self.count > self.limit:
            raise ArchiveError(f"decompresses to more than {_size(self.limit)}: refused")
        buffer[:len(data)] = data
        return len(data)


class _Info(tarfile.TarInfo):
    """tarfile reads an extended header of any declared size into memory before any
    caller sees it; this refuses large ones, and sparse members, before it does.
    (_proc_member is tarfile's one dispatch point for a header, stable since 3.0.)"""

    def _proc_member(self, tarfile_):
        if self.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                         tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE) and self.size > MAX_HEADER:
            raise ArchiveError(f"an extended tar header of {_size(self.size)} (at most "
                               f"{_size(MAX_HEADER)}): refused")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveError(f"{self.name}: a sparse member: refused")
        return super()._proc_member(tarfile_)


def walk(path: str | os.PathLike):
    """(name below the top folder, an iterator of its bytes in chunks) for each regular
    file. Raises ArchiveError, also while the chunks are read."""
    path = Path(path)
    if path.is_dir():
        yield from _walk_folder(path)
        return
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read: {exc.strerror}") from None
    with raw:
        size = os.fstat(raw.fileno()).st_size
        max_bytes, max_members = max(MAX_BYTES, MAX_RATIO * size), max(MAX_MEMBERS, size >> 10)
        magic = raw.read(2)
        raw.seek(0)
        # ISA-L inflates gzip about twice as fast as zlib (verify of a fleet's bundle)
        source = igzip.GzipFile(fileobj=raw, mode="rb") if magic == _GZIP_MAGIC else raw
        bounded = io.BufferedReader(_Bounded(source, max_bytes), _CHUNK)
        try:
            with tarfile.open(fileobj=bounded, mode="r|", tarinfo=_Info) as tar:
                budget, count = max_bytes, 0
                for member in tar:
                    count += 1
                    if count > max_members:
                        raise ArchiveError(f"more than {max_members} members: refused")
                    if member.isdir():
                        continue
                    if not member.isfile():
                        raise ArchiveError(f"{member.name}: not a regular file (links are refused)")
                    if member.size > budget:
                        raise ArchiveError(f"{member.name}: {_size(member.size)} would pass the "
                                           f"limit of {_size(max_bytes)} in all: refused")
                    budget -= member.size
                    yield _below_top(member.name), _chunks(tar.extractfile(member))
        except _UNREADABLE as exc:
            raise ArchiveError(f"not a readable bundle: {exc}") from None


def _walk_folder(root: Path):
    """An unpacked bundle, bounded as an archive of its size on disk would be (a sparse
    file is large and takes no room: what it would read counts, what it holds does not)."""
    seen, disk, count = 0, 0, 0
    for p in sorted(root.rglob("*")):
        count += 1
        if count > max(MAX_MEMBERS, disk >> 10):
            raise ArchiveError(f"more than {count - 1} files: refused")
        if p.is_symlink():
            raise ArchiveError(f"{p.relative_to(root)}: a link (links are refused)")
        if p.is_dir():
            continue
        if not p.is_file():
            raise ArchiveError(f"{p.relative_to(root)}: not a regular file")
        st = p.stat()
        seen, disk = seen + st.st_size, disk + st.st_blocks * 512
        limit = max(MAX_BYTES, MAX_RATIO * disk)
        if seen > limit:
            raise ArchiveError(f"{p.relative_to(root)}: would pass the limit of {_size(limit)}")
        with open(p, "rb") as stream:
            yield p.relative_to(root).as_posix(), _chunks(stream)


def _chunks(stream):
    try:
        while chunk := stream.read(_CHUNK):
            yield chunk
    except _UNREADABLE as exc:
        raise ArchiveError(f"not a readable bundle: {exc}") from None


def _below_top(name: str) -> str:
    parts = name.split("/", 1)
    return parts[1] if len(parts) == 2 else parts[0]


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
