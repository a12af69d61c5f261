"""A site's own controls (SITE-* or its prefix), added by an overlay (--overlay,
hvconform/inputs/overlay.py): one test per check kind, run once per row of every
domain; each case is marked with its domain (`-m host` selects a site's host
controls too), its severity and `site` (`-m site`: a site's controls alone).
A kind no site control uses has no test in the run (fixtures/targets.py)."""


def test_sysctl(case):
    case.check()


def test_libvirt_conf(case):
    case.check()


def test_sshd_config(case):
    case.check()


def test_file_mode(case):
    case.check()


def test_kernel_cmdline(case):
    case.check()


def test_process(case):
    case.check()


def test_domain_xml(case):
    case.check()


def test_function(case):
    case.check()


def test_fleet(case):
    case.check()
