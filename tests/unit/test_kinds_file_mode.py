"""file_mode: permission ceilings and owners from `stat -c '%a %U %G %F'`."""

import pytest

from hvconform.model import verdict as v
from hvconform.judge.kinds import file_mode
from tests.snapshots import snap

QCONF = "/etc/libvirt/qemu.conf"
CHECK = {"kind": "file_mode", "paths": [QCONF], "max_mode": "0600", "owner": "root"}


@pytest.mark.parametrize("line, status", [
    ("600 root root regular file", v.PASS),
    ("400 root root regular file", v.PASS),
    ("640 root root regular file", v.FAIL),
    ("600 libvirt-qemu root regular file", v.FAIL),
    ("0 root root regular empty file", v.PASS),
])
def test_ceiling_and_owner(line, status):
    assert file_mode.judge(CHECK, snap(stats={QCONF: line}), None).status == status


def test_failure_says_which_bits_and_which_owner():
    verdict = file_mode.judge(CHECK, snap(stats={QCONF: "644 nobody root regular file"}), None)
    assert verdict.reason == f"{QCONF}: mode 0644 has bits 0044 beyond 0600; {QCONF}: owner nobody not root"
    assert verdict.expected == f"{QCONF}: mode <= 0600, owner root"
    assert verdict.actual == f"{QCONF}: 644 nobody root regular file"


def test_per_path_overrides_and_owner_lists():
    check = {"kind": "file_mode", "max_mode": "0700", "owner": ["root", "libvirt-qemu"],
             "paths": ["/var/lib/libvirt/qemu/save", {"path": "/var/log", "max_mode": "0755", "owner": "root"}]}
    s = snap(stats={"/var/lib/libvirt/qemu/save": "700 libvirt-qemu libvirt-qemu directory",
                    "/var/log": "755 root root directory"})
    assert file_mode.judge(check, s, None).status == v.PASS
    assert file_mode.validate(check) == []


@pytest.mark.parametrize("missing, status", [
    ("not_applicable", v.NOT_APPLICABLE), ("fail", v.FAIL), ("pass", v.PASS)])
def test_all_missing_follows_the_row(missing, status):
    verdict = file_mode.judge({**CHECK, "missing": missing}, snap(stats={QCONF: None}), None)
    assert verdict.status == status


def test_some_missing_are_skipped():
    check = {**CHECK, "paths": [QCONF, "/etc/libvirt/secrets"]}
    verdict = file_mode.judge(check, snap(stats={QCONF: "600 root root regular file",
                                                 "/etc/libvirt/secrets": None}), None)
    assert verdict.status == v.PASS and "/etc/libvirt/secrets: absent" in verdict.actual


def test_symbolic_link_is_left_to_a_person():
    verdict = file_mode.judge(CHECK, snap(stats={QCONF: "777 root root symbolic link"}), None)
    assert verdict.status == v.MANUAL and QCONF in verdict.reason


def test_stat_failure_is_an_error():
    art = (1, "", f"stat: cannot statx '{QCONF}': Permission denied\n")
    assert file_mode.judge(CHECK, snap(stats={QCONF: art}), None).status == v.ERROR
    assert file_mode.judge(CHECK, snap(), None).status == v.ERROR


@pytest.mark.parametrize("check, message", [
    ({"paths": []}, "non-empty list"),
    ({"paths": ["relative"], "max_mode": "0600"}, "absolute path"),
    ({"paths": ["/x"]}, "'max_mode' must be an octal mode"),
    ({"paths": ["/x"], "max_mode": "0999"}, "'max_mode' must be an octal mode"),
    ({"paths": [{"path": "/x", "mode": "0600"}], "max_mode": "0600"}, "unknown keys ['mode']"),
    ({"paths": ["/x"], "max_mode": "0600", "missing": "skip"}, "'missing' must be one of"),
])
def test_validate(check, message):
    assert any(message in e for e in file_mode.validate({"kind": "file_mode", **check}))


def test_needs():
    assert file_mode.needs(CHECK) == [("stat", QCONF)]
