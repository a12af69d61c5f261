"""Python controls of the crypto domain, what crosses the network: FIPS mode and the
system crypto policy (which bound every TLS library), libvirt's TLS server
certificate, SASL mechanisms and OpenStack services' TLS.

  CRY-001  fips_mode                    kernel in FIPS mode (RHEL family: crypto policy FIPS too)
  CRY-002  crypto_policy                crypto policy allowed, the GnuTLS back-end not overridden
  CRY-004  libvirt_server_certificate   libvirt's TLS certificate current, strong, issued by the CA, not revoked
  CRY-018  sasl_mechanisms              SASL mech_list names only allowed mechanisms
  CRY-020  openstack_service_tls        nova and the metadata agent talk https, verified

Formats read here: crypto-policies(7) for /etc/crypto-policies/config and its
back-ends symlinks (RHEL family); Cyrus SASL's `key: value` files (libvirt
auth.rst); PEM certificates and CRLs (RFC 5280) via the `cryptography` package.
"""

from __future__ import annotations

import configparser
from datetime import datetime, timezone

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import daemons
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import settings_of, value_of

FIPS = "/proc/sys/crypto/fips_enabled"
CRYPTO_POLICY = "/etc/crypto-policies/config"
GNUTLS_BACKEND = "/etc/crypto-policies/back-ends/gnutls.config"
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
