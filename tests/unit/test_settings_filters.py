"""The host-side readers of backup settings (hvconform/collect/settings_filters.py) run
for real, with every awk this machine has (mawk is Debian's, busybox's stands in for a
minimal host): secrets in any YAML shape never come out, what the judge reads comes out
unchanged and on its own line number, and the cases of tests/cases/backup.py are what
the commands print."""

import shutil
import subprocess

import pytest
import yaml

from hvconform.collect import commands, settings_filters as filters
from tests.backup_fixtures import collected, data

SECRET = "S3CR3T"
AWKS = [a for a in (["mawk"], ["gawk"], ["busybox", "awk"], ["original-awk"]) if shutil.which(a[0])]


def run(awk, program, text="", files=()):
    return subprocess.run([*awk, filters.one_line(program), *files], input=text, capture_output=True,
                          text=True, timeout=20).stdout


# Where a borgmatic configuration could hold a secret: every shape YAML allows for a value,
# at the top level (1.8 layout), in a section (1.7), nested in a kept list, in comments.
HOSTILE = [
    "encryption_passphrase: {S}\n",
    "storage:\n    encryption_passphrase: '{S}'\n",
    'encryption_passphrase: "multi\n{S} line"\nsource_directories: [/etc]\n',
    "encryption_passphrase: 'it''s\n{S}'\n",
    "storage:\n  encryption_passphrase: |\n    {S}\n  compression: lz4\n",
    "storage:\n  encryption_passphrase: >-\n    {S}\n",
    "encryption_passcommand: echo {S}\n",
    "hooks: {{before: [echo,\n{S}]}}\nsource_directories: [/etc]\n",
    "hooks:\n  before_backup:\n    - export BORG_PASSPHRASE={S}\n",
    "postgresql_databases:\n  - name: db\n    password: {S}\n",
    "repositories:\n  - path: /r\n    passphrase: {S}\n    label: x\n",
    "repositories:\n  - path: /r\n    passphrase: |\n      {S}\n",
    "repositories: [{{path: /r, passphrase: {S}}}]\n",
    "repositories:\n  - {{path: /r, passphrase: {S}}}\n",
    "# encryption_passphrase: {S}\nsource_directories: [/etc]\n",
    "source_directories:\n  - /etc  # old passphrase {S}\n  - '/var'  # {S}\n",
    "\tencryption_passphrase: {S}\n",
    "---\nsource_directories: [/etc]\n---\nencryption_passphrase: {S}\n",
    "{{encryption_passphrase: {S}}}\n",
    '"encryption_passphrase": {S}\n',
    "encryption_passphrase   :   {S}\n",
    "? encryption_passphrase\n: {S}\n",
    "storage:\r\n    encryption_passphrase: {S}\r\n",
    "location:\n    source_directories: [/etc]\n    encryption_passphrase: {S}\n",
    "storage:\n    encryption_passphrase: &pw {S}\nsource_directories: [*pw]\n",
    "source_directories: [/etc, {{passphrase: {S}}}]\n",
    "ntfy:\n    topic: t\n    access_token: {S}\n",
    "healthchecks:\n    ping_url: https://hc-ping.com/{S}\n",
    "source_directories:\n- /etc\nhooks:\n- {S}\n",
]


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
@pytest.mark.parametrize("template", HOSTILE)
def test_no_secret_leaves_a_borgmatic_configuration(awk, template):
    text = template.format(S=SECRET)
    out = run(awk, filters.BORGMATIC_YAML, text)
    assert SECRET not in out
    assert out.count("\n") == text.count("\n"), "one line out for each line in"


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
@pytest.mark.parametrize("name", ["borgmatic-1.7.yaml", "borgmatic-1.8.yaml"])
def test_what_the_judge_reads_comes_out_unchanged(awk, name):
    text = data(name)
    out = run(awk, filters.BORGMATIC_YAML, text)
    original, filtered = yaml.safe_load(text), yaml.safe_load(out)
    for doc in (original, filtered):
        doc.update(doc.pop("location", None) or {})
        doc.update(doc.pop("storage", None) or {})
    for key in ("source_directories", "repositories", "exclude_patterns", "one_file_system"):
        assert filtered.get(key) == original.get(key), key
    assert set(filtered) <= set(original) and "case-borg" not in out and "case-hook" not in out
    assert filtered.get("encryption_passphrase", "[withheld]") == "[withheld]"


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
def test_restic_and_cron_lines_withhold_every_secret_shape(awk, tmp_path):
    unit = tmp_path / "restic.service"
    unit.write_text(
        "[Service]\n"
        f'Environment="AWS_SECRET_ACCESS_KEY={SECRET}" RESTIC_CACHE_DIR=/var/cache/restic\n'
        f"Environment=RESTIC_PASSWORD={SECRET} B2_ACCOUNT_KEY={SECRET}\n"
        f"ExecStart=/usr/bin/restic -r rest:https://u:{SECRET}@h/r backup --password-command 'echo {SECRET}' /etc\n"
        f"ExecStartPost=/usr/bin/restic forget --password-command={SECRET}x\n")
    cron = tmp_path / "crontab"
    cron.write_text(f"RESTIC_PASSWORD={SECRET}\n0 3 * * * root BORG_PASSPHRASE='a {SECRET}' borgmatic\n"
                    f"# 0 4 * * * root restic backup --password-command {SECRET}\n")
    for program in (filters.RESTIC, filters.CRON):
        out = run(awk, program, files=[str(unit), str(cron)])
        assert SECRET not in out and "[withheld]" in out
    out = run(awk, filters.RESTIC, files=[str(unit)])
    assert "ExecStart=/usr/bin/restic -r rest:https://u:[withheld]@h/r backup --password-command [withheld] /etc" in out


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
def test_restic_environment_files_keep_only_restic_settings(awk, tmp_path):
    env = tmp_path / "restic.env"
    env.write_text(f"RESTIC_REPOSITORY=rest:https://u:{SECRET}@h/r\nRESTIC_PASSWORD={SECRET}\n"
                   f"export RESTIC_PASSWORD_COMMAND='echo {SECRET}'\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    unit = tmp_path / "r.service"
    unit.write_text(f"EnvironmentFile=-{env}\nExecStart=/usr/bin/restic backup /etc\n")
    out = run(awk, filters.RESTIC, files=[str(unit)])
    assert SECRET not in out
    assert f"### envfile {env}\n1: RESTIC_REPOSITORY=rest:https://u:[withheld]@h/r\n2: RESTIC_PASSWORD=[withheld]\n" in out


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
def test_bacula_keeps_filesets_storage_addresses_and_pki_lines_only(awk, tmp_path):
    (tmp_path / "bacula-dir.conf").write_text(data("bacula-dir.conf"))
    (tmp_path / "bacula-fd.conf").write_text(data("bacula-fd.conf"))
    out = run(awk, filters.BACULA, files=[str(tmp_path / "bacula-dir.conf"), str(tmp_path / "bacula-fd.conf")])
    assert "secret" not in out.lower() and "Password" not in out
    assert "11:     File = /etc/libvirt" in out and "24:   Address = sd.example.org" in out
    assert "4:   PKI Encryption = yes" in out


def test_a_program_for_a_command_holds_no_quote_and_no_placeholder():
    with pytest.raises(ValueError):
        filters.one_line("{ print 'x' }")
    with pytest.raises(ValueError):
        filters.one_line("{path}")


def test_every_command_without_arguments_is_sent_as_declared():
    for name, template in commands.COMMANDS.items():
        if "{" in template and not any(f"{{{arg}}}" in template for arg in ("path", "domain")):
            assert commands.allowed(commands.render(name)) == name, name


def test_the_cases_are_what_the_commands_print():
    """Run on the files of tests/data/backup, the real commands print the cases' text:
    no passphrase of those files, and the line numbers are the files' own."""
    out = collected("borgmatic_configs", {"/etc/borgmatic/config.yaml": data("borgmatic-1.7.yaml")},
                    modes={"/etc/borgmatic/config.yaml": "600"})
    assert out.startswith("### file /etc/borgmatic/config.yaml 600 root root\n") and out.endswith("### end 0\n")
    assert out.splitlines()[6] == "        - /etc/pki/*" and "case-borg-passphrase-17" not in out
    out = collected("rsnapshot_conf", {"/etc/rsnapshot.conf": data("rsnapshot.conf")})
    assert "/etc/rsnapshot.conf:9:backup\t/var/lib/libvirt/\tlocalhost/\texclude=images/" in out
    assert "case-rsnapshot-secret" not in out and "backup_exec" not in out


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
def test_a_file_the_reader_cannot_open_is_named_and_stated(awk, tmp_path):
    unit = tmp_path / "r.service"
    unit.write_text(f"EnvironmentFile=-{tmp_path}/absent.env\nExecStart=/usr/bin/restic backup /etc\n")
    out = run(awk, filters.RESTIC, files=[str(unit)])
    assert f"### unreadable {tmp_path}/absent.env\n@stat {tmp_path}/absent.env" in out and "### envfile" not in out
