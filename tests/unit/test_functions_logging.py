"""Bespoke logging checks: audit rules and records, forwarding configuration, time,
agents; each function's edges (fixture formats cited in tests/cases/logging.py)."""

import pytest

from hvconform.model import verdict as v
from hvconform.judge.kinds import function as function_kind
from hvconform.judge.functions import logging_audit, logging_forwarding
from hvconform.judge.read import time_sources
from tests.cases.logging import (AUDITD_OK, DF, JOURNALD, NO_DROPINS, SOURCES_OK, TIMESYNCD, TIMESYNCD_DEBIAN, journald,
                                timesyncd)
from tests.snapshots import snap


def judge(function, s, vm=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm)


def test_without_audit_tools_nothing_is_audited():
    missing = (127, "", "sh: 1: auditctl: not found\n")
    for function in ("audit_watches", "module_load_audited"):
        verdict = judge(function, snap(cmds={"auditctl_rules": missing}))
        assert verdict.status == v.FAIL and "not installed" in verdict.actual


def test_auditctl_without_root_is_an_error():
    s = snap(cmds={"auditctl_rules": (1, "", "You must be root to run this program.\n")})
    assert judge("audit_watches", s).status == v.ERROR


def test_watches_in_syscall_form_count():
    rules = logging_audit.audit_rules("-a always,exit -F arch=b64 -F dir=/etc/libvirt -F perm=wa -F key=virt\n")
    assert rules[0]["watch"] == "/etc/libvirt" and rules[0]["perms"] == "wa"


def test_a_watch_without_write_permission_does_not_count():
    s = snap(cmds={"auditctl_rules": "-w /etc/libvirt -p r -k x\n"},
             policy={"audit_watch_paths": ["/etc/libvirt"], "audit_exec_paths": []})
    assert judge("audit_watches", s).status == v.FAIL


def test_virt_records_of_a_running_vm_started_before_boot_window_fail():
    from tests.cases import running
    only_other = ("type=VIRT_CONTROL msg=audit(1.2:3): pid=1 uid=0 msg='virt=kvm op=start vm=\"other\" "
                  "res=success'\ntype=VIRT_MACHINE_ID msg=audit(1.2:4): msg='virt=kvm vm=\"other\" res=success'\n")
    verdict = judge("virt_audit_records", snap(**running(), cmds={"ausearch_virt": only_other}))
    assert verdict.status == v.FAIL and "vm1" in verdict.actual


@pytest.mark.parametrize("text, good", [
    # RainerScript over several lines, ossl driver, certvalid
    (['action(type="omfwd" target="siem" protocol="tcp"', 'StreamDriver="ossl" StreamDriverMode="1"',
      'StreamDriverAuthMode="x509/certvalid")'], True),
    (['action(type="omfwd" target="siem" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1"',
      'StreamDriverAuthMode="anon")'], False),
    # legacy directives apply to the @@ line after them
    (["$DefaultNetstreamDriver gtls", "$ActionSendStreamDriverMode 1",
      "$ActionSendStreamDriverAuthMode x509/name", "*.* @@siem.example.org:6514"], True),
    (["*.* @@siem.example.org:514"], False),
    # dotted queue and action parameters (rsyslog's action() docs) are names of their own:
    # queue.type is not the action's type
    (['action(type="omfwd" target="siem" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1"',
      'StreamDriverAuthMode="x509/name" queue.type="LinkedList" action.resumeRetryCount="-1")'], True),
])
def test_rsyslog_forwarding_forms(text, good):
    actions = logging_forwarding.rsyslog_actions([(f"/etc/rsyslog.conf:{n}", t) for n, t in enumerate(text, 1)])
    assert len(actions) == 1 and (logging_forwarding.tls_forwarding(actions[0][1]) == []) == good


