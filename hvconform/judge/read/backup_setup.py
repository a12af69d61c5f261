"""What one backup tool's configuration says, as every backup control reads it: the
tool, the file that configures it, what it backs up and excludes, where it writes,
how its repository is encrypted and where its key is. The readers of each tool's own
format (backup_borgmatic, backup_restic, backup_rsnapshot, backup_bacula) fill it;
backup_tools gathers them for a host.

Every fact keeps where it was read (`path:line`) and the artifact it came from, so a
verdict can cite the tool's own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_TEXT = 512 * 1024     # a configuration larger than this is not parsed (hostile input)


@dataclass
class Line:
    value: str            # a path, pattern or URL as the tool reads it
    where: str            # "path:line" in the host's file
    text: str = ""        # the line as read (secrets already withheld on the host)

    def cite(self) -> str:
        return f"{self.where}: {self.text or self.value}"


@dataclass
class Exclude:
    pattern: str
    where: str
    style: str            # which matcher applies: borg, borg-sh, restic, rsync, bacula-path, bacula-wild
    root: str = "/"       # rsync: the transfer root a leading / anchors at
    text: str = ""


@dataclass
class Key:
    """Where the repository's key or passphrase is kept: a file (mode and owner judged),
    inline in a configuration file (that file's mode judged), or a command (external)."""
    kind: str             # "file", "inline", "command"
    path: str             # the key file, or the file holding the inline secret
    where: str            # the setting that names it
    stat: str | None = None   # "600 root root" as collected, None when not collected/absent


@dataclass
class Setup:
    tool: str                     # borgmatic, restic, rsnapshot, bacula, site files
    origin: str                   # the file that configures it
    artifact: object              # the collected artifact it was read from
    sources: list[Line] = field(default_factory=list)        # what it backs up
    excludes: list[Exclude] = field(default_factory=list)
    repositories: list[Line] = field(default_factory=list)   # where it writes
    encryption: Line | None = None    # evidence of the repository's encryption (value: the mode)
    unencrypted: str | None = None    # why the tool's copies are not encrypted, when known
    keys: list[Key] = field(default_factory=list)
    repository_unknown: str | None = None   # why the repository is not visible from this host
    one_file_system: bool = False
    unread: list[str] = field(default_factory=list)   # what may add sources, not read (includes, lists)
    unread_excludes: list[str] = field(default_factory=list)   # what may exclude, not read or evaluated
    problems: list[str] = field(default_factory=list) # located parse problems
    unreadable: list[str] = field(default_factory=list)   # files of its settings that could not be read

    def label(self) -> str:
        return f"{self.tool} ({self.origin})"


_HEADER = re.compile(r"^### ([\w-]+)(?: (.*))?$")


def sections(text: str) -> list[tuple[str, str, list[str]]]:
    """`### <kind> <rest>` headers and the lines after each: [(kind, rest, lines)]."""
    out: list[tuple[str, str, list[str]]] = []
    for line in text[:MAX_TEXT].split("\n"):
        m = _HEADER.match(line)
        if m:
            out.append((m[1], m[2] or "", []))
        elif out:
            out[-1][2].append(line)
    return out


def numbered(lines: list[str]) -> list[tuple[int, str]]:
    """'12: text' lines (the host-side readers number what they print) -> [(12, 'text')]."""
    out = []
    for line in lines:
        n, colon, rest = line.partition(": ")
        if colon and n.isdigit():
            out.append((int(n), rest))
    return out


STAT = re.compile(r"^(\d{3,4}) (\S+) (\S+)$")


def stat_fields(text: str) -> tuple[str, str, str] | None:
    """'600 root root' -> ('600', 'root', 'root'); anything else (a stat error) -> None."""
    m = STAT.match(text.strip())
    return (m[1], m[2], m[3]) if m else None
