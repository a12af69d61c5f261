"""Bespoke checks of the isolation domain, side channels: the host CPU's
vulnerability status, nested virtualization and the mitigations a guest CPU model
exposes. (Device assignment: isolation_devices.py; resource limits and
storage: isolation_resources.py.)
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control

# `grep -H . <files>` prints path:value; a value may hold ':' itself
VULN_LINE = re.compile(r"/sys/devices/system/cpu/vulnerabilities/([^/:]+):(.*)")


def vulnerabilities(text: str) -> dict[str, str]:
    """{name: status} from `grep -H . /sys/devices/system/cpu/vulnerabilities/*`."""
    return {m[1]: m[2].strip() for m in map(VULN_LINE.fullmatch, text.splitlines()) if m}


@control("ISO-003", needs=[("cpu_vulnerabilities", "")])
@artifacts.ends
def cpu_vulnerabilities(snap, vm, policy):
    expected = "no /sys/devices/system/cpu/vulnerabilities/* value starting with 'Vulnerable'"
    art = artifacts.output(snap, "cpu_vulnerabilities", "CPU vulnerability status", absent_ok=True)
    values = vulnerabilities(art.stdout)
    if not values:
        return v.failed(expected, "no vulnerability status", [v.Evidence.of(art, art.stderr.strip())],
                        reason="the kernel reports no CPU vulnerability status (sysfs entry added in "
                               "Linux 4.15): it predates the speculative-execution mitigations")
    bad = {k: val for k, val in values.items() if val.startswith("Vulnerable")}
    shown = bad or values
    evidence = [v.Evidence.of(art, "\n".join(f"{k}: {val}" for k, val in sorted(shown.items())))]
    return artifacts.problems_verdict(expected, [f"{k}: {val}" for k, val in sorted(bad.items())],
                                    f"{len(values)} entries, none 'Vulnerable'", evidence)


NESTED = ("/sys/module/kvm_intel/parameters/nested", "/sys/module/kvm_amd/parameters/nested")
NESTED_FEATURES = ("/domain/cpu/feature[@name='vmx' or @name='svm']"
                   "[not(@policy) or @policy='require' or @policy='force']")


@control("ISO-007", needs=[("cat", p) for p in NESTED])
@artifacts.ends
def nested_virtualization(snap, vm, policy):
    expected = "kvm_intel/kvm_amd parameter nested N/0 (or module not loaded); the VM requires no vmx/svm"
    problems, evidence, shown = [], [], []
    for path in NESTED:
        art = artifacts.optional_file(snap, path)
        if art is not None:
            value = art.stdout.strip()
            shown.append(f"{path}: {value}")
            evidence.append(v.Evidence.of(art, f"{path}: {value}"))
            if value in ("Y", "1"):
                problems.append(f"nested virtualization enabled on the host ({path} = {value})")
    root, dart = artifacts.domain_root(snap, vm)
    features = root.xpath(NESTED_FEATURES)
    if features:
        problems.append("the VM requires " + ", ".join(f.get("name") for f in features))
        evidence.append(v.Evidence.of(dart, xmlsafe.render_all(features)))
    return artifacts.problems_verdict(expected, problems,
                                    "; ".join(shown) or "kvm_intel/kvm_amd not loaded: no nesting", evidence,
                                    f"domain {vm}: ")


MITIGATION_FEATURES = ("spec-ctrl", "ssbd", "virt-ssbd", "md-clear", "stibp", "arch-capabilities", "ibpb")
HOST_CPU_MODES = ("host-model", "host-passthrough", "maximum")


@control("ISO-008")
@artifacts.ends
def guest_cpu_mitigations(snap, vm, policy):
    expected = ("cpu mode host-model/host-passthrough/maximum, or a named model requiring mitigation "
                f"features ({', '.join(MITIGATION_FEATURES)}); none of them disabled")
    root, art = artifacts.domain_root(snap, vm, live=True)
    cpu = root.find("cpu")
    features = [] if cpu is None else [f for f in cpu.findall("feature") if f.get("name") in MITIGATION_FEATURES]
    evidence = [v.Evidence.of(art, xmlsafe.render(cpu) if cpu is not None else "/domain/cpu: no match")]
    disabled = [f.get("name") for f in features if f.get("policy") in ("disable", "forbid")]
    if disabled:
        return v.failed(expected, "disabled: " + ", ".join(disabled), evidence,
                        reason=f"domain {vm}: mitigation features hidden from the guest: {', '.join(disabled)}")
    mode = None if cpu is None else cpu.get("mode", "custom")
    if mode in HOST_CPU_MODES:
        return v.passed(expected, f"mode {mode}", evidence)
    model = "" if cpu is None else (cpu.findtext("model") or "").strip()
    if not model:
        return v.failed(expected, "no CPU model", evidence,
                        reason=f"domain {vm}: QEMU's default CPU model (qemu64) exposes no speculative-"
                               "execution controls to the guest")
    required = [f.get("name") for f in features if f.get("policy", "require") in ("require", "force")]
    if required or model.endswith(("-IBRS", "-IBPB")):
        return v.passed(expected, f"model {model}" + (f", requires {', '.join(required)}" if required else ""),
                        evidence)
    return v.failed(expected, f"model {model} without mitigation features", evidence,
                    reason=f"domain {vm}: named model {model} requires none of {', '.join(MITIGATION_FEATURES)}")
