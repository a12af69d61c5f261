"""kernel_cmdline: forbidden and required boot parameters."""

import pytest

from hvconform.model import verdict as v
from hvconform.judge.kinds import kernel_cmdline
from tests.snapshots import snap

# this machine's own command line: init's arguments follow "--"
HERE = ("mitigations=auto,no_guest_host,no_guest_guest console=ttyS0 quiet reboot=k panic=1 "
        "rdinit=/process_api -- --firecracker-init --addr 0.0.0.0:2024 mitigations=off\n")


def judge(check, cmdline):
    return kernel_cmdline.judge({"kind": "kernel_cmdline", **check}, snap(files={"/proc/cmdline": cmdline}), None)


def test_tokens_stop_at_init_arguments_and_honour_quotes():
    assert kernel_cmdline.tokens(HERE)[-1] == "rdinit=/process_api"
    assert kernel_cmdline.tokens('a="b c" d') == ["a=b c", "d"]


@pytest.mark.parametrize("forbid, cmdline, status", [
    (["crashkernel"], "root=/dev/sda1 crashkernel=256M quiet", v.FAIL),      # bare name: any value
    (["crashkernel"], "root=/dev/sda1 quiet", v.PASS),
    (["mitigations=off"], HERE, v.PASS),                                      # off only for init
    (["mitigations=off"], "mitigations=off", v.FAIL),
    (["mitigations=off"], "mitigations=auto", v.PASS),
    (["spectre_v2=off"], "spectre-v2=off", v.FAIL),                           # - and _ are one
    (["kvm.nx_huge_pages=off"], "kvm.nx-huge-pages=off", v.FAIL),
    (["nopti"], "nopti=1", v.FAIL),
])
def test_forbid(forbid, cmdline, status):
    assert judge({"forbid": forbid}, cmdline).status == status


def test_failure_names_the_offending_token():
    verdict = judge({"forbid": ["crashkernel", "nopti"]}, "ro crashkernel=256M nopti\n")
    assert verdict.reason == "present: crashkernel=256M nopti"
    assert verdict.evidence[0].excerpt == "/proc/cmdline: ro crashkernel=256M nopti"


def test_require():
    assert judge({"require": ["audit=1"]}, "ro audit=1").status == v.PASS
    verdict = judge({"require": ["audit=1", "audit_backlog_limit"]}, "ro audit=0")
    assert verdict.status == v.FAIL and verdict.actual == "missing: audit=1 audit_backlog_limit"


def test_errors_and_validation():
    assert kernel_cmdline.judge({"kind": "kernel_cmdline", "forbid": ["x"]}, snap(), None).status == v.ERROR
    assert kernel_cmdline.validate({"kind": "kernel_cmdline"})
    assert kernel_cmdline.validate({"kind": "kernel_cmdline", "forbid": []})
    assert kernel_cmdline.validate({"kind": "kernel_cmdline", "forbid": ["x"]}) == []
    assert kernel_cmdline.needs({"forbid": ["x"]}) == [("cat", "/proc/cmdline")]
