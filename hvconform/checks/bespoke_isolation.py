"""Bespoke checks of the isolation domain: side channels, device assignment, resource
limits and storage isolation. Host-wide facts (sysfs listings, pools) come from fixed
commands in hvconform/commands.py, so a per-VM check costs no extra round trip.

A VM is *sensitive* when its security level (the `security-level` element in policy
`vm_metadata_namespace` under <metadata>, else the inventory's `vms:` facts) is one of
policy `sensitive_security_levels`.
"""

from __future__ import annotations

import posixpath
import re

from hvconform import verdict as v
from hvconform.checks import kernel_cmdline, reading, xmlsafe
from hvconform.checks.bespoke import bespoke
from hvconform.checks.libvirtconf_parser import ConfSyntaxError, parse as parse_conf

QCONF = "/etc/libvirt/qemu.conf"
CMDLINE = "/proc/cmdline"


# ---- reading helpers ------------------------------------------------------------------

def _cmd(snap, name: str, what: str, absent_ok: bool = False):
    """(artifact, None) or (None, end verdict). `absent_ok`: a 'No such file' failure
    (a sysfs directory this kernel lacks) is a fact, returned as the artifact."""
    art = snap.get(f"cmd:{name}")
    if art is None:
        return None, v.error(f"{what} was not collected")
    if art.ok or (absent_ok and reading.is_absent(art)):
        return art, None
    return None, reading.failure(art, what)


def _optional_file(snap, path: str):
    """(text or None when absent, artifact, end verdict)."""
    art = snap.file(path)
    if art is None:
        return None, None, v.error(f"{path} was not collected")
    if reading.is_absent(art):
        return None, art, None
    if not art.ok:
        return None, art, reading.failure(art, path)
    return art.stdout, art, None


def _domain(snap, vm: str, live: bool = False):
    """(root, artifact, None) or (None, None, end verdict); `live` falls back to the
    inactive definition for a domain that is not running."""
    dom = snap.domain(vm)
    live = live and dom is not None and dom.running
    art = snap.domain_xml(vm, live)
    which = "live" if live else "inactive"
    if art is None:
        return None, None, v.error(f"the {which} XML of domain {vm} was not collected")
    if not art.ok:
        return None, None, v.error(f"virsh dumpxml of domain {vm} failed (rc {art.rc}): {art.stderr.strip()}")
    try:
        return xmlsafe.parse(art.stdout), art, None
    except xmlsafe.XMLError as exc:
        return None, None, v.error(f"domain {vm}: {which} XML is malformed: {exc}", [v.Evidence.of(art, str(exc))])


def _all_domains(snap):
    """(name, root) of every domain whose inactive XML parses."""
    for d in snap.domains:
        art = snap.domain_xml(d.name)
        if art is not None and art.ok:
            try:
                yield d.name, xmlsafe.parse(art.stdout)
            except xmlsafe.XMLError:
                continue


# `grep -H . <files>` prints path:value; a PCI path holds ':' itself, a value may too
VULN_LINE = re.compile(r"/sys/devices/system/cpu/vulnerabilities/([^/:]+):(.*)")
PCI_LINE = re.compile(r"/sys/bus/pci/devices/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f])/(\w+):(.*)")


def vulnerabilities(text: str) -> dict[str, str]:
    """{name: status} from `grep -H . /sys/devices/system/cpu/vulnerabilities/*`."""
    return {m[1]: m[2].strip() for m in map(VULN_LINE.fullmatch, text.splitlines()) if m}


def pci_attributes(text: str) -> dict[str, dict[str, str]]:
    """{BDF: {attribute: value}} from `grep -H . /sys/bus/pci/devices/*/<attribute>`."""
    out: dict[str, dict[str, str]] = {}
    for m in map(PCI_LINE.fullmatch, text.splitlines()):
        if m:
            out.setdefault(m[1], {})[m[2]] = m[3].strip()
    return out


def _qemu_conf(snap):
    """(settings, artifact, end verdict); a missing qemu.conf means every key is unset."""
    text, art, end = _optional_file(snap, QCONF)
    if end:
        return None, None, end
    try:
        return parse_conf(text or ""), art, None
    except ConfSyntaxError as exc:
        return None, None, v.error(f"{QCONF}: {exc}", [v.Evidence.of(art, str(exc))])


def _excerpt(nodes) -> str:
    return "\n".join(xmlsafe.render(n) for n in nodes)


