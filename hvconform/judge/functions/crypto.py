"""Bespoke checks of the crypto domain: FIPS and crypto policy, libvirt's TLS
certificate and secrets, encryption at rest (disks, swap), Secure/Measured Boot,
vTPM, confidential guests, SASL mechanisms and OpenStack service TLS.

Formats read here: /proc/swaps (proc(5)); `lsblk -J` (util-linux lsblk(8), JSON with
nested "children"); od(1) of the SecureBoot efivar (4 attribute bytes, then the
value, as mokutil reads it); crypto-policies(7) for /etc/crypto-policies/config and
its back-ends symlinks (RHEL family); Cyrus SASL's `key: value` files (libvirt
auth.rst); PEM certificates and CRLs (RFC 5280) via the `cryptography` package.
"""

from __future__ import annotations

import configparser
import json
from datetime import datetime, timezone

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import daemons
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of
from hvconform.judge.read import guests

FIPS = "/proc/sys/crypto/fips_enabled"
CRYPTO_POLICY = "/etc/crypto-policies/config"
GNUTLS_BACKEND = "/etc/crypto-policies/back-ends/gnutls.config"
SECRET_CONF = "/etc/libvirt/secret.conf"
SWAPS = "/proc/swaps"
EFI = "/sys/firmware/efi"
TPM_VERSION = "/sys/class/tpm/tpm0/tpm_version_major"
EVENT_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements"
SASL_FILES = ("/etc/sasl2/libvirt.conf", "/etc/sasl2/qemu.conf")
NOVA = "/etc/nova/nova.conf"
METADATA_AGENT = "/etc/neutron/metadata_agent.ini"


def first_value(text: str) -> str:
    return next((line.strip() for line in text.splitlines()
                 if line.strip() and not line.strip().startswith("#")), "")


# ------------------------------------------------------------------ CRY-001, CRY-002

@control("CRY-001", needs=[("cat", FIPS), ("cat", CRYPTO_POLICY)])
@artifacts.ends
def fips_mode(snap, vm, policy):
    if not policy["fips_required"]:
        return v.not_applicable("site policy fips_required is false")
    expected = "/proc/sys/crypto/fips_enabled = 1 (RHEL family: crypto policy FIPS too)"
    art = artifacts.optional_file(snap, FIPS)
    if art is None:
        return v.failed(expected, "no /proc/sys/crypto/fips_enabled", [artifacts.absent_evidence(snap, FIPS)],
                        reason="this kernel has no FIPS mode (built without CONFIG_CRYPTO_FIPS)")
    value = art.stdout.strip()
    evidence = [v.Evidence.of(art, f"{FIPS}: {value}")]
    if value != "1":
        return v.failed(expected, f"fips_enabled = {value}", evidence, reason="the kernel is not in FIPS mode")
    if fam.family(snap) == fam.RHEL:
        cp = artifacts.optional_file(snap, CRYPTO_POLICY)
        current = first_value(cp.stdout) if cp else "absent"
        evidence.append(v.Evidence.of(cp, f"{CRYPTO_POLICY}: {current}") if cp else artifacts.absent_evidence(snap, CRYPTO_POLICY))
        if not current.startswith("FIPS"):
            return v.failed(expected, f"fips_enabled = 1, crypto policy {current}", evidence,
                            reason="kernel in FIPS mode but user space not on the FIPS crypto policy")
    return v.passed(expected, f"fips_enabled = {value}", evidence)


