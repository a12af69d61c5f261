"""The libvirt daemon model ($DCONF/$PCONF): monolithic Debian as in the lab, modular
RHEL 9 with socket activation, and the libvirt_conf kind reading through it."""

import pytest

from hvconform.model import verdict as v
from hvconform.judge.read import daemons
from hvconform.judge.kinds import libvirt_conf
from tests.snapshots import snap

LIBVIRTD, VIRTQEMUD, VIRTPROXYD = ("/etc/libvirt/libvirtd.conf", "/etc/libvirt/virtqemud.conf",
                                   "/etc/libvirt/virtproxyd.conf")
# The lab's answer, measured: PID 1 is sshd, not systemd.
NO_SYSTEMD = (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                     "Failed to connect to bus: Host is down\n")
PS_LAB = ("      1     0 root  sshd       sshd: /usr/sbin/sshd -D -e\n"
          "     59     0 root  virtlogd   virtlogd -d\n"
          "     62     0 root  libvirtd   libvirtd -d --listen\n")
PS_PLAIN_LIBVIRTD = "     62     0 root  libvirtd   libvirtd -d\n"
PS_RHEL = ("      1     0 root  systemd    /usr/lib/systemd/systemd --switched-root --system\n"
           "    911     0 root  virtqemud  /usr/sbin/virtqemud --timeout 120\n")
# RHEL 9 fixtures. Format of `systemctl is-active U...`: one state per unit, in argument
# order (systemctl(1), "is-active"); the order is daemons.ACTIVE_UNITS.
RHEL_ACTIVE = "active\ninactive\nactive\ninactive\ninactive\ninactive\ninactive\n"
RHEL_ACTIVE_TLS = "active\ninactive\nactive\ninactive\nactive\ninactive\ninactive\n"
# Format of `systemctl cat U...`: each file preceded by "# <path>", the unit file then its
# drop-ins, a blank line between units (systemctl(1), "cat"). Units as libvirt builds them
# (src/remote/virtqemud.socket.in, virtproxyd-tls.socket.in, libvirt 9.x), plus a site drop-in.
RHEL_UNITS = """# /usr/lib/systemd/system/virtqemud.socket
[Unit]
Description=Libvirt qemu local socket
Before=virtqemud.service
BindsTo=virtlogd.socket

[Socket]
ListenStream=/run/libvirt/virtqemud-sock
Service=virtqemud.service
SocketMode=0666
RemoveOnStop=yes

[Install]
WantedBy=sockets.target

# /etc/systemd/system/virtqemud.socket.d/override.conf
[Socket]
SocketMode=0660
SocketGroup=libvirt

# /usr/lib/systemd/system/virtqemud-ro.socket
[Socket]
ListenStream=/run/libvirt/virtqemud-sock-ro
Service=virtqemud.service
SocketMode=0666

# /usr/lib/systemd/system/virtqemud-admin.socket
[Socket]
ListenStream=/run/libvirt/virtqemud-admin-sock
Service=virtqemud.service
SocketMode=0600

# /usr/lib/systemd/system/virtproxyd.socket
[Socket]
ListenStream=/run/libvirt/libvirt-sock
Service=virtproxyd.service
SocketMode=0666

# /usr/lib/systemd/system/virtproxyd-tls.socket
[Unit]
Description=Libvirt proxy TLS IP socket

[Socket]
ListenStream=16514
Service=virtproxyd.service
"""


def lab(**more):
    """The weak lab host's facts: monolithic libvirtd started by hand with --listen."""
    return snap(**{"files": {LIBVIRTD: 'listen_tcp = 1\n', VIRTQEMUD: None, VIRTPROXYD: None},
                   "ps": PS_LAB, "cmds": {"systemctl_libvirt_active": NO_SYSTEMD}, **more})


def rhel(active=RHEL_ACTIVE, units=RHEL_UNITS, **more):
    return snap(**{"files": {LIBVIRTD: "", VIRTQEMUD: 'unix_sock_rw_perms = "0777"\n',
                             VIRTPROXYD: "listen_tcp = 1\n"},
                   "ps": PS_RHEL,
                   "cmds": {"systemctl_libvirt_active": (3, active, ""),
                            "systemctl_libvirt_sockets": (1, units, "No files found for libvirtd.socket.\n")},
                   **more})


def test_monolithic_debian_lab():
    m = daemons.model(lab())
    assert (m.name, m.systemd) == (daemons.MONOLITHIC, False)
    assert m.conf(daemons.DCONF) == m.conf(daemons.PCONF) == LIBVIRTD
    assert "no systemd" in m.why and "libvirtd -d --listen" in m.why
    assert m.effective(daemons.PCONF) == {}          # --listen: the file's listen_* count


def test_monolithic_without_listen_opens_no_tcp_listener():
    m = daemons.model(lab(ps=PS_PLAIN_LIBVIRTD))
    assert {k: val for k, (val, _) in m.effective(daemons.PCONF).items()} == {"listen_tcp": "0", "listen_tls": "0"}


