"""Bespoke checks of the isolation domain, resources and storage: CPU and memory
limits (I/O limits: isolation_io.py), guest memory backing, shared host filesystems, disk locking, pool
and image permissions, zeroed allocation and removable media.

A VM is *sensitive* when its security level is one of policy
`sensitive_security_levels` (the site's metadata convention: hvconform/judge/read/guests.py).
"""

from __future__ import annotations

import posixpath
import re

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of
from hvconform.judge.read import guests


def _under(path: str, directory: str) -> bool:
    path, directory = posixpath.normpath(path), posixpath.normpath(directory)
    return directory == "/" or path == directory or path.startswith(directory + "/")


CPUS_ONLINE = "/sys/devices/system/cpu/online"


def cpu_count(ranges: str) -> int:
    """'0-3,8-11' -> 8."""
    total = 0
    for part in ranges.strip().split(","):
        lo, _, hi = part.partition("-")
        if lo.strip():
            total += int(hi or lo) - int(lo) + 1
    return total


def vcpus(root) -> int:
    el = root.find("vcpu")
    if el is None:
        return 1
    return int(el.get("current") or (el.text or "1").strip())


@control("ISO-018", needs=[("cat", CPUS_ONLINE)])
@artifacts.ends
def cpu_limits(snap, vm, policy):
    root, art = artifacts.domain_root(snap, vm)
    cart = artifacts.optional_file(snap, CPUS_ONLINE)
    if cart is None:
        return v.error(f"{CPUS_ONLINE} is absent: the host's CPU count is unknown")
    cpus = cpu_count(cart.stdout)
    roots = dict(artifacts.parsed_domains(snap))
    running = [(d.name, roots[d.name]) for d in snap.domains if d.running and d.name in roots]
    sensitive = [n for n, r in running if guests.is_sensitive(snap, n, r, policy)]
    limit = policy["vcpu_overcommit_max_sensitive" if sensitive else "vcpu_overcommit_max"]
    total = sum(vcpus(r) for _, r in running)
    expected = (f"cputune shares, quota or global_quota set; running vCPUs / host CPUs <= {limit}"
                + (" (sensitive VMs run here)" if sensitive else ""))
    limits = [el for el in root.xpath("/domain/cputune/shares | /domain/cputune/quota | /domain/cputune/global_quota")
              if el.tag == "shares" or int((el.text or "-1").strip()) > 0]
    problems = []
    if not limits:
        problems.append("no CPU shares or quota (cputune)")
    ratio = total / cpus if cpus else float("inf")
    if ratio > limit:
        problems.append(f"host vCPU overcommit {total}/{cpus} = {ratio:.2f} > {limit}")
    evidence = [v.Evidence.of(art, xmlsafe.render_all(limits) or "/domain/cputune: no shares/quota"),
                v.Evidence.of(cart, f"{CPUS_ONLINE}: {cart.stdout.strip()} ({cpus} CPUs); running vCPUs {total}")]
    return artifacts.problems_verdict(expected, problems,
                                    f"{xmlsafe.render_all(limits)}; overcommit {total}/{cpus} = {ratio:.2f}",
                                    evidence, f"domain {vm}: ")


MEMINFO = "/proc/meminfo"
UNITS_KIB = {"b": 1 / 1024, "bytes": 1 / 1024, "kb": 1000 / 1024, "k": 1, "kib": 1, "mb": 1e6 / 1024,
             "m": 1024, "mib": 1024, "gb": 1e9 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2,
             "tb": 1e12 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3}


def kib(el) -> int:
    """A libvirt memory element (<memory unit='MiB'>128</memory>) in KiB."""
    return int(int((el.text or "0").strip()) * UNITS_KIB[el.get("unit", "KiB").lower()])


