"""Issue 10: what an inventory points at is checked when it loads, before any host is
contacted, each problem a located one-line error (hvconform/inputs/inventory_files.py)."""

import random
import subprocess

import pytest

from hvconform.inputs.inventory import InventoryError, MAX_COMMAND_OUTPUT, load_text
from tests.unit.test_inventory import write_key, write_known_hosts

HEAD = "defaults:\n  ssh: {identity_file: id_ed25519, known_hosts: known_hosts}\nhosts:\n  a: {address: x}\n"


@pytest.fixture
def site(tmp_path):
    write_key(tmp_path / "id_ed25519")
    write_known_hosts(tmp_path / "known_hosts")
    return tmp_path


def errors(site, text=HEAD):
    with pytest.raises(InventoryError) as caught:
        load_text(text, site / "inv.yaml")
    return [e.replace(str(site), "TMP") for e in caught.value.errors]


def test_a_good_key_and_known_hosts_load(site):
    assert load_text(HEAD, site / "inv.yaml").hosts[0].ssh.identity_file == site / "id_ed25519"


def test_identity_file_readable_by_others_is_a_located_error(site):
    (site / "id_ed25519").chmod(0o644)
    assert errors(site) == ["TMP/inv.yaml:2: defaults.ssh.identity_file: TMP/id_ed25519 is open to "
                            "others (mode 0644); ssh refuses a private key that others may read: "
                            "chmod 600 TMP/id_ed25519"]
    (site / "id_ed25519").chmod(0o640)   # group-readable: ssh refuses it too
    assert "mode 0640" in errors(site)[0]


# an armour around no key, built so that no scanner takes this file for holding one
ARMOUR_ONLY = "-----{0} OPENSSH PRIVATE KEY-----\nAAAA\n-----{1} OPENSSH PRIVATE KEY-----\n".format(
    "BEGIN", "END").encode()


@pytest.mark.parametrize("content", [b"x\n", b"", ARMOUR_ONLY, random.Random(0).randbytes(300)],
                         ids=["text", "empty", "armour-only", "random-bytes"])
def test_identity_file_that_is_not_a_key_is_a_located_error(site, content):
    (site / "id_ed25519").write_bytes(content)
    found = errors(site)
    assert len(found) == 1 and found[0].startswith(
        "TMP/inv.yaml:2: defaults.ssh.identity_file: TMP/id_ed25519 is not a private key (OpenSSH or PEM)")
    assert "\n" not in found[0]


def test_a_public_key_or_an_encrypted_key_as_identity_file_is_a_located_error(site):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(site / "enc")], check=True)
    (site / "enc.pub").chmod(0o600)
    assert "is not a private key" in errors(site, HEAD.replace("id_ed25519", "enc.pub"))[0]
    assert "protected by a passphrase" in errors(site, HEAD.replace("id_ed25519", "enc"))[0]


def test_corrupt_known_hosts_is_a_located_error(site):
    good = (site / "known_hosts").read_text().splitlines()[1]
    host, kind, blob = good.split()
    lines = [good,
             f"{host} {kind} {blob[:10]}!{blob[11:]}",                # not base64
             f"{host} {kind} {blob[:-8]}",                           # base64, but the key is cut
             f"{host} ssh-rsa {blob}",                                # says rsa, holds ed25519
             "garbage",
             f"@cert-authority *.example.org {kind} {blob}",          # a marker line is fine
             f"@bogus {host} {kind} {blob}"]
    (site / "known_hosts").write_text("\n".join(lines) + "\n")
    (found,) = errors(site)
    assert found.startswith("TMP/inv.yaml:2: defaults.ssh.known_hosts: corrupt known_hosts: "
                            "TMP/known_hosts:2: the ssh-ed25519 key is not valid base64; "
                            "TMP/known_hosts:3: the key data does not hold a ssh-ed25519 key "
                            "(truncated or corrupt); TMP/known_hosts:4: the key data does not "
                            "hold a ssh-rsa key (truncated or corrupt) (and 2 more)")


def test_known_hosts_that_is_not_text_is_a_located_error(site):
    (site / "known_hosts").write_bytes(b"\xff\xfe\x00binary")
    assert errors(site) == ["TMP/inv.yaml:2: defaults.ssh.known_hosts: TMP/known_hosts is not text "
                            "(byte 0 is not UTF-8): not a known_hosts file"]


def test_a_corrupt_known_hosts_named_by_a_host_is_reported_there(site):
    (site / "other").write_text("nonsense line\n")
    text = HEAD + "  b:\n    address: y\n    ssh: {known_hosts: other}\n"
    assert errors(site, text) == ["TMP/inv.yaml:7: hosts.b.ssh.known_hosts: corrupt known_hosts: "
                                  "TMP/other:1: expected 'host[,host...] key-type base64-key'"]


def test_newline_in_a_policy_path_is_a_located_error(site):
    text = HEAD + 'policy:\n  backup_manifest: "/etc/backup\\nlist"\n  bridged_vms: [a, "b\\x1b[2J"]\n'
    assert errors(site, text) == [
        "TMP/inv.yaml:6: policy.backup_manifest: contains a control character (\\n): policy values "
        "become paths, patterns and arguments sent to hosts, one per line",
        "TMP/inv.yaml:7: policy.bridged_vms[1]: contains a control character (\\x1b): policy values "
        "become paths, patterns and arguments sent to hosts, one per line"]


def test_output_caps_are_ssh_settings_in_bytes_or_units(site):
    text = HEAD.replace("known_hosts}", "known_hosts, max_host_output: 1.5GiB}") + \
        "  b:\n    address: y\n    ssh: {max_command_output: 65536}\n"
    a, b = load_text(text, site / "inv.yaml").hosts
    assert (a.ssh.max_command_output, a.ssh.max_host_output) == (MAX_COMMAND_OUTPUT, 3 << 29)
    assert (b.ssh.max_command_output, b.ssh.max_host_output) == (65536, 3 << 29)
    bad = HEAD + "  b:\n    address: y\n    ssh: {max_command_output: 10, max_host_output: lots}\n"
    assert errors(site, bad) == [
        "TMP/inv.yaml:7: hosts.b.ssh.max_command_output: expected a size from 1 KiB to 1024 GiB: "
        "bytes, or like '16MiB', got 10",
        "TMP/inv.yaml:7: hosts.b.ssh.max_host_output: expected a size from 1 KiB to 1024 GiB: "
        "bytes, or like '64MiB', got 'lots'"]


def test_a_home_path_of_no_user_is_a_located_error(site):
    """`~name/...` of a user that does not exist raised RuntimeError out of the load
    (found by tests/unit/test_fuzz_inputs.py)."""
    text = HEAD.replace("identity_file: id_ed25519", "identity_file: '~nosuchuser/k'") + \
        "overlays: ['~nosuchuser/o.yaml']\n"
    assert errors(site, text) == [
        "TMP/inv.yaml:2: defaults.ssh.identity_file: cannot expand '~nosuchuser/k': no such user",
        "TMP/inv.yaml:5: overlays[0]: cannot expand '~nosuchuser/o.yaml': no such user"]
