"""The kind of a control judged by a Python function (hvconform/judge/functions/).

    check: {kind: function, function: supported_release}

Most controls are of this kind: what a data row cannot say is a function of the
snapshot, registered with `@control("ID", needs=...)` in the domain's module.
"""

from __future__ import annotations

from hvconform.inputs import policy as site_policy
# Every domain's functions register themselves when imported.
from hvconform.judge.functions import (backup, crypto, host, isolation_cpu,  # noqa: F401
                                       isolation_devices, isolation_resources, kernel_mac,
                                       libvirt, logging, network, qemu)
from hvconform.judge.functions.registry import REGISTRY

KIND = "function"


def validate(check):
    name = check.get("function")
    if name not in REGISTRY:
        return [f"unknown control function {name!r} (known: {', '.join(sorted(REGISTRY))})"]
    extra = set(check) - {"kind", "function"}
    return [f"unknown keys {sorted(extra)}"] if extra else []


def needs(check, policy=None):
    entry = REGISTRY[check["function"]]
    # engine.needs hands the host's effective policy; called alone, the defaults
    return list(entry.needs(policy or site_policy.DEFAULTS) if callable(entry.needs) else entry.needs)


def judge(check, snap, vm):
    return REGISTRY[check["function"]].function(snap, vm, site_policy.effective(snap.policy))
