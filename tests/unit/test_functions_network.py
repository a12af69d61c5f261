"""Network control functions (NET-*): the parsing and the edge cases the pass/fail cases
in tests/cases/network.py do not reach, RHEL hosts included."""

from hvconform.model import verdict as v
from hvconform.judge.kinds import function as function_kind
from hvconform.judge.functions.network_exposure import listeners
from tests.cases.network import (ADDRS, BRIDGE_LINKS_OK, MGMT, NFT_DROP, NO_SYSTEMD, PS_PLAIN, SPICE_ANY,
                                 STORED, VNC_ANY, chain, link, links, net_xml, networks, nft, rule, table)
from tests.snapshots import domain, snap

QCONF = "/etc/libvirt/qemu.conf"
NETCONF = "/etc/libvirt/network.conf"


def judge(function, s, vm=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm)


def test_ss_lines_with_brackets_zones_and_wildcards():
    text = ("udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*\n"
            "tcp LISTEN 0 128 [::]:22 [::]:*\n"
            "tcp LISTEN 0 4096 *:9090 *:*\n"
            "tcp LISTEN 0 5 [fe80::1%eth0]:546 [::]:*\n")
    assert [(p, a, n) for p, a, n, _ in listeners(text)] == [
        ("udp", "127.0.0.53", 53), ("tcp", "::", 22), ("tcp", "*", 9090), ("tcp", "fe80::1", 546)]


# ---- NET-001: RHEL with systemd (systemctl(1) is-active: one state per unit, in order)

def test_rhel_firewalld_and_a_static_nftables_service_are_two_managers():
    s = snap(cmds={"systemctl_firewalls": "active\nactive\ninactive\ninactive\ninactive\n",
                   "nft_ruleset": nft(table("inet", "firewalld"), chain("filter_IN_libvirt", tbl="firewalld"))},
             files={NETCONF: 'firewall_backend = "nftables"\n'})
    verdict = judge("single_firewall_manager", s)
    assert verdict.status == v.FAIL and "firewalld, nftables" in verdict.reason


def test_firewalld_without_the_libvirt_zone_fails():
    s = snap(cmds={"systemctl_firewalls": "active\ninactive\ninactive\ninactive\ninactive\n",
                   "nft_ruleset": nft(table("inet", "firewalld"), chain("filter_INPUT", tbl="firewalld"))},
             files={NETCONF: None})
    assert "libvirt zone" in judge("single_firewall_manager", s).reason


def test_without_systemd_a_loaded_ruleset_is_the_manager():
    s = snap(cmds={"systemctl_firewalls": NO_SYSTEMD, "nft_ruleset": NFT_DROP}, ps=PS_PLAIN,
             files={NETCONF: None})
    verdict = judge("single_firewall_manager", s)
    assert verdict.status == v.PASS and "no systemd" in verdict.actual


def test_nft_without_root_is_an_error_not_a_fail():
    s = snap(cmds={"systemctl_firewalls": NO_SYSTEMD,
                   "nft_ruleset": (1, "", "netlink: Error: cache initialization failed: Operation not permitted\n")},
             ps=PS_PLAIN, files={NETCONF: None})
    assert judge("single_firewall_manager", s).status == v.ERROR


# ---- NET-002

def test_firewalld_style_final_reject_is_default_deny():
    # firewalld's nft input chain keeps policy accept and ends in `reject with icmpx admin-prohibited`
    ruleset = nft(table("inet", "firewalld"), chain("filter_INPUT", tbl="firewalld"),
                  rule({"jump": {"target": "filter_INPUT_ZONES"}}, tbl="firewalld", chain_name="filter_INPUT"),
                  rule({"reject": {"type": "icmpx", "expr": "admin-prohibited"}}, tbl="firewalld",
                       chain_name="filter_INPUT"))
    assert judge("inbound_default_deny", snap(cmds={"nft_ruleset": ruleset})).status == v.PASS


def test_an_ipv4_only_drop_leaves_ipv6_open():
    verdict = judge("inbound_default_deny", snap(cmds={"nft_ruleset": nft(table("ip"), chain(family="ip", policy="drop"))}))
    assert verdict.status == v.FAIL and "IPv6" in verdict.reason


def test_a_conditional_drop_is_not_default_deny():
    ruleset = nft(table(), chain(), rule({"match": {"left": {"meta": {"key": "iifname"}}, "op": "==", "right": "eth1"}},
                                         {"drop": None}))
    assert judge("inbound_default_deny", snap(cmds={"nft_ruleset": ruleset})).status == v.FAIL


# ---- NET-003

