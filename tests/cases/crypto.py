"""Pass/fail cases of the crypto controls not in LEGACY (tests/unit/test_catalog_cases.py).

Fixture formats: /etc/os-release (os-release(5)); crypto-policies(7) for RHEL's
/etc/crypto-policies/config and its back-end symlinks; /proc/swaps (proc(5));
`lsblk -J -p -o NAME,KNAME,TYPE,MOUNTPOINT` (lsblk(8)); od(1) of the SecureBoot efivar
(4 attribute bytes, then the value: efivarfs.rst); Cyrus SASL `key: value`; nova.conf
and metadata_agent.ini (oslo.config INI); certificates made here with `cryptography`.
"""

import json
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.cases import *  # noqa: F403
from tests.cases import DCONF, NO_SYSTEMD, PS_LIBVIRTD, QCONF, domain, qconf, snap, vm  # noqa: F401

RHEL = {"/etc/os-release": 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'}
DEBIAN = {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}
FIPS = "/proc/sys/crypto/fips_enabled"
CP = "/etc/crypto-policies/config"
GNUTLS = "/etc/crypto-policies/back-ends/gnutls.config"
CERT, CA, CRL = "/etc/pki/libvirt/servercert.pem", "/etc/pki/CA/cacert.pem", "/etc/pki/CA/cacrl.pem"
VS = "urn:hvconform:virt-security"


def _pem(obj) -> str:
    return obj.public_bytes(serialization.Encoding.PEM).decode()


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def tls_files(not_after: datetime, san: str = "h1", key=None) -> dict:
    """A CA, a server certificate it issued, and its CRL, as PEM texts by path;
    `key` is the server's private key (default: a new EC P-256 one)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), key or ec.generate_private_key(ec.SECP256R1())
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(_name("hv CA")).issuer_name(_name("hv CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(start)
          .not_valid_after(datetime(2035, 1, 1, tzinfo=timezone.utc))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(_name(san)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(start).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(start)
           .next_update(datetime(2030, 1, 1, tzinfo=timezone.utc)).sign(ca_key, hashes.SHA256()))
    return {CERT: _pem(cert), CA: _pem(ca), CRL: _pem(crl)}


GOOD_TLS = tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc))
EXPIRING_TLS = tls_files(datetime(2025, 6, 10, tzinfo=timezone.utc))   # 9 days after STARTED
CRL_SET = f'crl_file = "{CRL}"\n'


def tls_host(files: dict, conf: str) -> dict:
    """A monolithic host as in the lab (libvirtd, no systemd), so $PCONF = libvirtd.conf
    holding `conf`, and the TLS `files`; its hostname h1 is the certificate's SAN."""
    return {"files": {**files, DCONF: conf, "/etc/libvirt/virtqemud.conf": None,
                      "/etc/libvirt/virtproxyd.conf": None},
            "ps": PS_LIBVIRTD, "cmds": {"systemctl_libvirt_active": NO_SYSTEMD}, "identity": {"hostname": "h1"}}

LSBLK_PLAIN = json.dumps({"blockdevices": [{"name": "/dev/vda", "kname": "/dev/vda", "type": "disk",
                                            "mountpoint": None, "children": [
                                                {"name": "/dev/vda1", "kname": "/dev/vda1", "type": "part",
                                                 "mountpoint": "/"}]}]})
SWAPS_HEAD = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
SECRETS_DIR = "700 root root directory /etc/libvirt/secrets\n"
SECRET_FILE = "600 root root regular file /etc/libvirt/secrets/0a1b.xml\n"
SECRET_ROOT = "/etc/libvirt/secrets/0a1b.xml:<secret ephemeral='no' private='{}'>\n"


def secrets(private="yes") -> dict:
    return {"cmds": {"libvirt_secret_modes": SECRETS_DIR + SECRET_FILE,
                     "libvirt_secret_roots": SECRET_ROOT.format(private)},
            "files": {"/etc/libvirt/secret.conf": None}}


def efi_domain(firmware: str, features: str = "<features><smm state='on'/></features>") -> dict:
    xml = (f"<domain type='kvm'>\n  <name>vm1</name>\n  <memory unit='KiB'>262144</memory>\n"
           f"  <os firmware='{firmware}'>\n    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
           f"    <firmware><feature enabled='yes' name='enrolled-keys'/>"
           f"<feature enabled='yes' name='secure-boot'/></firmware>\n  </os>\n  {features}\n"
           f"  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>\n</domain>\n")
    return {"domains": {"vm1": xml}}


def sensitive(launch: str = "") -> dict:
    top = (f"  <metadata><vs:virt-security xmlns:vs='{VS}'><vs:security-level>high</vs:security-level>"
           f"</vs:virt-security></metadata>\n{launch}")
    return vm(top=top)


NBD = "<disk type='network' device='disk'><source protocol='nbd' name='vol'{}><host name='10.1.0.9' port='10809'/></source><target dev='vdb'/></disk>"
PLAIN_DISK = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/vm1.qcow2'{}</source><target dev='vda'/></disk>"
LUKS = "><encryption format='luks'><secret type='passphrase' uuid='0a1b'/></encryption>"
NOVA, AGENT = "/etc/nova/nova.conf", "/etc/neutron/metadata_agent.ini"
NOVA_TLS = ("[keystone_authtoken]\nwww_authenticate_uri = https://keystone.example:5000\ninsecure = false\n"
            "[glance]\napi_servers = https://glance.example:9292\n")
NOVA_PLAIN = "[keystone_authtoken]\nwww_authenticate_uri = http://keystone.example:5000\n[glance]\napi_insecure = true\n"

CASES: dict = {
    "CRY-001": ({"files": {FIPS: "1\n", CP: None, **DEBIAN}}, {"files": {FIPS: "0\n", CP: None, **DEBIAN}}),
    "CRY-002": ({"files": {CP: "DEFAULT\n", **RHEL}, "stats": {GNUTLS: "777 root root symbolic link"}},
                {"files": {CP: "LEGACY\n", **RHEL}, "stats": {GNUTLS: "777 root root symbolic link"}}),
    "CRY-004": (tls_host(GOOD_TLS, CRL_SET), tls_host(EXPIRING_TLS, CRL_SET)),
    "CRY-008": ({**vm(NBD.format(" tls='yes'")), **qconf("")},
                {**vm("<disk type='network' device='cdrom'><source protocol='http' name='/iso/x.iso'>"
                      "<host name='192.0.2.10' port='80'/></source><target dev='sdb'/><readonly/></disk>"),
                 **qconf("")}),
    "CRY-009": ({**vm(PLAIN_DISK.format(LUKS)), "cmds": {"lsblk_tree": LSBLK_PLAIN}},
                {**vm(PLAIN_DISK.format(">")), "cmds": {"lsblk_tree": LSBLK_PLAIN}}),
    "CRY-010": (secrets("yes"), secrets("no")),
    "CRY-011": ({"files": {"/proc/swaps": SWAPS_HEAD}, "cmds": {"lsblk_tree": LSBLK_PLAIN}},
                {"files": {"/proc/swaps": SWAPS_HEAD + "/swapfile\tfile\t1048572\t0\t-2\n"},
                 "cmds": {"lsblk_tree": LSBLK_PLAIN}}),
    "CRY-012": ({"cmds": {"secureboot_efivar": "   6   0   0   0   1\n"}, "stats": {"/sys/firmware/efi": "755 root root directory"}},
                {"cmds": {"secureboot_efivar": "   6   0   0   0   0\n"}, "stats": {"/sys/firmware/efi": "755 root root directory"}}),
    "CRY-013": ({"files": {"/sys/class/tpm/tpm0/tpm_version_major": "2\n"},
                 "stats": {"/sys/kernel/security/tpm0/binary_bios_measurements": "440 root root regular file"},
                 "ps": "    1     0 root     init            /sbin/init\n"
                       "  700     0 root     keylime_agent   /usr/bin/keylime_agent\n"},
                {"files": {"/sys/class/tpm/tpm0/tpm_version_major": None},
                 "stats": {"/sys/kernel/security/tpm0/binary_bios_measurements": None},
                 "ps": "    1     0 root     init            /sbin/init\n"}),
    "CRY-014": (efi_domain("efi"), vm()),
    "CRY-015": ({**vm("<tpm model='tpm-crb'><backend type='emulator' version='2.0'>"
                      "<encryption secret='0a1b'/></backend></tpm>"), **qconf("")},
                {**vm("<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/>"
                      "</backend></tpm>"), **qconf("")}),
    "CRY-016": (sensitive("  <launchSecurity type='sev-snp'><policy>0x00030000</policy></launchSecurity>\n"),
                sensitive()),
    "CRY-018": ({"files": {"/etc/sasl2/libvirt.conf": "mech_list: gssapi\nkeytab: /etc/libvirt/krb5.tab\n",
                           "/etc/sasl2/qemu.conf": None}},
                {"files": {"/etc/sasl2/libvirt.conf": "mech_list: digest-md5\n", "/etc/sasl2/qemu.conf": None}}),
    "CRY-020": ({"stats": {NOVA: "640 root nova regular file"}, "files": {NOVA: NOVA_TLS, AGENT: None}},
                {"stats": {NOVA: "640 root nova regular file"}, "files": {NOVA: NOVA_PLAIN, AGENT: None}}),
}

NOT_APPLICABLE: dict = {
    "CRY-001": {"files": {FIPS: None}, "policy": {"fips_required": False}},
    "CRY-002": {"files": {CP: None, **DEBIAN}},                    # Debian: no system crypto policy
    "CRY-004": {"files": {CERT: None, CA: None, CRL: None, DCONF: ""}},   # no libvirt TLS
    "CRY-010": {"cmds": {"libvirt_secret_modes": (1, "", "stat: cannot statx '/etc/libvirt/secrets': "
                                                         "No such file or directory\n"),
                         "libvirt_secret_roots": (2, "", "grep: /etc/libvirt/secrets/*.xml: No such file or directory\n")}},
    "CRY-016": vm(),                                               # not sensitive
    "CRY-018": {"files": {"/etc/sasl2/libvirt.conf": None, "/etc/sasl2/qemu.conf": None}},
    "CRY-020": {"stats": {NOVA: None}},                            # not an OpenStack compute node
}

EXTRA_CASES: dict = {
    # an RSA server key (the pair's keys are EC): 1024 bits is below rsa_min_bits
    "CRY-004": [(tls_host(tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc),
                                    key=rsa.generate_private_key(65537, 1024)), CRL_SET), "fail")],
}
