"""Bacula and Bareos FileSets (Bacula Main manual, "The FileSet Resource"; Bareos
"FileSet Resource"), read from a Director's configuration on this host.

The grammar is Bacula's resource syntax (src/lib/lex.c): `Name { Directive = value ... }`,
nested blocks, `#` comments, `;` optional separators, quoted strings with backslash
escapes, directive names case-insensitive with spaces ignored ("File Set" = "FileSet").

  FileSet { Name = "...";
    Include { Options { ... } File = /etc  File = "/var/lib/libvirt" }
    Exclude { File = /proc } }

Include's File entries are sources; Exclude's File entries and the wild/wilddir
patterns of an Options block with `exclude = yes` exclude (regex options are not
evaluated); `File = <list`, `\\<list` and `|program` name lists made elsewhere (not read).
The host-side reader prints only FileSet and Storage resources (Name and Address),
and the File Daemon's PKI lines: never a Password.

On a host with only the File Daemon the FileSets live on the Director: the tool is
recognised (its configuration is there) and the paths are for a person to confirm.
"""

from __future__ import annotations

import re

from hvconform.judge.read.backup_setup import Exclude, Line, Setup, numbered, sections

TOOL = "bacula"
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}=;]|[^\s{}=;"#]+')


def tokens(lines: list[tuple[int, str]]) -> list[tuple[str, int]]:
    out = []
    for n, text in lines:
        i = 0
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            if text[i] == "#":
                break
            m = _TOKEN.match(text, i)
            if not m:
                i += 1
                continue
            word = m[0]
            if word.startswith('"'):
                word = re.sub(r"\\(.)", r"\1", word[1:-1])
            out.append((word, n))
            i = m.end()
    return out


def _blocks(toks, i: int = 0):
    """[(keyword, value | children, line)] from tokens[i:] up to a closing brace; and the index after."""
    items, words = [], []
    while i < len(toks):
        word, n = toks[i]
        if word == "}":
            return items, i + 1
        if word == ";":
            words, i = [], i + 1
            continue
        if word == "{":
            children, i = _blocks(toks, i + 1)
            items.append(("".join(words).lower(), children, n))
            words = []
            continue
        if word == "=" and i + 1 < len(toks):
            items.append(("".join(words).lower(), toks[i + 1][0], n))
            words, i = [], i + 2
            continue
        words.append(word)
        i += 1
    return items, i


def setups(artifact) -> list[Setup]:
    """One Setup per FileSet found; a File Daemon without FileSets gives one Setup with
    no sources and a note (the Director holds them)."""
    out, fd_files, pki = [], [], []
    storages: list[Line] = []
    for kind, path, body in sections(artifact.stdout):
        if kind != "file":
            continue
        lines = numbered(body)
        if re.search(r"(bacula|bareos)-fd", path):
            fd_files.append(path)
        pki += [Line(text.strip(), f"{path}:{n}", text.strip()) for n, text in lines
                if re.match(r"\s*pki\s*encryption\s*=", text, re.I)]
        items, _ = _blocks(tokens(lines))
        for keyword, value, n in items:
            if keyword == "storage" and isinstance(value, list):
                storages += [Line(v, f"{path}:{m}", f"Address = {v}") for k, v, m in value
                             if k in ("address", "sdaddress") and isinstance(v, str)]
            if keyword != "fileset" or not isinstance(value, list):
                continue
            name = next((v for k, v, _ in value if k == "name" and isinstance(v, str)), "?")
            setup = Setup(TOOL, f"{path}:{n} FileSet {name}", artifact)
            for k, v, m in value:
                if k in ("include", "exclude") and isinstance(v, list):
                    _include(setup, k, v, path)
            out.append(setup)
    denied = [line.strip() for line in artifact.stderr.splitlines() if "Permission denied" in line]
    if not out and denied and not fd_files:
        setup = Setup(TOOL, "/etc/bacula", artifact)
        setup.unreadable += denied[:3]
        out.append(setup)
    if not out and fd_files:
        setup = Setup(TOOL, fd_files[0], artifact)
        setup.unread.append(f"{fd_files[0]}: a File Daemon only: the FileSets are on the Director (not read)")
        out.append(setup)
    for setup in out:
        on = [p for p in pki if p.value.split("=", 1)[1].strip().lower() in ("yes", "true", "1")]
        if on:
            setup.encryption = on[0]
        else:
            setup.unencrypted = "the File Daemon does not encrypt (no 'PKI Encryption = yes')"
        setup.repositories += storages
        if not storages:
            setup.repository_unknown = "the Storage daemon is named in the Director's configuration, not on this host"
    return out


def _include(setup: Setup, block: str, items, path: str) -> None:
    for k, v, n in items:
        where = f"{path}:{n}"
        if k == "file" and isinstance(v, str):
            if v.startswith(("<", "\\<", "|", "\\|")):
                setup.unread.append(f"{where}: File = {v} (a list made elsewhere, not read)")
            elif block == "include":
                setup.sources.append(Line(v, where, f"File = {v}"))
            else:
                setup.excludes.append(Exclude(v, where, "bacula-path", text=f"File = {v}"))
        elif k == "options" and isinstance(v, list) and block == "include":
            options = {ok: ov for ok, ov, _ in v if isinstance(ov, str)}
            if options.get("exclude", "").lower() not in ("yes", "true", "1"):
                continue
            for ok, ov, m in v:
                if ok in ("wild", "wilddir") and isinstance(ov, str):
                    setup.excludes.append(Exclude(ov, f"{path}:{m}", "bacula-wild", text=f"{ok} = {ov}"))
                elif ok in ("regex", "regexdir", "regexfile", "wildfile") and isinstance(ov, str):
                    setup.unread_excludes.append(f"{path}:{m}: {ok} = {ov} with exclude = yes (not evaluated)")