def _verdict(expected: str, problems: list[str], ok_actual: str, evidence, subject: str = ""):
    if problems:
        actual = "; ".join(problems)
        return v.failed(expected, actual, evidence, reason=f"{subject}{actual}")
    return v.passed(expected, ok_actual, evidence)


def _under(path: str, directory: str) -> bool:
    path, directory = posixpath.normpath(path), posixpath.normpath(directory)
    return directory == "/" or path == directory or path.startswith(directory + "/")


# ---- VM facts -------------------------------------------------------------------------

def security_level(snap, vm: str, root, policy) -> str | None:
    """The VM's security level: its <metadata> tag, else the inventory's `vms:` facts."""
    found = root.xpath("/domain/metadata/*[namespace-uri()=$ns]/descendant-or-self::*"
                       "[local-name()='security-level']/text()", ns=policy["vm_metadata_namespace"])
    if found:
        return str(found[0]).strip()
    return (((snap.facts or {}).get("vms") or {}).get(vm) or {}).get("security_level")


def is_sensitive(snap, vm: str, root, policy) -> bool:
    return security_level(snap, vm, root, policy) in policy["sensitive_security_levels"]


ASSIGNED = "/domain/devices/hostdev | /domain/devices/interface[@type='hostdev']"


def bdf(address) -> str | None:
    """<address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/> -> '0000:03:00.1'."""
    try:
        return "{:04x}:{:02x}:{:02x}.{:x}".format(*(int(address.get(k, "0"), 0)
                                                    for k in ("domain", "bus", "slot", "function")))
    except ValueError:
        return None


def pci_assigned(root) -> list[tuple[str | None, object]]:
    """(BDF, element) of each PCI device assigned to the domain (hostdev or SR-IOV NIC)."""
    out = []
    for el in root.xpath(ASSIGNED):
        is_pci = el.get("type") == "pci" if el.tag == "hostdev" else True
        address = el.find("source/address")
        if is_pci and el.get("mode", "subsystem") == "subsystem" and address is not None \
                and address.get("type", "pci") == "pci":
            out.append((bdf(address), el))
    return out


def _pci_table(snap):
    """{BDF: {vendor, device, class}} from `pci_ids`, or (None, end verdict)."""
    art, end = _cmd(snap, "pci_ids", "PCI device ids (sysfs)", absent_ok=True)
    if end:
        return None, None, end
    table = {dev: {k: val.lower().removeprefix("0x") for k, val in attrs.items()}
             for dev, attrs in pci_attributes(art.stdout).items()}
    return table, art, None


# ---- side channels --------------------------------------------------------------------

@bespoke("ISO-003", needs=[("cpu_vulnerabilities", "")])
def cpu_vulnerabilities(snap, vm, policy):
    expected = "no /sys/devices/system/cpu/vulnerabilities/* value starting with 'Vulnerable'"
    art, end = _cmd(snap, "cpu_vulnerabilities", "CPU vulnerability status", absent_ok=True)
    if end:
        return end
    values = vulnerabilities(art.stdout)
    if not values:
        return v.failed(expected, "no vulnerability status", [v.Evidence.of(art, art.stderr.strip())],
                        reason="the kernel reports no CPU vulnerability status (sysfs entry added in "
                               "Linux 4.15): it predates the speculative-execution mitigations")
    bad = {k: val for k, val in values.items() if val.startswith("Vulnerable")}
    shown = bad or values
    evidence = [v.Evidence.of(art, "\n".join(f"{k}: {val}" for k, val in sorted(shown.items())))]
    return _verdict(expected, [f"{k}: {val}" for k, val in sorted(bad.items())],
                    f"{len(values)} entries, none 'Vulnerable'", evidence)


NESTED = ("/sys/module/kvm_intel/parameters/nested", "/sys/module/kvm_amd/parameters/nested")
NESTED_FEATURES = ("/domain/cpu/feature[@name='vmx' or @name='svm']"
                   "[not(@policy) or @policy='require' or @policy='force']")


