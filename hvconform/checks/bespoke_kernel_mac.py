"""Bespoke checks of the kernel_mac domain."""

from __future__ import annotations

from hvconform import verdict as v
from hvconform.checks import reading, xmlsafe
from hvconform.checks.bespoke import bespoke

CAPABILITIES = "cmd:virsh_capabilities"
CONFINING = ("selinux", "apparmor")


@bespoke("KMAC-004", needs=[("virsh_capabilities", "")])
def mac_security_model(snap, vm, policy):
    expected = "capabilities host/secmodel/model includes selinux or apparmor"
    art = snap.get(CAPABILITIES)
    if art is None:
        return v.error("virsh capabilities was not collected")
    if not art.ok:
        return reading.failure(art, "virsh capabilities")
    try:
        root = xmlsafe.parse(art.stdout)
    except xmlsafe.XMLError as exc:
        return v.error(f"virsh capabilities printed malformed XML: {exc}")
    secmodels = root.xpath("/capabilities/host/secmodel")
    models = [m.findtext("model", "").strip() for m in secmodels]
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.render(m) for m in secmodels)
                              or "/capabilities/host/secmodel: no match")]
    actual = "models: " + (", ".join(models) or "none")
    if any(m in CONFINING for m in models):
        return v.passed(expected, actual, evidence)
    return v.failed(expected, actual, evidence,
                    reason="no MAC security driver: QEMU processes run unconfined by SELinux/AppArmor")
