"""Pass/fail cases of the backup controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403

DISK_RECORD = "/var/backups/libvirt/disks/vm1.last-success"
REPOSITORY, KEY = "/etc/hvconform/backup-repository", "/etc/hvconform/backup-password"
REMOTE = "sftp:backup@backup.example.org:/srv/restic/h1\n"
# proc(5) mountinfo: one file system holds / (the images and a local repository)
MOUNTINFO = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
RESTORE_LOG = "/var/backups/libvirt/restore-tests.jsonl"
JOB = "/etc/hvconform/backup-jobs/vm1.xml"
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


CASES: dict = {
    "BKP-004": ({**vm(), "files": {DISK_RECORD: "2025-06-01T02:00:00+00:00\n"}},
                {**vm(), "files": {DISK_RECORD: None}}),
    "BKP-005": ({"files": {REPOSITORY: REMOTE}, "stats": {KEY: "600 root root regular file"}},
                {"files": {REPOSITORY: REMOTE}, "stats": {KEY: "644 root root regular file"}}),
    "BKP-006": ({"files": {REPOSITORY: REMOTE, "/proc/self/mountinfo": MOUNTINFO}},
                {"files": {REPOSITORY: "/var/backups/restic\n", "/proc/self/mountinfo": MOUNTINFO}}),
    "BKP-007": ({"files": {RESTORE_LOG: restore("2025-01-10") + restore("2025-05-20")}},
                {"files": {RESTORE_LOG: restore("2025-01-10") + restore("2025-05-20", "failed")}}),
    "BKP-008": ({**vm(), "files": {JOB: PULL.format("transport='unix' socket='/run/backup/vm1.sock'")}},
                {**vm(), "files": {JOB: PULL.format("transport='tcp' name='0.0.0.0' port='10809'")}}),
    "BKP-009": ({**vm(), "cmds": {"snapshot_metadata": snapshot("before-upgrade", 1748692800)}},
                {**vm(), "cmds": {"snapshot_metadata": snapshot("before-upgrade", 1735689600, "internal")}}),
}

NOT_APPLICABLE: dict = {
    "BKP-004": {**vm(), "policy": {"backup_exempt_vms": ["vm1"]}},
    "BKP-008": {**vm(), "files": {JOB: None}},
}