@bespoke("ISO-007", needs=[("cat", p) for p in NESTED])
def nested_virtualization(snap, vm, policy):
    expected = "kvm_intel/kvm_amd parameter nested N/0 (or module not loaded); the VM requires no vmx/svm"
    problems, evidence, shown = [], [], []
    for path in NESTED:
        text, art, end = _optional_file(snap, path)
        if end:
            return end
        if text is not None:
            value = text.strip()
            shown.append(f"{path}: {value}")
            evidence.append(v.Evidence.of(art, f"{path}: {value}"))
            if value in ("Y", "1"):
                problems.append(f"nested virtualization enabled on the host ({path} = {value})")
    root, dart, end = _domain(snap, vm)
    if end:
        return end
    features = root.xpath(NESTED_FEATURES)
    if features:
        problems.append("the VM requires " + ", ".join(f.get("name") for f in features))
        evidence.append(v.Evidence.of(dart, _excerpt(features)))
    return _verdict(expected, problems, "; ".join(shown) or "kvm_intel/kvm_amd not loaded: no nesting",
                    evidence, f"domain {vm}: ")


MITIGATION_FEATURES = ("spec-ctrl", "ssbd", "virt-ssbd", "md-clear", "stibp", "arch-capabilities", "ibpb")
HOST_CPU_MODES = ("host-model", "host-passthrough", "maximum")


@bespoke("ISO-008")
def guest_cpu_mitigations(snap, vm, policy):
    expected = ("cpu mode host-model/host-passthrough/maximum, or a named model requiring mitigation "
                f"features ({', '.join(MITIGATION_FEATURES)}); none of them disabled")
    root, art, end = _domain(snap, vm, live=True)
    if end:
        return end
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


# ---- IOMMU and device assignment ------------------------------------------------------

IOMMU_OFF = ("intel_iommu=off", "amd_iommu=off", "iommu=off")


def _iommu_groups(snap):
    """({BDF: group}, artifact, end verdict) from `find /sys/kernel/iommu_groups/ ...`."""
    art, end = _cmd(snap, "iommu_group_devices", "IOMMU group listing", absent_ok=True)
    if end:
        return None, None, end
    groups = {}
    for line in art.stdout.splitlines() if art.ok else []:
        parts = line.strip().split("/")
        if len(parts) == 3 and parts[1] == "devices":
            groups[parts[2]] = parts[0]
    return groups, art, None


def _assigning_domains(snap) -> list[str]:
    return [name for name, root in _all_domains(snap) if root.xpath(ASSIGNED)]


@bespoke("ISO-009", needs=[("iommu_units", ""), ("iommu_group_devices", ""), ("cat", CMDLINE)])
def iommu_enabled(snap, vm, policy):
    expected = "IOMMU units in /sys/class/iommu, IOMMU groups > 0, no intel_iommu/amd_iommu/iommu=off"
    cmdline, cart = snap.file(CMDLINE), None
    if cmdline is None:
        return v.error(f"{CMDLINE} was not collected")
    if not cmdline.ok:
        return reading.failure(cmdline, CMDLINE)
    params = kernel_cmdline.tokens(cmdline.stdout)
    off = [p for want in IOMMU_OFF for p in kernel_cmdline.matching(want, params)]
    units, end = _cmd(snap, "iommu_units", "IOMMU unit listing", absent_ok=True)
    if end:
        return end
    groups, gart, end = _iommu_groups(snap)
    if end:
        return end
    unit_names = units.stdout.split() if units.ok else []
    count = len(set(groups.values()))
    evidence = [v.Evidence.of(units, "/sys/class/iommu: " + (", ".join(unit_names) or "empty or absent")),
                v.Evidence.of(gart, f"/sys/kernel/iommu_groups: {count} groups")]
    problems = []
    if off:
        problems.append("disabled on the kernel command line: " + " ".join(off))
        evidence.append(v.Evidence.of(cmdline, " ".join(off)))
    if not unit_names or not count:
        users = _assigning_domains(snap)
        problems.append(f"no active IOMMU ({len(unit_names)} units, {count} groups)"
                        + (f"; VMs with assigned devices: {', '.join(users)}" if users else ""))
    return _verdict(expected, problems, f"{len(unit_names)} units ({', '.join(unit_names)}), {count} groups",
                    evidence)


