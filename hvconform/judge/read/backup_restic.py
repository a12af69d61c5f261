"""restic as a site runs it: a systemd unit or a crontab line with `restic ... backup`,
its environment (systemd.exec(5) Environment= and EnvironmentFile=, crontab variable
lines, assignments before the command) and the files its options name.

restic's own documentation (doc/040_backup.rst, doc/030_preparing_a_new_repo.rst) is the
reference: sources are the `backup` arguments and the lines of --files-from files;
--exclude/--iexclude and the lines of --exclude-file/--iexclude-file exclude; the
repository is -r/--repo, else the first line of --repository-file, else
RESTIC_REPOSITORY, else RESTIC_REPOSITORY_FILE; the password comes from
--password-file/-p, RESTIC_PASSWORD_FILE, --password-command/RESTIC_PASSWORD_COMMAND
or RESTIC_PASSWORD. A restic repository is always encrypted.

The text read is what the host-side reader printed (hvconform/collect/settings_filters.py
RESTIC): secret values are `[withheld]` already.
"""

from __future__ import annotations

import re
import shlex

from hvconform.judge.read.backup_setup import Exclude, Key, Line, Setup, numbered, sections, stat_fields

TOOL = "restic"
ENCRYPTION = "always encrypted (AES-256, restic's repository format)"
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_FLAGS_WITH_VALUE = {"-r", "--repo", "--repository-file", "-p", "--password-file", "--password-command",
                     "--files-from", "--files-from-verbatim", "--files-from-raw", "-e", "--exclude",
                     "--iexclude", "--exclude-file", "--iexclude-file", "--cache-dir", "-o", "--option",
                     "--tag", "--host", "-H", "--limit-upload", "--limit-download", "--parent",
                     "--exclude-larger-than", "--exclude-if-present", "--time", "--stdin-filename",
                     "--compression", "--pack-size", "--read-concurrency", "--key-hint", "--tls-client-cert",
                     "--cacert", "--retry-lock", "--group-by", "--verbose-level"}


def _expand(word: str, env: dict) -> str:
    return _VAR.sub(lambda m: env.get(m[1] or m[2], m[0]), word)


def _restic_argv(text: str) -> list[str] | None:
    """The words from `restic` on, of a unit's Exec line or a crontab line; None if none."""
    directive = re.match(r"^\s*([A-Za-z_]\w*)=", text)
    if directive and not directive[1].startswith("Exec"):
        return None                    # another unit directive, or a crontab variable line
    body = text.split("=", 1)[1] if directive else text
    try:
        words = shlex.split(body.lstrip("-@+!:"), comments=False)
    except ValueError:
        return None
    for i, w in enumerate(words):
        if w == "restic" or w.endswith("/restic"):
            return words[i:]
    return None


def _assignments(words: list[str]) -> dict:
    out = {}
    for w in words:
        name, eq, value = w.partition("=")
        if eq and re.fullmatch(r"[A-Za-z_]\w*", name):
            out[name] = value
    return out


class _Files:
    """The files the reader followed, by kind: env, list, repofile, stat."""

    def __init__(self, parts):
        self.env: dict[str, list[tuple[int, str]]] = {}
        self.lists: dict[str, list[tuple[int, str]]] = {}
        self.repo: dict[str, str] = {}
        self.stats: dict[str, str | None] = {}
        for kind, rest, body in parts:
            if kind == "envfile":
                self.env[rest] = numbered(body)
            elif kind == "list":
                self.lists[rest] = numbered(body)
            elif kind == "repofile":
                lines = numbered(body)
                self.repo[rest] = lines[0][1].strip() if lines else ""
            elif kind == "stat":
                words = rest.split(" ")
                path, tail = " ".join(words[:-3]), " ".join(words[-3:])
                if stat_fields(tail):
                    self.stats[path] = tail
                else:
                    self.stats[rest.split(" stat:")[0].strip()] = None


def setups(artifact) -> list[Setup]:
    """One Setup per unit or crontab line that runs `restic backup`."""
    parts = sections(artifact.stdout)
    files = _Files(parts)
    out = []
    for kind, unit, body in parts:
        if kind != "unit":
            continue
        lines = numbered(body)
        env: dict[str, tuple[str, str]] = {}      # name -> (value, where)
        env_files: list[str] = []
        for n, text in lines:
            where = f"{unit}:{n}"
            if m := re.match(r"^\s*EnvironmentFile=-?(.*)$", text):
                env_files.append(m[1].strip().strip('"'))
            elif m := re.match(r"^\s*Environment=(.*)$", text):
                try:
                    words = shlex.split(m[1])
                except ValueError:
                    words = m[1].split()
                env.update({k: (val, where) for k, val in _assignments(words).items()})
            elif re.fullmatch(r"\s*[A-Za-z_]\w*=\S*\s*", text):      # a crontab variable line
                env.update({k: (val, where) for k, val in _assignments([text.strip()]).items()})
        for path in env_files:
            for n, text in files.env.get(path, []):
                env.update({k: (val, f"{path}:{n}") for k, val in _assignments([text]).items()})
        for n, text in lines:
            argv = _restic_argv(text)
            if argv and "backup" in argv:
                out.append(_from_command(artifact, unit, n, text, argv, env, env_files, files))
    # a file the reader could not open: absent (stat says so; EnvironmentFile=- allows it) or unreadable
    unreadable = [f"{rest}: could not be read" for kind, rest, _ in parts
                  if kind == "unreadable" and files.stats.get(rest) is not None]
    for setup in out:
        setup.unreadable += unreadable
    return out


