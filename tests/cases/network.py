"""Pass/fail cases of the network controls not in LEGACY (tests/unit/test_catalog_cases.py).

Output formats of the fixtures: ss(8) `-Htlnu` columns; `ip -d -j link`/`ip -j addr`
and `bridge -j vlan show` JSON (iproute2 ip/ipaddress.c, bridge/vlan.c);
libnftables-json(5) for `nft -j list ruleset`; `systemctl is-active` prints one state
per unit (systemctl(1)); virsh(1) `net-list --all` table; network XML per
formatnetwork.rst.
"""

import json

from tests.cases import *  # noqa: F403
from tests.cases import QCONF, domain, qconf, snap, sshd, vm  # noqa: F401

MGMT = {"management_networks": ["10.0.0.0/24"]}
VS = "urn:hvconform:virt-security"


def nft(*items) -> str:
    return json.dumps({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, *items]})


def table(family="inet", name="filter"):
    return {"table": {"family": family, "name": name, "handle": 1}}


def chain(name="input", policy="accept", family="inet", tbl="filter", hook="input"):
    return {"chain": {"family": family, "table": tbl, "name": name, "handle": 2, "type": "filter",
                      "hook": hook, "prio": 0, "policy": policy}}


def rule(*expr, family="inet", tbl="filter", chain_name="input"):
    return {"rule": {"family": family, "table": tbl, "chain": chain_name, "handle": 9, "expr": list(expr)}}


NFT_DROP = nft(table(), chain(policy="drop"))
NFT_ACCEPT = nft(table(), chain(policy="accept"))
NFT_EMPTY = nft()
NO_SYSTEMD = (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                     "Failed to connect to bus: Host is down\n")
PS_PLAIN = "    1     0 root     init            /sbin/init\n"

NET_LIST_HEAD = " Name      State    Autostart   Persistent\n--------------------------------------------\n"


def net_list(*rows) -> str:
    return NET_LIST_HEAD + "".join(f" {n:<9} {s:<8} {a:<11} yes\n" for n, s, a in rows) + "\n"


def net_xml(name, forward="<forward mode='nat'/>", extra="", attrs=""):
    return (f"### network {name}\n<network{attrs}>\n  <name>{name}</name>\n  {forward}\n"
            f"  <bridge name='virbr0'/>\n{extra}</network>\n")


def networks(*xmls, rows=()) -> dict:
    return {"virsh_net_dumpxml_all": "".join(xmls), "virsh_net_list": net_list(*rows)}


def link(name, kind=None, master=None, filtering=None, **more):
    out = {"ifindex": 1, "ifname": name, "flags": ["UP"], "mtu": 1500, **more}
    if master:
        out["master"] = master
    if kind:
        out["linkinfo"] = {"info_kind": kind, "info_data": {} if filtering is None else {"vlan_filtering": filtering}}
    return out


def links(*items) -> str:
    return json.dumps(list(items))


def headless(*devices):
    top = f"  <metadata><vs:virt-security xmlns:vs='{VS}'><vs:console>headless</vs:console></vs:virt-security></metadata>\n"
    return vm(*devices, top=top)


VNC_ANY = "<graphics type='vnc' port='-1' autoport='yes'{}><listen type='address' address='0.0.0.0'/></graphics>"
SPICE_ANY = "<graphics type='spice' autoport='yes'{}><listen type='address' address='0.0.0.0'/></graphics>"
VNC_AT = "<graphics type='vnc' port='-1' autoport='yes' listen='{0}'><listen type='address' address='{0}'/></graphics>"
TCP_SERIAL = ("<serial type='tcp'><source mode='bind' host='0.0.0.0' service='4555'{}/>"
              "<protocol type='raw'/><target port='0'/></serial>")
ON_GROUP = "<interface type='network'><source network='lan'{}/><model type='virtio'/></interface>"
STORED = "/etc/libvirt/qemu/vm1.xml"
BR_VLAN = "<interface type='bridge'><source bridge='br0'/><vlan><tag id='10'/></vlan><model type='virtio'/></interface>"
BR_PLAIN = "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>"
BRIDGE_LINKS_OK = links(link("eth0"), link("br0", "bridge", filtering=1), link("vnet0", master="br0"))
BRIDGE_LINKS_OFF = links(link("eth0"), link("br0", "bridge", filtering=0), link("vnet0", master="br0"))
VLANS_10 = json.dumps([{"ifname": "vnet0", "vlans": [{"vlan": 10, "flags": ["PVID", "Egress Untagged"]}]}])
ADDRS = json.dumps([{"ifindex": 2, "ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.0.0.5", "prefixlen": 24}]}])


