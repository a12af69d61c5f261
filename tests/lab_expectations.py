"""What the lab cannot show, and why: the exceptions to 'weak fails, hardened passes'.

Every entry is a fact about a machine of this kind (see lab/README.md); the
integration tests assert that these controls really do not pass on hardened (and
do not fail on weak), so an entry that stops being true turns a test red.
"""

# The hardened host does not pass these (it fails them, or they do not apply to a
# Debian host of this kind), for a reason no configuration of it can change.
HARDENED_CANNOT_PASS = {
    "KMAC-004": "no SELinux or AppArmor in this kernel: libvirt offers only the dac model",
    "LOG-001": "auditd is one per kernel, not per namespace; none runs in the lab",
}

# The weak host passes (or is not applicable for) these, with the reason.
WEAK_NOT_FAILING = {
    "QEMU-018": "libvirt 9.0 writes <driver type='raw'/> into every disk when a domain is "
                "defined, so no stored definition can lack it; the failing case is a unit "
                "test (tests/unit/test_catalog_cases.py)",
}
