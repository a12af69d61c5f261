"""Bespoke checks of the qemu domain: qemu.conf together with the running QEMU
processes, the binaries and packages, and each VM's storage chain.

Per-VM checks find the VM's QEMU with process.pid_of; collection reads every QEMU
pid's status, cmdline, cgroup and its ns/mnt and exe links (collect.second_round).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re

from hvconform.model import verdict as v
from hvconform.judge.read import daemons
from hvconform.judge.kinds import file_mode
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, qemu_conf
from hvconform.judge.read.libvirt_grammar import shown
from hvconform.judge.kinds.process import pid_of

# qemu.conf.in's cgroup_device_acl default (libvirt 9.x; /dev/userfaultfd since 8.x)
DEFAULT_DEVICE_ACL = ["/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom",
                      "/dev/ptmx", "/dev/kvm", "/dev/userfaultfd"]
# a libvirt machine cgroup: machine.slice/machine-qemu\x2d1\x2dvm.scope (systemd) or
# /machine/qemu-1-vm.libvirt-qemu (libvirt's own layout where systemd is absent)
MACHINE_CGROUP = re.compile(r"machine\.slice/machine-qemu|/machine/qemu-")


def running_pid(snap, vm) -> int:
    """The VM's QEMU pid; not_applicable when the VM is not running."""
    dom = snap.domain(vm)
    if dom is None or not dom.running:
        raise artifacts.End(v.not_applicable(f"domain {vm} is not running: it has no QEMU process to examine"))
    pid = pid_of(snap, vm)
    if pid is None:
        raise artifacts.End(v.error(f"domain {vm} is running but no QEMU process names it"))
    return pid


def link(snap, path: str):
    art = snap.get(f"readlink:{path}")
    if art is None:
        raise artifacts.End(v.error(f"readlink {path} was not collected"))
    if not art.ok:
        raise artifacts.End(artifacts.failure(art, f"readlink {path}"))
    return art.stdout.strip(), art


@control("QEMU-007", needs=[("cat", QCONF), ("readlink", "/proc/1/ns/mnt")])
@artifacts.ends
def private_mount_namespace(snap, vm, policy):
    expected = "qemu.conf namespaces unset or with \"mount\"; the VM's QEMU in its own mount namespace"
    settings, conf_ev = qemu_conf(snap, ["namespaces"])
    ns = settings.get("namespaces")
    if ns is not None and "mount" not in (ns.value if isinstance(ns.value, list) else [ns.value]):
        return v.failed(expected, f"namespaces = {shown(ns.value)}", [conf_ev],
                        reason="qemu.conf turns off the private mount namespace for every VM")
    pid = running_pid(snap, vm)
    own, own_art = link(snap, f"/proc/{pid}/ns/mnt")
    host, host_art = link(snap, "/proc/1/ns/mnt")
    evidence = [conf_ev, v.Evidence.of(own_art, f"/proc/{pid}/ns/mnt -> {own}"),
                v.Evidence.of(host_art, f"/proc/1/ns/mnt -> {host}")]
    actual = f"namespaces {'unset' if ns is None else shown(ns.value)}; pid {pid} {own}, pid 1 {host}"
    if own == host:
        return v.failed(expected, actual, evidence,
                        reason=f"domain {vm}: QEMU pid {pid} shares the host's mount namespace")
    return v.passed(expected, actual, evidence)


def cgroup_placement(text: str) -> tuple[str, str]:
    """(the cgroup line that confines devices, its path) from /proc/<pid>/cgroup:
    the v1 `devices` controller where it is mounted, else the unified (v2) `0::` line,
    whose device access libvirt filters with BPF."""
    lines = [line for line in text.splitlines() if line.count(":") >= 2]
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "devices" in controllers.split(","):
            return line, path
    for line in lines:
        if line.startswith("0::"):
            return line, line[3:]
    return "", ""


