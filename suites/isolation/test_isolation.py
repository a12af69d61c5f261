"""Per-VM and cross-VM isolation (ISO-*): one test per check kind, run once per row of controls.yaml (suites/README.md)."""


def test_function(case):
    case.check()


def test_domain_xml(case):
    case.check()


def test_kernel_cmdline(case):
    case.check()


def test_libvirt_conf(case):
    case.check()


def test_sysctl(case):
    case.check()


def test_fleet(case):
    case.check()