UNSAFE_PARAMS = ("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                 "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")
UNSAFE_SWITCHES = ("vfio_iommu_type1.allow_unsafe_interrupts", "vfio.enable_unsafe_noiommu_mode")
NO_REMAPPING = ("intremap=off", "intremap=nosid", "nointremap")
TRUE = ("1", "y", "Y", "on")


def _unsafe_param(param: str) -> bool:
    """A boot parameter that lets VFIO assign devices without interrupt isolation."""
    name, eq, value = param.partition("=")
    name = name.replace("-", "_")
    return param in NO_REMAPPING or (name in UNSAFE_SWITCHES and (not eq or value in TRUE))
INTERRUPTS = "/proc/interrupts"


@bespoke("ISO-010", needs=[*(("cat", p) for p in UNSAFE_PARAMS), ("cat", CMDLINE), ("cat", INTERRUPTS),
                           ("iommu_units", "")])
def interrupt_remapping(snap, vm, policy):
    expected = ("allow_unsafe_interrupts and enable_unsafe_noiommu_mode N (or not loaded), no intremap=off/"
                "nosid, and interrupt remapping on (IR- chips in /proc/interrupts) where an IOMMU is active")
    problems, evidence = [], []
    for path in UNSAFE_PARAMS:
        text, art, end = _optional_file(snap, path)
        if end:
            return end
        if text is not None and text.strip() in TRUE:
            problems.append(f"{path} = {text.strip()}")
            evidence.append(v.Evidence.of(art, f"{path}: {text.strip()}"))
    cmdline = snap.file(CMDLINE)
    if cmdline is None or not cmdline.ok:
        return v.error(f"{CMDLINE} was not collected") if cmdline is None else reading.failure(cmdline, CMDLINE)
    unsafe = [p for p in kernel_cmdline.tokens(cmdline.stdout) if _unsafe_param(p)]
    if unsafe:
        problems.append("kernel command line: " + " ".join(unsafe))
        evidence.append(v.Evidence.of(cmdline, " ".join(unsafe)))
    irq = snap.file(INTERRUPTS)
    if irq is None or not irq.ok:
        return v.error(f"{INTERRUPTS} was not collected") if irq is None else reading.failure(irq, INTERRUPTS)
    remapped = sorted({w for w in irq.stdout.split() if w.startswith("IR-")})
    units, end = _cmd(snap, "iommu_units", "IOMMU unit listing", absent_ok=True)
    if end:
        return end
    has_iommu = bool(units.ok and units.stdout.split())
    evidence.append(v.Evidence.of(irq, "remapped interrupt chips: " + (", ".join(remapped) or "none")))
    if has_iommu and not remapped:
        problems.append("an IOMMU is active but no interrupt is remapped (no IR- chip in /proc/interrupts)")
    state = ("interrupt remapping on (" + ", ".join(remapped) + ")" if remapped else
             "no IOMMU: VFIO cannot assign a device at all (ISO-009)")
    return _verdict(expected, problems, f"unsafe interrupts not allowed; {state}", evidence)


def _device_id(el, pci: dict) -> str | None:
    """'vendor:device' of an assigned device, or None (mdev, SCSI: no id to compare)."""
    if el.tag == "interface" or el.get("type") == "pci":
        address = el.find("source/address")
        ids = pci.get(bdf(address) if address is not None else "", {})
        return f"{ids['vendor']}:{ids['device']}" if "vendor" in ids and "device" in ids else "unknown"
    if el.get("type") == "usb":
        vendor, product = el.find("source/vendor"), el.find("source/product")
        if vendor is not None and product is not None:
            return "{:04x}:{:04x}".format(int(vendor.get("id", "0"), 0), int(product.get("id", "0"), 0))
        return "unknown"
    return None


def _describe(el) -> str:
    address = el.find("source/address")
    where = bdf(address) if address is not None and el.get("type") != "usb" else None
    return f"{el.tag} type={el.get('type', '?')}" + (f" {where}" if where else "")


@bespoke("ISO-011", needs=[("pci_ids", "")])
def passthrough_allowlisted(snap, vm, policy):
    allowed_vms, allowed_ids = policy["passthrough_allowed_vms"], policy["passthrough_allowed_devices"]
    expected = (f"hostdevs only on VMs in policy passthrough_allowed_vms [{', '.join(allowed_vms)}], "
                f"devices in passthrough_allowed_devices [{', '.join(allowed_ids)}]")
    root, art, end = _domain(snap, vm)
    if end:
        return end
    assigned = root.xpath(ASSIGNED)
    if not assigned:
        return v.passed(expected, "no assigned device", [v.Evidence.of(art, "hostdev: no match")])
    pci, _, end = _pci_table(snap)
    if end:
        return end
    evidence = [v.Evidence.of(art, _excerpt(assigned))]
    listed = []
    for el in assigned:
        ident = _device_id(el, pci)
        listed.append(f"{_describe(el)}" + (f" [{ident}]" if ident else ""))
    problems = []
    if vm not in allowed_vms:
        problems.append(f"not an approved passthrough VM, carries {', '.join(listed)}")
    else:
        problems += [f"{item} not in passthrough_allowed_devices" for el, item in zip(assigned, listed)
                     if (ident := _device_id(el, pci)) is not None and ident not in allowed_ids]
    return _verdict(expected, problems, "approved: " + ", ".join(listed), evidence, f"domain {vm}: ")


BRIDGE_CLASS = "0604"    # PCI-to-PCI bridges and root ports: vfio accepts them in a group
VFIO = "vfio-pci"


def _drivers(snap):
    art, end = _cmd(snap, "pci_drivers", "PCI driver bindings", absent_ok=True)
    if end:
        return None, None, end
    bound = {}
    for line in art.stdout.splitlines() if art.ok else []:
        driver, _, dev = line.strip().partition("/")
        if dev:
            bound[dev] = driver
    return bound, art, None


@bespoke("ISO-012", needs=[("iommu_group_devices", ""), ("pci_drivers", ""), ("pci_ids", "")])
def assigned_devices_isolated(snap, vm, policy):
    expected = ("each assigned PCI device in an IOMMU group whose other endpoints are assigned to the "
                "same VM (bridges excepted), all bound to vfio-pci (or unbound)")
    root, art, end = _domain(snap, vm)
    if end:
        return end
    devices = pci_assigned(root)
    if not devices:
        return v.passed(expected, "no assigned PCI device", [v.Evidence.of(art, "PCI hostdev: no match")])
    groups, gart, end = _iommu_groups(snap)
    if end:
        return end
    drivers, dart, end = _drivers(snap)
    if end:
        return end
    pci, _, end = _pci_table(snap)
    if end:
        return end
    owner = {dev: name for name, r in _all_domains(snap) for dev, _ in pci_assigned(r)}
    dom = snap.domain(vm)
    # libvirt binds a managed device to vfio-pci only while the VM runs
    must_be_bound = {dev: (dom is not None and dom.running) or el.get("managed") != "yes" for dev, el in devices}
    problems, shown, seen = [], [], set()
    for dev, _ in devices:
        if dev is None:
            problems.append("a PCI hostdev with an unreadable address")
            continue
        group = groups.get(dev)
        if group is None:
            problems.append(f"{dev} is in no IOMMU group (no DMA isolation)")
            continue
        if group in seen:
            continue
        seen.add(group)
        for member in sorted(m for m, g in groups.items() if g == group):
            driver = drivers.get(member)
            shown.append(f"group {group}: {member} {driver or 'unbound'}")
            if pci.get(member, {}).get("class", "").startswith(BRIDGE_CLASS):
                continue
            if owner.get(member) != vm:
                other = owner.get(member)
                problems.append(f"{member} shares IOMMU group {group} with {dev} and is "
                                + (f"assigned to {other}" if other else "not assigned to this VM"))
            elif driver not in (None, VFIO) and must_be_bound.get(member, True):
                problems.append(f"{member} (group {group}) is bound to {driver}, not {VFIO}")
    evidence = [v.Evidence.of(art, _excerpt(el for _, el in devices)),
                v.Evidence.of(gart, "\n".join(shown) or "no IOMMU group holds the assigned devices"),
                v.Evidence.of(dart, "\n".join(f"{d}: {drivers.get(d, 'unbound')}" for d, _ in devices))]
    return _verdict(expected, problems, "; ".join(shown), evidence, f"domain {vm}: ")


@bespoke("ISO-014", needs=[("pci_reset_methods", "")])
def assigned_devices_resettable(snap, vm, policy):
    expected = "each assigned PCI device managed='yes' with a reset method (reset_method non-empty)"
    root, art, end = _domain(snap, vm)
    if end:
        return end
    devices = pci_assigned(root)
    if not devices:
        return v.not_applicable(f"domain {vm} has no assigned PCI device", [v.Evidence.of(art, "PCI hostdev: no match")])
    rart, end = _cmd(snap, "pci_reset_methods", "PCI reset methods", absent_ok=True)
    if end:
        return end
    methods = {dev: attrs.get("reset_method", "") for dev, attrs in pci_attributes(rart.stdout).items()}
    problems, shown = [], []
    for dev, el in devices:
        shown.append(f"{dev}: managed={el.get('managed', 'no')}, reset_method={methods.get(dev, 'none')}")
        if el.get("managed") != "yes":
            problems.append(f"{dev} managed='{el.get('managed', 'no')}': libvirt neither resets nor rebinds "
                            "it between uses")
        if not methods.get(dev):
            problems.append(f"{dev} has no reset method (no reset_method attribute; kernels before 5.15 lack "
                            "the attribute: then look at its `reset` file)")
    evidence = [v.Evidence.of(art, _excerpt(el for _, el in devices)),
                v.Evidence.of(rart, "\n".join(shown))]
    return _verdict(expected, problems, "; ".join(shown), evidence, f"domain {vm}: ")


# ---- resource limits ------------------------------------------------------------------

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


@bespoke("ISO-018", needs=[("cat", CPUS_ONLINE)])
def cpu_limits(snap, vm, policy):
    root, art, end = _domain(snap, vm)
    if end:
        return end
    text, cart, end = _optional_file(snap, CPUS_ONLINE)
    if end:
        return end
    if text is None:
        return v.error(f"{CPUS_ONLINE} is absent: the host's CPU count is unknown")
    cpus = cpu_count(text)
    running = [(d.name, _domain(snap, d.name)[0]) for d in snap.domains if d.running]
    running = [(n, r) for n, r in running if r is not None]
    sensitive = [n for n, r in running if is_sensitive(snap, n, r, policy)]
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
    evidence = [v.Evidence.of(art, _excerpt(limits) or "/domain/cputune: no shares/quota"),
                v.Evidence.of(cart, f"{CPUS_ONLINE}: {text.strip()} ({cpus} CPUs); running vCPUs {total}")]
    return _verdict(expected, problems, f"{_excerpt(limits)}; overcommit {total}/{cpus} = {ratio:.2f}",
                    evidence, f"domain {vm}: ")


IOTUNE_LIMITS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec",
                 "read_iops_sec", "write_iops_sec")


