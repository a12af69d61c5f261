"""Domains with tenants, levels, pins, disks and NICs, for the isolation analyses'
tests (tests/unit/test_isolation*.py, tests/cases/{isolation,kernel_mac,network}.py).

    guest("a", tenant="acme", level="low", pins="0", devices=[disk("/img/a.img")])
    snap(domains={"a": ..., "b": ...}, running={"a"}, **SMT_ON)
"""

from __future__ import annotations

from tests.snapshots import domain

NS = "urn:hvconform:virt-security"
SMT_CONTROL = "/sys/devices/system/cpu/smt/control"
QCONF = "/etc/libvirt/qemu.conf"
# one core with two threads (CPUs 0 and 1), as Linux lists the siblings of each CPU
SIBLINGS = ("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list:0-1\n"
            "/sys/devices/system/cpu/cpu1/topology/thread_siblings_list:0-1\n")
SMT_ON = {"files": {SMT_CONTROL: "on\n", QCONF: ""}, "cmds": {"cpu_siblings": SIBLINGS}}
NO_SMT = {"files": {SMT_CONTROL: "notsupported\n", QCONF: ""},
          "cmds": {"cpu_siblings": SIBLINGS.replace(":0-1\n", ":0\n", 1).replace(":0-1\n", ":1\n")}}


def metadata(tenant=None, level=None, ns=NS) -> str:
    facts = "".join(f"<vs:{k}>{v}</vs:{k}>" for k, v in (("security-level", level), ("tenant", tenant)) if v)
    return f"  <metadata><vs:virt-security xmlns:vs='{ns}'>{facts}</vs:virt-security></metadata>\n"


NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"


def nova(project: str, uuid: str, flavor: str = "m1.small", ns: str = NOVA_NS) -> str:
    """The <metadata> nova writes into an instance's domain XML (nova/virt/libvirt/config.py,
    LibvirtConfigGuestMetaNovaInstance)."""
    return (f"  <metadata><nova:instance xmlns:nova='{ns}'><nova:package version='27.1.0'/>"
            f"<nova:name>{project}-vm</nova:name><nova:creationTime>2025-05-01 10:00:00</nova:creationTime>"
            f"<nova:flavor name='{flavor}'><nova:memory>2048</nova:memory><nova:disk>20</nova:disk>"
            f"<nova:swap>0</nova:swap><nova:ephemeral>0</nova:ephemeral><nova:vcpus>1</nova:vcpus></nova:flavor>"
            f"<nova:owner><nova:user uuid='8a5e44b1-0c8e-4a40-9c61-6f51cf0a7e21'>alice</nova:user>"
            f"<nova:project uuid='{uuid}'>{project}</nova:project></nova:owner>"
            f"<nova:root type='image' uuid='0b5f6c43-3a38-4f7e-9f5e-1b2c3d4e5f60'/></nova:instance></metadata>\n")


def guest(name, tenant=None, level=None, pins=None, emulator=None, devices=(), top="") -> str:
    """A domain; `pins`: the cpuset of its one vCPU, `emulator`: the emulator's."""
    tune = "".join([f"<vcpupin vcpu='0' cpuset='{pins}'/>" if pins else "",
                    f"<emulatorpin cpuset='{emulator}'/>" if emulator else ""])
    top = (metadata(tenant, level) if tenant or level else "") + "  <vcpu>1</vcpu>\n" \
        + (f"  <cputune>{tune}</cputune>\n" if tune else "") + top
    return domain(*devices, top=top, name=name)


def disk(path, target="vda", extra="") -> str:
    return (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{path}'/><target dev='{target}' bus='virtio'/>{extra}</disk>")


def nic(bridge="br0", isolated=False, vlan=None) -> str:
    return (f"<interface type='bridge'><source bridge='{bridge}'/>"
            + ("<port isolated='yes'/>" if isolated else "")
            + (f"<vlan><tag id='{vlan}'/></vlan>" if vlan else "") + "</interface>")


def seclabel(label=None, model="selinux", kind="dynamic") -> str:
    inner = f"<label>{label}</label>" if label else ""
    return f"  <seclabel type='{kind}' model='{model}' relabel='yes'>{inner}</seclabel>\n"
