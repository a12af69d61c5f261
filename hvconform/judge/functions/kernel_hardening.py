"""Python controls of the kernel_mac domain, kernel facts no sysctl row can say: boot
parameters that harden memory, a kernel untainted by foreign modules, and risky
modules kept from loading.

  KMAC-017  boot_memory_hardening    the kernel command line has each of policy hardening_boot_params
  KMAC-019  kernel_untainted         no proprietary, out-of-tree or unsigned module; no listed GPU driver
  KMAC-020  risky_modules_disabled   each of policy disabled_modules disabled (install /bin/false) or blacklisted

Formats read here:
  /proc/sys/kernel/tainted a bit mask        Documentation/admin-guide/tainted-kernels.rst
  /proc/modules  "nvidia 56823808 0 - Live 0x0000000000000000 (POE)"  proc(5)
"""

from __future__ import annotations

from pathlib import PurePosixPath

from hvconform.model import verdict as v
from hvconform.judge.kinds import kernel_cmdline
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control


@control("KMAC-017", needs=[("cat", kernel_cmdline.PATH)])
def boot_memory_hardening(snap, vm, policy):
    groups = policy["hardening_boot_params"]
    expected = "kernel command line has " + "; ".join(" or ".join(g) for g in groups)
    art = snap.file(kernel_cmdline.PATH)
    if art is None:
        return v.error(f"{kernel_cmdline.PATH} was not collected")
    if not art.ok:
        return artifacts.failure(art, kernel_cmdline.PATH)
    params = kernel_cmdline.tokens(art.stdout.strip())
    found = {tuple(g): [p for want in g for p in kernel_cmdline.matching(want, params)] for g in groups}
    lacking = [" or ".join(g) for g, hits in found.items() if not hits]
    evidence = [v.Evidence.of(art, f"{kernel_cmdline.PATH}: {art.stdout.strip()}")]
    present = "present: " + " ".join(p for hits in found.values() for p in hits)
    if lacking:
        return v.failed(expected, present + "; missing: " + "; ".join(lacking), evidence,
                        reason="missing: " + "; ".join(lacking))
    return v.passed(expected, present, evidence)


TAINTED = "/proc/sys/kernel/tainted"
MODULES = "/proc/modules"
# tainted-kernels.rst: bit -> letter; bits 0, 12 and 13 are set by loading modules
TAINT_LETTERS = "PFSRMBUDAWCIOELKXTNJ"
MODULE_TAINTS = {0: "proprietary module (P)", 12: "out-of-tree module (O)", 13: "unsigned module (E)"}


@control("KMAC-019", needs=[("cat", TAINTED), ("cat", MODULES)])
@artifacts.ends
def kernel_untainted(snap, vm, policy):
    gpus = policy["passthrough_gpu_drivers"]
    expected = (f"{TAINTED}: bits 0 (P), 12 (O) and 13 (E) clear; none of {', '.join(gpus)} loaded"
                if gpus else f"{TAINTED}: bits 0 (P), 12 (O) and 13 (E) clear")
    taint = artifacts.required_file(snap, TAINTED, expected, "the kernel does not report its taint")
    mods = snap.file(MODULES)
    if mods is None:
        return v.error(f"{MODULES} was not collected")
    if not mods.ok and not artifacts.is_absent(mods):
        return artifacts.failure(mods, MODULES)
    try:
        mask = int(taint.stdout.strip())
    except ValueError:
        return v.error(f"{TAINTED}: not a number: {taint.stdout.strip()!r}", [v.Evidence.of(taint)])
    letters = "".join(c for bit, c in enumerate(TAINT_LETTERS) if mask >> bit & 1)
    evidence = [v.Evidence.of(taint, f"{TAINTED}: {mask}" + (f" ({letters})" if letters else ""))]
    bad = [why for bit, why in MODULE_TAINTS.items() if mask >> bit & 1]
    if mods.ok:
        loaded = {line.split()[0] for line in mods.stdout.splitlines() if line.split()}
        drivers = sorted(loaded & set(gpus))
        evidence.append(v.Evidence.of(mods, f"{MODULES}: {len(loaded)} modules" +
                                      (f", GPU drivers: {', '.join(drivers)}" if drivers else ", no listed GPU driver")))
        bad += [f"GPU driver {d} loaded on the host" for d in drivers]
    else:   # /proc/modules exists whenever the kernel can load modules at all
        evidence.append(v.Evidence.of(mods, f"{MODULES}: absent: this kernel cannot load modules"))
    actual = f"tainted {mask}" + (f" ({letters})" if letters else "") + (f"; {'; '.join(bad)}" if bad else "")
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)