@control("ISO-020", needs=[("cat", MEMINFO), ("virsh_list_autostart", "")])
@artifacts.ends
def memory_overcommit(snap, vm, policy):
    reserve = policy["host_memory_reserve_mib"]
    expected = f"sum of <memory> of running and autostart VMs <= MemTotal - {reserve} MiB (host reserve)"
    art = artifacts.required_file(snap, MEMINFO, expected, "host memory unknown")
    match = re.search(r"^MemTotal:\s+(\d+) kB", art.stdout, re.M)
    if not match:
        return v.error(f"{MEMINFO} has no MemTotal line", [v.Evidence.of(art)])
    auto = artifacts.output(snap, "virsh_list_autostart", "autostart domain list")
    counted = {d.name for d in snap.domains if d.running} | {n.strip() for n in auto.stdout.splitlines() if n.strip()}
    sizes = {}
    for name in sorted(counted):
        root, _ = artifacts.domain_root(snap, name)
        sizes[name] = kib(root.find("memory")) if root.find("memory") is not None else 0
    total, budget = sum(sizes.values()), int(match[1]) - reserve * 1024
    actual = (f"{total // 1024} MiB for {len(sizes)} VMs ({', '.join(f'{n} {s // 1024}' for n, s in sizes.items())}) "
              f"of {int(match[1]) // 1024} MiB MemTotal")
    evidence = [v.Evidence.of(art, match[0]), v.Evidence.of(auto, "autostart: " + (auto.stdout.strip() or "none"))]
    if total > budget:
        return v.failed(expected, actual, evidence,
                        reason=f"VM memory exceeds MemTotal minus the {reserve} MiB host reserve by "
                               f"{(total - budget) // 1024} MiB: the host relies on ballooning or swap")
    return v.passed(expected, actual, evidence)


HUGEPAGE_DIR, RAM_DIR = "/dev/hugepages/libvirt/qemu", "/var/lib/libvirt/qemu/ram"


def _backing_dir(settings, key: str, default_mount: str, suffix: str) -> str | None:
    """The directory libvirt backs guest memory in, or None when qemu.conf names one
    this check did not collect (only the defaults are)."""
    setting = settings.get(key)
    value = setting.value if setting else default_mount
    value = value[0] if isinstance(value, list) and len(value) == 1 else value
    return f"{posixpath.normpath(value)}{suffix}" if isinstance(value, str) else None


@control("ISO-021", needs=[("cat", QCONF), ("stat", HUGEPAGE_DIR), ("stat", RAM_DIR)])
@artifacts.ends
def hugepage_backing(snap, vm, policy):
    expected = ("sensitive VMs hugepage-backed; the directory of file-backed guest memory "
                "(hugetlbfs libvirt/qemu, memory_backing_dir) not accessible to others")
    root, art = artifacts.domain_root(snap, vm)
    settings, _ = settings_of(snap, QCONF)
    hugepages = root.xpath("/domain/memoryBacking/hugepages")
    problems, evidence = [], [v.Evidence.of(art, xmlsafe.render_all(root.xpath("/domain/memoryBacking"))
                                                      or "/domain/memoryBacking: no match")]
    sensitive = guests.is_sensitive(snap, vm, root, policy)
    if sensitive and not hugepages:
        problems.append(f"sensitive (security level {guests.security_level(snap, vm, root, policy)}) but not "
                        "hugepage-backed")
    dirs = []
    if hugepages:
        dirs.append(("hugetlbfs_mount", _backing_dir(settings, "hugetlbfs_mount", "/dev/hugepages", "/libvirt/qemu")))
    if root.xpath("/domain/memoryBacking/source[@type='file']"):
        dirs.append(("memory_backing_dir", _backing_dir(settings, "memory_backing_dir", RAM_DIR, "")))
    for key, path in dirs:
        stat = snap.stat(path) if path else None
        if stat is None:
            return v.error(f"qemu.conf {key} names a directory hvconform does not collect "
                           f"(only {HUGEPAGE_DIR} and {RAM_DIR})")
        if artifacts.is_absent(stat):
            continue  # libvirt creates it, with its own modes, when the VM starts
        if not stat.ok:
            return artifacts.failure(stat, path)
        mode = int(stat.stdout.split()[0], 8)
        evidence.append(v.Evidence.of(stat, f"{path}: {stat.stdout.strip()}"))
        if mode & 0o007:
            problems.append(f"{path} mode {mode:o} is open to others")
    state = ("hugepage-backed" if hugepages else "not hugepage-backed") + (", sensitive" if sensitive else ", not sensitive")
    return artifacts.problems_verdict(expected, problems, state, evidence, f"domain {vm}: ")


