"""Pass/fail cases of the backup controls (tests/unit/test_catalog_cases.py).

The tools' settings are what the host-side readers print for the configuration files
of tests/data/backup/ (each tool's own format), made by running the real commands
(tests/backup_fixtures.py). CASES: borgmatic 1.7 (Debian 12) for BKP-001 and -003,
restic for -005, borgmatic for -006; EXTRA_CASES: a passing and a failing case for
each other tool (restic, rsnapshot, the borgmatic 1.8 layout, a Bacula FileSet) and
for the site-file fallback.
"""

from tests.backup_fixtures import collected, data
from tests.cases import *  # noqa: F403

# ---- the tools' settings, as collected -------------------------------------------------
BORGMATIC = "/etc/borgmatic/config.yaml"
RESTIC_UNIT, RESTIC_ENV = "/etc/systemd/system/restic-backup.service", "/etc/restic/restic.env"
RSNAPSHOT = "/etc/rsnapshot.conf"
BACULA_DIR, BACULA_FD = "/etc/bacula/bacula-dir.conf", "/etc/bacula/bacula-fd.conf"
NOT_THERE = {  # what each reader prints on a host without the tool
    "borgmatic_configs": "", "restic_settings": "",
    "rsnapshot_conf": (2, "", "grep: /etc/rsnapshot.conf: No such file or directory\n"),
    "bacula_config": (1, "", "find: '/etc/bacula': No such file or directory\n"
                             "find: '/etc/bareos': No such file or directory\n"),
}
REQUIRED_MISSING_SWTPM = "        - /var/lib/libvirt/swtpm\n"


def borgmatic(text: str = data("borgmatic-1.7.yaml"), mode: str = "600") -> str:
    return collected("borgmatic_configs", {BORGMATIC: text}, modes={BORGMATIC: mode})


def restic(unit=data("restic-backup.service"), env=data("restic.env"), exclude=data("restic-exclude.txt"),
           password_mode="600", env_mode="600") -> str:
    return collected("restic_settings", {RESTIC_UNIT: unit, RESTIC_ENV: env,
                                         "/etc/restic/include.txt": data("restic-include.txt"),
                                         "/etc/restic/exclude.txt": exclude, "/etc/restic/password": "x\n"},
                     modes={"/etc/restic/password": password_mode, RESTIC_ENV: env_mode})


def rsnapshot(text=data("rsnapshot.conf")) -> str:
    return collected("rsnapshot_conf", {RSNAPSHOT: text})


def bacula(director=data("bacula-dir.conf"), fd=data("bacula-fd.conf")) -> str:
    return collected("bacula_config", {BACULA_DIR: director, BACULA_FD: fd})


def tools(**outputs) -> dict:
    """`cmds` of a host whose backup tools print `outputs` (the others are not installed)."""
    return {**NOT_THERE, **outputs}


# proc(5) mountinfo: one file system holds / (the images and a local repository)
MOUNTINFO = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
OTHER_DISK = MOUNTINFO + "40 22 254:17 / /srv/backup rw,relatime - xfs /dev/vdb1 rw\n"