# modprobe.d(5): the directories, most important first; a file name in an earlier one
# hides the same name in a later one, and only *.conf files are read.
MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                 "/usr/lib/modprobe.d", "/lib/modprobe.d")
NO_OP = ("/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true", "false", "true")


def module_rules(text: str) -> dict[str, list[tuple[str, str]]]:
    """`grep -rH` lines 'path:install x /bin/false' -> {module: [(kind, 'path: line')]},
    module names with '-' as '_', as kmod compares them."""
    by_name: dict[str, tuple[int, str]] = {}
    lines = []
    for raw in text.splitlines():
        path, colon, rule = raw.partition(":")
        if not colon or not path.endswith(".conf"):
            continue
        rank = next((i for i, d in enumerate(MODPROBE_DIRS) if path.startswith(d + "/")), len(MODPROBE_DIRS))
        name = PurePosixPath(path).name
        by_name[name] = min(by_name.get(name, (rank, path)), (rank, path))
        lines.append((name, path, rule.split()))
    out: dict[str, list[tuple[str, str]]] = {}
    for name, path, words in lines:
        if by_name[name][1] != path or len(words) < 2:
            continue   # hidden by a file of the same name in a more important directory
        module = words[1].replace("-", "_")
        if words[0] == "blacklist":
            out.setdefault(module, []).append(("blacklisted", f"{path}: {' '.join(words)}"))
        elif words[0] == "install" and len(words) >= 3 and words[2] in NO_OP:
            out.setdefault(module, []).append(("disabled", f"{path}: {' '.join(words)}"))
    return out


@control("KMAC-020", needs=[("modprobe_rules", "")])
def risky_modules_disabled(snap, vm, policy):
    wanted = policy["disabled_modules"]
    expected = f"install <module> /bin/false (or blacklist) for each of {', '.join(wanted)}"
    art = snap.get("cmd:modprobe_rules")
    if art is None:
        return v.error("the modprobe.d rules were not collected")
    # grep: rc 1 = no rule anywhere; rc 2 = an error, acceptable only for absent directories
    errors = [line for line in art.stderr.splitlines() if line.strip() and "No such file or directory" not in line]
    if art.rc not in (0, 1, 2) or errors:
        return artifacts.failure(art, "reading modprobe.d")
    rules = module_rules(art.stdout)
    status = {m: rules.get(m.replace("-", "_"), []) for m in wanted}
    missing = [m for m, found in status.items() if not found]
    evidence = [v.Evidence.of(art, "\n".join([line for found in status.values() for _, line in found] +
                                             [f"no rule: {m}" for m in missing]))]
    blacklisted_only = [m for m, found in status.items() if found and all(k == "blacklisted" for k, _ in found)]
    actual = f"{len(wanted) - len(missing)} of {len(wanted)} disabled or blacklisted" + (
        f" (blacklist only: {', '.join(blacklisted_only)})" if blacklisted_only else "") + (
        f"; missing: {', '.join(missing)}" if missing else "")
    if missing:
        return v.failed(expected, actual, evidence, reason="loadable on demand: " + ", ".join(missing))
    return v.passed(expected, actual, evidence)
