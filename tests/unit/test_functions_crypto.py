"""Crypto control functions (CRY-*): the edge cases the pass/fail cases in tests/cases/crypto.py
do not reach, RHEL hosts included (formats: see that module's docstring)."""

from datetime import datetime, timezone

from hvconform.model import verdict as v
from hvconform.judge.kinds import function as function_kind
from tests.cases.crypto import (CA, CERT, CP, CRL, CRL_SET, DEBIAN, FIPS, GNUTLS, LSBLK_PLAIN, RHEL,
                                SWAPS_HEAD, tls_files, tls_host)
from tests.snapshots import domain, snap
from tests.unit.test_read_daemons import RHEL_ACTIVE_TLS, VIRTPROXYD, VIRTQEMUD, rhel

DCONF = "/etc/libvirt/libvirtd.conf"
LSBLK_CRYPT = ('{"blockdevices": [{"name": "/dev/vda", "kname": "/dev/vda", "type": "disk", "mountpoint": null,'
               ' "children": [{"name": "/dev/vda2", "kname": "/dev/vda2", "type": "part", "mountpoint": null,'
               ' "children": [{"name": "/dev/mapper/luks-1", "kname": "/dev/dm-0", "type": "crypt",'
               ' "mountpoint": "/var/lib/libvirt"}]}]}]}')


def judge(function, s, vm=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm)


def test_rhel_fips_kernel_with_a_non_fips_crypto_policy_fails():
    verdict = judge("fips_mode", snap(files={FIPS: "1\n", CP: "DEFAULT\n", **RHEL}))
    assert verdict.status == v.FAIL and "crypto policy" in verdict.reason
    assert judge("fips_mode", snap(files={FIPS: "1\n", CP: "FIPS\n", **RHEL})).status == v.PASS


def test_a_kernel_without_fips_support_fails_with_that_reason():
    verdict = judge("fips_mode", snap(files={FIPS: None, CP: None, **DEBIAN}))
    assert verdict.status == v.FAIL and "CONFIG_CRYPTO_FIPS" in verdict.reason


def test_rhel_gnutls_backend_replaced_by_a_file_is_an_override():
    s = snap(files={CP: "FIPS\n", **RHEL}, stats={GNUTLS: "644 root root regular file"})
    assert "overridden" in judge("crypto_policy", s).reason
    s = snap(files={CP: "DEFAULT:SHA1\n", **RHEL}, stats={GNUTLS: "777 root root symbolic link"})
    assert judge("crypto_policy", s).status == v.FAIL


def test_certificate_checks_name_each_problem():
    files = tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc), san="otherhost")
    verdict = judge("libvirt_server_certificate", snap(**tls_host(files, "")))
    assert verdict.status == v.FAIL
    assert "does not name host h1" in verdict.reason and "no crl_file" in verdict.reason
    other_ca = tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc))[CA]
    files = {**tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc)), CA: other_ca}
    verdict = judge("libvirt_server_certificate", snap(**tls_host(files, CRL_SET)))
    assert "not issued by" in verdict.reason


def test_certificate_paths_configured_elsewhere_are_an_error_naming_the_policy():
    files = tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc))
    s = snap(**tls_host(files, 'cert_file = "/srv/pki/server.pem"\n'))
    verdict = judge("libvirt_server_certificate", s)
    assert verdict.status == v.ERROR and "libvirt_tls_files" in verdict.reason
    assert CRL in files and CERT in files


def test_modular_rhel_host_reads_the_tls_settings_of_virtproxyd():
    # virtproxyd-tls.socket active: the TLS listener and its crl_file are virtproxyd's;
    # a crl_file left in libvirtd.conf (not running) revokes nothing
    files = tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc))

    def host(libvirtd: str, virtproxyd: str):
        return rhel(active=RHEL_ACTIVE_TLS, identity={"hostname": "h1"},
                    files={**files, DCONF: libvirtd, VIRTQEMUD: "", VIRTPROXYD: virtproxyd})

    verdict = judge("libvirt_server_certificate", host("", CRL_SET))
    assert verdict.status == v.PASS, verdict.reason
    assert verdict.evidence[1].source == f"cat -- {VIRTPROXYD}"
    assert "$PCONF = /etc/libvirt/virtproxyd.conf: modular" in verdict.evidence[2].excerpt
    verdict = judge("libvirt_server_certificate", host(CRL_SET, ""))
    assert verdict.status == v.FAIL and "no crl_file in virtproxyd.conf" in verdict.reason