def _disk_limited(disk, root) -> bool:
    if any(int((disk.findtext(f"iotune/{k}") or "0").strip() or 0) > 0 for k in IOTUNE_LIMITS):
        return True
    dev = disk.find("source")
    dev = dev.get("dev") if dev is not None else None
    return bool(dev) and bool(root.xpath(
        "/domain/blkiotune/device[path=$p][read_bytes_sec or write_bytes_sec or read_iops_sec or write_iops_sec]",
        p=dev))


@bespoke("ISO-019")
def io_limits(snap, vm, policy):
    scope = policy["io_limits_required_for"]
    expected = ("every disk throttled (iotune or blkiotune device limits) and every NIC with inbound and "
                f"outbound bandwidth average (policy io_limits_required_for: {scope})")
    root, art, end = _domain(snap, vm)
    if end:
        return end
    if scope == "sensitive" and not is_sensitive(snap, vm, root, policy):
        return v.passed(expected, "not a sensitive VM: no I/O limits required", [v.Evidence.of(art)])
    disks = root.xpath("/domain/devices/disk[not(@device) or @device='disk']")
    nics = root.xpath("/domain/devices/interface[not(@type='hostdev')]")
    problems = [f"disk {d.find('target').get('dev') if d.find('target') is not None else '?'} has no I/O limit"
                for d in disks if not _disk_limited(d, root)]
    problems += [f"interface {n.find('mac').get('address') if n.find('mac') is not None else n.get('type')} "
                 "has no inbound and outbound bandwidth average"
                 for n in nics if not (n.xpath("bandwidth/inbound/@average") and n.xpath("bandwidth/outbound/@average"))]
    evidence = [v.Evidence.of(art, _excerpt(disks + nics) or "no disk or interface")]
    return _verdict(expected, problems, f"{len(disks)} disks and {len(nics)} NICs limited", evidence,
                    f"domain {vm}: ")


