"""The backup tools a host is configured with, read from their own configuration, and
what their backup sets reach: the union every backup control judges (BKP-001, -003
to -006).

    found = configured(snap)           # artifacts.End when the settings were not collected
    found.setups                       # [Setup] of borgmatic, restic, rsnapshot, Bacula/Bareos
    hit = reach(setup, "/etc/libvirt", table)   # Reach(source, exclude, notes)

Tools recognised, each by its own format (judge/read/backup_<tool>.py): borgmatic
(YAML, both layouts), restic (systemd units, crontabs, their environment files and
lists), rsnapshot (rsnapshot.conf), Bacula/Bareos (a Director's FileSets). A host with
none of them falls back to the site files of hvconform/inputs/policy.py
(backup_manifest, backup_status_file, ...), which the controls read themselves.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from hvconform.model import verdict as v
from hvconform.judge.read import (artifacts, backup_bacula, backup_borgmatic, backup_restic,
                                  backup_rsnapshot, path_patterns)
from hvconform.judge.read.backup_places import mount_of
from hvconform.judge.read.backup_setup import Exclude, Line, Setup

# (command, reader) for each tool; the commands are declared in collect/commands.py
READERS = (("borgmatic_configs", backup_borgmatic.setups), ("restic_settings", backup_restic.setups),
           ("rsnapshot_conf", backup_rsnapshot.setups), ("bacula_config", backup_bacula.setups))
NEEDS = [(name, "") for name, _ in READERS]
TOOLS = "borgmatic, restic, rsnapshot, Bacula/Bareos"


@dataclass
class Found:
    setups: list[Setup] = field(default_factory=list)
    artifacts: dict = field(default_factory=dict)     # command name -> artifact
    problems: list[str] = field(default_factory=list)

    def unreadable(self) -> list[str]:
        return [u for s in self.setups for u in s.unreadable]

    def or_error(self, verdict: v.Verdict) -> v.Verdict:
        """A failing verdict stands only if every setting was read: else it is an error."""
        if verdict.status == v.FAIL and self.unreadable():
            return v.error("some of the backup tools' settings could not be read: "
                           + "; ".join(self.unreadable()[:3]), verdict.evidence)
        return verdict

    def names(self) -> str:
        return ", ".join(sorted({s.tool for s in self.setups})) or "none"

    def evidence(self, lines_by_setup=None) -> list[v.Evidence]:
        """One evidence item per artifact that configured a tool, with the given lines."""
        out = []
        for name, art in self.artifacts.items():
            mine = [s for s in self.setups if s.artifact is art]
            if not mine:
                continue
            text = "\n".join(line for s in mine for line in (lines_by_setup or {}).get(id(s), [s.label()]))
            out.append(v.Evidence.of(art, text or "\n".join(s.label() for s in mine)))
        return out


def configured(snap) -> Found:
    found = Found()
    for name, reader in READERS:
        art = snap.get(f"cmd:{name}")
        if art is None:
            raise artifacts.End(v.error(f"the backup tools' settings ({name}) were not collected"))
        found.artifacts[name] = art
        denied = [line for line in art.stderr.splitlines() if "Permission denied" in line]
        found.problems += [f"{name}: {line.strip()}" for line in denied[:3]]
        try:
            setups = reader(art)
        except Exception as exc:  # a reader bug or a shape no reader expects: say so, keep the rest
            found.problems.append(f"{name}: could not be read ({type(exc).__name__}: {exc})")
            continue
        found.setups += setups
        for s in setups:
            found.problems += s.problems
    return found


@dataclass
class Reach:
    source: Line | None = None        # the source that backs the path up
    excluded: Exclude | None = None   # the exclude that takes it out again
    notes: list[str] = field(default_factory=list)   # what could not be decided


def _literal_root(glob: str) -> str:
    """The part of a source glob before its first wildcard component."""
    parts = []
    for p in glob.split("/"):
        if path_patterns.is_glob(p):
            break
        parts.append(p)
    return "/".join(parts) or "/"


def _excludes(ex: Exclude, path: str, source: Line) -> bool | None:
    if ex.style == "borg":
        return path_patterns.borg_excludes(ex.pattern, path)
    if ex.style == "borg-sh":
        return path_patterns.borg_excludes(ex.pattern, path, default="sh")
    if ex.style == "restic":
        return path_patterns.restic_excludes(ex.pattern, path)
    if ex.style == "restic-i":
        return path_patterns.restic_excludes(ex.pattern.lower(), path.lower())
    if ex.style == "rsync":
        return path_patterns.rsync_excludes(ex.pattern, path, ex.root) if ex.root == source.value else False
    if ex.style == "bacula-path":
        norm = posixpath.normpath(ex.pattern)
        return path == norm or path.startswith(norm.rstrip("/") + "/")
    if ex.style == "bacula-wild":
        return path_patterns.fnmatch_excludes(ex.pattern, path)
    return False                       # a style line (borg `P sh`), not a pattern


def reach(setup: Setup, path: str, table=()) -> Reach:
    """Whether `setup` backs up `path`: a source that is the path or a parent (a glob
    included), the path not on another file system when the tool stays on one, and no
    exclude taking it (or a parent) out."""
    out = Reach()
    for source in setup.sources:
        if not path_patterns.glob_covers(source.value, path):
            continue
        if setup.one_file_system and table:
            root_mount, path_mount = mount_of(_literal_root(source.value), table), mount_of(path, table)
            if root_mount and path_mount and root_mount[0] != path_mount[0]:
                out.notes.append(f"{source.where}: {source.value} does not reach {path}: it is on another "
                                 f"file system ({path_mount[0]}) and the tool stays on one")
                continue
        for ex in setup.excludes:
            hit = _excludes(ex, path, source)
            if hit is None:
                out.notes.append(f"{ex.where}: {ex.pattern} is not evaluated (a regular expression)")
            elif hit:
                return Reach(source, ex, out.notes)
        return Reach(source, None, out.notes)
    return out
