"""Checks too particular for a data row: a Python function per control.

    check: {kind: bespoke, function: supported_release}

    @bespoke("HOST-001", needs=[("cat", "/etc/os-release")])
    def supported_release(snap, vm, policy) -> Verdict: ...

The decorator names the control id so `grep HOST-001` finds the function next to
its catalog row. `needs` is a list of (command, argument) pairs, or a function of
the host's policy returning one (for paths that are site policy); an argument may
contain `{vm}`, collected once per domain. Functions live in bespoke_<domain>.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hvconform.policy import DEFAULTS, policy_of

KIND = "bespoke"


@dataclass(frozen=True)
class Bespoke:
    control_id: str
    function: Callable
    needs: list | Callable


REGISTRY: dict[str, Bespoke] = {}


def bespoke(control_id: str, needs=()):
    def register(fn):
        if fn.__name__ in REGISTRY:
            raise ValueError(f"bespoke function {fn.__name__} registered twice")
        REGISTRY[fn.__name__] = Bespoke(control_id, fn, needs if callable(needs) else list(needs))
        return fn
    return register


def validate(check):
    name = check.get("function")
    if name not in REGISTRY:
        return [f"unknown bespoke function {name!r} (known: {', '.join(sorted(REGISTRY))})"]
    extra = set(check) - {"kind", "function"}
    return [f"unknown keys {sorted(extra)}"] if extra else []


def needs(check, policy=None):
    entry = REGISTRY[check["function"]]
    return list(entry.needs(policy or DEFAULTS) if callable(entry.needs) else entry.needs)


def judge(check, snap, vm):
    return REGISTRY[check["function"]].function(snap, vm, policy_of(snap))


# Imported last: these modules register themselves with the decorator above.
from hvconform.checks import bespoke_backup, bespoke_host, bespoke_kernel_mac, bespoke_logging  # noqa: E402,F401
from hvconform.checks import bespoke_isolation_cpu, bespoke_isolation_devices, bespoke_isolation_resources  # noqa: E402,F401,E501
from hvconform.checks import bespoke_crypto, bespoke_network  # noqa: E402,F401
from hvconform.checks import bespoke_libvirt, bespoke_qemu  # noqa: E402,F401