@control("CRY-002", needs=[("cat", CRYPTO_POLICY), ("stat", GNUTLS_BACKEND)])
@artifacts.ends
def crypto_policy(snap, vm, policy):
    allowed = policy["crypto_policies_allowed"]
    expected = (f"{CRYPTO_POLICY} in [{', '.join(allowed)}]; the GnuTLS back-end the policy's "
                "symlink (not overridden)")
    art = artifacts.optional_file(snap, CRYPTO_POLICY)
    if art is None:
        return v.failed(expected, "no crypto policy", [artifacts.absent_evidence(snap, CRYPTO_POLICY)],
                        reason="crypto-policies not installed: nothing bounds the TLS libraries")
    current = first_value(art.stdout)
    evidence = [v.Evidence.of(art, f"{CRYPTO_POLICY}: {current}")]
    problems = []
    if current not in allowed:
        problems.append(f"policy {current} is not in crypto_policies_allowed")
    st = snap.stat(GNUTLS_BACKEND)
    if st is None:
        raise artifacts.End(v.error(f"{GNUTLS_BACKEND} was not collected"))
    if artifacts.is_absent(st):
        problems.append("no GnuTLS back-end file: libvirt/QEMU TLS ignore the policy")
        evidence.append(v.Evidence.of(st, st.stderr.strip()))
    elif not st.ok:
        raise artifacts.End(artifacts.failure(st, GNUTLS_BACKEND))
    else:
        # update-crypto-policies links each back-end into /usr/share/crypto-policies/<policy>;
        # a regular file there is a local override the policy no longer reaches
        evidence.append(v.Evidence.of(st, f"{GNUTLS_BACKEND}: {st.stdout.strip()}"))
        if not st.stdout.strip().endswith("symbolic link"):
            problems.append("the GnuTLS back-end is overridden by a local file")
    actual = f"policy {current}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ CRY-004

def _tls_needs(policy):
    files = policy["libvirt_tls_files"]
    return [("cat", files["cert"]), ("cat", files["ca"]), ("cat", files["crl"]), *daemons.NEEDS]


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _key_problem(key, policy) -> tuple[str, str | None]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if isinstance(key, rsa.RSAPublicKey):
        size = key.key_size
        return f"RSA {size}", (f"RSA key of {size} bits (< {policy['rsa_min_bits']})"
                               if size < policy["rsa_min_bits"] else None)
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        return f"EC {key.curve.name}", (f"EC key of {size} bits (< {policy['ec_min_bits']})"
                                        if size < policy["ec_min_bits"] else None)
    return type(key).__name__.replace("PublicKey", ""), None