def test_forwarding_to_another_target_than_the_site_collector_fails():
    s = snap(files={"/etc/rsyslog.conf": 'action(type="omfwd" target="other" protocol="tcp" StreamDriver="gtls" '
                                         'StreamDriverMode="1" StreamDriverAuthMode="x509/name")\n',
                    "/etc/audit/plugins.d/au-remote.conf": None, "/etc/audit/audisp-remote.conf": None},
             cmds={"rsyslog_d": (2, "", "grep: /etc/rsyslog.d: No such file or directory\n")},
             policy={"log_forward_target": "siem.example.org"})
    assert judge("logs_forwarded_encrypted", s).status == v.FAIL


def test_audisp_remote_with_krb5_passes_rhel_style():
    s = snap(files={"/etc/rsyslog.conf": "", "/etc/audit/plugins.d/au-remote.conf": "active = yes\n",
                    "/etc/audit/audisp-remote.conf": "remote_server = siem.example.org\ntransport = KRB5\n"},
             cmds={"rsyslog_d": (1, "", "")})
    assert judge("logs_forwarded_encrypted", s).status == v.PASS


def test_journald_default_follows_the_shipped_file():
    # RHEL's and upstream's journald.conf document the default as no
    assert judge("journald_forwarded", snap(**journald("[Journal]\n#ForwardToSyslog=no\n"))).status == v.FAIL
    assert judge("journald_forwarded", snap(**journald(JOURNALD))).status == v.PASS


def test_journald_forwarding_needs_a_syslog_daemon():
    plain = "    1     0 root     sshd            sshd -D\n"
    verdict = judge("journald_forwarded", snap(**journald(JOURNALD, ps=plain)))
    assert verdict.status == v.FAIL and "no running syslog daemon" in verdict.reason


def test_a_journal_collector_fails_even_when_forwarding():
    units = "systemd-journal-remote.socket enabled enabled\n"
    verdict = judge("journald_forwarded", snap(**journald(JOURNALD, units=units)))
    assert verdict.status == v.FAIL and "collector" in verdict.reason


def test_time_from_timedatectl_when_chrony_is_absent():
    s = snap(files={"/etc/chrony.conf": "server time.cloudflare.com iburst\n", "/etc/chrony/chrony.conf": None,
                    TIMESYNCD: None},
             cmds={"chronyc_sources": (127, "", "sh: 1: chronyc: not found\n"),
                   "timedatectl_ntp": "NTPSynchronized=yes\n", "time_sources_d": NO_DROPINS})
    assert judge("time_synchronised", s).status == v.PASS


def test_unapproved_time_source_fails_even_when_synchronised():
    s = snap(files={"/etc/chrony.conf": None, "/etc/chrony/chrony.conf": "server 10.1.1.1 iburst\n",
                    TIMESYNCD: None},
             cmds={"chronyc_sources": SOURCES_OK, "timedatectl_ntp": (1, "", ""), "time_sources_d": NO_DROPINS})
    assert "no approved time source" in judge("time_synchronised", s).reason


def test_timesyncd_drop_ins_override_in_order_and_an_empty_assignment_resets():
    def sources(conf, dropins=""):
        return [(x.kind, x.name, x.where) for x in time_sources.timesyncd_sources(conf, time_sources.dropins(dropins))[0]]
    assert sources(TIMESYNCD_DEBIAN)[0] == ("FallbackNTP", "0.debian.pool.ntp.org", "/etc/systemd/timesyncd.conf:3")
    site = ("/usr/lib/systemd/timesyncd.conf.d/a.conf:1:[Time]\n/usr/lib/systemd/timesyncd.conf.d/a.conf:2:NTP=old\n"
            "/etc/systemd/timesyncd.conf.d/b.conf:1:[Time]\n/etc/systemd/timesyncd.conf.d/b.conf:2:NTP=new.example\n")
    assert sources(TIMESYNCD_DEBIAN, site) == [("NTP", "new.example", "/etc/systemd/timesyncd.conf.d/b.conf:2")]
    reset = site + "/etc/systemd/timesyncd.conf.d/c.conf:1:[Time]\n/etc/systemd/timesyncd.conf.d/c.conf:2:NTP=\n"
    assert sources(TIMESYNCD_DEBIAN, reset)[0][0] == "FallbackNTP"
    slow = "[Time]\nNTP=time.cloudflare.com\nPollIntervalMaxSec=262144\n"
    verdict = judge("time_synchronised", snap(**timesyncd(conf=slow)))
    assert verdict.status == v.FAIL and "maxpoll > 16" in verdict.reason