def test_certificate_with_the_daemon_model_undecided_is_an_error():
    files = tls_files(datetime(2030, 1, 1, tzinfo=timezone.utc))
    verdict = judge("libvirt_server_certificate", snap(files={**files, DCONF: CRL_SET}, identity={"hostname": "h1"}))
    assert verdict.status == v.ERROR and "libvirt sockets" in verdict.reason


def test_file_disk_on_a_crypt_filesystem_passes():
    disk = ("<disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'/>"
            "<target dev='vda'/></disk>")
    s = snap(domains={"vm1": domain(disk)}, cmds={"lsblk_tree": LSBLK_CRYPT})
    verdict = judge("disks_encrypted", s, "vm1")
    assert verdict.status == v.PASS and "/dev/mapper/luks-1" in verdict.actual


def test_swap_on_a_crypt_device_by_kernel_name_passes_and_zram_passes():
    swaps = SWAPS_HEAD + "/dev/dm-0\tpartition\t1048572\t0\t-2\n/dev/zram0\tpartition\t1\t0\t100\n"
    assert judge("swap_encrypted", snap(files={"/proc/swaps": swaps}, cmds={"lsblk_tree": LSBLK_CRYPT})).status == v.PASS
    plain = SWAPS_HEAD + "/dev/vda1\tpartition\t1048572\t0\t-2\n"
    assert judge("swap_encrypted", snap(files={"/proc/swaps": plain}, cmds={"lsblk_tree": LSBLK_PLAIN})).status == v.FAIL


def test_bios_boot_and_missing_variable_fail_with_their_reasons():
    missing = (1, "", "od: /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0f2de73c6b0: "
                      "No such file or directory\n")
    bios = snap(cmds={"secureboot_efivar": missing}, stats={"/sys/firmware/efi": None})
    assert "legacy BIOS" in judge("host_secure_boot", bios).actual
    uefi = snap(cmds={"secureboot_efivar": missing}, stats={"/sys/firmware/efi": "755 root root directory"})
    assert "without Secure Boot support" in judge("host_secure_boot", uefi).reason


def test_sev_policy_bits():
    top = ("  <metadata><vs:virt-security xmlns:vs='urn:hvconform:virt-security'>"
           "<vs:security-level>high</vs:security-level></vs:virt-security></metadata>\n"
           "  <launchSecurity type='sev'><policy>{}</policy></launchSecurity>\n")
    assert judge("confidential_sensitive_vms", snap(domains={"vm1": domain(top=top.format("0x0007"))}), "vm1").status == v.PASS
    assert judge("confidential_sensitive_vms", snap(domains={"vm1": domain(top=top.format("0x0001"))}), "vm1").status == v.FAIL


def test_manual_loader_outside_packaged_dirs_fails():
    xml = ("<domain type='kvm'><name>vm1</name><os><type machine='q35'>hvm</type>"
           "<loader readonly='no' secure='yes' type='pflash'>/tmp/OVMF.fd</loader>"
           "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'/></os>"
           "<features><smm state='on'/></features><devices/></domain>")
    verdict = judge("guest_secure_boot", snap(domains={"vm1": xml}), "vm1")
    assert "not read-only" in verdict.actual and "not from firmware_dirs" in verdict.actual


def test_sasl_without_mech_list_offers_everything():
    s = snap(files={"/etc/sasl2/libvirt.conf": "keytab: /etc/libvirt/krb5.tab\n", "/etc/sasl2/qemu.conf": None})
    assert "no mech_list" in judge("sasl_mechanisms", s).actual


def test_metadata_agent_over_http_fails():
    nova = "[keystone_authtoken]\nwww_authenticate_uri = https://k:5000\n"
    s = snap(files={"/etc/nova/nova.conf": nova,
                    "/etc/neutron/metadata_agent.ini": "[DEFAULT]\nnova_metadata_protocol = http\n"})
    assert "metadata agent uses http" in judge("openstack_service_tls", s).actual


def test_secret_files_world_readable_fail():
    s = snap(cmds={"libvirt_secret_modes": "755 root root directory /etc/libvirt/secrets\n"
                                           "644 root root regular file /etc/libvirt/secrets/a.xml\n",
                   "libvirt_secret_roots": "/etc/libvirt/secrets/a.xml:<secret ephemeral='no' private='yes'>\n"},
             files={"/etc/libvirt/secret.conf": "encrypt_data = 0\n"})
    verdict = judge("secrets_private", s)
    assert verdict.status == v.FAIL and "encrypt_data = 0" in verdict.actual and "644 root" in verdict.actual
