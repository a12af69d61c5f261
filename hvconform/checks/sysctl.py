"""Kernel parameters read from /proc/sys (what `sysctl -n` prints, without running it).

    check: {kind: sysctl, expect: [{key: kernel.kptr_restrict, op: in, value: [1, 2]}]}
A key whose file does not exist on the host is unset (the kernel lacks the feature).
"""

from __future__ import annotations

from hvconform import verdict as v
from hvconform.checks import conditions

KIND = "sysctl"


def path_of(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def validate(check):
    return conditions.validate(check)


def needs(check):
    return [("cat", path_of(c["key"])) for c in check["expect"]]


def judge(check, snap, vm):
    values, evidence = {}, []
    for c in check["expect"]:
        art = snap.file(path_of(c["key"]))
        if art is None:
            return v.error(f"{path_of(c['key'])} was not collected")
        evidence.append(v.Evidence.of(art))
        if art.ok:
            values[c["key"]] = art.stdout.strip()
    ok, expected, actual, failing = conditions.evaluate(check["expect"], values)
    if ok:
        return v.passed(expected, actual, evidence)
    return v.failed(expected, actual, evidence, reason="not met: " + "; ".join(failing))
