"""The registry of Python controls: `@control("HOST-001", needs=[...])` on a function.

    check: {kind: function, function: supported_release}

    @control("HOST-001", needs=[("cat", "/etc/os-release")])
    def supported_release(snap, vm, policy) -> Verdict: ...

The decorator names the control id, so `grep HOST-001` finds the function next to
its catalog row. `needs` is a list of (command, argument) pairs, or a function of
the host's policy returning one (for paths that are site policy); an argument may
contain `{vm}`, collected once per domain. This module imports nothing of
hvconform: the domain modules beside it import it, and hvconform.judge.kinds.function
imports them all, so no import runs in a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Registered:
    control_id: str
    function: Callable
    needs: list | Callable


REGISTRY: dict[str, Registered] = {}


def control(control_id: str, needs=()):
    def register(fn):
        if fn.__name__ in REGISTRY:
            raise ValueError(f"control function {fn.__name__} registered twice")
        REGISTRY[fn.__name__] = Registered(control_id, fn, needs if callable(needs) else list(needs))
        return fn
    return register
