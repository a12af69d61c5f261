"""process: facts about the QEMU process of one running VM."""

import pytest

from hvconform.model import verdict as v
from hvconform.judge.kinds import process
from tests.snapshots import domain, qemu_args, snap, status

UID = {"kind": "process", "field": "Uid", "op": "ne", "value": 0}


def vm_snap(status_text=None, args=None, name="vm1"):
    return snap(domains={name: domain(name=name)},
                procs={4242: (status_text or status(), args or qemu_args(name))})


def test_uid_compares_the_real_uid():
    assert process.judge(UID, vm_snap(status(uid=107)), "vm1").status == v.PASS
    verdict = process.judge(UID, vm_snap(status(uid=0)), "vm1")
    assert verdict.status == v.FAIL and verdict.actual == "Uid = 0"
    assert verdict.evidence[0].excerpt == "pid 4242: Uid:\t0\t0\t0\t0"


def test_capabilities_and_seccomp():
    cap = {"kind": "process", "field": "CapEff", "op": "eq", "value": "0000000000000000"}
    assert process.judge(cap, vm_snap(), "vm1").status == v.PASS
    assert process.judge(cap, vm_snap(status(capeff="000001ffffffffff")), "vm1").status == v.FAIL
    sec = {"kind": "process", "field": "Seccomp", "op": "eq", "value": 2}
    assert process.judge(sec, vm_snap(status(seccomp=0)), "vm1").status == v.FAIL


def test_cmdline_failure_shows_the_fragment():
    check = {"kind": "process", "field": "cmdline", "op": "not_matches", "value": r"(^|\s)-gdb(\s|$)"}
    verdict = process.judge(check, vm_snap(args=qemu_args("vm1", "-gdb", "tcp::1234")), "vm1")
    assert verdict.status == v.FAIL and verdict.actual == "cmdline of pid 4242: contains '-gdb'"
    assert process.judge(check, vm_snap(), "vm1").actual == "cmdline of pid 4242: no match"


@pytest.mark.parametrize("name_arg, vm, found", [
    ("guest=vm1,debug-threads=on", "vm1", True),
    ("guest=vm1", "vm1", True),
    ("vm1", "vm1", True),                               # plain QEMU -name
    ("guest=vm10,debug-threads=on", "vm1", False),      # a prefix is another VM
    ("guest=a,,b,debug-threads=on", "a,b", True),       # QEMU doubles commas in values
])
def test_finding_the_vm_process(name_arg, vm, found):
    assert process.names_vm(["qemu", "-name", name_arg], vm) is found


def test_right_process_among_several():
    s = snap(domains={"vm1": domain(), "vm2": domain(name="vm2")},
             procs={10: (status(uid=0), qemu_args("vm2")), 11: (status(uid=107), qemu_args("vm1"))})
    assert process.pid_of(s, "vm1") == 11
    assert process.judge(UID, s, "vm1").status == v.PASS
    assert process.judge(UID, s, "vm2").status == v.FAIL


def test_not_running_is_not_applicable():
    s = snap(domains={"vm1": domain()})
    verdict = process.judge(UID, s, "vm1")
    assert verdict.status == v.NOT_APPLICABLE and verdict.reason == "domain vm1 not running"


def test_running_without_a_process_is_an_error():
    s = snap(domains={"vm1": domain()}, running={"vm1"})
    assert process.judge(UID, s, "vm1").status == v.ERROR


def test_validate():
    assert process.validate(UID) == []
    assert process.validate({**UID, "field": "Uid; rm"})
    assert process.validate({**UID, "op": "approx"})
    assert process.validate({"kind": "process", "field": "Uid", "op": "eq"})
    assert process.needs(UID) == []


def test_cmdline_excerpt_is_the_match_in_context():
    check = {"kind": "process", "field": "cmdline", "op": "not_matches", "value": r"(^|\s)-gdb(\s|$)"}
    args = qemu_args("vm1", *(["-device", "virtio-balloon-pci,id=balloon0"] * 10), "-gdb", "tcp::1234")
    excerpt = process.judge(check, vm_snap(args=args), "vm1").evidence[0].excerpt
    assert excerpt.startswith("pid 4242: ... ") and excerpt.endswith("-gdb tcp::1234")
    assert len(excerpt) < 200
