"""Names from a bundle (host names, above all) that become file names in a run folder.

    stem = host_file_stem(name, where="shards/2.tar.gz: run.json")   # or UnsafeName

A bundle is hostile input: anyone can sign an edited one with a key of their own,
so a host called `../../etc/cron.d/x` must never reach a path. The rule is the
inventory's own for host names (letters, digits, '.', '_' and '-'; it also makes
them test ids), bounded in length, and never `.` or `..`, so a name is safe as a
file name and as a folder name. A name the inventory could not have held is
refused, never rewritten: two rewritten names could collide.
"""

from __future__ import annotations

import re

MAX_LENGTH = 200
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,%d}\Z" % MAX_LENGTH)


class UnsafeName(ValueError):
    """A name that cannot be a file name; the message is one line and says where."""


def is_safe(name) -> bool:
    return isinstance(name, str) and bool(_SAFE.match(name)) and name not in (".", "..")


def host_file_stem(name, where: str = "") -> str:
    """`name` itself when it is safe as a file or folder name, else UnsafeName."""
    if is_safe(name):
        return name
    shown = repr(name)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    prefix = f"{where}: " if where else ""
    raise UnsafeName(f"{prefix}host name {shown} is not a safe file name (letters, digits, "
                     f"'.', '_' and '-', at most {MAX_LENGTH}, not '.' or '..')")
