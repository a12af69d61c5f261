"""Python controls of the crypto domain, trusted boot and confidential guests: the
host's Secure Boot and Measured Boot, the guests' Secure Boot and vTPM, and memory
encryption for sensitive VMs.

  CRY-012  host_secure_boot             the host booted through UEFI with Secure Boot on
  CRY-013  measured_boot                TPM 2.0, its boot event log, an attestation agent running
  CRY-014  guest_secure_boot            UEFI Secure Boot with enrolled keys, SMM, a packaged read-only loader
  CRY-015  vtpm_encrypted               vTPM emulated, TPM 2.0, its state encrypted; swtpm not root
  CRY-016  confidential_sensitive_vms   sensitive VMs under SEV-SNP or TDX (or SEV with NODBG and NOKS)

Formats read here: od(1) of the SecureBoot efivar (4 attribute bytes, then the
value, as mokutil reads it).
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of
from hvconform.judge.read import guests

EFI = "/sys/firmware/efi"
TPM_VERSION = "/sys/class/tpm/tpm0/tpm_version_major"
EVENT_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements"


# ------------------------------------------------------------------ CRY-012, CRY-013

@control("CRY-012", needs=[("secureboot_efivar", ""), ("stat", EFI)])
@artifacts.ends
def host_secure_boot(snap, vm, policy):
    expected = "UEFI boot with the SecureBoot variable = 1"
    var = snap.get("cmd:secureboot_efivar")
    efi = snap.stat(EFI)
    if var is None or efi is None:
        raise artifacts.End(v.error("the SecureBoot variable was not collected"))
    if efi is not None and artifacts.is_absent(efi):
        return v.failed(expected, "legacy BIOS boot", [v.Evidence.of(efi, efi.stderr.strip())],
                        reason=f"no {EFI}: the host did not boot through UEFI, so no Secure Boot")
    if not var.ok:
        if "No such file or directory" in var.stderr:
            return v.failed(expected, "no SecureBoot variable", [v.Evidence.of(var, var.stderr.strip())],
                            reason="UEFI firmware without Secure Boot support")
        raise artifacts.End(artifacts.failure(var, "the SecureBoot variable"))
    data = var.stdout.split()
    state = data[4] if len(data) >= 5 else "?"
    evidence = [v.Evidence.of(var, f"SecureBoot bytes: {' '.join(data)}")]
    if state != "1":
        return v.failed(expected, f"SecureBoot = {state}", evidence, reason="Secure Boot is disabled")
    return v.passed(expected, "SecureBoot enabled", evidence)


@control("CRY-013", needs=[("cat", TPM_VERSION), ("stat", EVENT_LOG), ("ps", "")])
@artifacts.ends
def measured_boot(snap, vm, policy):
    agents = policy["attestation_agents"]
    expected = f"TPM 2.0, its boot event log readable, an attestation agent ({', '.join(agents)}) running"
    tpm = artifacts.optional_file(snap, TPM_VERSION)
    log = snap.stat(EVENT_LOG)
    if log is None:
        raise artifacts.End(v.error(f"{EVENT_LOG} was not collected"))
    if not log.ok and not artifacts.is_absent(log):
        raise artifacts.End(artifacts.failure(log, EVENT_LOG))
    found = {}
    for agent in agents:
        lines, ps = host_state.running(snap, agent)
        if lines is None:
            raise artifacts.End(v.error("the process table was not collected"))
        found.update({agent: lines} if lines else {})
    version = tpm.stdout.strip() if tpm else "none"
    problems = []
    if version != "2":
        problems.append("no TPM" if tpm is None else f"TPM {version}.x")
    if not log.ok:
        problems.append("no boot event log (securityfs)")
    if not found:
        problems.append("no attestation agent running")
    evidence = [v.Evidence.of(tpm, f"{TPM_VERSION}: {version}") if tpm else artifacts.absent_evidence(snap, TPM_VERSION),
                v.Evidence.of(log, log.stdout.strip() or log.stderr.strip()),
                v.Evidence.of(snap.get("cmd:ps"), "\n".join(sum(found.values(), [])) or "no agent process")]
    actual = f"TPM {version}; event log {'present' if log.ok else 'absent'}; agent {', '.join(found) or 'none'}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ CRY-014, CRY-015, CRY-016

@control("CRY-014")
@artifacts.ends
def guest_secure_boot(snap, vm, policy):
    dirs = policy["firmware_dirs"]
    expected = ("firmware efi with secure-boot and enrolled-keys (or loader secure='yes' with a VARS template), "
                f"smm on, loader readonly='yes' from [{', '.join(dirs)}]")
    root, art = artifacts.domain_root(snap, vm)
    os_el = root.find("os")
    loader = os_el.find("loader") if os_el is not None else None
    feats = {f.get("name"): f.get("enabled") for f in root.findall("os/firmware/feature")}
    efi = (os_el is not None and os_el.get("firmware") == "efi") or (
        loader is not None and loader.get("type") == "pflash")
    problems = []
    if not efi:
        problems.append("BIOS firmware (no UEFI)")
    else:
        secure = feats.get("secure-boot") == "yes" or (loader is not None and loader.get("secure") == "yes")
        if not secure or feats.get("secure-boot") == "no":
            problems.append("Secure Boot off")
        if feats.get("enrolled-keys") == "no" or (
                "enrolled-keys" not in feats and root.find("os/nvram[@template]") is None):
            problems.append("no enrolled keys (enrolled-keys feature or a VARS template)")
        smm = root.find("features/smm")
        if smm is None or smm.get("state") == "off":
            problems.append("SMM off")
        if loader is not None and (loader.text or "").strip():
            path = loader.text.strip()
            if loader.get("readonly") != "yes":
                problems.append("loader not read-only")
            if not any(path.startswith(d.rstrip("/") + "/") for d in dirs):
                problems.append(f"loader {path} not from firmware_dirs")
    shown = [xmlsafe.line_of(e) for e in (os_el, root.find("features/smm")) if e is not None]
    evidence = [v.Evidence.of(art, "\n".join(shown))]
    if problems:
        return v.failed(expected, "; ".join(problems), evidence, reason=f"domain {vm}: guest boot chain unverified")
    return v.passed(expected, "UEFI Secure Boot with enrolled keys, SMM, packaged read-only loader", evidence)


@control("CRY-015", needs=[("cat", QCONF)])
@artifacts.ends
def vtpm_encrypted(snap, vm, policy):
    expected = ("vTPM: model tpm-crb/tpm-tis, emulator backend 2.0 with <encryption secret=...>; "
                "no passthrough; swtpm_user/group not root")
    qconf, qart = settings_of(snap, QCONF)
    root, art = artifacts.domain_root(snap, vm)
    tpms = root.findall("devices/tpm")
    bad = []
    for t in tpms:
        b = t.find("backend")
        kind = b.get("type") if b is not None else None
        if t.get("model", "tpm-tis") not in ("tpm-crb", "tpm-tis"):
            bad.append(f"model {t.get('model')}")
        if kind != "emulator":
            bad.append(f"backend {kind} (the host's TPM given to the guest)" if kind == "passthrough"
                       else f"backend {kind}")
            continue
        if b.get("version", "2.0") != "2.0":
            bad.append(f"TPM version {b.get('version')}")
        enc = b.find("encryption")
        if enc is None or not enc.get("secret"):
            bad.append("vTPM state not encrypted")
    if tpms:
        for key in ("swtpm_user", "swtpm_group"):
            if str(value_of(qconf, key, "tss")) in ("root", "+0"):
                bad.append(f"{key} = root")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(t) for t in tpms) or "no vTPM"),
                v.Evidence.of(qart, "; ".join(f"{k} = {value_of(qconf, k, 'tss (default)')}"
                                              for k in ("swtpm_user", "swtpm_group")))]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: vTPM state or host TPM exposed")
    return v.passed(expected, f"{len(tpms)} vTPM(s), emulated and encrypted" if tpms else "no vTPM", evidence)


SEV_NODBG, SEV_NOKS = 0x1, 0x2


@control("CRY-016")
@artifacts.ends
def confidential_sensitive_vms(snap, vm, policy):
    root, art = artifacts.domain_root(snap, vm)
    if not guests.is_sensitive(snap, vm, root, policy):
        return v.not_applicable(f"domain {vm} is not sensitive (its security level is not in "
                                f"policy sensitive_security_levels {policy['sensitive_security_levels']})")
    expected = "launchSecurity sev-snp or tdx (or sev with policy bits NODBG and NOKS)"
    ls = root.find("launchSecurity")
    evidence = [v.Evidence.of(art, xmlsafe.line_of(ls) if ls is not None else "no <launchSecurity>")]
    kind = ls.get("type") if ls is not None else None
    if kind in ("sev-snp", "tdx"):
        return v.passed(expected, f"launchSecurity {kind}", evidence)
    if kind == "sev":
        text = (ls.findtext("policy") or "0").strip()
        try:
            bits = int(text, 16)
        except ValueError:
            bits = 0
        if bits & SEV_NODBG and bits & SEV_NOKS:
            return v.passed(expected, f"launchSecurity sev, policy {text}", evidence)
        return v.failed(expected, f"launchSecurity sev, policy {text}", evidence,
                        reason="SEV policy allows debugging or key sharing (bits 0/1 clear)")
    return v.failed(expected, f"launchSecurity {kind or 'none'}", evidence,
                    reason=f"sensitive domain {vm} runs with memory readable by the host")
