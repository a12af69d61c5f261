"""The kind of a control judged by a Python function (hvconform/judge/functions/).

    check: {kind: function, function: supported_release}

Most controls are of this kind: what a data row cannot say is a function of the
snapshot, registered with `@control("ID", needs=...)` in a module of
hvconform/judge/functions/ named for its domain and theme (host_packages.py).
"""

from __future__ import annotations

from hvconform.inputs import policy as site_policy
# Every module's functions register themselves when imported: one line per catalog domain
# (kernel_mac: kernel_hardening and mac_confinement). A new module must be added here.
from hvconform.judge.functions import (  # noqa: F401
    backup_coverage, backup_protection, backup_recency,
    crypto_boot, crypto_storage, crypto_transport,
    host_access, host_packages, host_platform, host_services,
    isolation_cpu, isolation_devices, isolation_io, isolation_resources,
    kernel_hardening, mac_confinement, mac_labels,
    libvirt,
    logging_audit, logging_forwarding, logging_monitoring,
    network_bridges, network_consoles, network_exposure, network_virtual,
    qemu, qemu_overrides)
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
