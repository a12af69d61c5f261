"""libvirt's key = value files: the parser (on the real Debian 12 files) and the kind."""

import re
from pathlib import Path

import pytest

from hvconform.model import verdict as v
from hvconform.judge.kinds import libvirt_conf
from hvconform.judge.read.libvirt_grammar import ConfSyntaxError, parse, shown
from tests.snapshots import snap

DATA = Path(__file__).resolve().parent.parent / "data"
QCONF = "/etc/libvirt/qemu.conf"


def uncommented(text: str) -> str:
    """The sample file with every `#key = value` setting (lists included) switched on."""
    out, in_list = [], False
    for line in text.splitlines():
        if re.match(r"#[a-z_]+ ?= ?", line) or (in_list and line.startswith("#")):
            line = line[1:]
            in_list = ("[" in line and "]" not in line) or (in_list and "]" not in line)
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", ["debian12-qemu.conf", "debian12-libvirtd.conf"])
def test_real_debian_files_set_nothing(name):
    assert parse((DATA / name).read_text()) == {}


def test_real_qemu_conf_with_every_sample_setting_on():
    settings = parse(uncommented((DATA / "debian12-qemu.conf").read_text()))
    assert len(settings) > 60
    assert settings["user"].value == "libvirt-qemu"
    assert settings["vnc_listen"].value == "0.0.0.0"
    assert settings["vnc_tls"].value == 1
    assert settings["max_core"].value == "unlimited"
    acl = settings["cgroup_device_acl"]
    assert acl.value[:3] == ["/dev/null", "/dev/full", "/dev/zero"] and len(acl.value) == 7
    assert acl.text.startswith('cgroup_device_acl = [ "/dev/null"')   # a multi-line list on one line
    assert settings["security_driver"].value == "selinux"   # the indented list example stays a comment


def test_real_libvirtd_conf_with_every_sample_setting_on():
    settings = parse(uncommented((DATA / "debian12-libvirtd.conf").read_text()))
    assert settings["unix_sock_ro_perms"].value == "0777"
    assert settings["listen_tcp"].value == 1
    assert settings["log_outputs"].value == "3:syslog:libvirtd"
    assert settings["keepalive_interval"].value == 5
    text = (DATA / "debian12-libvirtd.conf").read_text().splitlines()
    assert text[settings["auth_tcp"].line - 1] == '#auth_tcp = "sasl"'   # line numbers are the file's


@pytest.mark.parametrize("text, key, value", [
    ('user = "root"  # trailing comment\n', "user", "root"),
    ("user = 'root'\n", "user", "root"),
    ('a = "has # inside"\n', "a", "has # inside"),
    ("a = -1\n", "a", -1),
    ("a = +5\n", "a", 5),
    ('a = [ "x", "y", ]\n', "a", ["x", "y"]),          # trailing comma
    ('a = [\n\n  "x",\n  "y"\n]\n', "a", ["x", "y"]),   # over several lines, blank lines inside
    ("a = []\n", "a", []),
    ('a = """two\nlines"""\n', "a", "two\nlines"),
    ("a = 1; b = 2\n", "b", 2),                        # ; separates statements
    ("a = 1\r\nb = 2\r\n", "b", 2),                    # CRLF
    ("   \n# only a comment\n\na=1", "a", 1),          # no final newline
])
def test_parser_values(text, key, value):
    assert parse(text)[key].value == value


def test_first_occurrence_wins_as_in_libvirt():
    s = parse('user = "qemu"\nuser = "root"\n')["user"]
    assert (s.value, s.line, s.shadowed) == ("qemu", 1, [2])


@pytest.mark.parametrize("text, line, message", [
    ('a = "open\n', 1, "unterminated string"),
    ("\n\na = [1, 2\n", 3, "list is not closed"),
    ("a = [1 2]\n", 1, "expecting a separator in list"),
    ("a = [ # comment\n 1 ]\n", 1, "expecting a value"),       # libvirt allows no comments in lists
    ("a 1\n", 1, "expecting an assignment"),
    ("1a = 2\n", 1, "expecting a name"),
    ("a = 1 b = 2\n", 1, "expecting a separator"),
    ("a = yes\n", 1, "expecting a value"),
    ('a = """never closed\n', 1, "unterminated string"),
])
def test_parser_errors_name_the_line(text, line, message):
    with pytest.raises(ConfSyntaxError) as exc:
        parse(text)
    assert exc.value.line == line and message in str(exc.value)


def test_shown_lists_like_the_file():
    assert shown(["a", 1]) == '["a", 1]' and shown(3) == "3"


CHECK = {"kind": "libvirt_conf", "file": QCONF,
         "expect": [{"key": "user", "op": "not_in", "value": ["root", "+0"], "default": "libvirt-qemu"}]}


def test_pass_on_real_default_file_uses_the_default():
    verdict = libvirt_conf.judge(CHECK, snap(files={QCONF: (DATA / "debian12-qemu.conf").read_text()}), None)
    assert verdict.status == v.PASS
    assert verdict.actual == "user = unset (default libvirt-qemu)"
    assert verdict.evidence[0].excerpt == f"{QCONF}: user: not set (commented out or absent)"


def test_fail_cites_the_line():
    verdict = libvirt_conf.judge(CHECK, snap(files={QCONF: '# x\n\nuser = "root"\nuser = "qemu"\n'}), None)
    assert verdict.status == v.FAIL
    assert (verdict.expected, verdict.actual) == ("user not in [root, +0]", "user = root")
    assert verdict.evidence[0].excerpt.splitlines() == [
        f'{QCONF}:3: user = "root"', f"{QCONF}:4: user set again, ignored (libvirt uses the first)"]


def test_missing_file_is_not_applicable_by_default():
    verdict = libvirt_conf.judge(CHECK, snap(files={QCONF: None}), None)
    assert verdict.status == v.NOT_APPLICABLE and QCONF in verdict.reason


@pytest.mark.parametrize("missing, status", [("defaults", v.PASS), ("fail", v.FAIL)])
def test_missing_file_as_the_row_says(missing, status):
    assert libvirt_conf.judge({**CHECK, "missing": missing}, snap(files={QCONF: None}), None).status == status


def test_unparsable_file_is_an_error_naming_the_line():
    verdict = libvirt_conf.judge(CHECK, snap(files={QCONF: 'vnc_listen = "0.0.0.0\n'}), None)
    assert verdict.status == v.ERROR and f"{QCONF}:1:" in verdict.reason


def test_unreadable_file_is_an_error_not_unset():
    art = (1, "", f"cat: {QCONF}: Permission denied\n")
    verdict = libvirt_conf.judge(CHECK, snap(files={QCONF: art}), None)
    assert verdict.status == v.ERROR and "Permission denied" in verdict.reason


def test_not_collected_is_an_error():
    assert libvirt_conf.judge(CHECK, snap(), None).status == v.ERROR


def test_validate():
    assert libvirt_conf.validate(CHECK) == []
    assert "'file' must be an absolute path, $DCONF or $PCONF" in libvirt_conf.validate({**CHECK, "file": "qemu.conf"})
    assert any("missing" in e for e in libvirt_conf.validate({**CHECK, "missing": "skip"}))
    assert libvirt_conf.needs(CHECK) == [("cat", QCONF)]
