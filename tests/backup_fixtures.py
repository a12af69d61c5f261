"""What a host prints for the backup readers, made by running the real commands of
hvconform/collect/commands.py (their awk programs, find, grep, stat) on configuration
files laid out in a temporary root: tests/data/backup/ holds each tool's files in its
own format, and the cases of tests/cases/backup.py are what the readers print for them.

    collected("borgmatic_configs", {"/etc/borgmatic/config.yaml": text}, modes={...})

Paths in the command and in the files are moved under the temporary root and moved
back in the output; owners print as root (as on a host, where root owns these files)
unless `owners` says otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from pathlib import Path

from hvconform.collect.commands import render

DATA = Path(__file__).resolve().parent / "data" / "backup"
_MOVED = ("/etc/", "/root/", "/var/spool/", "/var/log/")


def data(name: str) -> str:
    return (DATA / name).read_text()


def _move(text: str, root: str) -> str:
    return re.sub(r"(?<![\w./-])(" + "|".join(re.escape(p) for p in _MOVED) + ")", lambda m: root + m[1], text)


def collected(command: str, files: dict, modes: dict | None = None, owners: dict | None = None) -> str:
    return _collected(command, tuple(sorted(files.items())), tuple(sorted((modes or {}).items())),
                      tuple(sorted((owners or {}).items())))


@functools.lru_cache(maxsize=None)
def _collected(command, files, modes, owners) -> str:
    modes, owners = dict(modes), dict(owners)
    with tempfile.TemporaryDirectory(prefix="hvbk") as root:
        for path, text in files:
            target = Path(root + path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_move(text, root))
            os.chmod(target, int(modes.get(path, "644"), 8))
        line = _move(render(command), root)
        out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30).stdout
    out = out.replace(root, "")
    # stat's owner and group as root sees the files of a host: root's, unless told otherwise
    def owner(m):
        return f"{m[1]} {m[2]} {m[3]} {owners.get(m[2], 'root root')}"
    return re.sub(r"^(### (?:file|stat)) (.+?) (\d{3,4}) \S+ \S+$", owner, out, flags=re.M)
