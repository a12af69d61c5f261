"""Backup checks BKP-001 .. BKP-009: the tools' own settings (borgmatic, restic, rsnapshot,
Bacula), their runs, libvirt's checkpoints and jobs, the site-file fallbacks, restore
tests and snapshots (formats: each tool's documentation, proc(5) mountinfo,
formatbackup.rst, formatcheckpoint.rst)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvconform.inputs import catalog
from hvconform.judge import engine
from hvconform.model import verdict as v
from hvconform.judge.kinds import function as function_kind
from hvconform.judge.functions.backup_coverage import snapshot_facts
from hvconform.judge.read import backup_borgmatic, backup_restic, backup_runs, backup_tools
from hvconform.judge.read.backup_places import Mounts, mount_of, mounts
from hvconform.model.snapshot import Artifact
from tests.backup_fixtures import data
from tests.cases import MANIFEST, vm
from tests.cases.backup import (BORGMATIC_18, CRON_BORGMATIC, DISK_RECORD, FAILURE, JOB_DIR, KEY, MOUNTINFO,
                                OTHER_DISK, PULL, REMOTE, REPOSITORY, RESTORE_LOG, RUN_RECORDS, STATUS,
                                SUCCESS, backup_state, borgmatic, keys, places, restic, restore, runs,
                                snapshot, tools)
from tests.snapshots import snap


def judge(function, s, vm_name=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm_name)


def status(function, vm_name=None, **kw):
    return judge(function, snap(**kw), vm_name).status


def artifact(name, text):
    return Artifact(f"cmd:{name}", name, 0, text)


# ---- BKP-001: what the tools back up ----------------------------------------------------

def test_borgmatic_17_sections_globs_and_the_lines_that_cover():
    verdict = judge("config_in_backup_set", snap(cmds=tools(borgmatic_configs=borgmatic())))
    assert verdict.status == v.PASS and "borgmatic (/etc/borgmatic/config.yaml)" in verdict.actual
    excerpt = verdict.evidence[0].excerpt
    assert "/etc/borgmatic/config.yaml:6: - /etc/pki/*  (borgmatic: covers /etc/pki/CA)" in excerpt


def test_borgmatic_reader_both_layouts_and_the_withheld_passphrase():
    [old] = backup_borgmatic.setups(artifact("borgmatic_configs", borgmatic()))
    assert [r.value for r in old.repositories] == ["ssh://borg@backup.example.org/./h1.borg"]
    assert old.one_file_system and [k.kind for k in old.keys] == ["inline"] and old.keys[0].stat == "600 root root"
    [new] = backup_borgmatic.setups(artifact("borgmatic_configs", borgmatic(BORGMATIC_18)))
    assert [s.value for s in new.sources] == ["/etc", "/var/lib/libvirt"]
    assert [r.value for r in new.repositories] == ["ssh://borg@backup.example.org/./h1.borg", "/srv/borg/h1"]
    assert [k.kind for k in new.keys] == ["command"] and len(new.excludes) == 2


def test_borgmatic_2_repository_encryption_and_borg_security_key_types():
    text = "source_directories: [/etc]\nrepositories:\n  - path: /srv/r\n    encryption: repokey-blake2\n"
    [setup] = backup_borgmatic.setups(artifact("borgmatic_configs", borgmatic(text)))
    assert setup.encryption.value == "repokey-blake2" and setup.encryption.where.endswith(":4")
    modes = backup_borgmatic.borg_security_modes(artifact("borg_security", "/r/.config/borg/security/ab/location:"
                                                          "ssh://b@h/./r\n/r/.config/borg/security/ab/key-type:2\n"))
    assert modes["ssh://b@h/./r"][0] == "none"
    assert backup_borgmatic.canonical("b@h:r") == "ssh://b@h/./r"


def test_a_config_that_does_not_parse_is_a_located_problem_and_covers_nothing():
    broken = "location:\n    source_directories: [/etc,\n"
    verdict = judge("config_in_backup_set", snap(cmds=tools(borgmatic_configs=borgmatic(broken))))
    assert verdict.status == v.FAIL and "not valid YAML as read" in verdict.evidence[0].excerpt


def test_a_config_nested_past_the_recursion_limit_is_a_problem_not_a_crash():
    # within MAX_TEXT: PyYAML's C composer (yaml.CSafeLoader) would crash the process on it
    deep = "source_directories: " + "[" * 100_000 + "]" * 100_000 + "\n"
    s = snap(cmds=tools(borgmatic_configs=borgmatic(deep)))
    assert any("RecursionError" in p for p in backup_tools.configured(s).problems)
    for name in ("config_in_backup_set", "backup_separate_failure_domain"):
        assert " raised " not in (judge(name, s).reason or "")


def test_excludes_of_each_tool_take_a_required_path_out():
    swtpm = "/var/lib/libvirt/swtpm"
    out = judge("config_in_backup_set", snap(cmds=tools(borgmatic_configs=borgmatic(BORGMATIC_18.replace(
        "    - '*.pyc'\n", f"    - '*.pyc'\n    - {swtpm}\n")))))
    assert out.status == v.FAIL and out.actual.startswith(f"missing: {swtpm}")
    assert "excludes /var/lib/libvirt/swtpm" in out.evidence[0].excerpt


def test_one_file_system_stops_at_another_mount():
    text = "source_directories: [/]\nrepositories: [/srv/r]\none_file_system: true\n"
    table = MOUNTINFO + "30 22 254:3 / /var/lib/libvirt rw - xfs /dev/vdc1 rw\n"
    verdict = judge("config_in_backup_set", snap(cmds=tools(borgmatic_configs=borgmatic(text)),
                                                 files={"/proc/self/mountinfo": table}))
    assert verdict.status == v.FAIL and "/var/lib/libvirt/swtpm" in verdict.actual
    assert "/etc/libvirt" not in verdict.actual


def test_restic_reader_follows_the_unit_environment_and_lists():
    [setup] = backup_restic.setups(artifact("restic_settings", restic()))
    assert setup.origin == "/etc/systemd/system/restic-backup.service" and setup.one_file_system
    assert [r.value for r in setup.repositories] == ["sftp:restic@backup.example.org:/srv/restic/h1"]
    assert setup.repositories[0].where == "/etc/restic/restic.env:2"
    assert [(k.kind, k.path, k.stat) for k in setup.keys] == [("file", "/etc/restic/password", "600 root root")]
    assert "/var/lib/libvirt/swtpm" in [s.value for s in setup.sources]


def test_restic_on_a_crontab_line_with_inline_settings():
    text = ("### unit /var/spool/cron/crontabs/root\n"
            "3: 0 1 * * * RESTIC_PASSWORD=[withheld] restic -r /srv/restic backup /etc /var/lib/libvirt "
            "--exclude '*.iso'\n### stat /var/spool/cron/crontabs/root 600 root crontab\n")
    [setup] = backup_restic.setups(artifact("restic_settings", text))
    assert [s.value for s in setup.sources] == ["/etc", "/var/lib/libvirt"]
    assert [r.value for r in setup.repositories] == ["/srv/restic"]
    assert [(k.kind, k.stat) for k in setup.keys] == [("inline", "600 root crontab")]


def test_unread_includes_leave_missing_paths_to_a_person():
    text = "source_directories: [/etc]\nrepositories: [/srv/r]\n<<: !include /etc/borgmatic/common.yaml\n"
    verdict = judge("config_in_backup_set", snap(cmds=tools(borgmatic_configs=borgmatic(text))))
    assert verdict.status == v.MANUAL and "common.yaml" in verdict.reason


def test_no_tool_falls_back_to_the_site_manifest():
    verdict = judge("config_in_backup_set", snap(cmds=tools(), files={MANIFEST: "/etc/libvirt\n/etc/libvirt-extra\n"}))
    assert verdict.status == v.FAIL and "/etc/pki/libvirt" in verdict.actual       # /etc/libvirt-extra is no parent
    verdict = judge("config_in_backup_set", snap(cmds=tools(), files={MANIFEST: None}))
    assert verdict.status == v.FAIL and verdict.actual == "no backup tool configured"
    assert status("config_in_backup_set", cmds={}) == v.ERROR                  # settings not collected


def test_settings_the_audit_account_could_not_read_make_an_error_not_a_fail():
    unreadable = "### file /etc/borgmatic/config.yaml 600 root root\n### end 2\n"
    verdict = judge("config_in_backup_set", snap(cmds=tools(borgmatic_configs=unreadable)))
    assert verdict.status == v.ERROR and "needs root" in verdict.reason
    out = restic().replace("### envfile /etc/restic/restic.env", "### unreadable /etc/restic/restic.env\n"
                           "### envfile /dev/null")          # it exists (stat printed its mode)
    assert "### stat /etc/restic/restic.env 600 root root" in out
    absent = out.replace("### stat /etc/restic/restic.env 600 root root",
                         "### stat /etc/restic/restic.env stat: cannot statx: No such file or directory")
    assert status("backup_separate_failure_domain", **places(restic_settings=absent)) == v.FAIL
    verdict = judge("backup_separate_failure_domain", snap(**places(restic_settings=out)))
    assert verdict.status == v.ERROR and "/etc/restic/restic.env: could not be read" in verdict.reason
    denied = (2, "", "grep: /etc/rsnapshot.conf: Permission denied\n")
    assert status("config_in_backup_set", cmds=tools(rsnapshot_conf=denied)) == v.ERROR


# ---- BKP-003: scheduled and successful within the RPO ------------------------------------

@pytest.mark.parametrize("log, expected", [
    (SUCCESS, v.PASS), (FAILURE + SUCCESS, v.PASS), (SUCCESS.replace("02:04:10", "01:04:10") + FAILURE, v.FAIL),
    (SUCCESS.replace("2025-06-01T", "2025-05-30T"), v.FAIL),                 # beyond 24 h
    ("Jun  1 02:04:10 h1 borgmatic: INFO /etc/borgmatic/config.yaml: Successfully ran configuration file\n",
     v.PASS),                                                                # rsyslog's traditional format
    ("", v.FAIL),                                                            # scheduled, no run recorded
    (SUCCESS.replace("/etc/borgmatic/config.yaml", "/etc/borgmatic.d/other.yaml"), v.FAIL),
])
def test_borgmatic_runs_from_its_syslog_lines(log, expected):
    assert status("last_backup_within_rpo", **runs(backup_cron=CRON_BORGMATIC, borgmatic_log=log)) == expected


def test_a_tool_without_timer_or_cron_is_not_scheduled():
    verdict = judge("last_backup_within_rpo", snap(**runs(borgmatic_log=SUCCESS)))
    assert verdict.status == v.FAIL and "no timer or cron entry runs it" in verdict.actual


def test_restic_keeps_no_log_so_the_status_file_decides_without_systemd():
    base = {**RUN_RECORDS, "backup_cron": "/etc/cron.d/restic:2: 0 1 * * * root /usr/bin/restic backup /etc\n"}
    kw = {"cmds": tools(restic_settings=restic(), **base)}
    assert status("last_backup_within_rpo", **kw, files={STATUS: None}) == v.FAIL
    assert status("last_backup_within_rpo", **kw, files={STATUS: "2025-06-01T02:00:00+00:00\n"}) == v.PASS


def test_systemd_time_parsing_and_unknown_collection_time():
    assert backup_runs.parse_time("Sun 2025-06-01 02:04:10 UTC").isoformat() == "2025-06-01T02:04:10+00:00"
    assert backup_runs.parse_time("01-Jun-2025 03:00:05").hour == 3
    assert status("last_backup_within_rpo", **runs(backup_cron=CRON_BORGMATIC, borgmatic_log=SUCCESS),
                  started="") == v.ERROR


def test_site_status_file_when_no_tool_is_recognised():
    kw = {"cmds": tools(**RUN_RECORDS)}
    for text, expected in (("2025-06-01T11:00:00\n", v.PASS), ("2025-06-01T12:03:00Z\n", v.PASS),
                           ("2025-06-02T12:00:00Z\n", v.FAIL), ("yesterday\n", v.FAIL), (None, v.FAIL)):
        assert status("last_backup_within_rpo", **kw, files={STATUS: text}) == expected, text
    assert status("last_backup_within_rpo", **kw, files={STATUS: "2025-05-30T02:00:00+00:00\n"},
                  policy={"backup_rpo_hours": 168}) == v.PASS


# ---- BKP-004: libvirt's checkpoints, else the site's per-VM record -------------------------

def test_disk_backup_record_in_the_future_or_too_old_fails():
    empty = {"virsh_backup_state": backup_state()}
    for when, expected in (("2025-06-01T11:00:00+00:00", v.PASS), ("2025-06-02T12:00:00+00:00", v.FAIL),
                           ("2025-05-30T12:00:00+00:00", v.FAIL), ("yesterday", v.FAIL)):
        assert status("vm_disk_backup_within_rpo", "vm1", **vm(), cmds=empty,
                      files={DISK_RECORD: when + "\n"}) == expected, when
    assert status("vm_disk_backup_within_rpo", "vm1", **vm(), cmds=empty,
                  files={DISK_RECORD: "2025-05-30T12:00:00+00:00\n"}, policy={"backup_rpo_hours": 72}) == v.PASS


def test_checkpoint_list_and_completed_job_parsing():
    state = backup_runs.domain_backups(backup_state(
        " Name   Creation Time\n-------\n a   2025-05-31 02:00:00 +0000\n b   2025-06-01 01:00:00 +0200\n",
        "Job type:         Completed\nOperation:        Backup\n"))["vm1"]
    assert [n for n, _, _ in state.checkpoints] == ["a", "b"] and state.job["Operation"] == "Backup"
    assert state.checkpoints[1][1].isoformat() == "2025-06-01T01:00:00+02:00"


# ---- BKP-005: encrypted, key private ----------------------------------------------------

def test_restic_password_file_mode_owner_and_inline_passwords():
    assert judge("backup_key_protected", snap(**keys(restic_settings=restic()))).status == v.PASS
    for mode in ("640", "644"):
        assert status("backup_key_protected", **keys(restic_settings=restic(password_mode=mode))) == v.FAIL
    inline = data("restic.env").replace("RESTIC_PASSWORD_FILE=/etc/restic/password", "RESTIC_PASSWORD=case-inline")
    assert status("backup_key_protected", **keys(restic_settings=restic(env=inline))) == v.PASS
    assert status("backup_key_protected", **keys(restic_settings=restic(env=inline, env_mode="644"))) == v.FAIL
    unit = data("restic-backup.service").replace("Type=oneshot", "Type=oneshot\nEnvironment=RESTIC_PASSWORD=x")
    verdict = judge("backup_key_protected", snap(**keys(restic_settings=restic(unit=unit))))
    assert verdict.status == v.FAIL and "systemctl show" in verdict.reason


def test_borg_modes_from_the_security_directory():
    kw = keys(borgmatic_configs=borgmatic())
    for key_type, expected in (("5", v.PASS), ("2", v.FAIL), ("7", v.FAIL)):
        kw["cmds"]["borg_security"] = ("/root/.config/borg/security/5a1e/location:ssh://borg@backup.example.org/./h1.borg\n"
                                       f"/root/.config/borg/security/5a1e/key-type:{key_type}\n")
        assert status("backup_key_protected", **kw) == expected, key_type
    plain = data("borgmatic-1.7.yaml").replace('    encryption_passphrase: "case-borg-passphrase-17"\n', "")
    assert status("backup_key_protected", **keys(borgmatic_configs=borgmatic(plain))) == v.FAIL


def test_backup_key_control_never_passes_without_a_person():
    control = catalog.load().by_id("BKP-005")
    verdict = engine.judge(control, snap(**keys(restic_settings=restic())))
    assert verdict.status == v.MANUAL and "escrow" in verdict.reason


def test_site_key_file_when_no_tool_is_recognised():
    cmds = keys()["cmds"]
    for line, expected in (("400 root root regular file", v.PASS), ("600 backup backup regular file", v.FAIL),
                           ("640 root root regular file", v.FAIL), (None, v.FAIL)):
        assert status("backup_key_protected", cmds=cmds, files={REPOSITORY: REMOTE}, stats={KEY: line}) == expected
    assert status("backup_key_protected", cmds=cmds, files={REPOSITORY: "# nothing yet\n"},
                  stats={KEY: "600 root root regular file"}) == v.FAIL


# ---- BKP-006: another failure domain ----------------------------------------------------

def test_mountinfo_unescapes_and_finds_the_deepest_last_mount():
    table = mounts(MOUNTINFO + "40 22 254:2 / /srv/backup\\040disk rw - xfs /dev/vdb1 rw\n"
                   "41 22 0:45 / /srv rw - tmpfs tmpfs rw\n41 22 0:46 / /srv rw - tmpfs tmpfs rw\n")
    assert mount_of("/srv/backup disk/repo", table)[1] == "254:2"
    assert mount_of("/srv/other", table)[1] == "0:46"
    assert mount_of("/var/lib/libvirt/images", table)[1] == "254:1"


def _scanned_mount_of(path, table):
    """mount_of as it was: every mount compared, the longest point above, the last there."""
    best = None
    for entry in table:
        point = entry[0].rstrip("/") or "/"
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[0].rstrip("/") or "/"):
                best = entry
    return best


_PATHS = st.lists(st.sampled_from(["", "/", "//", "a", "a/", "/a", "/a/b", "ab", "/ab", "x y"]),
                  max_size=5).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(_PATHS, st.sampled_from(["0:1", "0:2"]), st.just("src")), max_size=8), _PATHS)
def test_mount_of_by_lookup_finds_what_scanning_every_mount_found(entries, path):
    assert mount_of(path, Mounts(entries)) == _scanned_mount_of(path, entries)
    assert mount_of(path, entries) == _scanned_mount_of(path, entries)   # a plain list too


def test_failure_domain_local_repositories_by_device_and_network_mounts():
    for repo, expected in (("/srv/backup/restic", v.PASS), ("local:/srv/backup/restic", v.PASS),
                           ("/var/backups/restic", v.FAIL)):
        env = data("restic.env").replace("sftp:restic@backup.example.org:/srv/restic/h1", repo)
        assert status("backup_separate_failure_domain",
                      **places(OTHER_DISK, restic_settings=restic(env=env))) == expected, repo
    nfs = MOUNTINFO + "41 22 0:50 / /srv/nfs rw - nfs4 nas:/export rw\n"
    env = data("restic.env").replace("sftp:restic@backup.example.org:/srv/restic/h1", "/srv/nfs/restic")
    assert status("backup_separate_failure_domain", **places(nfs, restic_settings=restic(env=env))) == v.PASS


@pytest.mark.parametrize("repo, expected", [
    ("rest:https://user:[withheld]@backup.example.org:8000/h1", v.PASS),
    ("ssh://borg@backup.example.org:22/./h1", v.PASS), ("borg@backup.example.org:h1", v.PASS),
    ("sftp:backup@localhost:/srv/restic", v.FAIL), ("sftp:backup@h1:/srv/restic", v.FAIL)])   # the host itself
def test_failure_domain_remote_repositories_must_be_another_host(repo, expected):
    env = data("restic.env").replace("sftp:restic@backup.example.org:/srv/restic/h1", repo)
    assert status("backup_separate_failure_domain", **places(restic_settings=restic(env=env))) == expected
    assert status("backup_separate_failure_domain", cmds=tools(),
                  files={REPOSITORY: repo + "\n", "/proc/self/mountinfo": MOUNTINFO}) == expected


def test_one_remote_repository_is_enough_and_others_are_named():
    verdict = judge("backup_separate_failure_domain", snap(**places(borgmatic_configs=borgmatic(BORGMATIC_18))))
    assert verdict.status == v.PASS and "also borgmatic: /srv/borg/h1" in verdict.actual


# ---- BKP-007 .. BKP-009 ----------------------------------------------------------------

def test_restore_tests_per_class_boot_verification_and_malformed_lines():
    log = restore("2025-05-20") + '{"date": "2025-05-25", "vm": "db", "result": "success", "boot_verified": false}\n'
    verdict = judge("restore_tested", snap(files={RESTORE_LOG: log + "not json\n"},
                                            policy={"restore_test_scope": ["vm1", "db"]}))
    assert verdict.status == v.FAIL and verdict.actual == "1 VM(s) with a recent successful test; none for db"
    assert "not a record with an ISO date" in verdict.evidence[0].excerpt
    assert status("restore_tested", files={RESTORE_LOG: log}, policy={"restore_test_scope": ["vm1"]}) == v.PASS
    absent = judge("restore_tested", snap(files={RESTORE_LOG: None}))
    assert absent.status == v.MANUAL and "ticket or CI log" in absent.reason


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
        kw = {"cmds": {"virsh_backup_state": backup_state()}, "files": {JOB_DIR: job, qconf: conf}}
        assert status("backup_export_protected", "vm1", **vm(), **kw) == expected, (job, conf)
        kw = {"cmds": {"virsh_backup_state": backup_state(backup=job)}, "files": {JOB_DIR: None, qconf: conf}}
        if job.startswith("<domainbackup"):     # a running job, as libvirt gives it
            assert status("backup_export_protected", "vm1", **vm(), **kw) == expected, (job, conf)


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


def test_reach_names_the_covering_source_or_the_exclude():
    [setup] = backup_borgmatic.setups(artifact("borgmatic_configs", borgmatic()))
    hit = backup_tools.reach(setup, "/etc/libvirt/qemu")
    assert hit.source.value == "/etc/libvirt" and hit.excluded is None
    assert backup_tools.reach(setup, "/etc/libvirt/qemu/autostart").excluded.pattern == "/etc/libvirt/qemu/autostart"
    assert backup_tools.reach(setup, "/home").source is None