def test_dnsmasq_on_a_libvirt_network_address_is_accepted_but_not_elsewhere():
    ss = "udp UNCONN 0 0 192.168.122.1:53 0.0.0.0:*\nudp UNCONN 0 0 192.168.122.1:161 0.0.0.0:*\n"
    net = net_xml("default", extra="  <ip address='192.168.122.1' netmask='255.255.255.0'/>\n")
    verdict = judge("listeners_allowlisted", snap(cmds={"ss_listeners": ss, "virsh_net_dumpxml_all": net}, policy=MGMT))
    assert verdict.status == v.FAIL and ":161" in verdict.evidence[0].excerpt and ":53 " not in verdict.evidence[0].excerpt


def test_empty_management_networks_accept_loopback_only():
    s = snap(cmds={"ss_listeners": "tcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:*\n", "virsh_net_dumpxml_all": ""})
    assert judge("listeners_allowlisted", s).status == v.FAIL
    s.policy = {**MGMT, "listen_allowlist": []}
    assert judge("listeners_allowlisted", s).status == v.PASS


# ---- consoles

def test_graphics_without_listen_use_qemu_conf_defaults():
    s = snap(domains={"vm1": domain("<graphics type='vnc' port='-1' autoport='yes'/>")},
             files={QCONF: 'vnc_listen = "0.0.0.0"\n', STORED: domain("<graphics type='vnc' port='-1'/>")})
    assert judge("console_authenticated", s, "vm1").status == v.FAIL
    s = snap(domains={"vm1": domain("<graphics type='vnc' port='-1' autoport='yes'/>")},
             files={QCONF: 'vnc_listen = "0.0.0.0"\nvnc_sasl = 1\n', STORED: domain("<graphics type='vnc' port='-1'/>")})
    assert judge("console_authenticated", s, "vm1").status == v.PASS


def test_a_socket_console_needs_no_password_and_an_unreadable_stored_copy_is_an_error():
    sock = "<graphics type='vnc'><listen type='socket'/></graphics>"
    assert judge("console_authenticated", snap(domains={"vm1": domain(sock)},
                                               files={QCONF: "", STORED: None}), "vm1").status == v.PASS
    denied = (1, "", f"cat: {STORED}: Permission denied\n")
    assert judge("console_authenticated", snap(domains={"vm1": domain(VNC_ANY.format(""))},
                                               files={QCONF: "", STORED: denied}), "vm1").status == v.ERROR


def test_spice_with_tls_but_insecure_default_mode_fails():
    s = snap(domains={"vm1": domain(SPICE_ANY.format(" defaultMode='any'"))}, files={QCONF: "spice_tls = 1\n"})
    assert "insecure channels" in judge("spice_tls", s, "vm1").actual


# ---- libvirt networks and interfaces

def test_an_autostarted_network_no_vm_uses_fails():
    s = snap(cmds=networks(net_xml("default"), rows=[("default", "active", "yes")]), domains={"vm1": domain()})
    assert "autostarted but no VM uses it" in judge("network_modes", s).reason


def test_forwarding_with_an_active_nat_network_is_the_documented_exception():
    s = snap(files={"/proc/sys/net/ipv4/ip_forward": "1\n", "/proc/sys/net/ipv6/conf/all/forwarding": "0\n"},
             cmds=networks(net_xml("default"), rows=[("default", "active", "yes")]))
    verdict = judge("forwarding_only_when_needed", s)
    assert verdict.status == v.PASS and "documented exception" in verdict.actual


def test_bridged_vm_needs_the_allowlist_and_named_networks_must_exist():
    br = "<interface type='bridge'><source bridge='br0'/></interface>"
    assert judge("approved_networks_only", snap(domains={"vm1": domain(br)}, cmds=networks()), "vm1").status == v.FAIL
    assert judge("approved_networks_only", snap(domains={"vm1": domain(br)}, cmds=networks(),
                                                policy={"bridged_vms": ["vm1"]}), "vm1").status == v.PASS
    gone = "<interface type='network'><source network='gone'/></interface>"
    assert "does not exist" in judge("approved_networks_only", snap(domains={"vm1": domain(gone)},
                                                                   cmds=networks()), "vm1").reason


def test_vlan_from_a_bridged_network_portgroup_and_trunks_and_management_vlans():
    net = net_xml("ext", "<forward mode='bridge'/>",
                  "  <portgroup name='web' default='yes'><vlan><tag id='20'/></vlan></portgroup>\n")
    iface = "<interface type='network'><source network='ext'/></interface>"
    assert judge("vlan_tagged", snap(domains={"vm1": domain(iface)}, cmds=networks(net)), "vm1").status == v.PASS
    trunk = "<interface type='bridge'><source bridge='br0'/><vlan trunk='yes'><tag id='10'/><tag id='20'/></vlan></interface>"
    assert "trunk" in judge("vlan_tagged", snap(domains={"vm1": domain(trunk)}), "vm1").actual
    mgmt = "<interface type='bridge'><source bridge='br0'/><vlan><tag id='5'/></vlan></interface>"
    assert "management VLAN 5" in judge("vlan_tagged", snap(domains={"vm1": domain(mgmt)},
                                                           policy={"management_vlans": [5]}), "vm1").actual


