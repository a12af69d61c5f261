"""Pass/fail cases of the logging controls not in LEGACY (tests/unit/test_catalog_cases.py).

Fixture formats: `ausearch` raw records as libvirt writes them (docs/auditlog.rst),
`auditctl -l` as auditctl(8) lists rules, `auditctl -s` status lines, `chronyc -n
sources` (chronyc(1): `^*` = selected source), `ss -Htlnp` (ss(8)).
"""

from tests.cases import *  # noqa: F403
from tests.cases import PS_PLAIN, domain, running

NOT_FOUND = (127, "", "sh: 1: {}: not found\n")
AUSEARCH_OK = (
    "----\ntime->Sun Jun  1 11:00:00 2025\n"
    "type=VIRT_MACHINE_ID msg=audit(1748775600.100:120): pid=800 uid=0 auid=4294967295 ses=4294967295 "
    "msg='virt=kvm vm=\"vm1\" uuid=6b0b3f5c-4a8e-4d6b-9c55-0e0e4b7a1a01 vm-ctx=system_u:system_r:svirt_t:s0:c1,c2 "
    "img-ctx=system_u:object_r:svirt_image_t:s0:c1,c2 model=selinux exe=\"/usr/sbin/virtqemud\" res=success'\n"
    "----\ntime->Sun Jun  1 11:00:01 2025\n"
    "type=VIRT_CONTROL msg=audit(1748775601.200:121): pid=800 uid=0 auid=4294967295 ses=4294967295 "
    "msg='virt=kvm op=start reason=booted vm=\"vm1\" uuid=6b0b3f5c-4a8e-4d6b-9c55-0e0e4b7a1a01 vm-pid=4242 "
    "exe=\"/usr/sbin/virtqemud\" res=success'\n")
RULES_OK = ("-a always,exit -F arch=b64 -S init_module,finit_module -F key=modules\n"
            "-a always,exit -F arch=b64 -S delete_module -F key=modules\n"
            + "".join(f"-w {p} -p wa -k virt-config\n" for p in
                      ["/etc/libvirt/", "/etc/pki/libvirt/", "/etc/pki/qemu/", "/etc/pki/CA/", "/etc/qemu/",
                       "/etc/sasl2/", "/etc/polkit-1/rules.d/"])
            + "".join(f"-w {p} -p x -k virt-tools\n" for p in
                      ["/usr/bin/virsh", "/usr/bin/virt-admin", "/usr/bin/qemu-img", "/usr/bin/virt-install"]))
RULES_FEW = "-w /etc/libvirt -p wa -k virt-config\n-a always,exit -F arch=b64 -S init_module -F key=modules\n"
STATUS = "enabled {}\nfailure 1\npid 612\nrate_limit 0\nbacklog_limit 8192\nlost 0\nbacklog 0\n"
RSYSLOG_TLS = ('/etc/rsyslog.d/60-forward.conf:1:action(type="omfwd" target="siem.example.org" port="6514"\n'
               '/etc/rsyslog.d/60-forward.conf:2:       protocol="tcp" StreamDriver="gtls" StreamDriverMode="1"\n'
               '/etc/rsyslog.d/60-forward.conf:3:       StreamDriverAuthMode="x509/name")\n')
RSYSLOG_UDP = "/etc/rsyslog.d/60-forward.conf:1:*.* @siem.example.org:514\n"
JOURNALD = "[Journal]\n#ForwardToSyslog=yes\n"
UNITS = "systemd-journald.service static -\nrsyslog.service enabled enabled\n"
PS_RSYSLOG = PS_PLAIN + "  500     0 root     rsyslogd        /usr/sbin/rsyslogd -n -iNONE\n"
CHRONY_OK = "pool 2.debian.pool.ntp.org iburst\nserver 0.pool.ntp.org iburst maxpoll 10\n"
SOURCES_OK = ("MS Name/IP address         Stratum Poll Reach LastRx Last sample\n"
              "===============================================================================\n"
              "^* 192.0.2.10                    2   6   377    35   +120us[ +150us] +/-   12ms\n")
PS_EXPORTER = PS_PLAIN + "  800   999 prometheus node_exporter   /usr/bin/prometheus-node-exporter\n"
SS = 'LISTEN 0 4096 {}:9100 0.0.0.0:* users:(("node_exporter",pid=800,fd=3))\n'
AUDITD_OK = ("max_log_file = 8\nnum_logs = 5\nmax_log_file_action = keep_logs\nspace_left_action = email\n"
             "admin_space_left_action = single\ndisk_full_action = HALT\ndisk_error_action = HALT\n")
AUDITD_BAD = "max_log_file = 8\nnum_logs = 5\nmax_log_file_action = ignore\nspace_left_action = ignore\n"
DF = "Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/mapper/vg-audit 10218772 120 9678264 1% /var/log/audit\n"


def forwarding(dropins, syslog_conf=None) -> dict:
    return {"files": {"/etc/rsyslog.conf": syslog_conf, "/etc/audit/plugins.d/au-remote.conf": None,
                      "/etc/audit/audisp-remote.conf": None}, "cmds": {"rsyslog_d": dropins}}