@control("CRY-004", needs=_tls_needs)
@artifacts.ends
def libvirt_server_certificate(snap, vm, policy):
    from cryptography import x509
    files = policy["libvirt_tls_files"]
    expected = (f"{files['cert']}: > {policy['cert_min_days']} days left, SAN names the host, "
                "strong key, SHA-256+ signature, issued by the CA; crl_file set, CRL current, cert not revoked")
    cert_art = artifacts.optional_file(snap, files["cert"])
    if cert_art is None:
        return v.not_applicable(f"no libvirt server certificate ({files['cert']}): TLS is not set up",
                                [artifacts.absent_evidence(snap, files["cert"])])
    # the TLS listener is the remote-access daemon's: virtproxyd on a modular host, libvirtd on a
    # monolithic one; its file names the certificate paths and crl_file
    model = daemons.model(snap)
    pconf = model.conf(daemons.PCONF)
    settings, dart = settings_of(snap, pconf)
    for key, path in (("cert_file", files["cert"]), ("ca_file", files["ca"]), ("crl_file", files["crl"])):
        if key in settings and settings[key].value != path:
            return v.error(f"{pconf}: {key} = {settings[key].value}, but hvconform read {path}: "
                           "set policy libvirt_tls_files to the configured paths")
    try:
        cert = x509.load_pem_x509_certificate(cert_art.stdout.encode())
    except ValueError as exc:
        return v.failed(expected, "not a PEM certificate", [v.Evidence.of(cert_art, str(exc))],
                        reason=f"{files['cert']}: {exc}")
    now = _utc(datetime.fromisoformat(snap.started.replace("Z", "+00:00")))
    problems = []
    days = (_utc(cert.not_valid_after_utc) - now).days
    if days < policy["cert_min_days"]:
        problems.append(f"expires in {days} days")
    key_desc, key_problem = _key_problem(cert.public_key(), policy)
    if key_problem:
        problems.append(key_problem)
    digest = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "none (EdDSA)"
    if digest in ("md5", "sha1", "sha224"):
        problems.append(f"signed with {digest}")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName) + [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    host = (snap.identity.get("hostname") or "").split(".")[0]
    if not any(n.split(".")[0] == host for n in names):
        problems.append(f"SAN [{', '.join(names)}] does not name host {host or '?'}")
    ca_art = artifacts.optional_file(snap, files["ca"])
    if ca_art is None:
        problems.append(f"no CA certificate {files['ca']}")
    else:
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_art.stdout.encode()))
        except (ValueError, TypeError, Exception) as exc:   # InvalidSignature has no message
            problems.append(f"not issued by {files['ca']} ({type(exc).__name__})")
    crl_note = "crl_file not set"
    if "crl_file" not in settings:
        problems.append(f"no crl_file in {pconf.rsplit('/', 1)[1]}: revoked clients are accepted")
    else:
        crl_art = artifacts.optional_file(snap, files["crl"])
        if crl_art is None:
            problems.append(f"crl_file {files['crl']} does not exist")
        else:
            crl = x509.load_pem_x509_crl(crl_art.stdout.encode())
            nxt = crl.next_update_utc
            crl_note = f"CRL next update {nxt.date() if nxt else 'none'}"
            if nxt is None or nxt < now:
                problems.append("CRL expired")
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                problems.append("the server certificate is revoked")
    actual = (f"{key_desc}, {digest}, {days} days left, SAN [{', '.join(names)}], {crl_note}")
    evidence = [v.Evidence.of(cert_art, f"{files['cert']}: subject {cert.subject.rfc4514_string()}; "
                              f"issuer {cert.issuer.rfc4514_string()}; not after {cert.not_valid_after_utc}"),
                v.Evidence.of(dart, f"{pconf}: crl_file = {value_of(settings, 'crl_file', 'not set')}"),
                *daemons.model_evidence(model, daemons.PCONF)]
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ CRY-008, CRY-009

CLEARTEXT_PROTOCOLS = ("http", "https", "ftp", "ftps", "tftp")


@control("CRY-008", needs=[("cat", QCONF)])
@artifacts.ends
def network_disks_protected(snap, vm, policy):
    expected = ("nbd: tls='yes' or nbd_tls = 1; iscsi/rbd: <auth> with a libvirt secret; "
                "no http/https/ftp/tftp image sources")
    qconf, qart = settings_of(snap, QCONF)
    root, art = artifacts.domain_root(snap, vm)
    disks = root.findall("devices/disk[@type='network']")
    nbd_tls = str(value_of(qconf, "nbd_tls", 0)) == "1"
    bad = []
    for d in disks:
        src = d.find("source")
        proto = src.get("protocol") if src is not None else None
        if proto == "nbd" and src.get("tls") != "yes" and not (nbd_tls and src.get("tls") != "no"):
            bad.append(f"nbd {src.get('name')} without TLS")
        elif proto in ("iscsi", "rbd") and src.find("auth/secret") is None and d.find("auth/secret") is None:
            bad.append(f"{proto} {src.get('name')} without authentication")
        elif proto in CLEARTEXT_PROTOCOLS:
            bad.append(f"{proto} image source {src.get('name')}")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(d) for d in disks) or "no network disks"),
                v.Evidence.of(qart, f"{QCONF}: nbd_tls = {value_of(qconf, 'nbd_tls', '0 (default)')}")]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: disk traffic unprotected")
    return v.passed(expected, f"{len(disks)} network disk(s), all protected", evidence)


def block_tree(snap):
    art = artifacts.output(snap, "lsblk_tree", "lsblk")
    try:
        return art, json.loads(art.stdout).get("blockdevices", [])
    except (ValueError, AttributeError) as exc:
        raise artifacts.End(v.error(f"lsblk printed malformed JSON: {exc}"))


