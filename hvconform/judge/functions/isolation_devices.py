"""Bespoke checks of the isolation domain, device assignment: the IOMMU, interrupt
remapping, and the PCI/USB devices a VM is given (allowlist, IOMMU group, reset).
Host-wide facts (sysfs listings) come from fixed commands in hvconform/collect/commands.py,
so a per-VM check costs no extra round trip.
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.kinds import kernel_cmdline
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control

CMDLINE = kernel_cmdline.PATH
# `grep -H . <files>` prints path:value; a PCI path holds ':' itself, a value may too
PCI_LINE = re.compile(r"/sys/bus/pci/devices/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f])/(\w+):(.*)")


def pci_attributes(text: str) -> dict[str, dict[str, str]]:
    """{BDF: {attribute: value}} from `grep -H . /sys/bus/pci/devices/*/<attribute>`."""
    out: dict[str, dict[str, str]] = {}
    for m in map(PCI_LINE.fullmatch, text.splitlines()):
        if m:
            out.setdefault(m[1], {})[m[2]] = m[3].strip()
    return out


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


def _pci_table(snap) -> dict[str, dict[str, str]]:
    """{BDF: {vendor, device, class}} from `pci_ids`."""
    art = artifacts.output(snap, "pci_ids", "PCI device ids (sysfs)", absent_ok=True)
    return {dev: {k: val.lower().removeprefix("0x") for k, val in attrs.items()}
            for dev, attrs in pci_attributes(art.stdout).items()}


IOMMU_OFF = ("intel_iommu=off", "amd_iommu=off", "iommu=off")


def _iommu_groups(snap):
    """({BDF: group}, artifact) from `find /sys/kernel/iommu_groups/ ...`."""
    art = artifacts.output(snap, "iommu_group_devices", "IOMMU group listing", absent_ok=True)
    groups = {}
    for line in art.stdout.splitlines() if art.ok else []:
        parts = line.strip().split("/")
        if len(parts) == 3 and parts[1] == "devices":
            groups[parts[2]] = parts[0]
    return groups, art


def _assigning_domains(snap) -> list[str]:
    return [name for name, root in artifacts.parsed_domains(snap) if root.xpath(ASSIGNED)]


@control("ISO-009", needs=[("iommu_units", ""), ("iommu_group_devices", ""), ("cat", CMDLINE)])
@artifacts.ends
def iommu_enabled(snap, vm, policy):
    expected = "IOMMU units in /sys/class/iommu, IOMMU groups > 0, no intel_iommu/amd_iommu/iommu=off"
    cmdline = snap.file(CMDLINE)
    if cmdline is None:
        return v.error(f"{CMDLINE} was not collected")
    if not cmdline.ok:
        return artifacts.failure(cmdline, CMDLINE)
    params = kernel_cmdline.tokens(cmdline.stdout)
    off = [p for want in IOMMU_OFF for p in kernel_cmdline.matching(want, params)]
    units = artifacts.output(snap, "iommu_units", "IOMMU unit listing", absent_ok=True)
    groups, gart = _iommu_groups(snap)
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
    return artifacts.problems_verdict(expected, problems,
                                    f"{len(unit_names)} units ({', '.join(unit_names)}), {count} groups", evidence)


UNSAFE_PARAMS = ("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                 "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")
UNSAFE_SWITCHES = ("vfio_iommu_type1.allow_unsafe_interrupts", "vfio.enable_unsafe_noiommu_mode")
NO_REMAPPING = ("intremap=off", "intremap=nosid", "nointremap")
TRUE = ("1", "y", "Y", "on")
INTERRUPTS = "/proc/interrupts"


def _unsafe_param(param: str) -> bool:
    """A boot parameter that lets VFIO assign devices without interrupt isolation."""
    name, eq, value = param.partition("=")
    name = name.replace("-", "_")
    return param in NO_REMAPPING or (name in UNSAFE_SWITCHES and (not eq or value in TRUE))


@control("ISO-010", needs=[*(("cat", p) for p in UNSAFE_PARAMS), ("cat", CMDLINE), ("cat", INTERRUPTS),
                           ("iommu_units", "")])
@artifacts.ends
def interrupt_remapping(snap, vm, policy):
    expected = ("allow_unsafe_interrupts and enable_unsafe_noiommu_mode N (or not loaded), no intremap=off/"
                "nosid, and interrupt remapping on (IR- chips in /proc/interrupts) where an IOMMU is active")
    problems, evidence = [], []
    for path in UNSAFE_PARAMS:
        art = artifacts.optional_file(snap, path)
        if art is not None and art.stdout.strip() in TRUE:
            problems.append(f"{path} = {art.stdout.strip()}")
            evidence.append(v.Evidence.of(art, f"{path}: {art.stdout.strip()}"))
    cmdline = snap.file(CMDLINE)
    if cmdline is None or not cmdline.ok:
        return v.error(f"{CMDLINE} was not collected") if cmdline is None else artifacts.failure(cmdline, CMDLINE)
    unsafe = [p for p in kernel_cmdline.tokens(cmdline.stdout) if _unsafe_param(p)]
    if unsafe:
        problems.append("kernel command line: " + " ".join(unsafe))
        evidence.append(v.Evidence.of(cmdline, " ".join(unsafe)))
    irq = snap.file(INTERRUPTS)
    if irq is None or not irq.ok:
        return v.error(f"{INTERRUPTS} was not collected") if irq is None else artifacts.failure(irq, INTERRUPTS)
    remapped = sorted({w for w in irq.stdout.split() if w.startswith("IR-")})
    units = artifacts.output(snap, "iommu_units", "IOMMU unit listing", absent_ok=True)
    has_iommu = bool(units.ok and units.stdout.split())
    evidence.append(v.Evidence.of(irq, "remapped interrupt chips: " + (", ".join(remapped) or "none")))
    if has_iommu and not remapped:
        problems.append("an IOMMU is active but no interrupt is remapped (no IR- chip in /proc/interrupts)")
    state = ("interrupt remapping on (" + ", ".join(remapped) + ")" if remapped else
             "no IOMMU: VFIO cannot assign a device at all (ISO-009)")
    return artifacts.problems_verdict(expected, problems, f"unsafe interrupts not allowed; {state}", evidence)


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


@control("ISO-011", needs=[("pci_ids", "")])
@artifacts.ends
def passthrough_allowlisted(snap, vm, policy):
    allowed_vms, allowed_ids = policy["passthrough_allowed_vms"], policy["passthrough_allowed_devices"]
    expected = (f"hostdevs only on VMs in policy passthrough_allowed_vms [{', '.join(allowed_vms)}], "
                f"devices in passthrough_allowed_devices [{', '.join(allowed_ids)}]")
    root, art = artifacts.domain_root(snap, vm)
    assigned = root.xpath(ASSIGNED)
    if not assigned:
        return v.passed(expected, "no assigned device", [v.Evidence.of(art, "hostdev: no match")])
    pci = _pci_table(snap)
    evidence = [v.Evidence.of(art, xmlsafe.render_all(assigned))]
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
    return artifacts.problems_verdict(expected, problems, "approved: " + ", ".join(listed), evidence, f"domain {vm}: ")


BRIDGE_CLASS = "0604"    # PCI-to-PCI bridges and root ports: vfio accepts them in a group
VFIO = "vfio-pci"


def _drivers(snap):
    """({BDF: driver}, artifact) from the sysfs driver bindings listing."""
    art = artifacts.output(snap, "pci_drivers", "PCI driver bindings", absent_ok=True)
    bound = {}
    for line in art.stdout.splitlines() if art.ok else []:
        driver, _, dev = line.strip().partition("/")
        if dev:
            bound[dev] = driver
    return bound, art


@control("ISO-012", needs=[("iommu_group_devices", ""), ("pci_drivers", ""), ("pci_ids", "")])
@artifacts.ends
def assigned_devices_isolated(snap, vm, policy):
    expected = ("each assigned PCI device in an IOMMU group whose other endpoints are assigned to the "
                "same VM (bridges excepted), all bound to vfio-pci (or unbound)")
    root, art = artifacts.domain_root(snap, vm)
    devices = pci_assigned(root)
    if not devices:
        return v.passed(expected, "no assigned PCI device", [v.Evidence.of(art, "PCI hostdev: no match")])
    groups, gart = _iommu_groups(snap)
    drivers, dart = _drivers(snap)
    pci = _pci_table(snap)
    owner = {dev: name for name, r in artifacts.parsed_domains(snap) for dev, _ in pci_assigned(r)}
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
    evidence = [v.Evidence.of(art, xmlsafe.render_all(el for _, el in devices)),
                v.Evidence.of(gart, "\n".join(shown) or "no IOMMU group holds the assigned devices"),
                v.Evidence.of(dart, "\n".join(f"{d}: {drivers.get(d, 'unbound')}" for d, _ in devices))]
    return artifacts.problems_verdict(expected, problems, "; ".join(shown), evidence, f"domain {vm}: ")


@control("ISO-014", needs=[("pci_reset_methods", "")])
@artifacts.ends
def assigned_devices_resettable(snap, vm, policy):
    expected = "each assigned PCI device managed='yes' with a reset method (reset_method non-empty)"
    root, art = artifacts.domain_root(snap, vm)
    devices = pci_assigned(root)
    if not devices:
        return v.not_applicable(f"domain {vm} has no assigned PCI device", [v.Evidence.of(art, "PCI hostdev: no match")])
    rart = artifacts.output(snap, "pci_reset_methods", "PCI reset methods", absent_ok=True)
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
    evidence = [v.Evidence.of(art, xmlsafe.render_all(el for _, el in devices)),
                v.Evidence.of(rart, "\n".join(shown))]
    return artifacts.problems_verdict(expected, problems, "; ".join(shown), evidence, f"domain {vm}: ")
