"""QEMU (QEMU-*): one test per check kind, run once per row of controls.yaml (suites/README.md)."""


def test_domain_xml(case):
    case.check()


def test_libvirt_conf(case):
    case.check()


def test_process(case):
    case.check()


def test_function(case):
    case.check()