# ---- storage isolation ----------------------------------------------------------------

FORBIDDEN_EXPORTS = ("/etc", "/root", "/home", "/boot", "/var/lib/libvirt", "/proc", "/sys", "/dev", "/run")


@control("ISO-024")
@artifacts.ends
def filesystem_sharing(snap, vm, policy):
    approved = policy["approved_filesystem_export_dirs"]
    expected = (f"no <filesystem>, or read-only with its source under policy approved_filesystem_export_dirs "
                f"[{', '.join(approved)}] and never /, {', '.join(FORBIDDEN_EXPORTS)}")
    root, art = artifacts.domain_root(snap, vm)
    shares = root.xpath("/domain/devices/filesystem")
    if not shares:
        return v.passed(expected, "no shared host filesystem", [v.Evidence.of(art, "/domain/devices/filesystem: no match")])
    problems, shown = [], []
    for fs in shares:
        src = fs.find("source")
        path = next((src.get(a) for a in ("dir", "file", "dev", "name") if src is not None and src.get(a)), None)
        if fs.get("type") == "ram" or path is None:
            continue  # guest memory, no host path
        shown.append(path)
        if fs.find("readonly") is None:
            problems.append(f"{path} shared writable")
        if posixpath.normpath(path) == "/" or any(_under(path, d) for d in FORBIDDEN_EXPORTS):
            problems.append(f"{path} is a system directory")
        elif not any(_under(path, d) for d in approved):
            problems.append(f"{path} is not under an approved export directory")
    return artifacts.problems_verdict(expected, problems, "read-only approved exports: " + ", ".join(shown),
                                    [v.Evidence.of(art, xmlsafe.render_all(shares))], f"domain {vm}: ")


LOCKD_SOCKET = "/run/libvirt/virtlockd-sock"
LOCK_DAEMONS = {"lockd": "virtlockd", "sanlock": "sanlock"}


@control("ISO-025", needs=[("cat", QCONF), ("stat", LOCKD_SOCKET)])
@artifacts.ends
def lock_manager(snap, vm, policy):
    expected = 'qemu.conf lock_manager = "lockd" or "sanlock", and its daemon running (or socket-activated)'
    settings, art = settings_of(snap, QCONF)
    setting = settings.get("lock_manager")
    manager = setting.value if setting else None
    evidence = [v.Evidence.of(art, setting.text if setting else f"{QCONF}: lock_manager unset")]
    if manager not in LOCK_DAEMONS:
        return v.failed(expected, f"lock_manager = {manager or 'unset (nop)'}", evidence,
                        reason="no disk lock manager: two VMs can open the same writable disk")
    ps = snap.get(host_state.PS)
    if ps is None or not ps.ok:
        return v.error("the process table was not collected") if ps is None else artifacts.failure(ps, "ps")
    daemon = LOCK_DAEMONS[manager]
    procs = [line for cols, line in host_state.ps_rows(ps.stdout) if cols[3] == daemon]
    evidence.append(v.Evidence.of(ps, "\n".join(procs) or f"no {daemon} process"))
    if procs:
        return v.passed(expected, f"lock_manager = {manager}; {daemon} running", evidence)
    sock = snap.stat(LOCKD_SOCKET) if manager == "lockd" else None
    if sock is not None and sock.ok:
        evidence.append(v.Evidence.of(sock, f"{LOCKD_SOCKET}: {sock.stdout.strip()}"))
        return v.passed(expected, f"lock_manager = {manager}; {LOCKD_SOCKET} present (socket activation)", evidence)
    return v.failed(expected, f"lock_manager = {manager}; no {daemon}", evidence,
                    reason=f"lock_manager {manager} is set but {daemon} is not running: VMs will not start")


