"""borgmatic's configuration, both layouts, parsed with PyYAML (safe: compose only, no
object is ever constructed from a tag):

  1.7 and earlier (Debian 12 packages 1.7.7): sections, `location:` (source_directories,
      repositories, exclude_patterns, patterns, one_file_system ...) and `storage:`
      (encryption_passphrase, encryption_passcommand); repositories a list of strings,
      or of {path, label} from 1.7.10.
  1.8 and later: the same options at the top level; repositories a list of {path,
      label}, and from 2.0 each may say `encryption:` (the mode `repo-create` uses).

borgmatic/config/schema.yaml of each release is the reference. The text read is what
the host-side filter printed (hvconform/collect/settings_filters.py BORGMATIC_YAML):
line for line the file, passphrase values withheld, so line numbers are the file's.

Encryption: borgmatic does not record the mode before 2.0 (`borgmatic init
--encryption MODE` gives it once); borg itself keeps the key type of every repository
it has opened in its security directory (~/.config/borg/security/<id>/key-type, next to
`location`), which `borg_security_modes` reads. A passphrase or passcommand is only
used for an encrypted (or authenticated) repository.
"""

from __future__ import annotations

import posixpath
import re

import yaml

from hvconform.judge.read import memo
from hvconform.judge.read.backup_setup import MAX_TEXT, Exclude, Key, Line, Setup, sections, stat_fields

TOOL = "borgmatic"

# borg's key types (src/borg/crypto/key.py, the TYPE of each key class), as the
# security directory's key-type file holds them
KEY_TYPES = {"0": "keyfile", "1": "passphrase", "2": "none", "3": "repokey",
             "4": "keyfile-blake2", "5": "repokey-blake2", "6": "authenticated-blake2",
             "7": "authenticated"}
UNENCRYPTED = {"none", "authenticated", "authenticated-blake2"}


def _node(mapping, key):
    if not isinstance(mapping, yaml.MappingNode):
        return None, None
    for k, value in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, value
    return None, None


def _scalars(node) -> list[tuple[str, int]]:
    """A sequence of scalars (or one scalar) -> [(value, line)]; anything else is skipped."""
    if isinstance(node, yaml.ScalarNode):
        return [(node.value, node.start_mark.line + 1)]
    if isinstance(node, yaml.SequenceNode):
        return [(n.value, n.start_mark.line + 1) for n in node.value if isinstance(n, yaml.ScalarNode)]
    return []