MEMINFO = "/proc/meminfo"
UNITS_KIB = {"b": 1 / 1024, "bytes": 1 / 1024, "kb": 1000 / 1024, "k": 1, "kib": 1, "mb": 1e6 / 1024,
             "m": 1024, "mib": 1024, "gb": 1e9 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2,
             "tb": 1e12 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3}


def kib(el) -> int:
    """A libvirt memory element (<memory unit='MiB'>128</memory>) in KiB."""
    return int(int((el.text or "0").strip()) * UNITS_KIB[el.get("unit", "KiB").lower()])


@bespoke("ISO-020", needs=[("cat", MEMINFO), ("virsh_list_autostart", "")])
def memory_overcommit(snap, vm, policy):
    reserve = policy["host_memory_reserve_mib"]
    expected = f"sum of <memory> of running and autostart VMs <= MemTotal - {reserve} MiB (host reserve)"
    art, end = reading.required_file(snap, MEMINFO, expected, "host memory unknown")
    if end:
        return end
    match = re.search(r"^MemTotal:\s+(\d+) kB", art.stdout, re.M)
    if not match:
        return v.error(f"{MEMINFO} has no MemTotal line", [v.Evidence.of(art)])
    auto, end = _cmd(snap, "virsh_list_autostart", "autostart domain list")
    if end:
        return end
    counted = {d.name for d in snap.domains if d.running} | {n.strip() for n in auto.stdout.splitlines() if n.strip()}
    sizes = {}
    for name in sorted(counted):
        root, _, end = _domain(snap, name)
        if end:
            return end
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


