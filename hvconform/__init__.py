"""hvconform: conformance suite for KVM/QEMU/libvirt hypervisor hosts.

The library, in the order data flows: inputs/ (inventory, catalog, policy, waivers)
-> collect/ (commands, transport, one Snapshot per host) -> judge/ (a Verdict per
case) -> model/ (plain data: snapshot, verdict, run, results) -> deliver/ (bundle,
exports, report). pytest drives it (conftest.py, fixtures/, suites/); audit.py does
the same steps without pytest.
"""

__version__ = "0.1.0"