def test_trust_inherited_from_the_network():
    net = net_xml("t", attrs=" trustGuestRxFilters='yes'")
    iface = "<interface type='network'><source network='t'/></interface>"
    assert judge("no_guest_rx_filters", snap(domains={"vm1": domain(iface)}, cmds=networks(net)), "vm1").status == v.FAIL
    override = "<interface type='network' trustGuestRxFilters='no'><source network='t'/></interface>"
    assert judge("no_guest_rx_filters", snap(domains={"vm1": domain(override)}, cmds=networks(net)), "vm1").status == v.PASS


# ---- host bridges

def test_vm_port_in_two_vlans_fails():
    two = '[{"ifname": "vnet0", "vlans": [{"vlan": 10}, {"vlan": 20}]}]'
    s = snap(domains={"vm1": domain()}, cmds={"ip_links": BRIDGE_LINKS_OK, "bridge_vlans": two})
    assert "member of VLANs" in judge("bridge_vlan_filtering", s).actual


def test_management_address_on_a_vm_bridge_fails():
    addrs = '[{"ifname": "br0", "addr_info": [{"family": "inet", "local": "10.0.0.5", "prefixlen": 24}]}]'
    s = snap(sshd="listenaddress 10.0.0.5:22\n", policy=MGMT, domains={"vm1": domain()},
             cmds={"ip_links": BRIDGE_LINKS_OK, "ip_addrs": addrs})
    assert "is on VM bridge br0" in judge("management_plane_separate", s).reason
    s = snap(sshd="listenaddress 10.0.0.5:22\n", domains={"vm1": domain()},
             cmds={"ip_links": BRIDGE_LINKS_OK, "ip_addrs": ADDRS})
    assert "no address of this host is in management_networks" in judge("management_plane_separate", s).reason


def test_vf_without_vlan_fails():
    no_vlan = links(link("enp1s0f0", vfinfo_list=[{"vf": 0, "spoofchk": True, "trust": False}]))
    assert judge("sriov_vf_spoofcheck", snap(cmds={"ip_links": no_vlan})).status == v.FAIL


def test_migration_wildcard_and_wide_port_range_fail():
    policy = {"migration_networks": ["10.1.0.0/24"]}
    wide = 'migration_address = "10.1.0.5"\nmigration_port_min = 49152\nmigration_port_max = 65000\n'
    assert "migration ports" in judge("migration_network", snap(files={QCONF: wide}, policy=policy)).reason
    anyaddr = 'migration_address = "0.0.0.0"\n'
    assert judge("migration_network", snap(files={QCONF: anyaddr}, policy=policy)).status == v.FAIL


# ---- NET-005, NET-008: what each VM's console really listens on (issue 10) -----------
# A domain's own <listen address=...> overrides qemu.conf; <listen type='address'/> or no
# <listen> takes qemu.conf's <type>_listen (formatdomain.rst 'Graphical framebuffers';
# qemu.conf.in vnc_listen, vnc_auto_unix_socket).

VNC_OWN = "<graphics type='vnc' port='-1' autoport='yes'><listen type='address' address='{}'/></graphics>"
VNC_BARE = "<graphics type='vnc' port='-1' autoport='yes'/>"


def test_net008_a_vms_own_listen_on_all_addresses_needs_tls_though_qemu_conf_keeps_loopback():
    s = snap(domains={"vm1": domain(VNC_OWN.format("0.0.0.0")), "vm2": domain(name="vm2")}, files={QCONF: ""})
    verdict = judge("vnc_tls_verified", s)
    assert verdict.status == v.FAIL and verdict.reason.startswith("domain vm1: ")
    assert verdict.actual == "vm1: VNC on 0.0.0.0 without TLS (vnc_tls = 0 (default))"
    assert any('address="0.0.0.0"' in e.excerpt for e in verdict.evidence)
    s = snap(domains={"vm1": domain(VNC_OWN.format("0.0.0.0"))}, files={QCONF: "vnc_tls = 1\n"})
    assert "without client certificate verification" in judge("vnc_tls_verified", s).actual
    s = snap(domains={"vm1": domain(VNC_OWN.format("0.0.0.0"))},
             files={QCONF: "vnc_tls = 1\nvnc_tls_x509_verify = 1\n"})
    assert judge("vnc_tls_verified", s).status == v.PASS


