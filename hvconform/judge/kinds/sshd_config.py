"""sshd's effective configuration, as `sshd -T` prints it (defaults and Includes
resolved, keys in lower case), not the config files, which can mislead.

    check: {kind: sshd_config, expect: [{key: permitrootlogin, op: eq, value: "no"}]}
A key printed on several lines (allowgroups, hostkey, ...) is joined with spaces.
A host without sshd is not_applicable; an sshd -T that failed (it needs root to
read the host keys) is an error.
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge import conditions
from hvconform.judge.read import artifacts, memo

KIND = "sshd_config"
ARTIFACT = "cmd:sshd_effective"


def validate(check):
    errs = conditions.validate(check)
    errs += [f"key '{k}' must be lower case: sshd -T prints keys in lower case"
             for k in (conditions.keys(check["expect"]) if not errs else []) if k != k.lower()]
    return errs


def needs(check, policy=None):
    return [("sshd_effective", "")]


@memo.per_host
def parse(text: str) -> tuple[dict[str, str], dict[str, list[int]]]:
    """`sshd -T` output -> ({key: value}, {key: [line numbers]}). Parsed once per text
    (judge/read/memo.py; four rows a host read it): callers read it, never change it."""
    values: dict[str, str] = {}
    lines: dict[str, list[int]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        key, _, value = line.strip().partition(" ")
        if not key:
            continue
        key = key.lower()
        values[key] = f"{values[key]} {value.strip()}" if key in values else value.strip()
        lines.setdefault(key, []).append(n)
    return values, lines


def judge(check, snap, vm):
    art = snap.get(ARTIFACT)
    if art is None:
        return v.error("sshd -T was not collected")
    if art.rc == 127:  # the shell's "command not found"
        return v.not_applicable("sshd is not installed", [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return artifacts.failure(art, "sshd -T")
    values, where = parse(art.stdout)
    text = art.stdout.splitlines()
    excerpt = [f"{n}: {text[n - 1].strip()}" for k in conditions.keys(check["expect"])
               for n in where.get(k, [])]
    evidence = [v.Evidence.of(art, "\n".join(excerpt) or "none of the keys is printed")]
    return conditions.verdict(check["expect"], values, evidence)
