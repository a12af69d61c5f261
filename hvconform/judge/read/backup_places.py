"""Where a backup repository is: on another machine (its URL names a host that is not
this one) or a local path on some device of the mount table (proc(5) mountinfo).

Repository forms: borg (`ssh://user@host:port/path`, `user@host:path`, a local path),
restic (`sftp:user@host:/path`, `rest:https://host/`, `s3:`, `b2:`, `azure:`, `gs:`,
`swift:`, `rclone:`, `local:/path` or a path), rsnapshot's snapshot_root (a path, maybe a
network mount), a Bacula Storage daemon's Address (a host name).
"""

from __future__ import annotations

import re

from hvconform.judge.read import memo

MOUNTINFO = "/proc/self/mountinfo"
# restic and borg repository forms that name another machine
_REMOTE = re.compile(r"(?:sftp|rest|s3|b2|azure|gs|swift|rclone):|ssh://|[\w.-]+@[\w.-]+:|[\w.-]+:/")
_URL_HOST = re.compile(r"(?:^(?:sftp|rest|s3|b2|azure|gs|swift|rclone):(?:[a-z+]+://)?|//)"
                       r"(?:[^@/\s]+@)?(\[[^\]]+\]|[^:/\s]+)|^(?:[\w.-]+@)?([\w.-]+):")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "fuse.sshfs", "9p"}
_OCTAL = re.compile(r"\\([0-7]{3})")


def mount_point(field: str) -> str:
    """A mountinfo path field with its octal escapes (\\040 for a space) decoded."""
    # most fields have none: not running the substitution for them saves two thirds
    # of the mount table's parsing
    return _OCTAL.sub(lambda m: chr(int(m[1], 8)), field) if "\\" in field else field


class Mounts(tuple):
    """The mount table as mounts() gives it, with what mount_of() looks up: each mount
    point (its trailing / dropped) with the last entry mounted there, and the lengths of
    those points, longest first."""

    def __new__(cls, entries):
        table = super().__new__(cls, entries)
        table.last = {entry[0].rstrip("/") or "/": entry for entry in table}
        table.lengths = sorted({len(point) for point in table.last}, reverse=True)
        return table


@memo.per_host
def mounts(text: str) -> Mounts:
    """proc(5) mountinfo lines -> ((mount point, major:minor, source), ...), in mount
    order. Parsed once per text (judge/read/memo.py): several backup controls read it."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if "-" in fields[6:] and len(fields) >= 5:
            rest = fields[fields.index("-", 6) + 1:]
            out.append((mount_point(fields[4]), fields[2], rest[1] if len(rest) > 1 else ""))
    return Mounts(out)


@memo.per_host
def fs_types(text: str) -> dict[str, str]:
    """mount point -> file system type, from the same mountinfo lines (once per text:
    callers read it, never change it)."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if "-" in fields[6:] and len(fields) >= 5:
            rest = fields[fields.index("-", 6) + 1:]
            out[mount_point(fields[4])] = rest[0] if rest else ""
    return out


def mount_of(path: str, table) -> tuple[str, str, str] | None:
    """The mount a path lies on: the longest mount point above it, the last mounted there.
    Only the path's own prefixes of a mount point's length are looked up, longest first:
    scanning a table of hundreds of mounts for each of ~20 paths a host was 2% of judging."""
    table = table if isinstance(table, Mounts) else Mounts(table)
    for n in table.lengths:
        point = path[:n]
        if n <= len(path) and point in table.last and (n == len(path) or path[n] == "/" or point == "/"):
            return table.last[point]
    return None


def remote_host(repository: str) -> str | None:
    """The machine a repository URL names, '' when remote but unnamed, None when local."""
    if not _REMOTE.match(repository) or repository.startswith("local:"):
        return None
    match = _URL_HOST.search(repository)
    return next((g for g in match.groups() if g), "") if match else ""


def is_this_host(host: str, own_names) -> bool:
    return host.lower() in LOCAL_HOSTS | {h.lower() for h in own_names if h}


def network_fs(point: str, text: str) -> str | None:
    """The network file system type a mount point has (nfs, cifs, ...), else None."""
    kind = fs_types(text).get(point, "")
    return kind if kind in _NETWORK_FS else None
