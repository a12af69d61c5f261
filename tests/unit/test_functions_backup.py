"""Bespoke backup checks BKP-004..BKP-009: records, key files, failure domains, restore
tests, backup-job exports and snapshots (formats: proc(5) mountinfo, formatbackup.rst)."""

from hvconform.inputs import catalog
from hvconform.judge import engine
from hvconform.model import verdict as v
from hvconform.judge.kinds import function as function_kind
from hvconform.judge.functions.backup_coverage import snapshot_facts
from hvconform.judge.functions.backup_protection import mount_of, mounts
from tests.cases import vm
from tests.cases.backup import (DISK_RECORD, JOB, KEY, MOUNTINFO, PULL, REMOTE, REPOSITORY, RESTORE_LOG,
                                restore, snapshot)
from tests.snapshots import snap


def judge(function, s, vm_name=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm_name)


def status(function, vm_name=None, **kw):
    return judge(function, snap(**kw), vm_name).status


def test_disk_backup_record_in_the_future_or_too_old_fails():
    for when, expected in (("2025-06-01T11:00:00+00:00", v.PASS), ("2025-06-02T12:00:00+00:00", v.FAIL),
                           ("2025-05-30T12:00:00+00:00", v.FAIL), ("yesterday", v.FAIL)):
        assert status("vm_disk_backup_within_rpo", "vm1", **vm(), files={DISK_RECORD: when + "\n"}) == expected, when
    assert status("vm_disk_backup_within_rpo", "vm1", **vm(), files={DISK_RECORD: "2025-05-30T12:00:00+00:00\n"},
                  policy={"backup_rpo_hours": 72}) == v.PASS


def test_backup_key_mode_owner_and_presence():
    for line, expected in (("400 root root regular file", v.PASS), ("600 backup backup regular file", v.FAIL),
                           ("640 root root regular file", v.FAIL), (None, v.FAIL)):
        assert status("backup_key_protected", files={REPOSITORY: REMOTE}, stats={KEY: line}) == expected, line
    assert status("backup_key_protected", files={REPOSITORY: None}, stats={KEY: "600 root root regular file"}) == v.FAIL
    assert status("backup_key_protected", files={REPOSITORY: "# nothing yet\n"},
                  stats={KEY: "600 root root regular file"}) == v.FAIL


def test_backup_key_control_never_passes_without_a_person():
    control = catalog.load().by_id("BKP-005")
    verdict = engine.judge(control, snap(files={REPOSITORY: REMOTE}, stats={KEY: "600 root root regular file"}))
    assert verdict.status == v.MANUAL and "escrow" in verdict.reason


def test_mountinfo_unescapes_and_finds_the_deepest_last_mount():
    table = mounts(MOUNTINFO + "40 22 254:2 / /srv/backup\\040disk rw - xfs /dev/vdb1 rw\n"
                   "41 22 0:45 / /srv rw - tmpfs tmpfs rw\n41 22 0:46 / /srv rw - tmpfs tmpfs rw\n")
    assert mount_of("/srv/backup disk/repo", table)[1] == "254:2"
    assert mount_of("/srv/other", table)[1] == "0:46"
    assert mount_of("/var/lib/libvirt/images", table)[1] == "254:1"


def test_failure_domain_local_repositories_by_device():
    other_disk = MOUNTINFO + "40 22 254:17 / /srv/backup rw,relatime - xfs /dev/vdb1 rw\n"
    for repo, expected in (("/srv/backup/restic", v.PASS), ("local:/srv/backup/restic", v.PASS),
                           ("/var/backups/restic", v.FAIL)):
        assert status("backup_separate_failure_domain",
                      files={REPOSITORY: repo + "\n", "/proc/self/mountinfo": other_disk}) == expected, repo


def test_failure_domain_remote_repositories_must_be_another_host():
    table = {"/proc/self/mountinfo": MOUNTINFO}
    for repo, expected in (("rest:https://user:pw@backup.example.org:8000/h1", v.PASS),
                           ("ssh://borg@backup.example.org:22/./h1", v.PASS),
                           ("borg@backup.example.org:h1", v.PASS),
                           ("sftp:backup@localhost:/srv/restic", v.FAIL),
                           ("sftp:backup@h1:/srv/restic", v.FAIL)):                # the host itself
        assert status("backup_separate_failure_domain", files={REPOSITORY: repo + "\n", **table}) == expected, repo


def test_restore_tests_per_class_boot_verification_and_malformed_lines():
    log = restore("2025-05-20") + '{"date": "2025-05-25", "vm": "db", "result": "success", "boot_verified": false}\n'
    verdict = judge("restore_tested", snap(files={RESTORE_LOG: log + "not json\n"},
                                            policy={"restore_test_scope": ["vm1", "db"]}))
    assert verdict.status == v.FAIL and verdict.actual == "1 VM(s) with a recent successful test; none for db"
    assert "not a record with an ISO date" in verdict.evidence[0].excerpt
    assert status("restore_tested", files={RESTORE_LOG: log}, policy={"restore_test_scope": ["vm1"]}) == v.PASS
    assert status("restore_tested", files={RESTORE_LOG: None}) == v.FAIL


def test_backup_export_modes_and_tls_verification():
    qconf = "/etc/libvirt/qemu.conf"
    tls = PULL.format("transport='tcp' name='backup.example.org' port='10809' tls='yes'")
    cases = (("<domainbackup mode='push'><disks/></domainbackup>", "", v.PASS),
             (tls, "", v.PASS),
             (tls, "backup_tls_x509_verify = 0\n", v.FAIL),
             (tls, "default_tls_x509_verify = 0\n", v.FAIL),
             (tls, "default_tls_x509_verify = 0\nbackup_tls_x509_verify = 1\n", v.PASS),
             ("<domain type='kvm'/>", "", v.FAIL))
    for job, conf, expected in cases:
        assert status("backup_export_protected", "vm1", **vm(), files={JOB: job, qconf: conf}) == expected, (job, conf)


def test_snapshot_facts_keep_to_the_vm_and_its_own_files():
    text = snapshot("a", 100, "internal") + snapshot("b", 200).replace("/vm1/", "/vm10/") + \
        "/var/lib/libvirt/qemu/snapshot/vm1/sub/c.xml:  <creationTime>300</creationTime>\n"
    assert snapshot_facts(text, "vm1") == {"a": {"created": 100, "memory": "internal"}}


def test_snapshots_exceptions_missing_metadata_and_memory_state():
    old = snapshot("pre-upgrade", 1735689600, "internal")
    verdict = judge("snapshots_reviewed", snap(**vm(), cmds={"snapshot_metadata": old}), "vm1")
    assert verdict.status == v.FAIL and "sensitive" in verdict.evidence[0].excerpt
    assert status("snapshots_reviewed", "vm1", **vm(), cmds={"snapshot_metadata": old},
                  policy={"snapshot_exceptions": ["vm1/pre-upgrade"]}) == v.PASS
    absent = (2, "", "grep: /var/lib/libvirt/qemu/snapshot: No such file or directory\n")
    assert status("snapshots_reviewed", "vm1", **vm(), cmds={"snapshot_metadata": absent}) == v.PASS
    undated = "/var/lib/libvirt/qemu/snapshot/vm1/x.xml:  <memory snapshot='no'/>\n"
    assert status("snapshots_reviewed", "vm1", **vm(), cmds={"snapshot_metadata": undated}) == v.FAIL
