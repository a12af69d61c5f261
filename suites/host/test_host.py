"""Host OS (HOST-*): one test per check kind, run once per row of controls.yaml (suites/README.md)."""


def test_function(case):
    case.check()


def test_file_mode(case):
    case.check()


def test_kernel_cmdline(case):
    case.check()


def test_sshd_config(case):
    case.check()


def test_sysctl(case):
    case.check()