def test_modular_rhel9_socket_activated():
    m = daemons.model(rhel())
    assert (m.name, m.systemd) == (daemons.MODULAR, True)
    assert (m.conf(daemons.DCONF), m.conf(daemons.PCONF)) == (VIRTQEMUD, VIRTPROXYD)
    assert "virtqemud.socket active" in m.why and "socket-activated" in m.why
    eff = {k: val for k, (val, _) in m.effective(daemons.DCONF).items()}
    # the drop-in overrides the unit file; unset SocketGroup would be root
    assert eff["unix_sock_rw_perms"] == "0660" and eff["unix_sock_group"] == "libvirt"
    assert eff["unix_sock_ro_perms"] == "0666" and eff["unix_sock_admin_perms"] == "0600"
    proxy = {k: val for k, (val, _) in m.effective(daemons.PCONF).items()}
    assert proxy["listen_tcp"] == "0" and proxy["listen_tls"] == "0"


def test_tls_socket_bare_port_listens_everywhere():
    proxy = daemons.model(rhel(active=RHEL_ACTIVE_TLS)).effective(daemons.PCONF)
    assert proxy["listen_tls"][0] == "1"
    assert proxy["listen_addr"][0] == "::" and "every address" in proxy["listen_addr"][1]
    assert proxy["tls_port"][0] == "16514"


@pytest.mark.parametrize("stream, expected", [
    ("16514", ("::", "16514")), ("192.0.2.5:16514", ("192.0.2.5", "16514")),
    ("[2001:db8::5]:16514", ("2001:db8::5", "16514"))])
def test_split_listen(stream, expected):
    assert daemons.split_listen(stream) == expected


def test_drop_in_empty_assignment_resets_a_list():
    units = daemons.parse_units("# /usr/lib/systemd/system/x.socket\n[Socket]\nListenStream=16514\n\n"
                                "# /etc/systemd/system/x.socket.d/50-addr.conf\n[Socket]\nListenStream=\n"
                                "ListenStream=192.0.2.5:16514\n")
    assert units["x.socket"]["ListenStream"] == ["192.0.2.5:16514"]


def test_no_daemon_running_decides_by_the_one_file_present():
    m = daemons.model(lab(ps="    1     0 root  sshd  sshd\n"))
    assert m.name == daemons.MONOLITHIC and "only libvirtd.conf exists" in m.why


@pytest.mark.parametrize("kwargs, reason", [
    ({"ps": "    1     0 root  sshd  sshd\n", "files": {LIBVIRTD: "", VIRTQEMUD: "", VIRTPROXYD: None}},
     "cannot be told"),
    ({"ps": PS_LAB + PS_RHEL}, "both libvirt daemon models"),
    ({"cmds": {}}, "was not collected"),
    ({"cmds": {"systemctl_libvirt_active": (1, "", "Failed to get properties: Access denied\n")}},
     "Access denied"),
])
def test_undecided_is_an_error_never_a_guess(kwargs, reason):
    with pytest.raises(daemons.Undecided) as exc:
        daemons.model(lab(**kwargs))
    assert exc.value.verdict.status == v.ERROR and reason in exc.value.verdict.reason


ROW_RW = {"kind": "libvirt_conf", "file": "$DCONF",
          "expect": [{"key": "unix_sock_rw_perms", "op": "mode_within", "value": "0770", "default": "0700"}]}
ROW_TCP = {"kind": "libvirt_conf", "file": "$PCONF",
           "expect": [{"key": "listen_tcp", "op": "eq", "value": 0, "default": 0}]}


def test_kind_accepts_dconf_pconf_and_declares_both_files_and_the_model_facts():
    assert libvirt_conf.validate(ROW_RW) == []
    assert libvirt_conf.validate({**ROW_RW, "file": "libvirtd.conf"})
    needs = libvirt_conf.needs(ROW_RW)
    assert {("cat", LIBVIRTD), ("cat", VIRTQEMUD), ("cat", VIRTPROXYD),
            ("systemctl_libvirt_active", ""), ("systemctl_libvirt_sockets", "")} <= set(needs)


def test_kind_on_the_lab_reads_libvirtd_conf_and_says_why():
    verdict = libvirt_conf.judge(ROW_TCP, lab(), None)
    assert verdict.status == v.FAIL
    assert verdict.evidence[0].source.endswith(LIBVIRTD)
    assert "$PCONF = /etc/libvirt/libvirtd.conf: monolithic" in verdict.evidence[1].excerpt


def test_kind_under_socket_activation_takes_the_units_not_the_file():
    # virtqemud.conf says 0777, but the socket unit (drop-in: 0660) is what applies
    verdict = libvirt_conf.judge(ROW_RW, rhel(), None)
    assert verdict.status == v.PASS, verdict.actual
    assert "virtqemud.socket: SocketMode=0660" in verdict.evidence[0].excerpt
    assert "is not honoured" in verdict.evidence[0].excerpt
    assert "$DCONF = /etc/libvirt/virtqemud.conf: modular" in verdict.evidence[1].excerpt
    # virtproxyd.conf says listen_tcp = 1; virtproxyd-tcp.socket is inactive
    assert libvirt_conf.judge(ROW_TCP, rhel(), None).status == v.PASS


def test_kind_with_the_model_undecided_is_an_error():
    verdict = libvirt_conf.judge(ROW_TCP, lab(cmds={}), None)
    assert verdict.status == v.ERROR and "not collected" in verdict.reason


def test_absolute_paths_still_work():
    row = {**ROW_TCP, "file": LIBVIRTD}
    assert libvirt_conf.needs(row) == [("cat", LIBVIRTD)]
    assert libvirt_conf.judge(row, snap(files={LIBVIRTD: "listen_tcp = 1\n"}), None).status == v.FAIL