def vf(spoofchk=True, trust=False, vlan=10):
    return links(link("enp1s0f0", vfinfo_list=[{"vf": 0, "address": "52:54:00:00:00:01",
                                                 "vlan_list": [{"vlan": vlan}], "spoofchk": spoofchk,
                                                 "trust": trust, "link_state": "auto"}]))


CASES: dict = {
    "NET-001": ({"cmds": {"systemctl_firewalls": "active\ninactive\ninactive\ninactive\ninactive\n",
                          "nft_ruleset": nft(table("inet", "firewalld"),
                                             chain("filter_IN_libvirt", tbl="firewalld", hook=None))},
                 "files": {"/etc/libvirt/network.conf": 'firewall_backend = "nftables"\n'}},
                {"cmds": {"systemctl_firewalls": NO_SYSTEMD, "nft_ruleset": NFT_EMPTY}, "ps": PS_PLAIN,
                 "files": {"/etc/libvirt/network.conf": None}}),
    "NET-002": ({"cmds": {"nft_ruleset": NFT_DROP}}, {"cmds": {"nft_ruleset": NFT_ACCEPT}}),
    "NET-003": ({"cmds": {"ss_listeners": "tcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:*\n"
                                          "tcp LISTEN 0 1 127.0.0.1:5900 0.0.0.0:*\n",
                          "virsh_net_dumpxml_all": ""}, "policy": MGMT},
                {"cmds": {"ss_listeners": "tcp LISTEN 0 1000 0.0.0.0:16509 0.0.0.0:*\n"
                                          "tcp LISTEN 0 128 [::]:22 [::]:*\n",
                          "virsh_net_dumpxml_all": ""}, "policy": MGMT}),
    "NET-006": (headless("<serial type='pty'/>"), headless(VNC_ANY.format(""))),
    "NET-007": ({**vm(VNC_ANY.format("")), **qconf(""),
                 "files": {QCONF: "", STORED: domain(VNC_ANY.format(" passwd='[REDACTED]'"))}},
                {**vm(VNC_ANY.format("")), "files": {QCONF: "", STORED: domain(VNC_ANY.format(""))}}),
    # NET-005, NET-008: the listen address in effect for the VM (its own, else qemu.conf's)
    "NET-005": (vm(VNC_AT.format("127.0.0.1")),
                {**vm("<graphics type='vnc' port='-1' autoport='yes'/>"), **qconf('vnc_listen = "0.0.0.0"\n')}),
    "NET-008": ({**vm(VNC_AT.format("0.0.0.0")), **qconf("vnc_tls = 1\ndefault_tls_x509_verify = 1\n")},
                {**vm(VNC_AT.format("0.0.0.0")), **qconf("")}),     # qemu.conf keeps loopback: the VM does not
    # NET-022: a TCP chardev's TLS is its own tls=, else qemu.conf chardev_tls (default 0)
    "NET-022": ({**vm(TCP_SERIAL.format("")), **qconf("chardev_tls = 1\n")},    # TLS from qemu.conf
                {**vm(TCP_SERIAL.format(" tls='no'")), **qconf("chardev_tls = 1\n")}),  # its own tls='no'
    "NET-009": ({**vm(SPICE_ANY.format(" defaultMode='secure'")), **qconf("spice_tls = 1\n")},
                {**vm(SPICE_ANY.format("")), **qconf("")}),
    "NET-011": ({"cmds": networks(net_xml("default"), rows=[("default", "active", "no")])},
                {"cmds": networks(net_xml("lab", "<forward mode='open'/>"), rows=[("lab", "inactive", "no")])}),
    "NET-012": ({**vm("<interface type='network'><source network='default'/></interface>"),
                 "cmds": networks(net_xml("default"))},
                {**vm("<interface type='ethernet'><target dev='tap0' managed='no'/></interface>"),
                 "cmds": networks()}),
    "NET-013": (vm(BR_VLAN), vm(BR_PLAIN)),
    "NET-014": ({**vm(BR_VLAN), "cmds": {"ip_links": BRIDGE_LINKS_OK, "bridge_vlans": VLANS_10}},
                {**vm(BR_VLAN), "cmds": {"ip_links": BRIDGE_LINKS_OFF, "bridge_vlans": VLANS_10}}),
    "NET-017": (vm("<interface type='direct'><source dev='eth1' mode='vepa'/></interface>"),
                vm("<interface type='direct' trustGuestRxFilters='yes'><source dev='eth1' mode='vepa'/></interface>")),
    "NET-018": ({"cmds": {"ip_links": vf()}}, {"cmds": {"ip_links": vf(spoofchk=False, trust=True)}}),
    "NET-019": ({**qconf('migration_address = "10.1.0.5"\n'), "policy": {"migration_networks": ["10.1.0.0/24"]}},
                {**qconf(""), "policy": {"migration_networks": ["10.1.0.0/24"]}}),
    "NET-020": ({**sshd(listenaddress="10.0.0.5:22"), "policy": MGMT,
                 "cmds": {"ip_links": BRIDGE_LINKS_OK, "ip_addrs": ADDRS}},
                {**sshd(listenaddress=["0.0.0.0:22", "[::]:22"]), "policy": MGMT,
                 "cmds": {"ip_links": BRIDGE_LINKS_OK, "ip_addrs": ADDRS}}),
    "NET-021": ({"files": {"/proc/sys/net/ipv4/ip_forward": "0\n", "/proc/sys/net/ipv6/conf/all/forwarding": "0\n"},
                 "cmds": networks()},
                {"files": {"/proc/sys/net/ipv4/ip_forward": "1\n", "/proc/sys/net/ipv6/conf/all/forwarding": None},
                 "cmds": networks(net_xml("iso", ""), rows=[("iso", "active", "yes")])}),
}

