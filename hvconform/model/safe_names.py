"""The one gate between a name someone else chose and a path on this machine.

Host names (an inventory's, or a bundle's run.json), run ids (--run-id, a bundle's)
and a bundle's top folder all end up as file or folder names. Every such path is
made here, so a name can never climb out (`../x`), jump elsewhere (`/etc/x`), hide
an option (`-rf`) or smuggle a separator or NUL into a path:

    check("weak", "host name")                 # -> "weak"
    check("../x", "host name")                 # UnsafeName: host name '../x': use only ...
    inside(run_dir, "snapshots", host, suffix=".json")   # run_dir/snapshots/<host>.json

A name is 1 to 128 characters of letters, digits, '.', '_' and '-', does not start
with '-' or '.', and is not only dots. The inventory accepts the same names (a name
it accepts can always be written), and nothing is ever rewritten into a different
name: two hosts can never share one file by mapping onto the same name.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_LENGTH = 128
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,%d}\Z" % (MAX_LENGTH - 1))
RULE = (f"use only letters, digits, '.', '_' and '-' (at most {MAX_LENGTH}), "
        "not starting with '.' or '-'")


class UnsafeName(ValueError):
    """A name that cannot be a file name: says which name, and the rule."""


def is_safe(name) -> bool:
    return isinstance(name, str) and _SAFE.match(name) is not None


def check(name, what: str = "name") -> str:
    """`name` itself when it is safe as one file name; else UnsafeName naming it."""
    if not is_safe(name):
        shown = repr(name)[:80] if isinstance(name, str) else f"a {type(name).__name__}"
        raise UnsafeName(f"{what} {shown}: {RULE}")
    return name


def inside(base: Path, *parts: str, suffix: str = "", what: str = "name") -> Path:
    """base/part/.../last<suffix>, each part checked; the result never leaves `base`
    (a symlink planted under it cannot redirect it elsewhere either)."""
    base = Path(base)
    if not parts:
        raise UnsafeName(f"{what}: no name given")
    path = base.joinpath(*(check(p, what) for p in parts[:-1]), check(parts[-1], what) + suffix)
    root = base.resolve()
    if root != path.resolve() and root not in path.resolve().parents:
        raise UnsafeName(f"{what} {parts[-1]!r}: {path} leads outside {base}")
    return path
