"""sshd_config: judged from the effective configuration `sshd -T` prints."""

from pathlib import Path

from hvconform.model import verdict as v
from hvconform.judge.kinds import sshd_config
from tests.snapshots import snap

DEBIAN = (Path(__file__).resolve().parent.parent / "data" / "debian12-sshd-T.txt").read_text()
ROOT = {"kind": "sshd_config", "expect": [{"key": "permitrootlogin", "op": "eq", "value": "no"}]}


def test_parse_joins_repeated_keys_and_keeps_line_numbers():
    values, lines = sshd_config.parse(DEBIAN)
    assert values["acceptenv"] == "LANG LC_*"
    assert values["subsystem"] == "sftp /usr/lib/openssh/sftp-server"
    assert len(lines["hostkey"]) == 3 and values["hostkey"].count("/etc/ssh/") == 3


def test_debian_default_fails_root_login_with_the_line_as_evidence():
    verdict = sshd_config.judge(ROOT, snap(sshd=DEBIAN), None)
    assert verdict.status == v.FAIL
    assert verdict.actual == "permitrootlogin = without-password"
    assert verdict.evidence[0].excerpt == "15: permitrootlogin without-password"
    assert verdict.evidence[0].source == "sshd -T"


def test_pass():
    text = DEBIAN.replace("permitrootlogin without-password", "permitrootlogin no")
    assert sshd_config.judge(ROOT, snap(sshd=text), None).status == v.PASS


def test_key_not_printed_is_unset():
    check = {"kind": "sshd_config", "expect": [{"key": "allowgroups", "op": "present"}]}
    verdict = sshd_config.judge(check, snap(sshd=DEBIAN), None)
    assert verdict.status == v.FAIL and verdict.actual == "allowgroups = unset"
    assert verdict.evidence[0].excerpt == "none of the keys is printed"


def test_sshd_not_installed_is_not_applicable():
    verdict = sshd_config.judge(ROOT, snap(sshd=(127, "", "sh: 1: sshd: not found\n")), None)
    assert verdict.status == v.NOT_APPLICABLE


def test_sshd_t_failure_is_an_error():
    # as on this machine: sshd -T refuses to run without its privilege separation directory
    failed = (255, "", "Missing privilege separation directory: /run/sshd\n")
    verdict = sshd_config.judge(ROOT, snap(sshd=failed), None)
    assert verdict.status == v.ERROR and "/run/sshd" in verdict.reason


def test_not_collected_is_an_error():
    assert sshd_config.judge(ROOT, snap(), None).status == v.ERROR


def test_keys_must_be_lower_case():
    bad = {"kind": "sshd_config", "expect": [{"key": "PermitRootLogin", "op": "eq", "value": "no"}]}
    assert "lower case" in sshd_config.validate(bad)[0]
    assert sshd_config.needs(ROOT) == [("sshd_effective", "")]
