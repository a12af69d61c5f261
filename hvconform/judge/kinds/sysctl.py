"""Kernel parameters read from /proc/sys (what `sysctl -n` prints, without running it).

    check: {kind: sysctl, expect: [{key: kernel.kptr_restrict, op: in, value: [1, 2]}]}
A key that starts with "/" is a literal path, for /sys values that have no sysctl
name (ISO-001: {key: /sys/kernel/mm/ksm/run, op: in, value: [0, 2], default: 0}).
A key whose file does not exist on the host is unset (the kernel lacks the feature).
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge import conditions
from hvconform.judge.read import artifacts

KIND = "sysctl"


def path_of(key: str) -> str:
    return key if key.startswith("/") else "/proc/sys/" + key.replace(".", "/")


def validate(check):
    return conditions.validate(check)


def needs(check, policy=None):
    return [("cat", path_of(k)) for k in conditions.keys(check["expect"])]


def judge(check, snap, vm):
    values, evidence = {}, []
    for key in conditions.keys(check["expect"]):
        art = snap.file(path_of(key))
        if art is None:
            return v.error(f"{path_of(key)} was not collected")
        if art.ok:
            values[key] = art.stdout.strip()
            evidence.append(v.Evidence.of(art, f"{path_of(key)}: {values[key]}"))
        elif artifacts.is_absent(art):
            evidence.append(v.Evidence.of(art, f"{path_of(key)}: absent ({art.stderr.strip()})"))
        else:  # e.g. bpf_jit_harden is 0600: without root it is unreadable, not unset
            return artifacts.failure(art, path_of(key))
    return conditions.verdict(check["expect"], values, evidence)
