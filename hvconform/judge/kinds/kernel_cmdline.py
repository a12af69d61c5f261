"""Kernel boot parameters, from /proc/cmdline.

    check: {kind: kernel_cmdline, forbid: [mitigations=off, nopti], require: [audit=1]}
A bare `name` matches the parameter with any value (`crashkernel` forbids
crashkernel=256M); `name=value` matches that value only. As the kernel does,
`-` and `_` are the same in names, double quotes group a value, and everything
after ` -- ` belongs to init, not to the kernel.
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts

KIND = "kernel_cmdline"
PATH = "/proc/cmdline"


def validate(check):
    lists = [check.get(k) for k in ("forbid", "require") if k in check]
    if not lists:
        return ["needs 'forbid' and/or 'require' (lists of name or name=value)"]
    return [] if all(isinstance(x, list) and x and all(isinstance(t, str) and t for t in x)
                     for x in lists) else ["'forbid'/'require' must be non-empty lists of strings"]


def needs(check, policy=None):
    return [("cat", PATH)]


def _split(token: str) -> tuple[str, str | None]:
    name, eq, value = token.partition("=")
    return name.replace("-", "_"), (value if eq else None)


def tokens(cmdline: str) -> list[str]:
    """The kernel's parameters, without init's (after `--`); quotes only group."""
    words, word, quoted = [], "", False
    for ch in cmdline + " ":
        if ch == '"':
            quoted = not quoted
        elif ch.isspace() and not quoted:
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
    return words[:words.index("--")] if "--" in words else words


def matching(want: str, params: list[str]) -> list[str]:
    name, value = _split(want)
    return [p for p in params if _split(p)[0] == name and (value is None or _split(p)[1] == value)]


def judge(check, snap, vm):
    art = snap.file(PATH)
    if art is None:
        return v.error(f"{PATH} was not collected")
    if not art.ok:
        return artifacts.failure(art, PATH)
    params = tokens(art.stdout.strip())
    offending = [p for want in check.get("forbid", []) for p in matching(want, params)]
    lacking = [want for want in check.get("require", []) if not matching(want, params)]
    expected = "; ".join(filter(None, [
        "none of: " + " ".join(check["forbid"]) if check.get("forbid") else "",
        "all of: " + " ".join(check["require"]) if check.get("require") else ""]))
    evidence = [v.Evidence.of(art, f"{PATH}: {art.stdout.strip()}")]
    if offending or lacking:
        actual = "; ".join(filter(None, ["present: " + " ".join(offending) if offending else "",
                                         "missing: " + " ".join(lacking) if lacking else ""]))
        return v.failed(expected, actual, evidence, reason=actual)
    actual = []
    if check.get("require"):
        actual.append("present: " + " ".join(p for w in check["require"] for p in matching(w, params)))
    if check.get("forbid"):
        actual.append("no forbidden parameter")
    return v.passed(expected, "; ".join(actual), evidence)
