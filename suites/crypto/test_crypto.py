"""Cryptography, secure boot and TLS (CRY-*): the rows of controls.yaml beside this file.

Each test below runs once per (host or host/vm, control) row of its check kind;
fixtures/targets.py makes the cases, hvconform.checks judges them, and
case.check() turns the verdict into the outcome. Add a row, not a test.
"""


def test_domain_xml(case):
    case.check()


def test_file_mode(case):
    case.check()


def test_libvirt_conf(case):
    case.check()


def test_sshd_config(case):
    case.check()
