"""Kernel hardening and MAC (KMAC-*): one test per check kind, run once per row of controls.yaml (suites/README.md)."""


def test_function(case):
    case.check()


def test_sysctl(case):
    case.check()


def test_fleet(case):
    case.check()
