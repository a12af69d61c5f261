"""Secrets are gone before anything is stored or hashed."""

from pathlib import Path

from hvconform.collect.redact import MASK, redact, redact_artifact
from hvconform.model.snapshot import Artifact, sha256_text

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "libvirt-domains"


def test_graphics_password_in_domain_xml_from_libvirt_or_disk():
    xml = (CORPUS / "graphics-spice-timeout.xml").read_text()
    assert "sercet" in xml
    for key in ("domain:vm:inactive", "file:/etc/libvirt/qemu/vm.xml"):
        out = redact(key, xml)
        assert "sercet" not in out and f"passwd='{MASK}'" in out
        assert "passwdValidTo='2011-05-31T16:11:22'" in out  # not a secret, kept


def test_password_keys_in_libvirt_and_qemu_conf():
    conf = 'vnc_password = "s3cret"\n#spice_password = "XYZ12345"\nvnc_listen = "0.0.0.0"\n'
    out = redact("file:/etc/libvirt/qemu.conf", conf)
    assert "s3cret" not in out and "XYZ12345" not in out
    assert 'vnc_listen = "0.0.0.0"' in out


def test_private_keys_anywhere():
    armour = "-----{} OPENSSH " + "PRIVATE KEY-----"  # built, so no scanner takes it for a key
    pem = f"x\n{armour.format('BEGIN')}\nAAAAB3NzaC1\nAAAA\n{armour.format('END')}\ny"
    out = redact("file:/etc/pki/libvirt/private/serverkey.pem", pem)
    assert out == "x\n[REDACTED OPENSSH PRIVATE KEY]\ny"


def test_secret_values_on_a_qemu_command_line():
    cmdline = "qemu-system-x86_64\0-object\0secret,id=s0,data=c2VjcmV0,format=base64\0-vnc\0:0,password=on\0"
    out = redact("file:/proc/42/cmdline", cmdline)
    assert "c2VjcmV0" not in out and "format=base64" in out


def test_artifact_is_marked_and_rehashed():
    a = Artifact(key="domain:vm:live", source="virsh", rc=0, stdout="<graphics passwd='p'/>")
    redact_artifact(a)
    assert a.redacted and "'p'" not in a.stdout and a.sha256 == sha256_text(a.stdout)
