"""`when:` gates and `manual:` controls, judged through engine.judge like any control."""

import dataclasses

from hvconform.inputs import catalog
from hvconform.judge import engine, when
from hvconform.model import verdict as v
from tests.cases import sysctls
from tests.snapshots import snap

RHEL = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
DEBIAN = 'ID=debian\nVERSION_ID="12"\n'
KPTR = catalog.load().by_id("KMAC-010")          # a plain sysctl row to dress up


def _with(**changes):
    return dataclasses.replace(KPTR, **changes)


def _snap(os_release, **values):
    files = {"/etc/os-release": os_release, **sysctls(values or {"kernel.kptr_restrict": 1})["files"]}
    return snap(files=files)


def test_family_gate_not_applicable_names_the_release():
    verdict = engine.judge(_with(when={"family": "rhel"}), _snap(DEBIAN))
    assert verdict.status == v.NOT_APPLICABLE and "debian 12" in verdict.reason
    assert engine.judge(_with(when={"family": "rhel"}), _snap(RHEL)).status == v.PASS
    assert engine.judge(_with(when={"family": "debian"}), _snap(RHEL)).status == v.NOT_APPLICABLE


def test_unknown_family_is_an_error_not_a_skip():
    verdict = engine.judge(_with(when={"family": "rhel"}), _snap("ID=plan9\n"))
    assert verdict.status == v.ERROR and "plan9" in verdict.reason


def test_present_gate_reads_a_stat_it_declared():
    control = _with(when={"present": "/etc/nova/nova.conf"})
    assert ("stat", "/etc/nova/nova.conf") in engine.needs([control])
    absent = snap(stats={"/etc/nova/nova.conf": None})
    assert engine.judge(control, absent).status == v.NOT_APPLICABLE
    present = snap(files=sysctls({"kernel.kptr_restrict": 1})["files"],
                   stats={"/etc/nova/nova.conf": "640 root nova regular file"})
    assert engine.judge(control, present).status == v.PASS
    assert engine.judge(control, snap(files={})).status == v.ERROR    # not collected


def test_manual_control_never_passes_but_still_fails():
    control = _with(manual="the CC evaluated configuration document")
    verdict = engine.judge(control, _snap(DEBIAN))
    assert verdict.status == v.MANUAL and "CC evaluated configuration" in verdict.reason
    assert verdict.evidence                                   # the proxy's evidence is kept
    assert engine.judge(control, _snap(DEBIAN, **{"kernel.kptr_restrict": 0})).status == v.FAIL


def test_bad_gates_are_refused():
    from hvconform.judge import when
    assert when.validate({"family": "suse"}) and when.validate({"colour": 1})
    assert when.validate({"present": "relative"}) and when.validate([])
