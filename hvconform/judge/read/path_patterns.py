"""Whether a backup tool's include or exclude pattern reaches a path, by each tool's
own documented rules. Every matcher answers for a directory the site requires (BKP-001):
does this pattern select the directory itself or one of its parents (and so all of it)?

  glob_covers(glob, path)      a source given as a shell glob (borgmatic source_directories,
                               restic arguments and --files-from lines): `*` within one
                               path component, as the shell and Go's filepath.Glob expand it
  borg_excludes(pattern, path) borg's pattern styles (`borg help patterns`): fm: (the default
                               for excludes: fnmatch, `*` crosses `/`), sh: (`**`), pp:, pf:;
                               re: is never evaluated (a host's regex could hang the judge)
  restic_excludes(pattern, path)  restic's --exclude (doc/040_backup.rst "Excluding Files"):
                               `*` within a component, `**` any number of them; a pattern not
                               starting with / matches at any depth
  rsync_excludes(pattern, path, root)  rsync's exclude rules (rsync(1) "INCLUDE/EXCLUDE
                               PATTERN RULES") as rsnapshot passes them: a leading / anchors
                               at the transfer root; without a / the pattern names one component
  fnmatch_excludes(pattern, path)  Bacula's Options wild= (fnmatch(3) without FNM_PATHNAME)

Each returns True, False, or None when it cannot say (a regular expression).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re

_GLOB_CHARS = re.compile(r"[*?\[]")


def _parts(path: str) -> list[str]:
    return [p for p in posixpath.normpath("/" + path.lstrip("/")).split("/") if p]


def _ancestry(path: str) -> list[str]:
    """'/a/b/c' -> ['/a', '/a/b', '/a/b/c']: the path and every parent, shortest first."""
    parts = _parts(path)
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _match_components(pattern: list[str], parts: list[str]) -> bool:
    """Whether glob components (`**` = any number of components) match all of `parts`."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_components(rest, parts[i:]) for i in range(len(parts) + 1))
    # a component holds no "/", so fnmatch's "*" stays within it
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_components(rest, parts[1:])


def glob_covers(glob: str, path: str) -> bool:
    """Whether a source given as `glob` backs up `path`: the glob (or a plain path)
    names the path itself or one of its parents. `/etc/pki/*` covers /etc/pki/libvirt."""
    pattern = _parts(glob)
    if not pattern:                      # "/" backs up everything
        return glob.startswith("/")
    return any(_match_components(pattern, _parts(a)) for a in _ancestry(path))


def is_glob(text: str) -> bool:
    return bool(_GLOB_CHARS.search(text))


# ---- borg (borg help patterns; borgmatic exclude_patterns and patterns) ----------------

STYLES = ("fm", "sh", "pp", "pf", "re")


def borg_style(pattern: str, default: str = "fm") -> tuple[str, str]:
    """'sh:/home/*' -> ('sh', '/home/*'); no known prefix -> (default, pattern)."""
    prefix, colon, rest = pattern.partition(":")
    if colon and prefix in STYLES:
        return prefix, rest
    return default, pattern


def borg_excludes(pattern: str, path: str, default: str = "fm") -> bool | None:
    style, body = borg_style(pattern, default)
    if style == "re":
        return None
    norm = posixpath.normpath(body).lstrip("/") if body.strip("/") else ""
    target = path.lstrip("/")
    if style == "pf":
        return norm == target
    if style == "pp":
        return (target + "/").startswith(norm.rstrip("/") + "/")
    if style == "fm":
        # borg appends "/*" (and tries the path with a trailing "/"), so a pattern
        # matching a parent matches everything below it; fm's "*" crosses "/"
        return fnmatch.fnmatchcase(target + "/", norm + "/*")
    # sh: "*" stays within a component, "**" spans any; a match of a parent counts
    pattern_parts = [p for p in norm.split("/") if p]
    return any(_match_components(pattern_parts, _parts(a)) for a in _ancestry(path))


# ---- restic (--exclude, --exclude-file) ----------------------------------------------

def restic_excludes(pattern: str, path: str) -> bool:
    parts = [p for p in pattern.split("/") if p]
    if not pattern.startswith("/"):
        parts = ["**"] + parts
    return any(_match_components(parts, _parts(a)) for a in _ancestry(path))


# ---- rsync (rsnapshot's exclude lines and per-backup exclude= options) ----------------

def rsync_excludes(pattern: str, path: str, root: str) -> bool:
    """`root` is the backup line's source directory, where a leading / anchors."""
    pattern = pattern.rstrip("/")
    inside = posixpath.relpath(posixpath.normpath(path), posixpath.normpath(root))
    if inside.startswith(".."):
        return False
    if inside == ".":          # the whole source: only a rule excluding all of its content
        return pattern.lstrip("/") in ("*", "**")
    parts = [p for p in pattern.split("/") if p]
    if not pattern.startswith("/"):
        parts = ["**"] + parts
    return any(_match_components(parts, _parts(a)) for a in _ancestry(inside))


# ---- Bacula/Bareos (Options { wild = ...; exclude = yes }) -----------------------------

def fnmatch_excludes(pattern: str, path: str) -> bool:
    return any(fnmatch.fnmatchcase(a, pattern) for a in _ancestry(path))