def _from_command(artifact, unit, n, text, argv, env, env_files, files) -> Setup:
    where = f"{unit}:{n}"
    setup = Setup(TOOL, unit, artifact)
    inline = _assignments(_pre_command(text))
    env = {**env, **{k: (val, where) for k, val in inline.items()}}
    values = {k: val for k, (val, _) in env.items()}
    words = [_expand(w, values) for w in argv[1:]]
    i, in_backup = 0, False
    opts: dict[str, list[str]] = {}
    while i < len(words):
        w = words[i]
        flag, eq, inline_value = w.partition("=") if w.startswith("--") else (w, "", "")
        if flag in _FLAGS_WITH_VALUE:
            value = inline_value if eq else (words[i + 1] if i + 1 < len(words) else "")
            opts.setdefault(flag, []).append(value)
            i += 1 if eq else 2
            continue
        if w in ("-x", "--one-file-system"):
            setup.one_file_system = True
        elif w == "backup" and not in_backup:
            in_backup = True
        elif in_backup and not w.startswith("-"):
            setup.sources.append(Line(w, where, text))
        i += 1
    for flag in ("--files-from", "--files-from-verbatim", "--files-from-raw"):
        for path in opts.get(flag, []):
            _list(setup, files, path, flag, lambda v, w, t: setup.sources.append(Line(v, w, t)))
    for flag, style in (("-e", "restic"), ("--exclude", "restic"), ("--iexclude", "restic-i")):
        for pattern in opts.get(flag, []):
            setup.excludes.append(Exclude(pattern, where, style, text=text))
    for flag, style in (("--exclude-file", "restic"), ("--iexclude-file", "restic-i")):
        for path in opts.get(flag, []):
            _list(setup, files, path, flag,
                  lambda v, w, t, s=style: setup.excludes.append(Exclude(v, w, s, text=t)))
    _repository(setup, opts, env, files, where, text)
    _password(setup, opts, env, env_files, files, where, unit)
    setup.encryption = Line(ENCRYPTION, where, text)
    return setup


def _pre_command(text: str) -> list[str]:
    """The words of a crontab line before `restic`: its five time fields, user, VAR=value."""
    words = text.split()
    for i, w in enumerate(words):
        if w == "restic" or w.endswith("/restic"):
            return words[:i]
    return []


def _list(setup, files, path, flag, add) -> None:
    if path not in files.lists:
        (setup.unread if "files-from" in flag else setup.unread_excludes).append(f"{flag} {path} (not read)")
        return
    for n, line in files.lists[path]:
        line = line.strip()
        if line and not line.startswith("#"):
            add(line, f"{path}:{n}", line)


def _repository(setup, opts, env, files, where, text) -> None:
    if opts.get("-r") or opts.get("--repo"):
        setup.repositories.append(Line((opts.get("-r") or opts.get("--repo"))[-1], where, text))
    elif opts.get("--repository-file"):
        path = opts["--repository-file"][-1]
        if path in files.repo:
            setup.repositories.append(Line(files.repo[path], f"{path}:1", files.repo[path]))
        else:
            setup.unread.append(f"--repository-file {path} (not read)")
    elif "RESTIC_REPOSITORY" in env:
        value, at = env["RESTIC_REPOSITORY"]
        setup.repositories.append(Line(value, at, f"RESTIC_REPOSITORY={value}"))
    elif "RESTIC_REPOSITORY_FILE" in env:
        path, at = env["RESTIC_REPOSITORY_FILE"]
        if path in files.repo:
            setup.repositories.append(Line(files.repo[path], f"{path}:1", files.repo[path]))
        else:
            setup.unread.append(f"{at}: RESTIC_REPOSITORY_FILE={path} (not read)")


def _password(setup, opts, env, env_files, files, where, unit) -> None:
    for path in opts.get("-p", []) + opts.get("--password-file", []):
        setup.keys.append(Key("file", path, f"{where}: --password-file {path}", files.stats.get(path)))
    if opts.get("--password-command"):
        setup.keys.append(Key("command", unit, f"{where}: --password-command [withheld]"))
    if "RESTIC_PASSWORD_FILE" in env:
        path, at = env["RESTIC_PASSWORD_FILE"]
        setup.keys.append(Key("file", path, f"{at}: RESTIC_PASSWORD_FILE={path}", files.stats.get(path)))
    if "RESTIC_PASSWORD_COMMAND" in env:
        setup.keys.append(Key("command", unit, f"{env['RESTIC_PASSWORD_COMMAND'][1]}: RESTIC_PASSWORD_COMMAND"))
    if "RESTIC_PASSWORD" in env:
        at = env["RESTIC_PASSWORD"][1]
        holder = at.rsplit(":", 1)[0]
        setup.keys.append(Key("inline", holder, f"{at}: RESTIC_PASSWORD=[withheld]", files.stats.get(holder)))