def _compose_once(text: str):
    """The node tree of `text` (or its YAMLError), composed once per text: four backup
    controls read each host's borgmatic files, and PyYAML's pure-Python composer was
    most of their time. Callers read the nodes, never change them.

    Not yaml.CSafeLoader, though faster: its composer recurses in C, below Python's
    recursion limit, and a hostile file of 100,000 nested `[` (200 kB, within MAX_TEXT)
    crashes the whole process with a segmentation fault (PyYAML 6.0.3, libyaml); the
    Python composer raises RecursionError, which backup_tools.configured reports. Its
    error messages, which the problems quote, differ too."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


# A node tree takes ~28 times its text (15.6 MB for 560 kB): keep a host's few files
# (judging goes host by host), not the 512 or memo.PER_HOST texts of other caches.
_compose = memo.of_text(_compose_once, size=8)


def _options(root) -> dict:
    """{option: value node} over both layouts: top level, then location: and storage:."""
    out = {}
    for section in (root, _node(root, "location")[1], _node(root, "storage")[1]):
        if isinstance(section, yaml.MappingNode):
            for k, value in section.value:
                if isinstance(k, yaml.ScalarNode) and k.value not in ("location", "storage"):
                    out.setdefault(k.value, (k, value))
    return out


def parse(path: str, text: str, artifact, stat: str | None) -> Setup:
    setup = Setup(TOOL, path, artifact)
    lines = text.split("\n")

    def at(n: int, value: str) -> Line:
        return Line(value, f"{path}:{n}", lines[n - 1].strip() if 0 < n <= len(lines) else value)

    if len(text) > MAX_TEXT:
        setup.problems.append(f"{path}: larger than {MAX_TEXT} bytes, not parsed")
        return setup
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        setup.problems.append(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML as read "
                              f"({getattr(exc, 'problem', None) or exc})")
        return setup
    if not isinstance(root, yaml.MappingNode):
        setup.problems.append(f"{path}: not a mapping of options")
        return setup
    opts = _options(root)
    for value, n in _scalars(opts.get("source_directories", (None, None))[1]):
        setup.sources.append(at(n, value))
    repos = opts.get("repositories", (None, None))[1]
    for item in repos.value if isinstance(repos, yaml.SequenceNode) else []:
        if isinstance(item, yaml.ScalarNode):
            setup.repositories.append(at(item.start_mark.line + 1, item.value))
            continue
        _, where = _node(item, "path")
        if isinstance(where, yaml.ScalarNode):
            setup.repositories.append(at(where.start_mark.line + 1, where.value))
        _, mode = _node(item, "encryption")
        if isinstance(mode, yaml.ScalarNode) and setup.encryption is None:
            setup.encryption = at(mode.start_mark.line + 1, mode.value)
    for value, n in _scalars(opts.get("exclude_patterns", (None, None))[1]):
        setup.excludes.append(Exclude(value, f"{path}:{n}", "borg", text=lines[n - 1].strip()))
    for value, n in _scalars(opts.get("patterns", (None, None))[1]):
        _pattern_line(setup, value, f"{path}:{n}", lines[n - 1].strip())
    for option in ("exclude_from", "patterns_from"):
        for value, n in _scalars(opts.get(option, (None, None))[1]):
            note = f"{path}:{n}: {option} {value} (its patterns are not read)"
            setup.unread_excludes.append(note)
            if option == "patterns_from":          # `R` lines there add roots
                setup.unread.append(note)
    fs = opts.get("one_file_system", (None, None))[1]
    setup.one_file_system = isinstance(fs, yaml.ScalarNode) and fs.value.lower() in ("true", "yes", "on")
    for option in ("encryption_passphrase", "encryption_passcommand"):
        key_node, _ = opts.get(option, (None, None))
        if key_node is not None:
            kind = "inline" if option == "encryption_passphrase" else "command"
            setup.keys.append(Key(kind, path, f"{path}:{key_node.start_mark.line + 1}: {option}", stat))
    for k, value in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "<<":
            note = f"{path}:{k.start_mark.line + 1}: includes {getattr(value, 'value', '?')} (not read)"
            setup.unread.append(note)
            setup.unread_excludes.append(note)
    return setup


def _pattern_line(setup: Setup, line: str, where: str, text: str) -> None:
    """One line of borg's patterns syntax: `R root`, `- exclude`, `! exclude (no
    recursion)`, `+ include`, `P style`. Roots are sources; includes only re-include
    what an exclude took, so they are kept as a note."""
    kind, _, body = line.strip().partition(" ")
    body = body.strip()
    if kind == "R":
        setup.sources.append(Line(body, where, text))
    elif kind in ("-", "!"):
        setup.excludes.append(Exclude(body, where, "borg-sh" if _default_sh(setup) else "borg", text=text))
    elif kind == "P":
        setup.excludes.append(Exclude(f"P {body}", where, "style", text=text))


def _default_sh(setup: Setup) -> bool:
    """In a patterns list the default style is sh: unless a `P` line changed it."""
    styles = [e.pattern[2:] for e in setup.excludes if e.style == "style"]
    return (styles[-1] if styles else "sh") == "sh"


def setups(artifact) -> list[Setup]:
    """Every configuration file in the `borgmatic_configs` output."""
    out = []
    parts = sections(artifact.stdout)
    for i, (kind, rest, body) in enumerate(parts):
        if kind != "file":
            continue
        words = rest.split(" ")
        path, stat = (" ".join(words[:-3]), " ".join(words[-3:])) if len(words) >= 4 else (rest, "")
        end = next((r for k, r, _ in parts[i + 1:i + 2] if k == "end"), "0")
        stat = stat if stat_fields(stat) else None
        if end.strip() != "0":
            s = Setup(TOOL, path, artifact)
            s.unreadable.append(f"{path}: could not be read (rc {end.strip()}; the audit account needs root)")
            out.append(s)
            continue
        out.append(parse(path, "\n".join(body), artifact, stat))
    return out


def borg_security_modes(artifact) -> dict[str, tuple[str, str]]:
    """`grep -H .` of borg's security directory -> {repository location: (mode, where)}."""
    by_dir: dict[str, dict[str, str]] = {}
    for line in (artifact.stdout if artifact is not None and artifact.ok else "").splitlines():
        path, colon, value = line.partition(":")
        if not colon or "/" not in path:
            continue
        directory, _, leaf = path.rpartition("/")
        by_dir.setdefault(directory, {})[leaf] = value.strip()
    out = {}
    for directory, files in by_dir.items():
        if "location" in files and "key-type" in files:
            mode = KEY_TYPES.get(files["key-type"], f"unknown key type {files['key-type']}")
            out[files["location"]] = (mode, f"{directory}/key-type: {files['key-type']} ({mode})")
    return out


def canonical(repository: str) -> str:
    """A repository as borg records its location in the security directory
    (Location.canonical_path, borg 1.2): ssh:// URLs as written, scp-style
    `user@host:path` as ssh://user@host/./path (or /~/path), local paths normalised."""
    r = repository.strip()
    if r.startswith("ssh://"):
        return r
    m = re.match(r"^(?:([^@/:]+)@)?([^/:]+):(.*)$", r)
    if m and not r.startswith("/"):
        user, host, path = m.groups()
        path = "/" + path if path.startswith("~") else path if path.startswith("/") else "/./" + path
        return f"ssh://{user + '@' if user else ''}{host}{path}"
    return posixpath.normpath(r.removeprefix("file://"))
