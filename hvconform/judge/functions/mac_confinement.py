"""Python controls of the kernel_mac domain, mandatory access control: the MAC in
force (SELinux on the RHEL family, AppArmor on the Debian family; each row gated with
`when: {family: ...}`) and the sVirt labels that keep each QEMU apart.

  KMAC-004  mac_security_model      virsh capabilities names selinux or apparmor as security model
  KMAC-001  selinux_enforcing       SELinux enforcing, now and after reboot
  KMAC-002  selinux_policy_mcs      targeted (or mls) policy with MCS; not turned off on the cmdline
  KMAC-007  svirt_image_labels      image directory and the running VM's disks labelled for sVirt
  KMAC-008  svirt_booleans_minimal  virt_* booleans off unless the site needs them
  KMAC-009  virt_domains_enforced   no virtualization domain permissive
  KMAC-003  apparmor_svirt          AppArmor on; libvirt's and the VM's profiles in enforce mode

Output formats these parsers read, and where they are documented:
  getenforce     "Enforcing" | "Permissive" | "Disabled"          getenforce(8), libselinux
  sestatus       "Loaded policy name:             targeted"       sestatus(8), policycoreutils
  getsebool -a   "virt_use_nfs --> off"                            getsebool(8), libselinux
  semanage permissive -l   a heading line, then one type per line  semanage-permissive(8)
  /etc/selinux/config      SELINUX=enforcing (first line wins)     selinux_config(5)
  stat -c %C     "system_u:object_r:virt_image_t:s0"               stat(1) coreutils
  apparmor/profiles        "libvirtd (enforce)"                    kernel securityfs, apparmorfs.c
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.kinds import kernel_cmdline
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control


CAPABILITIES = "cmd:virsh_capabilities"
CONFINING = ("selinux", "apparmor")


@control("KMAC-004", needs=[("virsh_capabilities", "")])
def mac_security_model(snap, vm, policy):
    expected = "capabilities host/secmodel/model includes selinux or apparmor"
    art = snap.get(CAPABILITIES)
    if art is None:
        return v.error("virsh capabilities was not collected")
    if not art.ok:
        return artifacts.failure(art, "virsh capabilities")
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


# -- SELinux (RHEL family) ------------------------------------------------------------
SELINUX_CONFIG = "/etc/selinux/config"


def selinux_config(text: str) -> dict[str, tuple[int, str]]:
    """KEY=value lines of /etc/selinux/config -> {KEY: (line, value)}; libselinux
    reads the first line of each key, at the start of a line."""
    out: dict[str, tuple[int, str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        key, eq, value = line.partition("=")
        if eq and re.fullmatch(r"[A-Z]+", key):
            out.setdefault(key, (n, value.strip().strip("\"'")))
    return out


@control("KMAC-001", needs=[("getenforce", ""), ("cat", SELINUX_CONFIG)])
@artifacts.ends
def selinux_enforcing(snap, vm, policy):
    expected = f"getenforce: Enforcing; {SELINUX_CONFIG}: SELINUX=enforcing"
    mode_art = artifacts.output(snap, "getenforce", "getenforce")
    conf = artifacts.required_file(snap, SELINUX_CONFIG, expected,
                                   "no SELinux configuration: nothing sets enforcing for the next boot")
    running = mode_art.stdout.strip()
    line, configured = selinux_config(conf.stdout).get("SELINUX", (None, "unset"))
    evidence = [v.Evidence.of(mode_art, f"getenforce: {running}"),
                v.Evidence.of(conf, f"{SELINUX_CONFIG}:{line}: SELINUX={configured}" if line
                              else f"{SELINUX_CONFIG}: no SELINUX= line")]
    actual = f"running {running}, configured {configured}"
    bad = [what for what, ok in (("running mode", running == "Enforcing"),
                                 ("configured mode", configured.lower() == "enforcing")) if not ok]
    if bad:
        return v.failed(expected, actual, evidence, reason=" and ".join(bad) + " not enforcing")
    return v.passed(expected, actual, evidence)


def sestatus_fields(text: str) -> dict[str, str]:
    """'Loaded policy name:   targeted' lines -> {'loaded policy name': 'targeted'}."""
    out = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            out.setdefault(key.strip().lower(), value.strip())
    return out


SELINUX_POLICIES = ("targeted", "mls")      # policies with MCS/MLS categories for sVirt
SELINUX_OFF_PARAMS = ("selinux=0", "enforcing=0")


@control("KMAC-002", needs=[("sestatus", ""), ("cat", kernel_cmdline.PATH)])
@artifacts.ends
def selinux_policy_mcs(snap, vm, policy):
    expected = ("sestatus: Loaded policy name targeted (or mls), Policy MLS status enabled; "
                "no selinux=0 / enforcing=0 on the kernel command line")
    status = artifacts.output(snap, "sestatus", "sestatus")
    cmd = snap.file(kernel_cmdline.PATH)
    if cmd is None:
        return v.error(f"{kernel_cmdline.PATH} was not collected")
    if not cmd.ok:
        return artifacts.failure(cmd, kernel_cmdline.PATH)
    fields = sestatus_fields(status.stdout)
    params = kernel_cmdline.tokens(cmd.stdout.strip())
    off = [p for want in SELINUX_OFF_PARAMS for p in kernel_cmdline.matching(want, params)]
    name, mls = fields.get("loaded policy name", "none"), fields.get("policy mls status", "unknown")
    evidence = [v.Evidence.of(status, "\n".join(f"{k}: {fields[k]}" for k in
                                                ("selinux status", "loaded policy name", "policy mls status")
                                                if k in fields) or status.stdout.strip()),
                v.Evidence.of(cmd, f"{kernel_cmdline.PATH}: {cmd.stdout.strip()}")]
    actual = f"SELinux {fields.get('selinux status', 'unknown')}, policy {name}, MLS {mls}" + (
        f"; cmdline has {' '.join(off)}" if off else "")
    bad = []
    if fields.get("selinux status") != "enabled":
        bad.append("SELinux is not enabled")
    else:
        if name not in SELINUX_POLICIES:
            bad.append(f"policy {name} is neither targeted nor mls")
        if mls != "enabled":
            bad.append("MLS/MCS is not enabled: sVirt has no categories to keep guests apart")
    if off:
        bad.append(f"the kernel command line turns SELinux off ({' '.join(off)})")
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)


def context_fields(label: str) -> tuple[str, str]:
    """'system_u:object_r:svirt_image_t:s0:c1,c2' -> ('svirt_image_t', 's0:c1,c2')."""
    parts = label.strip().split(":", 3)
    return (parts[2], parts[3]) if len(parts) == 4 else ("", "")


IMAGE_DIR = "/var/lib/libvirt/images"


@control("KMAC-007", needs=[("image_dir_context", "")])
def svirt_image_labels(snap, vm, policy):
    expected = (f"{IMAGE_DIR} virt_image_t; the running VM's imagelabel svirt_image_t with the "
                "categories of its process label; every writable, unshared disk relabelled")
    art = snap.get("cmd:image_dir_context")
    if art is None:
        return v.error("the label of the image directory was not collected")
    if not art.ok and not artifacts.is_absent(art):
        return artifacts.failure(art, f"stat {IMAGE_DIR}")
    evidence, bad = [], []
    if art.ok:
        dir_type = context_fields(art.stdout)[0]
        evidence.append(v.Evidence.of(art, f"{IMAGE_DIR}: {art.stdout.strip()}"))
        if dir_type != "virt_image_t":
            bad.append(f"{IMAGE_DIR} is {dir_type or art.stdout.strip()}, not virt_image_t")
    else:
        evidence.append(v.Evidence.of(art, f"{IMAGE_DIR}: absent (no default pool directory)"))
    if not snap.domain(vm).running:
        if bad:
            return v.failed(expected, "; ".join(bad), evidence, reason="; ".join(bad))
        return v.not_applicable(f"{vm} is not running: libvirt labels its disks when it starts", evidence)
    live = snap.domain_xml(vm, live=True)
    if live is None or not live.ok:
        return v.error(f"the live definition of {vm} was not collected")
    try:
        root = xmlsafe.parse(live.stdout)
    except xmlsafe.XMLError as exc:
        return v.error(f"domain {vm}: live XML is malformed: {exc}")
    seclabel = next(iter(root.xpath("/domain/seclabel[@model='selinux']")), None)
    if seclabel is None:
        bad.append("no SELinux label in the live definition: the VM runs unconfined")
        evidence.append(v.Evidence.of(live, "/domain/seclabel[@model='selinux']: no match"))
        actual = "; ".join(bad)
        return v.failed(expected, actual, evidence, reason=actual)
    process = seclabel.findtext("label", "").strip()
    image = seclabel.findtext("imagelabel", "").strip()
    image_type, image_level = context_fields(image)
    evidence.append(v.Evidence.of(live, xmlsafe.render(seclabel)))
    if image_type != "svirt_image_t":
        bad.append(f"imagelabel {image or 'missing'} is not svirt_image_t")
    elif image_level != context_fields(process)[1] or "c" not in image_level:
        bad.append(f"imagelabel categories {image_level} differ from the process's {context_fields(process)[1]}")
    unlabelled = [d for d in root.xpath("/domain/devices/disk[not(readonly) and not(shareable)]"
                                        "[source/seclabel[not(@model) or @model='selinux'][@relabel='no']]")]
    for disk in unlabelled:
        evidence.append(v.Evidence.of(live, xmlsafe.render(disk)))
        bad.append(f"disk {disk.xpath('string(target/@dev)')} is not relabelled (seclabel relabel='no')")
    if bad:
        actual = "; ".join(bad)
        return v.failed(expected, actual, evidence, reason=actual)
    return v.passed(expected, f"imagelabel {image} matches process {process}", evidence)


# The booleans of the requirement: each widens what every confined QEMU may do.
VIRT_BOOLEANS = ("virt_use_execmem", "virt_use_nfs", "virt_use_samba", "virt_use_fusefs", "virt_use_usb",
                 "virt_use_comm", "virt_use_xserver", "virt_use_rawip", "virt_use_sanlock",
                 "virt_sandbox_use_all_caps", "virt_transition_userdomain", "virt_rw_qemu_ga_data",
                 "virt_read_qemu_ga_data")


def sebooleans(text: str) -> dict[str, str]:
    """`getsebool -a` lines 'name --> on' (or 'on pending: off') -> {name: 'on'}."""
    out = {}
    for line in text.splitlines():
        name, arrow, state = line.partition("-->")
        if arrow and state.split():
            out[name.strip()] = state.split()[0]
    return out


@control("KMAC-008", needs=[("getsebool_all", "")])
def svirt_booleans_minimal(snap, vm, policy):
    allowed = policy["selinux_virt_booleans_on"]
    expected = "off: " + ", ".join(b for b in VIRT_BOOLEANS if b not in allowed) + (
        f" (site allows on: {', '.join(allowed)})" if allowed else "")
    art = snap.get("cmd:getsebool_all")
    if art is None:
        return v.error("getsebool -a was not collected")
    if not art.ok and "disabled" in art.stderr:
        return v.not_applicable("SELinux is disabled, so there are no booleans (KMAC-001 fails for it)",
                                [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return artifacts.failure(art, "getsebool -a")
    states = sebooleans(art.stdout)
    on = [b for b in VIRT_BOOLEANS if states.get(b) == "on" and b not in allowed]
    shown = [f"{b} --> {states[b]}" for b in VIRT_BOOLEANS if b in states]
    evidence = [v.Evidence.of(art, "\n".join(shown) or "none of the virt booleans is defined")]
    if on:
        return v.failed(expected, "on: " + ", ".join(on), evidence,
                        reason=f"{len(on)} virt boolean(s) on without a site need")
    return v.passed(expected, f"{len(shown)} virt booleans defined, none on without a site need", evidence)


# sVirt and the libvirt daemons' own domains (monolithic and modular)
VIRT_DOMAINS = ("svirt_t", "svirt_tcg_t", "virtqemud_t", "virtd_t", "virtlogd_t", "virtproxyd_t")


@control("KMAC-009", needs=[("semanage_permissive", "")])
@artifacts.ends
def virt_domains_enforced(snap, vm, policy):
    expected = "none of " + ", ".join(VIRT_DOMAINS) + " in `semanage permissive -l`"
    art = artifacts.output(snap, "semanage_permissive", "semanage permissive -l")
    permissive = [line.strip() for line in art.stdout.splitlines()
                  if re.fullmatch(r"\w+_t", line.strip())]
    found = [t for t in permissive if t in VIRT_DOMAINS]
    evidence = [v.Evidence.of(art, "permissive types: " + (", ".join(permissive) or "none"))]
    if found:
        return v.failed(expected, "permissive: " + ", ".join(found), evidence,
                        reason="SELinux only logs, and does not stop, what these domains do")
    return v.passed(expected, f"{len(permissive)} permissive type(s), none a virtualization domain",
                    evidence)


# -- AppArmor (Debian family) -----------------------------------------------------------
AA_ENABLED = "/sys/module/apparmor/parameters/enabled"
AA_PROFILES = "/sys/kernel/security/apparmor/profiles"
DAEMON_PROFILES = ("libvirtd", "/usr/sbin/libvirtd", "virtqemud", "/usr/sbin/virtqemud")


def aa_profiles(text: str) -> dict[str, str]:
    """securityfs 'name (mode)' lines -> {name: mode}."""
    out = {}
    for line in text.splitlines():
        name, sep, mode = line.strip().rpartition(" (")
        if sep and mode.endswith(")"):
            out[name] = mode[:-1]
    return out


def _vm_profile(snap, vm) -> str | None:
    """The AppArmor profile libvirt gave the running VM: its live label, else libvirt-<uuid>."""
    live = snap.domain_xml(vm, live=True)
    if live is None or not live.ok:
        return None
    root = xmlsafe.parse(live.stdout)
    label = root.xpath("string(/domain/seclabel[@model='apparmor']/label)").strip()
    return label or f"libvirt-{root.xpath('string(/domain/uuid)').strip()}"


@control("KMAC-003", needs=[("cat", AA_ENABLED), ("cat", AA_PROFILES)])
@artifacts.ends
def apparmor_svirt(snap, vm, policy):
    expected = (f"{AA_ENABLED} Y; libvirtd (or virtqemud) and virt-aa-helper profiles in enforce mode; "
                "the running VM's libvirt-<uuid> profile in enforce mode")
    enabled = snap.file(AA_ENABLED)
    if enabled is None:
        return v.error(f"{AA_ENABLED} was not collected")
    if artifacts.is_absent(enabled):
        return v.failed(expected, "AppArmor is not in this kernel", [v.Evidence.of(enabled, enabled.stderr.strip())],
                        reason=f"no {AA_ENABLED}: the kernel has no AppArmor, QEMU runs unconfined")
    if not enabled.ok:
        return artifacts.failure(enabled, AA_ENABLED)
    evidence = [v.Evidence.of(enabled, f"{AA_ENABLED}: {enabled.stdout.strip()}")]
    if enabled.stdout.strip() != "Y":
        return v.failed(expected, f"AppArmor enabled = {enabled.stdout.strip()}", evidence,
                        reason="AppArmor is built in but disabled (apparmor=0 or not in the LSM list)")
    art = artifacts.required_file(snap, AA_PROFILES, expected,
                                  "securityfs lists no AppArmor profiles (not mounted, or policy not loaded)")
    profiles = aa_profiles(art.stdout)
    wanted = {"daemon": [p for p in DAEMON_PROFILES if p in profiles],
              "virt-aa-helper": [p for p in profiles if p == "virt-aa-helper" or p.endswith("/virt-aa-helper")]}
    bad = [f"no {what} profile loaded" for what, names in wanted.items() if not names]
    bad += [f"{p} is in {profiles[p]} mode" for names in wanted.values() for p in names
            if profiles[p] != "enforce"]
    shown = [p for names in wanted.values() for p in names]
    if snap.domain(vm).running:
        try:
            own = _vm_profile(snap, vm)
        except xmlsafe.XMLError as exc:
            return v.error(f"domain {vm}: live XML is malformed: {exc}")
        if own is None:
            return v.error(f"the live definition of {vm} was not collected")
        if own not in profiles:
            bad.append(f"no profile {own} loaded for {vm}: it runs unconfined")
        else:
            shown.append(own)
            if profiles[own] != "enforce":
                bad.append(f"{own} is in {profiles[own]} mode")
    evidence.append(v.Evidence.of(art, "\n".join(f"{p} ({profiles[p]})" for p in shown)
                                  or f"{len(profiles)} profiles, none of libvirt's"))
    if bad:
        actual = "; ".join(bad)
        return v.failed(expected, actual, evidence, reason=actual)
    if not snap.domain(vm).running:
        return v.not_applicable(f"{vm} is not running: libvirt loads its profile when it starts "
                                "(the daemon and helper profiles are in enforce mode)", evidence)
    return v.passed(expected, "enforce: " + ", ".join(shown), evidence)