@control("QEMU-008", needs=[("cat", QCONF)])
@artifacts.ends
def cgroup_device_acl(snap, vm, policy):
    expected = ("cgroup_controllers unset or with devices; cgroup_device_acl unset or within the "
                "default; the VM's QEMU confined in a libvirt machine cgroup")
    settings, conf_ev = qemu_conf(snap, ["cgroup_controllers", "cgroup_device_acl"])
    bad = []
    ctl = settings.get("cgroup_controllers")
    if ctl is not None and "devices" not in (ctl.value if isinstance(ctl.value, list) else [ctl.value]):
        bad.append(f"cgroup_controllers = {shown(ctl.value)} (no devices)")
    acl = settings.get("cgroup_device_acl")
    extra = [d for d in (acl.value if acl is not None and isinstance(acl.value, list) else [])
             if d not in DEFAULT_DEVICE_ACL]
    if acl is not None and not isinstance(acl.value, list):
        bad.append(f"cgroup_device_acl = {shown(acl.value)} (not a list)")
    if extra:
        bad.append(f"cgroup_device_acl widened with {', '.join(extra)}")
    if bad:
        return v.failed(expected, "; ".join(bad), [conf_ev], reason="; ".join(bad))
    pid = running_pid(snap, vm)
    art = snap.file(f"/proc/{pid}/cgroup")
    if art is None or not art.ok:
        return v.error(f"/proc/{pid}/cgroup of domain {vm} was not collected")
    line, path = cgroup_placement(art.stdout)
    evidence = [conf_ev, v.Evidence.of(art, f"pid {pid}: {line or 'no devices or unified cgroup line'}")]
    actual = f"qemu.conf ok; pid {pid} devices cgroup {path or 'unknown'}"
    if not MACHINE_CGROUP.search(path):
        return v.failed(expected, actual, evidence,
                        reason=f"domain {vm}: QEMU pid {pid} is not in a libvirt machine cgroup for "
                               f"devices ({line or 'no such line'}): its device ACL is not enforced")
    return v.passed(expected, actual, evidence)


def deprecated_machines(caps_xml: str, arch: str) -> set[str]:
    """Machine types (and their canonical names) `virsh capabilities` marks deprecated."""
    root = xmlsafe.parse(caps_xml)
    out = set()
    for m in root.xpath("/capabilities/guest/arch[@name=$a]/machine[@deprecated='yes']", a=arch):
        out.add((m.text or "").strip())
        if m.get("canonical"):
            out.add(m.get("canonical"))
    return out


@control("QEMU-012", needs=[("virsh_capabilities", "")])
@artifacts.ends
def machine_type(snap, vm, policy):
    allowed = policy["allowed_machine_types"]
    root, art = artifacts.domain_root(snap, vm)
    node = (root.xpath("/domain/os/type") or [None])[0]
    arch = node.get("arch", "") if node is not None else ""
    machine = node.get("machine", "") if node is not None else ""
    patterns = allowed.get(arch, [])
    expected = f"{arch or '?'} machine matching {patterns or 'a policy allowed_machine_types entry'}, not deprecated"
    evidence = [v.Evidence.of(art, xmlsafe.render(node) if node is not None else "/domain/os/type: absent")]
    caps = snap.get("cmd:virsh_capabilities")
    if caps is None or not caps.ok:
        return v.error("virsh capabilities (the deprecated machine list) was not collected")
    try:
        deprecated = deprecated_machines(caps.stdout, arch)
    except xmlsafe.XMLError as exc:
        return v.error(f"virsh capabilities is malformed: {exc}")
    evidence.append(v.Evidence.of(caps, f"deprecated {arch} machines: {', '.join(sorted(deprecated)) or 'none'}"))
    if not any(re.search(p, machine) for p in patterns):
        return v.failed(expected, f"machine {machine or 'unset'} ({arch or 'no arch'})", evidence,
                        reason=f"domain {vm}: machine type {machine or 'unset'} is not an approved one for {arch}")
    if machine in deprecated:
        return v.failed(expected, f"machine {machine} (deprecated)", evidence,
                        reason=f"domain {vm}: QEMU marks machine type {machine} deprecated")
    return v.passed(expected, f"machine {machine} ({arch})", evidence)


# An imported symbol, as `nm -D --undefined-only` shows it (" U name@VERSION", or
# " U name" from an nm that prints no versions) or `readelf --dyn-syms` did (" UND name@...")
_IMPORT = r" U(?:ND)? {}(?:@|\s|$)"
FORTIFIABLE = re.compile(_IMPORT.format(r"(strn?cpy|strn?cat|v?s?n?printf|v?fprintf|gets|fgets|read|"
                                        r"realpath|memmove|memset|stpcpy)"), re.M)