def _paths(nodes, ancestors=()):
    """(node, [its ancestors' types]) for every node of the lsblk tree."""
    for n in nodes:
        yield n, [*ancestors, n.get("type")]
        yield from _paths(n.get("children") or [], (*ancestors, n.get("type")))


def on_crypt(tree, device: str | None = None, path: str | None = None) -> str | None:
    """The device (or the mount holding `path`) and whether dm-crypt is under it:
    returns the describing name when encrypted, else None."""
    best, best_len = None, -1
    for node, types in _paths(tree):
        if device is not None and device in (node.get("name"), node.get("kname")):
            return node.get("name") if "crypt" in types else None
        mount = node.get("mountpoint")
        if path is not None and mount and (path == mount or path.startswith(mount.rstrip("/") + "/")) \
                and len(mount) > best_len:
            best, best_len = (node, types), len(mount)
    if best is not None and "crypt" in best[1]:
        return f"{best[0].get('name')} (mounted on {best[0].get('mountpoint')})"
    return None


def mount_of(tree, path: str) -> str:
    best = max(((n.get("mountpoint"), n.get("name")) for n, _ in _paths(tree)
                if n.get("mountpoint") and (path == n["mountpoint"] or path.startswith(n["mountpoint"].rstrip("/") + "/"))),
               key=lambda m: len(m[0]), default=("?", "?"))
    return f"{best[1]} on {best[0]}"


@control("CRY-009", needs=[("lsblk_tree", "")])
@artifacts.ends
def disks_encrypted(snap, vm, policy):
    expected = "every data disk: <encryption format='luks'> with a secret, or its storage on a dm-crypt device"
    root, art = artifacts.domain_root(snap, vm)
    lart, tree = block_tree(snap)
    bad, good = [], []
    for d in root.findall("devices/disk[@device='disk']"):
        src = d.find("source")
        enc = d.find("source/encryption")
        enc = enc if enc is not None else d.find("encryption")
        where = (src.get("file") or src.get("dev") or src.get("name") or "?") if src is not None else "?"
        if enc is not None and enc.get("format") == "luks" and enc.find("secret") is not None:
            good.append(f"{where}: LUKS")
            continue
        crypt = (on_crypt(tree, device=src.get("dev")) if d.get("type") == "block" and src is not None
                 else on_crypt(tree, path=src.get("file")) if d.get("type") == "file" and src is not None else None)
        if crypt:
            good.append(f"{where}: on {crypt}")
        elif d.get("type") == "file" and src is not None and src.get("file"):
            bad.append(f"{where} (on {mount_of(tree, src.get('file'))}, no dm-crypt)")
        else:
            bad.append(f"{where} ({d.get('type')} disk, no LUKS)")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(d) for d in root.findall("devices/disk[@device='disk']"))
                              or "no disks"),
                v.Evidence.of(lart, "\n".join(good + bad) or "no disks")]
    if bad:
        return v.failed(expected, "unencrypted: " + "; ".join(bad), evidence,
                        reason=f"domain {vm}: guest data readable from the host's storage")
    return v.passed(expected, "; ".join(good) or "no data disks", evidence)


# ------------------------------------------------------------------ CRY-010