def test_net008_qemu_conf_vnc_listen_counts_for_vms_without_an_address_and_by_itself():
    s = snap(domains={"vm1": domain(VNC_BARE)}, files={QCONF: 'vnc_listen = "0.0.0.0"\n'})
    verdict = judge("vnc_tls_verified", s)
    assert verdict.status == v.FAIL and "vm1: VNC on 0.0.0.0 (qemu.conf vnc_listen)" in verdict.actual
    assert judge("vnc_tls_verified", snap(files={QCONF: 'vnc_listen = "0.0.0.0"\n'})).status == v.FAIL
    s = snap(domains={"vm1": domain(VNC_BARE)}, files={QCONF: 'vnc_listen = "0.0.0.0"\nvnc_auto_unix_socket = 1\n'})
    assert judge("vnc_tls_verified", s).status == v.PASS        # a UNIX socket instead


def test_net008_a_running_vm_is_judged_on_its_live_listen_too():
    s = snap(domains={"vm1": domain(VNC_OWN.format("127.0.0.1"))}, running={"vm1"},
             live={"vm1": domain(VNC_OWN.format("0.0.0.0"))}, files={QCONF: ""})
    verdict = judge("vnc_tls_verified", s)
    assert verdict.status == v.FAIL and "vm1: VNC on 0.0.0.0 (running)" in verdict.actual


def test_net008_local_consoles_pass_and_an_unreadable_domain_is_an_error():
    sock = "<graphics type='vnc' socket='/run/libvirt/qemu/vm1.sock'><listen type='address' address='0.0.0.0'/></graphics>"
    s = snap(domains={"vm1": domain(VNC_OWN.format("127.0.0.1"), sock)}, files={QCONF: ""})
    assert judge("vnc_tls_verified", s).status == v.PASS       # socket= wins over every <listen>
    s = snap(domains={"vm1": "<domain"}, files={QCONF: ""})
    verdict = judge("vnc_tls_verified", s)
    assert verdict.status == v.ERROR and "vm1" in verdict.reason


def test_net005_a_console_without_its_own_address_takes_qemu_conf_listen():
    spice = "<graphics type='spice' autoport='yes'><listen type='address'/></graphics>"
    s = snap(domains={"vm1": domain(spice)}, files={QCONF: 'spice_listen = "0.0.0.0"\n'})
    verdict = judge("console_listen_local", s, "vm1")
    assert verdict.status == v.FAIL and "spice on 0.0.0.0 (qemu.conf spice_listen)" in verdict.actual
    s = snap(domains={"vm1": domain(spice)}, files={QCONF: 'spice_listen = "0.0.0.0"\nspice_auto_unix_socket = 1\n'})
    assert judge("console_listen_local", s, "vm1").status == v.PASS
    assert judge("console_listen_local", snap(domains={"vm1": domain(spice)}, files={QCONF: ""}), "vm1").status \
        == v.PASS


def test_net005_own_addresses_decide_without_qemu_conf_and_a_network_listen_is_not_local():
    assert judge("console_listen_local", snap(domains={"vm1": domain(VNC_OWN.format("::1"))}), "vm1").status \
        == v.PASS
    net = "<graphics type='vnc' port='-1'><listen type='network' network='default'/></graphics>"
    verdict = judge("console_listen_local", snap(domains={"vm1": domain(net)}), "vm1")
    assert verdict.status == v.FAIL and "network default" in verdict.actual
    bare = judge("console_listen_local", snap(domains={"vm1": domain(VNC_BARE)}), "vm1")
    assert bare.status == v.ERROR and QCONF in bare.reason          # qemu.conf decides, and was not collected


def test_what_the_domain_settles_alone_still_fails_when_qemu_conf_is_unreadable():
    denied = (1, "", f"cat: {QCONF}: Permission denied\n")
    net = "<graphics type='vnc' port='-1'><listen type='address' address='0.0.0.0'/></graphics>"
    s = snap(domains={"vm1": domain(net, VNC_BARE)}, files={QCONF: denied})
    verdict = judge("console_listen_local", s, "vm1")
    assert verdict.status == v.FAIL and "vnc on 0.0.0.0" in verdict.actual and "not judged" in verdict.actual
    s = snap(domains={"vm1": domain(VNC_BARE)}, files={QCONF: denied})
    assert judge("console_listen_local", s, "vm1").status == v.ERROR
    udp = "<serial type='udp'><source mode='connect' host='192.0.2.1' service='514'/></serial>"
    tcp = "<serial type='tcp'><source mode='connect' host='192.0.2.1' service='5555'/></serial>"
    verdict = judge("network_chardevs_tls", snap(domains={"vm1": domain(udp, tcp)}), "vm1")
    assert verdict.status == v.FAIL and "serial udp" in verdict.actual and "tcp devices without tls=" in verdict.actual
    assert judge("network_chardevs_tls", snap(domains={"vm1": domain(tcp)}), "vm1").status == v.ERROR
