"""sysctl: /proc/sys keys and literal /sys paths."""

from hvconform.model import verdict as v
from hvconform.judge.kinds import sysctl
from tests.snapshots import snap

KSM = {"kind": "sysctl", "expect": [{"key": "/sys/kernel/mm/ksm/run", "op": "in", "value": [0, 2], "default": 0}]}
BPF = {"kind": "sysctl", "expect": [{"key": "net.core.bpf_jit_harden", "op": "eq", "value": 2}]}


def test_paths():
    assert sysctl.path_of("kernel.kptr_restrict") == "/proc/sys/kernel/kptr_restrict"
    assert sysctl.path_of("/sys/kernel/mm/ksm/run") == "/sys/kernel/mm/ksm/run"
    assert sysctl.needs(KSM) == [("cat", "/sys/kernel/mm/ksm/run")]


def test_literal_path_key():
    assert sysctl.judge(KSM, snap(files={"/sys/kernel/mm/ksm/run": "0\n"}), None).status == v.PASS
    verdict = sysctl.judge(KSM, snap(files={"/sys/kernel/mm/ksm/run": "1\n"}), None)
    assert verdict.status == v.FAIL and verdict.evidence[0].excerpt == "/sys/kernel/mm/ksm/run: 1"


def test_absent_file_is_unset_and_takes_the_default():
    verdict = sysctl.judge(KSM, snap(files={"/sys/kernel/mm/ksm/run": None}), None)
    assert verdict.status == v.PASS and verdict.actual == "/sys/kernel/mm/ksm/run = unset (default 0)"


def test_absent_without_default_fails():
    assert sysctl.judge(BPF, snap(files={"/proc/sys/net/core/bpf_jit_harden": None}), None).status == v.FAIL


def test_unreadable_is_an_error_not_unset():
    # bpf_jit_harden is mode 0600: an unprivileged collection cannot read it
    art = (1, "", "cat: /proc/sys/net/core/bpf_jit_harden: Permission denied\n")
    verdict = sysctl.judge(BPF, snap(files={"/proc/sys/net/core/bpf_jit_harden": art}), None)
    assert verdict.status == v.ERROR and "Permission denied" in verdict.reason


def test_not_collected_is_an_error():
    assert sysctl.judge(BPF, snap(), None).status == v.ERROR