@bespoke("ISO-021", needs=[("cat", QCONF), ("stat", HUGEPAGE_DIR), ("stat", RAM_DIR)])
def hugepage_backing(snap, vm, policy):
    expected = ("sensitive VMs hugepage-backed; the directory of file-backed guest memory "
                "(hugetlbfs libvirt/qemu, memory_backing_dir) not accessible to others")
    root, art, end = _domain(snap, vm)
    if end:
        return end
    settings, _, end = _qemu_conf(snap)
    if end:
        return end
    hugepages = root.xpath("/domain/memoryBacking/hugepages")
    problems, evidence = [], [v.Evidence.of(art, _excerpt(root.xpath("/domain/memoryBacking"))
                                            or "/domain/memoryBacking: no match")]
    sensitive = is_sensitive(snap, vm, root, policy)
    if sensitive and not hugepages:
        problems.append(f"sensitive (security level {security_level(snap, vm, root, policy)}) but not "
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
        if reading.is_absent(stat):
            continue  # libvirt creates it, with its own modes, when the VM starts
        if not stat.ok:
            return reading.failure(stat, path)
        mode = int(stat.stdout.split()[0], 8)
        evidence.append(v.Evidence.of(stat, f"{path}: {stat.stdout.strip()}"))
        if mode & 0o007:
            problems.append(f"{path} mode {mode:o} is open to others")
    state = ("hugepage-backed" if hugepages else "not hugepage-backed") + (", sensitive" if sensitive else ", not sensitive")
    return _verdict(expected, problems, state, evidence, f"domain {vm}: ")


# ---- storage isolation ----------------------------------------------------------------

FORBIDDEN_EXPORTS = ("/etc", "/root", "/home", "/boot", "/var/lib/libvirt", "/proc", "/sys", "/dev", "/run")


@bespoke("ISO-024")
def filesystem_sharing(snap, vm, policy):
    approved = policy["approved_filesystem_export_dirs"]
    expected = (f"no <filesystem>, or read-only with its source under policy approved_filesystem_export_dirs "
                f"[{', '.join(approved)}] and never /, {', '.join(FORBIDDEN_EXPORTS)}")
    root, art, end = _domain(snap, vm)
    if end:
        return end
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
    return _verdict(expected, problems, "read-only approved exports: " + ", ".join(shown),
                    [v.Evidence.of(art, _excerpt(shares))], f"domain {vm}: ")


LOCKD_SOCKET = "/run/libvirt/virtlockd-sock"
LOCK_DAEMONS = {"lockd": "virtlockd", "sanlock": "sanlock"}


@bespoke("ISO-025", needs=[("cat", QCONF), ("stat", LOCKD_SOCKET)])
def lock_manager(snap, vm, policy):
    expected = 'qemu.conf lock_manager = "lockd" or "sanlock", and its daemon running (or socket-activated)'
    settings, art, end = _qemu_conf(snap)
    if end:
        return end
    setting = settings.get("lock_manager")
    manager = setting.value if setting else None
    evidence = [v.Evidence.of(art, setting.text if setting else f"{QCONF}: lock_manager unset")]
    if manager not in LOCK_DAEMONS:
        return v.failed(expected, f"lock_manager = {manager or 'unset (nop)'}", evidence,
                        reason="no disk lock manager: two VMs can open the same writable disk")
    ps = snap.get("cmd:ps")
    if ps is None or not ps.ok:
        return v.error("the process table was not collected") if ps is None else reading.failure(ps, "ps")
    daemon = LOCK_DAEMONS[manager]
    procs = [line.strip() for line in ps.stdout.splitlines() if line.split()[3:4] == [daemon]]
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


@bespoke("ISO-026", needs=[("virsh_pool_xmls", ""), ("stat", DEFAULT_POOL_DIR), ("images_open_to_others", "")])
def pool_permissions(snap, vm, policy):
    expected = f"pool directories (and {DEFAULT_POOL_DIR}) at most 0711 root; no image file open to others"
    part, end = _cmd(snap, "virsh_pool_xmls", "storage pool definitions")
    if end:
        return end
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
    elif not reading.is_absent(stat):
        return reading.failure(stat, DEFAULT_POOL_DIR)
    found, end = _cmd(snap, "images_open_to_others", "image files open to others", absent_ok=True)
    if end:
        return end
    files = found.stdout.split("\n") if found.ok else []
    files = [f for f in files if f.strip()]
    if files:
        problems.append(f"image files open to others: {', '.join(files)}")
    evidence = [v.Evidence.of(part, "\n".join(shown) or "no directory pool"), v.Evidence.of(stat),
                v.Evidence.of(found, "\n".join(files) or "no image file open to others")]
    return _verdict(expected, problems, "; ".join(shown), evidence)


LVM_CONFS = ("/etc/lvm/lvm.conf", "/etc/lvm/lvmlocal.conf")   # lvmlocal.conf overrides


def thin_pool_zero(text: str) -> str | None:
    """The last uncommented `thin_pool_zero = N` of an LVM config, or None."""
    found = None
    for line in text.splitlines():
        m = re.match(r"\s*thin_pool_zero\s*=\s*(\d+)", line.split("#", 1)[0])
        found = m[1] if m else found
    return found


@bespoke("ISO-027", needs=[*(("cat", p) for p in LVM_CONFS), ("virsh_pool_xmls", "")])
def zeroed_allocation(snap, vm, policy):
    expected = "LVM allocation/thin_pool_zero = 1 (the default) where LVM is configured"
    value, evidence = None, []
    for path in LVM_CONFS:
        text, art, end = _optional_file(snap, path)
        if end:
            return end
        if text is not None:
            value = thin_pool_zero(text) or value
            evidence.append(v.Evidence.of(art, f"{path}: thin_pool_zero = {thin_pool_zero(text) or 'unset'}"))
    lvm = (f"thin_pool_zero = {value or 'unset (default 1)'}" if evidence
           else "no LVM configuration (no /etc/lvm/lvm.conf)")
    part, end = _cmd(snap, "virsh_pool_xmls", "storage pool definitions")
    if end:
        return end
    kinds = sorted({p.get("type", "?") for p in pools(part.stdout)})
    evidence.append(v.Evidence.of(part, "pool types: " + (", ".join(kinds) or "no pool")))
    shown = [lvm, "pools: " + (", ".join(kinds) or "none")]
    if value == "0":
        return v.failed(expected, "; ".join(shown), evidence,
                        reason="new LVM thin volumes are not zeroed: a guest can read a former tenant's blocks")
    return v.passed(expected, "; ".join(shown), evidence)


VALIDATE_LINE = re.compile(r"^\s*(\S+): (.+?)\s*: (PASS|WARN|FAIL|NOTE)\b(?: \((.*)\))?\s*$")


@bespoke("ISO-028", needs=[("virt_host_validate", "")])
def host_validates(snap, vm, policy):
    expected = "virt-host-validate qemu reports no FAIL"
    art = snap.get("cmd:virt_host_validate")
    if art is None:
        return v.error("virt-host-validate was not collected")
    checks = [m for m in map(VALIDATE_LINE.match, art.stdout.splitlines()) if m]
    if not checks:
        return reading.failure(art, "virt-host-validate qemu") if not art.ok else \
            v.error("virt-host-validate qemu printed no check", [v.Evidence.of(art)])
    fails = [m for m in checks if m[3] == "FAIL"]
    evidence = [v.Evidence.of(art, "\n".join(m[0].strip() for m in (fails or checks)))]
    return _verdict(expected, [f"{m[2]}: FAIL ({m[4] or 'no detail'})" for m in fails],
                    f"{len(checks)} checks, none FAIL", evidence)


@bespoke("ISO-030")
def removable_media(snap, vm, policy):
    approved = policy["approved_media_dirs"]
    expected = (f"CD-ROM/floppy empty, or a read-only image file under policy approved_media_dirs "
                f"[{', '.join(approved)}]")
    root, art, end = _domain(snap, vm)
    if end:
        return end
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
    return _verdict(expected, problems, "; ".join(shown) or "no removable media drive",
                    [v.Evidence.of(art, _excerpt(media) or "no cdrom/floppy")], f"domain {vm}: ")