def test_chrony_reads_only_the_directories_chrony_conf_names():
    extra = time_sources.dropins("/etc/chrony/sources.d/a.sources:3:pool pool.ntp.org iburst maxpoll 10\n"
                                 "/etc/chrony/sources.d/b.conf:1:server ignored.example\n"
                                 "/etc/chrony/conf.d/c.conf:2:server conf.example\n")
    found = time_sources.chrony_sources("/etc/chrony/chrony.conf", "sourcedir /etc/chrony/sources.d\n", extra)
    assert [(s.name, s.where, s.maxpoll) for s in found] == [("pool.ntp.org", "/etc/chrony/sources.d/a.sources:3", 10)]


def test_exporter_on_the_monitoring_network_passes():
    ps = "  800   999 prometheus node_exporter   /usr/bin/node_exporter\n"
    ss = 'LISTEN 0 4096 192.0.2.5:9100 0.0.0.0:* users:(("node_exporter",pid=800,fd=3))\n'
    s = snap(ps=ps, cmds={"ss_listeners_procs": ss})
    assert judge("monitoring_exporter", s).status == v.FAIL
    s.policy = {"monitoring_networks": ["192.0.2.0/24"]}
    assert judge("monitoring_exporter", s).status == v.PASS


def test_exporter_named_longer_than_ps_shows_is_found():
    # format: ps(1) comm= is the kernel's TASK_COMM_LEN name, 15 characters at most
    ps = ("  810   999 prometheus-libvirt-exporter prometheus-libv "
          "/usr/bin/prometheus-libvirt-exporter --web.listen-address=127.0.0.1:9177\n")
    ss = 'LISTEN 0 4096 127.0.0.1:9177 0.0.0.0:* users:(("prometheus-libv",pid=810,fd=3))\n'
    verdict = judge("monitoring_exporter", snap(ps=ps, cmds={"ss_listeners_procs": ss}))
    assert verdict.status == v.PASS and "1 exporter process" in verdict.actual


def test_audit_storage_too_small_for_the_rotated_set():
    small = DF.replace("9678264", "20480")          # 20 MB free for 40 MB of logs
    verdict = judge("audit_storage_actions", snap(files={"/etc/audit/auditd.conf": AUDITD_OK},
                                                  cmds={"df_audit": small}))
    assert verdict.status == v.FAIL and "20 MB free" in verdict.actual


def test_log002_reads_virtqemud_conf_on_a_modular_host():
    """RHEL 9 with socket-activated virtqemud: audit_level is virtqemud.conf's, not libvirtd.conf's."""
    from tests.unit.test_read_daemons import RHEL_ACTIVE, RHEL_UNITS, PS_RHEL
    files = {"/etc/libvirt/libvirtd.conf": "audit_level = 2\n",
             "/etc/libvirt/virtqemud.conf": "audit_level = 0\n", "/etc/libvirt/virtproxyd.conf": ""}
    s = snap(files=files, ps=PS_RHEL, cmds={"systemctl_libvirt_active": (3, RHEL_ACTIVE, ""),
                                           "systemctl_libvirt_sockets": (1, RHEL_UNITS, "")})
    verdict = logging_audit.libvirt_audit_level(s, None, {})
    assert verdict.status == v.FAIL and "virtqemud.conf" in verdict.evidence[0].excerpt