def elf_findings(text: str) -> dict[str, bool]:
    """The hardening markers in the filtered readelf and nm output (commands elf_hardening)."""
    stack = next((line.split() for line in text.splitlines() if line.split()[:1] == ["GNU_STACK"]), [])
    return {"PIE": bool(re.search(r"Type:\s+DYN", text)),
            "NX": bool(stack) and "E" not in stack[-2],
            "full RELRO": "GNU_RELRO" in text and bool(re.search(r"\(FLAGS(_1)?\).*\bNOW\b|BIND_NOW", text)),
            "stack protector": bool(re.search(_IMPORT.format("__stack_chk_fail"), text, re.M)),
            # __memcpy_chk (not _chk_fail); a binary that calls no fortifiable libc
            # function has nothing to fortify (libvirtd: its code is in libvirt.so)
            "FORTIFY": bool(re.search(_IMPORT.format(r"__\w+_chk"), text, re.M)) or not FORTIFIABLE.search(text)}


@control("QEMU-016", needs=lambda policy: [("elf_hardening", p) for p in policy["hardened_binaries"]])
@artifacts.ends
def binaries_hardened(snap, vm, policy):
    expected = "PIE, NX, full RELRO, stack protector and FORTIFY in every QEMU/libvirt binary present"
    emulators = set()
    for d in snap.domains:
        xml = snap.domain_xml(d.name)
        if xml is not None and xml.ok:
            emulators |= {e.text.strip() for e in xmlsafe.parse(xml.stdout).xpath("/domain/devices/emulator")
                          if e.text}
    unlisted = sorted(emulators - set(policy["hardened_binaries"]))
    if unlisted:
        return v.error(f"emulator(s) {', '.join(unlisted)} named by domains are not in policy "
                       "hardened_binaries, so they were not examined")
    checked, missing_marks, evidence = [], [], []
    for path in policy["hardened_binaries"]:
        art = snap.get(f"elf:{path}")
        if art is None:
            return v.error(f"readelf of {path} was not collected")
        if "No such file" in art.stderr:
            continue
        if art.rc not in (0, 1) or (art.stderr.strip() and not art.stdout.strip()):
            return artifacts.failure(art, f"readelf {path}")
        found = elf_findings(art.stdout)
        checked.append(path)
        lacking = [k for k, ok in found.items() if not ok]
        evidence.append(v.Evidence.of(art, f"{path}: " + ", ".join(f"{k} {'yes' if ok else 'NO'}"
                                                                      for k, ok in found.items())))
        if lacking:
            missing_marks.append(f"{path} lacks {', '.join(lacking)}")
    if not checked:
        return v.not_applicable("none of the binaries in policy hardened_binaries exists: "
                                + ", ".join(policy["hardened_binaries"]))
    if missing_marks:
        return v.failed(expected, "; ".join(missing_marks), evidence, reason="; ".join(missing_marks))
    return v.passed(expected, f"all hardened: {', '.join(checked)}", evidence)


def module_names(art) -> list[str]:
    """`ls -1d .../qemu/*.so`: the module files found (an unmatched layout's glob is an error line)."""
    if art is None:
        raise artifacts.End(v.error("the QEMU module listing was not collected"))
    if art.rc not in (0, 2) or [e for e in art.stderr.splitlines() if e.strip() and "No such file" not in e]:
        raise artifacts.End(artifacts.failure(art, "ls of the QEMU module directories"))
    return [line.strip() for line in art.stdout.splitlines() if line.strip().endswith(".so")]


