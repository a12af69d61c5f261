"""Mode and ownership of files, directories and sockets, from `stat -c '%a %U %G %F'`.

    check: {kind: file_mode, max_mode: "0600", owner: root,
            paths: [/etc/libvirt/qemu.conf, {path: /etc/libvirt, max_mode: "0700"}]}
`max_mode` is a ceiling: no permission bit outside it (0640 is within 0660).
`owner`/`group` are a name or a list of accepted names. A path entry may override
any of the three. A missing path is skipped; when every path is missing the verdict
follows `missing`: not_applicable (default), fail or pass. stat does not follow
symbolic links, so a link is left to a person (verdict manual) rather than judged
by its own meaningless 0777.
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.ops import octal

KIND = "file_mode"
MISSING = ("not_applicable", "fail", "pass")
_FIELDS = ("max_mode", "owner", "group")


def entries(check) -> list[dict]:
    """Each path with its own limits: [{path, max_mode, owner, group}]."""
    out = []
    for p in check["paths"]:
        p = {"path": p} if isinstance(p, str) else p
        out.append({"path": p["path"], **{f: p.get(f, check.get(f)) for f in _FIELDS}})
    return out


def validate(check):
    paths = check.get("paths")
    if not isinstance(paths, list) or not paths:
        return ["'paths' must be a non-empty list"]
    errs = []
    for i, p in enumerate(paths):
        path = p if isinstance(p, str) else p.get("path", "") if isinstance(p, dict) else ""
        if isinstance(p, dict) and set(p) - {"path", *_FIELDS}:
            errs.append(f"paths[{i}]: unknown keys {sorted(set(p) - {'path', *_FIELDS})}")
        elif not str(path).startswith("/"):
            errs.append(f"paths[{i}]: needs an absolute path")
    if errs:
        return errs
    for e in entries(check):
        if e["max_mode"] is None or octal(e["max_mode"]) is None:
            errs.append(f"{e['path']}: 'max_mode' must be an octal mode like \"0600\"")
    if check.get("missing", "not_applicable") not in MISSING:
        errs.append(f"'missing' must be one of {MISSING}")
    return errs


def needs(check, policy=None):
    return [("stat", e["path"]) for e in entries(check)]


def _names(value) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def limit(e) -> str:
    text = f"{e['path']}: mode <= {e['max_mode']}"
    for f in ("owner", "group"):
        if e[f] is not None:
            text += f", {f} {' or '.join(_names(e[f]))}"
    return text


def problems(e, stat_line: str) -> list[str]:
    """What is wrong with one path, given its `%a %U %G %F` line."""
    mode, owner, group, _ = (stat_line.split(" ", 3) + ["", "", ""])[:4]
    bad = []
    extra = octal(mode) & ~octal(e["max_mode"]) if octal(mode) is not None else None
    if extra is None:
        bad.append(f"unreadable mode {mode!r}")
    elif extra:
        bad.append(f"mode {int(mode, 8):04o} has bits {extra:04o} beyond {e['max_mode']}")
    for f, actual in (("owner", owner), ("group", group)):
        if e[f] is not None and actual not in _names(e[f]):
            bad.append(f"{f} {actual} not {' or '.join(_names(e[f]))}")
    return bad


def judge(check, snap, vm):
    expected, actual, evidence, failing, links, present = [], [], [], [], [], 0
    for e in entries(check):
        art = snap.stat(e["path"])
        if art is None:
            return v.error(f"stat of {e['path']} was not collected")
        expected.append(limit(e))
        if artifacts.is_absent(art):
            actual.append(f"{e['path']}: absent")
            evidence.append(v.Evidence.of(art, art.stderr.strip()))
            if check.get("missing", "not_applicable") == "fail":
                failing.append(f"{e['path']}: absent")
            continue
        if not art.ok:
            return artifacts.failure(art, f"stat {e['path']}")
        present += 1
        line = art.stdout.strip()
        actual.append(f"{e['path']}: {line}")
        evidence.append(v.Evidence.of(art, f"{e['path']}: {line}"))
        if line.endswith("symbolic link"):
            links.append(e["path"])
        else:
            failing += [f"{e['path']}: {p}" for p in problems(e, line)]
    expected, actual = "; ".join(expected), "; ".join(actual)
    if failing:
        return v.failed(expected, actual, evidence, reason="; ".join(failing))
    if links:
        return v.Verdict(v.MANUAL, expected, actual,
                         f"symbolic link, not followed by stat: check the target of {', '.join(links)}",
                         evidence)
    if present == 0 and check.get("missing", "not_applicable") == "not_applicable":
        return v.not_applicable("none of the paths exists: " + ", ".join(e["path"] for e in entries(check)),
                                evidence)
    return v.passed(expected, actual, evidence)


def stat_entries(text: str) -> dict[str, tuple[str, str, str, str]]:
    """`stat -c '%a %U %G %F %n'` lines (several paths at once) -> {path: (mode, owner,
    group, type)}; the type has spaces ("regular file"), the path starts with "/"."""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([0-7]+) (\S+) (\S+) (.+?) (/.*)", line.strip())
        if m:
            out[m.group(5)] = m.group(1, 2, 3, 4)
    return out