# ---- BKP-003: schedules and the tools' own records --------------------------------------
NO_SYSTEMD = (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n")
CRON_BORGMATIC = ("/etc/cron.d/borgmatic:3: 0 2 * * * root PATH=$PATH:/usr/bin borgmatic --verbosity -1 "
                  "--syslog-verbosity 1\n")
# rsyslog's default file format on Debian 12 (RFC 3339); borgmatic's syslog formatter
SUCCESS = "2025-06-01T02:04:10.512301+00:00 h1 borgmatic: INFO /etc/borgmatic/config.yaml: Successfully ran configuration file\n"
FAILURE = ("2025-06-01T02:00:03.100000+00:00 h1 borgmatic: CRITICAL /etc/borgmatic/config.yaml: Error running "
           "configuration file\n")
RUN_RECORDS = {"systemd_timer_runs": NO_SYSTEMD, "backup_cron": "", "borgmatic_log": "",
               "rsnapshot_log": "", "bacula_log": ""}
# systemd 252: list-timers, then `systemctl show --timestamp=utc` of the activated units
TIMERS = ("Mon 2025-06-02 02:00:00 UTC 13h left Sun 2025-06-01 02:00:00 UTC 10h ago borgmatic.timer "
          "borgmatic.service\n###\nId=borgmatic.service\nResult={result}\nExecMainStartTimestamp=Sun "
          "2025-06-01 02:00:00 UTC\nExecMainExitTimestamp=Sun 2025-06-01 02:04:10 UTC\nExecMainStatus={status}\n"
          "ExecStart=/usr/bin/borgmatic\n")
RSNAPSHOT_LOG = "### log /var/log/rsnapshot.log\n[2025-06-01T03:00:01] /usr/bin/rsnapshot daily: started\n" \
                "[2025-06-01T03:04:41] /usr/bin/rsnapshot daily: {end}\n"
CRON_RSNAPSHOT = "/etc/cron.d/rsnapshot:9: 0 3 * * * root /usr/bin/rsnapshot daily\n"
STATUS = "/var/backups/libvirt/last-success"


def runs(**records) -> dict:
    return {"cmds": tools(borgmatic_configs=borgmatic(), **{**RUN_RECORDS, **records}),
            "files": {STATUS: None}}


# ---- BKP-004: libvirt's checkpoints and completed jobs ----------------------------------
DISK_RECORD = "/var/backups/libvirt/disks/vm1.last-success"
CHECKPOINTS = (" Name                 Creation Time\n-------------------------------------------------\n"
               " {name}   {created}\n")
JOB = ("Job type:         {kind}\nOperation:        Backup\nTime elapsed:     1904         ms\n"
       "File processed:   64.000 MiB\n")
NO_BACKUP_JOB = "error: Requested operation is not valid: no domain backup job present\n"


def backup_state(checkpoints: str = "", job: str = "Job type:         None\n", backup: str = NO_BACKUP_JOB) -> str:
    listing = checkpoints or " Name   Creation Time\n-----------------------\n"
    return f"### domain vm1\n{listing}### completed-job\n{job}### backup-job\n{backup}"


def checkpointed(created: str, kind: str = "Completed") -> dict:
    return {**vm(), "cmds": {"virsh_backup_state": backup_state(
        CHECKPOINTS.format(name="vm1-2025-06-01", created=created), JOB.format(kind=kind))},
            "files": {DISK_RECORD: None}}


# ---- BKP-005/006: repositories and keys --------------------------------------------------
REPOSITORY, KEY = "/etc/hvconform/backup-repository", "/etc/hvconform/backup-password"
REMOTE = "sftp:backup@backup.example.org:/srv/restic/h1\n"
BORG_SECURITY = ("/root/.config/borg/security/5a1e/location:ssh://borg@backup.example.org/./h1.borg\n"
                 "/root/.config/borg/security/5a1e/key-type:{}\n")
LSBLK = '{"blockdevices": [{"name": "/dev/vda", "kname": "/dev/vda", "type": "disk", "mountpoint": null, ' \
        '"children": [{"name": "/dev/vda1", "kname": "/dev/vda1", "type": "part", "mountpoint": "/"}]}]}'


def keys(**outputs) -> dict:
    return {"cmds": {**tools(**outputs), "borg_security": (2, "", "grep: /root/.config/borg/security/*/location: "
                                                                   "No such file or directory\n"),
                     "lsblk_tree": LSBLK}, "files": {REPOSITORY: None}, "stats": {KEY: None}}


def places(mountinfo: str = MOUNTINFO, **outputs) -> dict:
    return {"cmds": tools(**outputs), "files": {REPOSITORY: None, "/proc/self/mountinfo": mountinfo}}


RESTIC_LOCAL = data("restic.env").replace("sftp:restic@backup.example.org:/srv/restic/h1",
                                          "/var/backups/restic")

# ---- BKP-007 .. BKP-009 ------------------------------------------------------------------
RESTORE_LOG = "/var/backups/libvirt/restore-tests.jsonl"
JOB_DIR = "/etc/hvconform/backup-jobs/vm1.xml"
# formatbackup.rst: <domainbackup mode='pull'> with a <server> for the NBD export
PULL = "<domainbackup mode='pull'>\n  <server {}/>\n  <disks><disk name='vda' backup='yes'/></disks>\n</domainbackup>\n"
# libvirt's snapshot metadata (<domainsnapshot>), as `grep -rH` prints the two lines read;
# the collection time is 2025-06-01T12:00:00Z = 1748779200
SNAPS = "/var/lib/libvirt/qemu/snapshot/vm1/{name}.xml"


def snapshot(name: str, created: int, memory: str = "no") -> str:
    return (f"{SNAPS.format(name=name)}:  <creationTime>{created}</creationTime>\n"
            f"{SNAPS.format(name=name)}:  <memory snapshot='{memory}'/>\n")


def restore(date: str, result: str = "success") -> str:
    return f'{{"date": "{date}", "vm": "vm1", "result": "{result}", "boot_verified": true}}\n'


def running_backup(server: str) -> dict:
    return {**vm(), "cmds": {"virsh_backup_state": backup_state(backup=PULL.format(server))},
            "files": {JOB_DIR: None}}


CASES: dict = {
    "BKP-001": ({"cmds": tools(borgmatic_configs=borgmatic())},
                {"cmds": tools(borgmatic_configs=borgmatic(data("borgmatic-1.7.yaml").replace(
                    REQUIRED_MISSING_SWTPM, "")))}),
    "BKP-003": (runs(backup_cron=CRON_BORGMATIC, borgmatic_log=FAILURE + SUCCESS),
                runs(backup_cron=CRON_BORGMATIC, borgmatic_log=SUCCESS.replace("02:04:10", "01:04:10") + FAILURE)),
    "BKP-004": (checkpointed("2025-06-01 02:00:00 +0000"), checkpointed("2025-05-29 02:00:00 +0000")),
    "BKP-005": (keys(restic_settings=restic()), keys(restic_settings=restic(password_mode="644"))),
    "BKP-006": (places(borgmatic_configs=borgmatic()), places(restic_settings=restic(env=RESTIC_LOCAL))),
    "BKP-007": ({"files": {RESTORE_LOG: restore("2025-01-10") + restore("2025-05-20")}},
                {"files": {RESTORE_LOG: restore("2025-01-10") + restore("2025-05-20", "failed")}}),
    "BKP-008": (running_backup("transport='unix' socket='/run/backup/vm1.sock'"),
                running_backup("transport='tcp' name='0.0.0.0' port='10809'")),
    "BKP-009": ({**vm(), "cmds": {"snapshot_metadata": snapshot("before-upgrade", 1748692800)}},
                {**vm(), "cmds": {"snapshot_metadata": snapshot("before-upgrade", 1735689600, "internal")}}),
}

NOT_APPLICABLE: dict = {
    "BKP-004": {**vm(), "policy": {"backup_exempt_vms": ["vm1"]}},
    "BKP-008": {**vm(), "cmds": {"virsh_backup_state": backup_state()}, "files": {JOB_DIR: None}},
}

BORGMATIC_18 = data("borgmatic-1.8.yaml")
RSNAPSHOT_ON_OWN_DISK = data("rsnapshot.conf").replace("/var/cache/rsnapshot/", "/srv/backup/rsnapshot/")
EXTRA_CASES: dict = {
    "BKP-001": [
        # each tool's own format, a passing and a failing case
        ({"cmds": tools(borgmatic_configs=borgmatic(BORGMATIC_18))}, "pass"),
        ({"cmds": tools(borgmatic_configs=borgmatic(BORGMATIC_18.replace(
            "    - '*.pyc'\n", "    - '*.pyc'\n    - /var/lib/libvirt/swtpm\n")))}, "fail"),
        ({"cmds": tools(restic_settings=restic())}, "pass"),
        ({"cmds": tools(restic_settings=restic(exclude=data("restic-exclude.txt") + "swtpm\n"))}, "fail"),
        ({"cmds": tools(rsnapshot_conf=rsnapshot())}, "pass"),
        ({"cmds": tools(rsnapshot_conf=rsnapshot(data("rsnapshot.conf").replace(
            "exclude=images/", "exclude=images/,exclude=swtpm/")))}, "fail"),
        ({"cmds": tools(bacula_config=bacula())}, "pass"),
        ({"cmds": tools(bacula_config=bacula(data("bacula-dir.conf").replace("/etc/pki/tls", "/etc/pki/CA")))},
         "fail"),
        # no tool recognised: the site's list (policy backup_manifest)
        ({"cmds": tools(), "files": {MANIFEST: "/etc\n/var/lib/libvirt\n"}}, "pass"),
        ({"cmds": tools(), "files": {MANIFEST: "/home\n"}}, "fail"),
        ({"cmds": tools(), "files": {"/srv/list": "/etc\n/var/lib/libvirt\n"},
          "policy": {"backup_manifest": "/srv/list"}}, "pass"),
        # a File Daemon only: the FileSets are on the Director
        ({"cmds": tools(bacula_config=bacula(director=""))}, "manual"),
    ],
    "BKP-003": [
        ({**runs(systemd_timer_runs=TIMERS.format(result="success", status="0"))}, "pass"),
        ({**runs(systemd_timer_runs=TIMERS.format(result="exit-code", status="2"))}, "fail"),
        ({"cmds": tools(rsnapshot_conf=rsnapshot(), **{**RUN_RECORDS, "backup_cron": CRON_RSNAPSHOT,
                        "rsnapshot_log": RSNAPSHOT_LOG.format(end="completed successfully")}),
          "files": {STATUS: None}}, "pass"),
        ({"cmds": tools(rsnapshot_conf=rsnapshot(), **{**RUN_RECORDS, "backup_cron": CRON_RSNAPSHOT,
                        "rsnapshot_log": RSNAPSHOT_LOG.format(end="ERROR: /usr/bin/rsync returned 23")}),
          "files": {STATUS: None}}, "fail"),
        ({**runs(), "policy": {"backup_rpo_hours": 4}}, "fail"),          # never scheduled
        # no tool recognised: the site's status file (policy backup_status_file)
        ({"cmds": tools(**RUN_RECORDS), "files": {STATUS: "2025-06-01T02:00:00+00:00\n"}}, "pass"),
        ({"cmds": tools(**RUN_RECORDS), "files": {STATUS: "2025-05-01T02:00:00+00:00\n"}}, "fail"),
    ],
    "BKP-004": [
        ({**vm(), "cmds": {"virsh_backup_state": backup_state()}, "files": {DISK_RECORD: "2025-06-01T02:00:00+00:00\n"}},
         "pass"),
        ({**vm(), "cmds": {"virsh_backup_state": backup_state()}, "files": {DISK_RECORD: None}}, "fail"),
        (checkpointed("2025-06-01 02:00:00 +0000", kind="Failed"), "fail"),
        # a pull-mode backup started with the checkpoint is still being read: no outcome yet
        ({**vm(), "cmds": {"virsh_backup_state": backup_state(
            CHECKPOINTS.format(name="vm1-2025-06-01", created="2025-06-01 02:00:00 +0000"),
            backup=PULL.format("transport='unix' socket='/run/backup/vm1.sock'"))},
          "files": {DISK_RECORD: None}}, "manual"),
    ],
    "BKP-005": [
        ({**keys(borgmatic_configs=borgmatic())}, "manual"),
        ({**keys(borgmatic_configs=borgmatic(mode="644"))}, "fail"),
        ({**keys(rsnapshot_conf=rsnapshot())}, "fail"),
        ({**keys(bacula_config=bacula())}, "manual"),
        ({**keys(bacula_config=bacula(fd=data("bacula-fd.conf").replace("PKI Encryption = yes", "")))}, "fail"),
        ({"cmds": {**keys()["cmds"]}, "files": {REPOSITORY: REMOTE}, "stats": {KEY: "600 root root regular file"}},
         "manual"),
        ({"cmds": {**keys()["cmds"]}, "files": {REPOSITORY: REMOTE}, "stats": {KEY: "644 root root regular file"}},
         "fail"),
    ],
    "BKP-006": [
        (places(rsnapshot_conf=rsnapshot(RSNAPSHOT_ON_OWN_DISK), mountinfo=OTHER_DISK), "pass"),
        (places(rsnapshot_conf=rsnapshot()), "fail"),
        (places(borgmatic_configs=borgmatic(BORGMATIC_18)), "pass"),
        ({"cmds": tools(), "files": {REPOSITORY: REMOTE, "/proc/self/mountinfo": MOUNTINFO}}, "pass"),
        ({"cmds": tools(), "files": {REPOSITORY: "/var/backups/restic\n", "/proc/self/mountinfo": MOUNTINFO}},
         "fail"),
        (places(bacula_config=bacula(director="")), "manual"),
    ],
    "BKP-007": [
        ({"files": {RESTORE_LOG: None}}, "manual"),
    ],
    "BKP-008": [
        ({**vm(), "cmds": {"virsh_backup_state": backup_state()},
          "files": {JOB_DIR: PULL.format("transport='unix' socket='/run/backup/vm1.sock'")}}, "pass"),
    ],
}