@control("QEMU-017", needs=[*host_state.PACKAGE_NEEDS, ("qemu_modules", "")])
@artifacts.ends
def minimal_qemu(snap, vm, policy):
    allowed, unneeded = policy["qemu_packages_allowed"], policy["qemu_unneeded_components"]
    expected = (f"qemu packages only from {allowed}; no package or module named "
                f"{'/'.join(unneeded)}")
    family, packages, pkg_art = host_state.installed(snap)
    modules = module_names(snap.get("cmd:qemu_modules"))
    qemu = sorted(p for p in packages if p.startswith(("qemu-system", "qemu-kvm", "qemu-block")))
    foreign = [p for p in qemu if not any(fnmatch.fnmatch(p, a) for a in allowed)]
    extra = [p for p in qemu if any(u in p for u in unneeded)]
    extra += [m for m in modules if any(u in posixpath.basename(m) for u in unneeded)]
    evidence = [v.Evidence.of(pkg_art, "\n".join(f"{p} {packages[p]}" for p in qemu) or "no qemu package"),
                v.Evidence.of(snap.get("cmd:qemu_modules"), "\n".join(modules) or "no QEMU module")]
    problems = ([f"packages not allowed: {', '.join(foreign)}"] if foreign else []) + \
               ([f"unneeded components: {', '.join(extra)}"] if extra else [])
    actual = f"{len(qemu)} qemu packages, {len(modules)} modules" + (f": {'; '.join(problems)}" if problems else "")
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


def chains(root) -> list[list]:
    """Each disk's storage chain, top first: the <source> then each <backingStore>."""
    out = []
    for disk in root.xpath("/domain/devices/disk[@device='disk' or not(@device)]"):
        chain, node = [], disk
        while node is not None:
            src = node.find("source")
            if src is not None:
                chain.append((node.get("type", "file"), src))
            node = node.find("backingStore")
        if chain:
            out.append(chain)
    return out


def where(kind: str, src) -> str:
    if kind == "network":
        return f"{src.get('protocol', '?')}:{src.get('name', '')}"
    if kind == "volume":
        return f"volume {src.get('pool', '?')}/{src.get('volume', '?')}"
    return src.get("file") or src.get("dev") or ""


