"""Backup and restore (BKP-*): one test per check kind, run once per row of controls.yaml (suites/README.md)."""


def test_function(case):
    case.check()


def test_file_mode(case):
    case.check()