def journald(conf, ps=PS_RSYSLOG, units=UNITS) -> dict:
    return {"files": {"/etc/systemd/journald.conf": conf, "/etc/systemd/journal-upload.conf": None}, "ps": ps,
            "cmds": {"journald_conf_d": (2, "", "grep: /etc/systemd/journald.conf.d: No such file or directory\n"),
                     "systemctl_unit_files": units}}


NO_DROPINS = (2, "", "grep: /etc/chrony/conf.d: No such file or directory\n")
TIMESYNCD = "/etc/systemd/timesyncd.conf"
# Debian 12's timesyncd.conf: "Entries in this file show the compile time defaults"
TIMESYNCD_DEBIAN = ("[Time]\n#NTP=\n#FallbackNTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org 2.debian.pool.ntp.org "
                    "3.debian.pool.ntp.org\n#PollIntervalMaxSec=2048\n")


def chrony(conf, sources, dropins=NO_DROPINS) -> dict:
    return {"files": {"/etc/chrony/chrony.conf": conf, "/etc/chrony.conf": None, TIMESYNCD: TIMESYNCD_DEBIAN},
            "cmds": {"chronyc_sources": sources, "timedatectl_ntp": (1, "", "System has not been booted with systemd\n"),
                     "time_sources_d": dropins}}


def timesyncd(conf=TIMESYNCD_DEBIAN, dropins=NO_DROPINS, synced="NTPSynchronized=yes\n") -> dict:
    return {"files": {"/etc/chrony/chrony.conf": None, "/etc/chrony.conf": None, TIMESYNCD: conf},
            "cmds": {"chronyc_sources": (127, "", "sh: 1: chronyc: not found\n"), "timedatectl_ntp": synced,
                     "time_sources_d": dropins}}


CASES: dict = {
    "LOG-003": ({**running(), "cmds": {"ausearch_virt": AUSEARCH_OK}},
                {**running(), "cmds": {"ausearch_virt": (1, "", "<no matches>\n")}}),
    "LOG-004": ({"cmds": {"auditctl_rules": RULES_OK}}, {"cmds": {"auditctl_rules": RULES_FEW}}),
    "LOG-005": ({"cmds": {"auditctl_rules": RULES_OK}}, {"cmds": {"auditctl_rules": RULES_FEW}}),
    "LOG-006": ({"cmds": {"auditctl_status": STATUS.format(2)},
                 "files": {"/etc/audit/audit.rules": "## generated by augenrules\n-D\n-b 8192\n-e 2\n"}},
                {"cmds": {"auditctl_status": STATUS.format(1)},
                 "files": {"/etc/audit/audit.rules": "-D\n-b 8192\n"}}),
    "LOG-007": (forwarding(RSYSLOG_TLS), forwarding(RSYSLOG_UDP)),
    "LOG-008": (journald(JOURNALD), journald("[Journal]\nForwardToSyslog=no\n")),
    "LOG-012": (chrony(CHRONY_OK, SOURCES_OK),
                chrony("server 10.9.9.9 iburst maxpoll 17\n", (1, "", "506 Cannot talk to daemon\n"))),
    "LOG-013": ({"ps": PS_PLAIN + "  700     0 root     wazuh-agentd    /var/ossec/bin/wazuh-agentd\n"},
                {"ps": PS_PLAIN}),
    "LOG-014": ({"ps": PS_EXPORTER, "cmds": {"ss_listeners_procs": SS.format("127.0.0.1")}},
                {"ps": PS_EXPORTER, "cmds": {"ss_listeners_procs": SS.format("0.0.0.0")}}),
    "LOG-015": ({"files": {"/etc/audit/auditd.conf": AUDITD_OK}, "cmds": {"df_audit": DF}},
                {"files": {"/etc/audit/auditd.conf": AUDITD_BAD}, "cmds": {"df_audit": DF}}),
}

NOT_APPLICABLE: dict = {}

# Debian 12's chrony.conf takes its sources from sources.d; systemd-timesyncd, Debian's default
# client, from NTP= of its drop-ins, else its built-in fallback list
DEBIAN_CHRONY = "confdir /etc/chrony/conf.d\nsourcedir /run/chrony-dhcp\nsourcedir /etc/chrony/sources.d\n"
EXTRA_CASES: dict = {
    "LOG-012": [
        (chrony(DEBIAN_CHRONY, SOURCES_OK, "/etc/chrony/sources.d/site.sources:1:server time.cloudflare.com iburst\n"),
         "pass"),
        (chrony(DEBIAN_CHRONY, SOURCES_OK, "/etc/chrony/sources.d/site.sources:1:server 10.9.9.9 iburst\n"
                                           "/etc/chrony/other/x.sources:1:server time.cloudflare.com\n"), "fail"),
        (timesyncd(), "pass"),
        (timesyncd(dropins="/etc/systemd/timesyncd.conf.d/site.conf:1:[Time]\n"
                           "/etc/systemd/timesyncd.conf.d/site.conf:2:NTP=10.9.9.9\n"), "fail"),
    ],
}