@control("CRY-010", needs=[("libvirt_secret_modes", ""), ("libvirt_secret_roots", ""), ("cat", SECRET_CONF)])
@artifacts.ends
def secrets_private(snap, vm, policy):
    expected = ("/etc/libvirt/secrets 0700 root, files 0600 root; every secret ephemeral='no' private='yes'; "
                "secret.conf encrypt_data unset or 1")
    modes = snap.get("cmd:libvirt_secret_modes")
    roots = snap.get("cmd:libvirt_secret_roots")
    if modes is None or roots is None:
        raise artifacts.End(v.error("the libvirt secrets listing was not collected"))
    lines = [line for line in modes.stdout.splitlines() if " /etc/libvirt/secrets" in line]
    if not lines:
        if "No such file or directory" in modes.stderr:
            return v.not_applicable("no /etc/libvirt/secrets: this host stores no libvirt secrets",
                                    [v.Evidence.of(modes, modes.stderr.strip())])
        raise artifacts.End(artifacts.failure(modes, "stat of /etc/libvirt/secrets"))
    if modes.rc != 0 and "secrets/*" not in modes.stderr:
        raise artifacts.End(artifacts.failure(modes, "stat of /etc/libvirt/secrets"))
    bad = []
    for line in lines:
        mode, owner, rest = line.split(" ", 2)[0], line.split(" ", 2)[1], line.split(" ", 2)[2]
        name = rest[rest.index(" /etc/libvirt/secrets") + 1:]
        limit = 0o700 if name == "/etc/libvirt/secrets" else 0o600
        if int(mode, 8) & ~limit or owner != "root":
            bad.append(f"{name}: {mode} {owner} (want {limit:o} root)")
    if roots.rc not in (0, 1) and "secrets/*.xml" not in roots.stderr:
        raise artifacts.End(artifacts.failure(roots, "grep of the secrets' XML"))
    secrets = [line for line in roots.stdout.splitlines() if "<secret" in line]
    for line in secrets:
        path, _, element = line.partition(":")
        attrs = xmlsafe.parse(element.strip().rstrip(">").rstrip("/") + "/>").attrib \
            if element.strip().startswith("<secret") else {}
        if attrs.get("private") != "yes" or attrs.get("ephemeral", "no") != "no":
            bad.append(f"{path}: private={attrs.get('private', 'no')} ephemeral={attrs.get('ephemeral', 'no')}")
    settings, sart = settings_of(snap, SECRET_CONF)
    if str(value_of(settings, "encrypt_data", 1)) == "0":
        bad.append(f"{SECRET_CONF}: encrypt_data = 0")
    evidence = [v.Evidence.of(modes, "\n".join(lines)), v.Evidence.of(roots, "\n".join(secrets) or "no secrets")]
    actual = f"{len(secrets)} secret(s); " + ("; ".join(bad) if bad else "all private, modes within limits")
    if bad:
        return v.failed(expected, actual, evidence, reason="secret values or their files readable beyond root")
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ CRY-011

@control("CRY-011", needs=[("cat", SWAPS), ("lsblk_tree", "")])
@artifacts.ends
def swap_encrypted(snap, vm, policy):
    expected = "no swap, zram only, or swap on a dm-crypt device"
    art = artifacts.optional_file(snap, SWAPS)
    if art is None:
        raise artifacts.End(v.error(f"{SWAPS} does not exist: not a Linux /proc"))
    entries = [line.split() for line in art.stdout.splitlines()[1:] if line.strip()]
    if not entries:
        return v.passed(expected, "no swap", [v.Evidence.of(art, f"{SWAPS}: no entries")])
    lart, tree = block_tree(snap)
    bad, good = [], []
    for entry in entries:
        name, kind = entry[0], entry[1] if len(entry) > 1 else "?"
        if name.startswith("/dev/zram"):
            good.append(f"{name}: zram")
            continue
        crypt = on_crypt(tree, device=name) if kind == "partition" else on_crypt(tree, path=name)
        (good if crypt else bad).append(f"{name} ({kind}){': on ' + crypt if crypt else ', not encrypted'}")
    evidence = [v.Evidence.of(art), v.Evidence.of(lart, "\n".join(good + bad))]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason="guest memory paged out lands on disk in the clear")
    return v.passed(expected, "; ".join(good), evidence)


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


# ------------------------------------------------------------------ CRY-018

def sasl_settings(text: str) -> dict[str, tuple[int, str]]:
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        key, colon, value = line.strip().partition(":")
        if colon and key and not key.startswith("#"):
            out[key.strip()] = (n, value.strip())
    return out


