"""hvconform: conformance suite for KVM/QEMU/libvirt hypervisor hosts.

The library: inventory -> transport -> collection (Snapshot) -> catalog + checks
(Verdict) -> results. pytest only drives it (see fixtures/ and suites/).
"""

__version__ = "0.1.0"