DEFAULT_POOL_DIR = "/var/lib/libvirt/images"
DIR_POOLS = ("dir", "fs", "netfs")


def pools(text: str) -> list:
    """Each <pool> document of `virsh_pool_xmls` (printed one after the other)."""
    out = []
    for doc in re.findall(r"<pool\b.*?</pool>", text, re.S):
        try:
            out.append(xmlsafe.parse(doc))
        except xmlsafe.XMLError:
            continue
    return out


def _dir_problem(path: str, mode: int, owner: str) -> str | None:
    if mode & ~0o711 or owner not in ("root", "0"):
        return f"{path} is {mode:o} owned by {owner} (at most 711, root)"
    return None


@control("ISO-026", needs=[("virsh_pool_xmls", ""), ("stat", DEFAULT_POOL_DIR), ("images_open_to_others", "")])
@artifacts.ends
def pool_permissions(snap, vm, policy):
    expected = f"pool directories (and {DEFAULT_POOL_DIR}) at most 0711 root; no image file open to others"
    part = artifacts.output(snap, "virsh_pool_xmls", "storage pool definitions")
    problems, shown = [], []
    for pool in pools(part.stdout):
        name, path = pool.findtext("name", "?"), pool.findtext("target/path")
        if pool.get("type") not in DIR_POOLS or not path:
            continue
        mode, owner = pool.findtext("target/permissions/mode"), pool.findtext("target/permissions/owner")
        if mode is None:
            shown.append(f"pool {name} {path}: permissions not reported (inactive)")
            continue
        shown.append(f"pool {name} {path}: {mode} owner {owner}")
        problems += [p for p in [_dir_problem(f"pool {name} ({path})", int(mode, 8), (owner or "?").strip())] if p]
    stat = snap.stat(DEFAULT_POOL_DIR)
    if stat is None:
        return v.error(f"{DEFAULT_POOL_DIR} was not collected")
    if stat.ok:
        mode, owner = stat.stdout.split()[:2]
        shown.append(f"{DEFAULT_POOL_DIR}: {mode} {owner}")
        problems += [p for p in [_dir_problem(DEFAULT_POOL_DIR, int(mode, 8), owner)] if p]
    elif not artifacts.is_absent(stat):
        return artifacts.failure(stat, DEFAULT_POOL_DIR)
    found = artifacts.output(snap, "images_open_to_others", "image files open to others", absent_ok=True)
    files = found.stdout.split("\n") if found.ok else []
    files = [f for f in files if f.strip()]
    if files:
        problems.append(f"image files open to others: {', '.join(files)}")
    evidence = [v.Evidence.of(part, "\n".join(shown) or "no directory pool"), v.Evidence.of(stat),
                v.Evidence.of(found, "\n".join(files) or "no image file open to others")]
    return artifacts.problems_verdict(expected, problems, "; ".join(shown), evidence)


LVM_CONFS = ("/etc/lvm/lvm.conf", "/etc/lvm/lvmlocal.conf")   # lvmlocal.conf overrides


def thin_pool_zero(text: str) -> str | None:
    """The last uncommented `thin_pool_zero = N` of an LVM config, or None."""
    found = None
    for line in text.splitlines():
        m = re.match(r"\s*thin_pool_zero\s*=\s*(\d+)", line.split("#", 1)[0])
        found = m[1] if m else found
    return found


