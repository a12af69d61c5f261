"""rsnapshot's configuration (rsnapshot.conf(5)): one directive a line, its fields
separated by tabs (rsnapshot refuses spaces there).

  snapshot_root <dir>               where every snapshot is written (the repository)
  backup <src> <dest> [options]     a source: a local directory, or user@host:/path and
                                    rsync:// (another machine's files, not this host's)
  exclude <pattern>                 an rsync exclude rule for every backup line
  backup ... exclude=<p>,one_fs=1   per-line options, comma-separated
  one_fs 1                          stay on one file system
  exclude_file, include_conf        other files (named, not read here)

The text read is `grep -Hn` of those directives only (commands.py rsnapshot_conf):
backup_exec and backup_script lines, which may hold credentials, are never collected.
"""

from __future__ import annotations

import re

from hvconform.judge.read.backup_setup import Exclude, Line, Setup

TOOL = "rsnapshot"
UNENCRYPTED = "rsnapshot copies files as they are (rsync) into snapshot_root"
_LINE = re.compile(r"^(/[^:]*):(\d+):(.*)$")


def setups(artifact) -> list[Setup]:
    """The one configuration in the `rsnapshot_conf` output (empty when rsnapshot.conf is absent)."""
    rows = [(m[1], int(m[2]), m[3]) for line in artifact.stdout.splitlines() if (m := _LINE.match(line))]
    if not rows and "Permission denied" in artifact.stderr:
        setup = Setup(TOOL, "/etc/rsnapshot.conf", artifact)
        setup.unreadable.append("/etc/rsnapshot.conf: Permission denied (the audit account needs root)")
        return [setup]
    if not rows:
        return []
    setup = Setup(TOOL, rows[0][0], artifact, unencrypted=UNENCRYPTED)
    backups, excludes = [], []
    for path, n, text in rows:
        where = f"{path}:{n}"
        fields = text.rstrip("\n").split("\t")
        directive = fields[0].strip()
        if len(fields) < 2:
            setup.problems.append(f"{where}: '{directive}' without a tab-separated value "
                                  "(rsnapshot refuses fields separated by spaces)")
            continue
        values = [f for f in fields[1:] if f]
        if directive == "snapshot_root":
            setup.repositories.append(Line(values[0], where, text))
        elif directive == "backup" and len(values) >= 2:
            backups.append((values[0], where, text, values[2] if len(values) > 2 else ""))
        elif directive == "exclude":
            excludes.append((values[0], where, text))
        elif directive == "one_fs" and values[0].strip() == "1":
            setup.one_file_system = True
        elif directive in ("exclude_file", "include_conf"):
            setup.unread_excludes.append(f"{where}: {directive} {values[0]} (not read)")
            if directive == "include_conf":
                setup.unread.append(f"{where}: {directive} {values[0]} (not read)")
    for source, where, text, options in backups:
        if not source.startswith("/"):
            continue                       # another machine's files, pulled over ssh or rsync
        setup.sources.append(Line(source, where, text))
        for pattern, ewhere, etext in excludes:
            setup.excludes.append(Exclude(pattern, ewhere, "rsync", root=source, text=etext))
        for option in options.split(","):
            name, eq, value = option.strip().partition("=")
            if eq and name == "exclude":
                setup.excludes.append(Exclude(value, where, "rsync", root=source, text=text))
            elif eq and name == "exclude_file":
                setup.unread_excludes.append(f"{where}: exclude_file {value} (not read)")
    return [setup]