NOT_APPLICABLE: dict = {
    "NET-006": vm(VNC_ANY.format("")),                                       # not marked headless
    "NET-014": {**vm(), "cmds": {"ip_links": links(link("eth0")), "bridge_vlans": "[]"}},
    "NET-018": {"cmds": {"ip_links": links(link("eth0"))}},                  # no SR-IOV
}

# Cross-VM rows (applies_to: inventory), judged on one host's guests (tests/guests.py).
from tests.guests import guest, nic  # noqa: E402

CASES.update({
    "NET-016": ({"domains": {"a": guest("a", "acme", devices=[nic(isolated=True)]),
                             "b": guest("b", "globex", devices=[nic(isolated=True)])}},
                {"domains": {"a": guest("a", "acme", devices=[nic()]),
                             "b": guest("b", "globex", devices=[nic()])}}),
})
NOT_APPLICABLE.update({"NET-016": {"domains": {"a": guest("a", "acme")}}})

# OpenStack: the tenant is nova's project, with no tag of the site's own
from tests.guests import nova  # noqa: E402

ACME, GLOBEX = ("acme", "2f6e1c1a-94a3-4f3c-8f0e-3c1e9a7d5b10"), ("globex", "9d0b7e52-1f7e-4c8b-a7c2-5e6f4a3b2c1d")
EXTRA_CASES: dict = {
    # vnc_auto_unix_socket takes preference over vnc_listen; the VM's own address is local
    "NET-008": [({**vm(VNC_AT.format("127.0.0.1")),
                  **qconf('vnc_listen = "0.0.0.0"\nvnc_auto_unix_socket = 1\n')}, "pass"),
                # the VM inherits qemu.conf's public vnc_listen, with TLS but no client verification
                ({**vm("<graphics type='vnc' port='-1' autoport='yes'/>"),
                  **qconf('vnc_listen = "0.0.0.0"\nvnc_tls = 1\n')}, "fail")],
    "NET-022": [(vm("<serial type='pty'><target port='0'/></serial>"), "pass"),   # no qemu.conf needed
                (vm(TCP_SERIAL.format(" tls='yes'")), "pass"),
                ({**vm(TCP_SERIAL.format("")), **qconf("")}, "fail"),            # chardev_tls unset: cleartext
                (vm("<serial type='udp'><source mode='connect' host='192.0.2.1' service='514'/>"
                    "<target port='0'/></serial>"), "fail")],
    # formatnetwork.rst 'Portgroups': a portgroup's trustGuestRxFilters overrides the
    # network's, and the interface's own overrides the portgroup's
    "NET-017": [({**vm(ON_GROUP.format("")), "cmds": networks(net_xml("lan", attrs=" trustGuestRxFilters='yes'",
                  extra="  <portgroup name='safe' default='yes' trustGuestRxFilters='no'/>\n"))}, "pass"),
                ({**vm(ON_GROUP.format(" portgroup='trusting'")), "cmds": networks(net_xml(
                  "lan", extra="  <portgroup name='trusting' trustGuestRxFilters='yes'/>\n"))}, "fail")],
    "NET-005": [({**vm("<graphics type='vnc' port='-1'><listen type='address'/></graphics>"),
                  **qconf('vnc_listen = "0.0.0.0"\nvnc_auto_unix_socket = 1\n')}, "pass")],
    "NET-016": [({"domains": {"a": guest("a", devices=[nic()], top=nova(*ACME)),
                              "b": guest("b", devices=[nic()], top=nova(*ACME))}}, "pass"),
                ({"domains": {"a": guest("a", devices=[nic()], top=nova(*ACME)),
                              "b": guest("b", devices=[nic()], top=nova(*GLOBEX))}}, "fail")],
}