@control("ISO-027", needs=[*(("cat", p) for p in LVM_CONFS), ("virsh_pool_xmls", "")])
@artifacts.ends
def zeroed_allocation(snap, vm, policy):
    expected = "LVM allocation/thin_pool_zero = 1 (the default) where LVM is configured"
    value, evidence = None, []
    for path in LVM_CONFS:
        art = artifacts.optional_file(snap, path)
        if art is not None:
            value = thin_pool_zero(art.stdout) or value
            evidence.append(v.Evidence.of(art, f"{path}: thin_pool_zero = {thin_pool_zero(art.stdout) or 'unset'}"))
    lvm = (f"thin_pool_zero = {value or 'unset (default 1)'}" if evidence
           else "no LVM configuration (no /etc/lvm/lvm.conf)")
    part = artifacts.output(snap, "virsh_pool_xmls", "storage pool definitions")
    kinds = sorted({p.get("type", "?") for p in pools(part.stdout)})
    evidence.append(v.Evidence.of(part, "pool types: " + (", ".join(kinds) or "no pool")))
    shown = [lvm, "pools: " + (", ".join(kinds) or "none")]
    if value == "0":
        return v.failed(expected, "; ".join(shown), evidence,
                        reason="new LVM thin volumes are not zeroed: a guest can read a former tenant's blocks")
    return v.passed(expected, "; ".join(shown), evidence)


VALIDATE_LINE = re.compile(r"^\s*(\S+): (.+?)\s*: (PASS|WARN|FAIL|NOTE)\b(?: \((.*)\))?\s*$")


@control("ISO-028", needs=[("virt_host_validate", "")])
@artifacts.ends
def host_validates(snap, vm, policy):
    expected = "virt-host-validate qemu reports no FAIL"
    art = snap.get("cmd:virt_host_validate")
    if art is None:
        return v.error("virt-host-validate was not collected")
    checks = [m for m in map(VALIDATE_LINE.match, art.stdout.splitlines()) if m]
    if not checks:
        return artifacts.failure(art, "virt-host-validate qemu") if not art.ok else \
            v.error("virt-host-validate qemu printed no check", [v.Evidence.of(art)])
    fails = [m for m in checks if m[3] == "FAIL"]
    evidence = [v.Evidence.of(art, "\n".join(m[0].strip() for m in (fails or checks)))]
    return artifacts.problems_verdict(expected, [f"{m[2]}: FAIL ({m[4] or 'no detail'})" for m in fails],
                                    f"{len(checks)} checks, none FAIL", evidence)


@control("ISO-030")
@artifacts.ends
def removable_media(snap, vm, policy):
    approved = policy["approved_media_dirs"]
    expected = (f"CD-ROM/floppy empty, or a read-only image file under policy approved_media_dirs "
                f"[{', '.join(approved)}]")
    root, art = artifacts.domain_root(snap, vm)
    media = root.xpath("/domain/devices/disk[@device='cdrom' or @device='floppy']")
    problems, shown = [], []
    for disk in media:
        src = disk.find("source")
        target = disk.find("target").get("dev") if disk.find("target") is not None else "?"
        attrs = dict(src.attrib) if src is not None else {}
        attrs.pop("startupPolicy", None)
        if not attrs:
            shown.append(f"{target} empty")
            continue
        path = attrs.get("file")
        shown.append(f"{target} {path or attrs}")
        if disk.get("type", "file") != "file" or not path:
            problems.append(f"{target} holds {disk.get('type')} media {attrs}, not an image file")
            continue
        if not any(_under(path, d) for d in approved):
            problems.append(f"{target} holds {path}, outside the approved media directories")
        if disk.get("device") == "floppy" and disk.find("readonly") is None:
            problems.append(f"{target} floppy {path} is writable")
    return artifacts.problems_verdict(expected, problems, "; ".join(shown) or "no removable media drive",
                                    [v.Evidence.of(art, xmlsafe.render_all(media) or "no cdrom/floppy")],
                                    f"domain {vm}: ")