def inside(path: str, dirs) -> bool:
    path = posixpath.normpath(path)
    return any(path == d.rstrip("/") or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _chain_root(snap, vm):
    """The XML that carries the backing chain: live (detected chain) when running."""
    return artifacts.domain_root(snap, vm, live=True)


@control("QEMU-019")
@artifacts.ends
def backing_chain_storage(snap, vm, policy):
    dirs, protocols = policy["approved_image_dirs"], policy["approved_disk_protocols"]
    expected = f"every disk image and backing file under {dirs}" + (
        f" or on {protocols}" if protocols else ", none on the network")
    root, art = _chain_root(snap, vm)
    elements, bad = [], []
    for chain in chains(root):
        for kind, src in chain:
            at = where(kind, src)
            elements.append(at)
            ok = (src.get("protocol") in protocols) if kind == "network" else \
                kind == "volume" or inside(at, dirs)
            if not ok:
                bad.append(at)
    evidence = [v.Evidence.of(art, "\n".join(elements) or "no disk with a source")]
    if not elements:
        return v.not_applicable(f"domain {vm} has no disk with a source")
    if bad:
        return v.failed(expected, f"outside approved storage: {', '.join(bad)}", evidence,
                        reason=f"domain {vm}: {', '.join(bad)} outside approved storage")
    return v.passed(expected, f"{len(elements)} chain elements inside approved storage", evidence)


def golden_stats(snap, dirs) -> tuple[dict[str, tuple], list]:
    """{path: (mode, owner, group, type)} of the files in the golden-image dirs."""
    out, evidence = {}, []
    for d in dirs:
        art = snap.get(f"stat_children:{d}")
        if art is None:
            raise artifacts.End(v.error(f"stat of {d}/* was not collected"))
        if not art.ok and not artifacts.is_absent(art):
            raise artifacts.End(artifacts.failure(art, f"stat {d}/*"))
        out.update(file_mode.stat_entries(art.stdout))
        evidence.append(v.Evidence.of(art))
    return out, evidence


@control("QEMU-020", needs=lambda policy: [("stat_children", d) for d in policy["golden_image_dirs"]])
@artifacts.ends
def golden_images(snap, vm, policy):
    dirs = policy["golden_image_dirs"]
    expected = f"every backing file inside {dirs}, root-owned, mode without write bits (<= 0444)"
    root, art = _chain_root(snap, vm)
    backing = [where(kind, src) for chain in chains(root) for kind, src in chain[1:]]
    if not backing:
        return v.not_applicable(f"domain {vm} has no backing files (no golden image in its chains)",
                                [v.Evidence.of(art, "no <backingStore> with a source")])
    stats, evidence = golden_stats(snap, dirs)
    evidence.insert(0, v.Evidence.of(art, "backing files: " + ", ".join(backing)))
    bad = []
    for path in backing:
        entry = stats.get(posixpath.normpath(path))
        if not inside(path, dirs) or entry is None:
            bad.append(f"{path}: not in a golden-image dir (policy golden_image_dirs)")
            continue
        mode, owner = entry[:2]
        if int(mode, 8) & 0o7222 or owner != "root":
            bad.append(f"{path}: {mode} {owner}")
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: " + "; ".join(bad))
    return v.passed(expected, f"{len(backing)} backing files read-only, root-owned", evidence)


@control("QEMU-021")
@artifacts.ends
def binaries_not_replaced(snap, vm, policy):
    expected = "/proc/<pid>/exe of the VM's QEMU and of the libvirt daemons not '(deleted)'"
    pid = running_pid(snap, vm)
    pids = [("QEMU", pid)]
    ps = snap.get(host_state.PS)
    for cols, _ in host_state.ps_rows(ps.stdout if ps is not None and ps.ok else ""):
        if cols[3] in daemons.LIBVIRT_DAEMONS:
            pids.append((cols[3], int(cols[0])))
    evidence, replaced, shown_ = [], [], []
    for name, p in pids:
        target, art = link(snap, f"/proc/{p}/exe")
        evidence.append(v.Evidence.of(art, f"/proc/{p}/exe -> {target}"))
        shown_.append(f"{name} {p}: {target}")
        if target.endswith("(deleted)"):
            replaced.append(f"{name} pid {p} runs {target}")
    if replaced:
        return v.failed(expected, "; ".join(replaced), evidence,
                        reason="the binary on disk was replaced (an update) while this process kept the old one")
    return v.passed(expected, "; ".join(shown_), evidence)


BRIDGE_HELPERS = ("/usr/libexec/qemu-bridge-helper", "/usr/lib/qemu/qemu-bridge-helper")
BRIDGE_CONF = "/etc/qemu/bridge.conf"


@control("QEMU-022", needs=[("bridge_helper_stat", ""), ("cat", BRIDGE_CONF)])
@artifacts.ends
def bridge_helper(snap, vm, policy):
    expected = "a setuid qemu-bridge-helper only with bridge.conf root-owned, <= 0640, naming bridges (no allow all)"
    art = snap.get("cmd:bridge_helper_stat")
    if art is None:
        return v.error("stat of qemu-bridge-helper was not collected")
    if [e for e in art.stderr.splitlines() if e.strip() and "No such file" not in e]:
        return artifacts.failure(art, "stat of qemu-bridge-helper")
    stats = file_mode.stat_entries(art.stdout)
    evidence = [v.Evidence.of(art, art.stdout.strip() or "no bridge helper, no bridge.conf")]
    setuid = [h for h in BRIDGE_HELPERS if h in stats and int(stats[h][0], 8) & 0o4000]
    if not setuid:
        present = [h for h in BRIDGE_HELPERS if h in stats]
        return v.passed(expected, (f"{', '.join(present)} not setuid" if present else "no qemu-bridge-helper"),
                        evidence)
    conf = snap.file(BRIDGE_CONF)
    if conf is None:
        return v.error(f"{BRIDGE_CONF} was not collected")
    if artifacts.is_absent(conf):
        return v.passed(expected, f"{setuid[0]} setuid; no {BRIDGE_CONF}: the helper allows no bridge", evidence)
    if not conf.ok:
        return artifacts.failure(conf, BRIDGE_CONF)
    rules = [line.strip() for line in conf.stdout.splitlines() if line.strip() and not line.strip().startswith("#")]
    evidence.append(v.Evidence.of(conf, "\n".join(rules) or "no rules"))
    mode, owner = stats.get(BRIDGE_CONF, ("?", "?"))[:2]
    bad = [r for r in rules if re.fullmatch(r"allow\s+all", r)]
    if owner != "root" or (mode != "?" and int(mode, 8) & ~0o640):
        bad.append(f"{BRIDGE_CONF} is {mode} {owner}")
    actual = f"{setuid[0]} setuid; {BRIDGE_CONF}: {'; '.join(rules) or 'no rules'}"
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)