@control("CRY-018", needs=[("cat", p) for p in SASL_FILES])
@artifacts.ends
def sasl_mechanisms(snap, vm, policy):
    allowed = [m.lower() for m in policy["sasl_mechanisms_allowed"]]
    expected = f"mech_list in each SASL file names only [{', '.join(allowed)}]"
    bad, shown, evidence = [], [], []
    for path in SASL_FILES:
        art = artifacts.optional_file(snap, path)
        if art is None:
            continue
        settings = sasl_settings(art.stdout)
        if "mech_list" not in settings:
            bad.append(f"{path}: no mech_list (every installed mechanism is offered)")
            evidence.append(v.Evidence.of(art, f"{path}: mech_list not set"))
            continue
        n, value = settings["mech_list"]
        mechs = [m.lower() for m in value.replace(",", " ").split()]
        shown.append(f"{path}: {', '.join(mechs)}")
        evidence.append(v.Evidence.of(art, f"{path}:{n}: mech_list: {value}"))
        weak = [m for m in mechs if m not in allowed]
        if weak:
            bad.append(f"{path}: {', '.join(weak)}")
    if not evidence:
        return v.not_applicable("no SASL configuration for libvirt or QEMU (" + ", ".join(SASL_FILES) + " absent)",
                                [artifacts.absent_evidence(snap, SASL_FILES[0])])
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason="weak or unrestricted SASL mechanisms")
    return v.passed(expected, "; ".join(shown), evidence)


# ------------------------------------------------------------------ CRY-020

def ini(art) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(art.stdout)
    return parser


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "on")


@control("CRY-020", needs=[("cat", NOVA), ("cat", METADATA_AGENT)])
@artifacts.ends
def openstack_service_tls(snap, vm, policy):
    expected = ("nova: keystone www_authenticate_uri https, insecure false, glance api_servers https, "
                "api_insecure false; metadata agent: nova_metadata_protocol https, insecure false")
    art = artifacts.optional_file(snap, NOVA)
    if art is None:
        return v.not_applicable(f"{NOVA} does not exist", [artifacts.absent_evidence(snap, NOVA)])
    try:
        nova = ini(art)
    except configparser.Error as exc:
        return v.error(f"{NOVA}: not an INI file nova can read: {exc}")
    get = lambda sec, key: nova.get(sec, key, fallback=None)  # noqa: E731
    bad, shown = [], []
    uri = get("keystone_authtoken", "www_authenticate_uri")
    shown.append(f"[keystone_authtoken] www_authenticate_uri = {uri}; insecure = {get('keystone_authtoken', 'insecure')}")
    if not (uri or "").startswith("https://"):
        bad.append(f"keystone www_authenticate_uri {uri or 'not set'}")
    if _true(get("keystone_authtoken", "insecure")):
        bad.append("keystone insecure = true")
    servers = [s.strip() for s in (get("glance", "api_servers") or "").split(",") if s.strip()]
    shown.append(f"[glance] api_servers = {', '.join(servers) or 'not set (service catalog)'}; "
                 f"api_insecure = {get('glance', 'api_insecure')}")
    bad += [f"glance api_server {s}" for s in servers if not s.startswith("https://")]
    if _true(get("glance", "api_insecure")):
        bad.append("glance api_insecure = true")
    evidence = [v.Evidence.of(art, "\n".join(shown))]
    agent = artifacts.optional_file(snap, METADATA_AGENT)
    if agent is not None:
        meta = ini(agent)
        proto = meta.get("DEFAULT", "nova_metadata_protocol", fallback="http")
        insecure = meta.get("DEFAULT", "nova_metadata_insecure", fallback="false")
        evidence.append(v.Evidence.of(agent, f"nova_metadata_protocol = {proto}; nova_metadata_insecure = {insecure}"))
        if proto != "https":
            bad.append(f"metadata agent uses {proto}")
        if _true(insecure):
            bad.append("metadata agent nova_metadata_insecure = true")
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason="OpenStack service traffic not (verified) TLS")
    return v.passed(expected, "all endpoints https and verified", evidence)
