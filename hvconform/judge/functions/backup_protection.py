"""Python controls of the backup domain, how the backups are protected: the
repository encrypted with its key kept private, the repository in another failure
domain than the VMs' images, and libvirt's backup exports not readable by anyone who
connects.

  BKP-005  backup_key_protected             every tool's repository encrypted; its key file 0600 root
  BKP-006  backup_separate_failure_domain   a repository on another host, or on another device than the images
  BKP-008  backup_export_protected          pull-mode exports over a unix socket or verified TLS

The repository, its encryption and its key come from the tools' own settings
(judge/read/backup_tools.py); policy backup_repository_file and backup_password_file
are the fallback for a host where no tool is recognised. A running backup job's XML
comes from libvirt (`virsh backup-dumpxml`), policy backup_job_dir's stored jobs
otherwise. Formats: proc(5) mountinfo, libvirt formatbackup.rst.
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, backup_borgmatic, backup_runs, backup_tools
from hvconform.judge.read import libvirt_grammar, site_files, xmlsafe
from hvconform.judge.read.backup_places import (MOUNTINFO, is_this_host, mount_of, mounts, network_fs,
                                                remote_host)
from hvconform.judge.read.backup_setup import stat_fields
from hvconform.judge.functions.crypto_storage import block_tree, on_crypt
from hvconform.judge.functions.registry import control
from hvconform.judge.ops import octal


def _repository(snap, policy, expected):
    """(repository line, its artifact) of the site file; End when none is configured."""
    path = policy["backup_repository_file"]
    art = artifacts.required_file(snap, path, expected,
                                  f"no backup tool recognised ({backup_tools.TOOLS}) and no {path}",
                                  absent_actual="no backup tool configured")
    entries = site_files.entries(art.stdout)
    if not entries:
        raise artifacts.End(v.failed(expected, f"{path} is empty", [v.Evidence.of(art, f"{path}: empty")],
                                     reason="no backup repository is configured"))
    return entries[0][1], art


def _private(stat: str | None, path: str) -> str | None:
    """Why a key file (mode, owner as `stat` printed them) is not private, or None."""
    fields = stat_fields(stat or "")
    if fields is None:
        return f"{path}: absent or unreadable"
    mode, owner, _ = fields
    bits = octal(mode)
    bad = ([f"mode {mode} is beyond 0600"] if bits is None or bits & ~0o600 else []) + (
        [f"owned by {owner}, not root"] if owner != "root" else [])
    return f"{path}: {'; '.join(bad)}" if bad else None


def _site_key(snap, policy) -> v.Verdict:
    """No tool recognised: the site's repository file and key file."""
    key = policy["backup_password_file"]
    expected = f"a backup repository configured; its key {key} mode <= 0600, owned by root"
    repo, repo_art = _repository(snap, policy, expected)
    st = snap.stat(key)
    if st is None:
        return v.error(f"{key} was not collected")
    evidence = [v.Evidence.of(repo_art, f"repository: {repo}")]
    if artifacts.is_absent(st):
        evidence.append(v.Evidence.of(st, st.stderr.strip()))
        return v.failed(expected, f"repository {repo}, no key file", evidence,
                        reason=f"no {key}: nothing shows the repository is encrypted with a key kept here")
    if not st.ok:
        return artifacts.failure(st, key)
    evidence.append(v.Evidence.of(st, f"{key}: {st.stdout.strip()}"))
    actual = f"repository {repo}; {key} mode {st.stdout.split()[0]} owner {(st.stdout.split() + ['', ''])[1]}"
    bad = _private(" ".join(st.stdout.split()[:3]), key)
    if bad:
        return v.failed(expected, actual, evidence, reason=bad.split(": ", 1)[1])
    return v.passed(expected, actual, evidence)


def _encryption(setup, security, tree) -> tuple[bool, str]:
    """(encrypted, how it is known) for one tool's repository."""
    if setup.tool == "borgmatic":
        modes = [(r, security.get(backup_borgmatic.canonical(r.value))) for r in setup.repositories]
        known = [(r, m) for r, m in modes if m]
        if setup.encryption is not None:
            mode = setup.encryption.value
            return mode not in backup_borgmatic.UNENCRYPTED, f"{setup.encryption.where}: encryption: {mode}"
        if known:
            plain = [(r, m) for r, m in known if m[0] in backup_borgmatic.UNENCRYPTED]
            r, m = (plain or known)[0]
            return not plain, f"{m[1]} for {r.value}"
        if setup.keys:
            return True, (f"{setup.keys[0].where}: a passphrase is configured, so the repository is encrypted "
                          "or authenticated (borg records the mode once it has opened the repository)")
        return False, f"{setup.origin}: no encryption_passphrase or passcommand and no recorded key type"
    if setup.encryption is not None:
        return True, f"{setup.encryption.where}: {setup.encryption.value}"
    if setup.tool == "rsnapshot" and setup.repositories and tree is not None:
        crypt = on_crypt(tree, path=setup.repositories[0].value)
        if crypt:
            return True, f"{setup.repositories[0].cite()}: on {crypt} (dm-crypt)"
    return False, f"{setup.origin}: {setup.unencrypted or 'no encryption configured'}"


def _keys(setup) -> list[str]:
    """Why the tool's key or passphrase is not kept private (empty when it is)."""
    bad = []
    for key in setup.keys:
        if key.kind == "command":
            continue
        if key.kind == "inline" and "Environment=" in key.where or (key.kind == "inline" and "/systemd/" in key.path
                                                                     and not key.path.endswith((".env", ".conf"))):
            bad.append(f"{key.where}: in a unit's Environment=, which systemctl show prints to every user")
            continue
        problem = _private(key.stat, key.path)
        if problem:
            bad.append(f"{key.where} -> {problem}")
    if not setup.keys and setup.tool == "restic":
        bad.append(f"{setup.origin}: no password file, command or variable (restic would ask on a terminal)")
    return bad


@control("BKP-005", needs=lambda policy: [*backup_tools.NEEDS, ("borg_security", ""), ("lsblk_tree", ""),
                                          ("cat", policy["backup_repository_file"]),
                                          ("stat", policy["backup_password_file"])])
@artifacts.ends
def backup_key_protected(snap, vm, policy):
    found = backup_tools.configured(snap)
    if not found.setups:
        return _site_key(snap, policy)
    expected = (f"every backup tool's repository encrypted ({found.names()}); its key or passphrase in a file "
                "mode <= 0600 owned by root, or from a command")
    security = backup_borgmatic.borg_security_modes(snap.get("cmd:borg_security"))
    tree = None
    if any(s.tool == "rsnapshot" for s in found.setups):
        tree = block_tree(snap)[1]
    rows, problems = {}, []
    for s in found.setups:
        encrypted, how = _encryption(s, security, tree)
        keys = _keys(s)
        rows.setdefault(id(s), []).extend([how] + [f"key: {k.where} ({k.kind}{', ' + k.stat if k.stat else ''})"
                                                   for k in s.keys] + keys)
        if not encrypted:
            problems.append(f"{s.label()}: not encrypted ({how})")
        problems += [f"{s.label()}: {k}" for k in keys]
    evidence = found.evidence(rows)
    sec = snap.get("cmd:borg_security")
    if sec is not None and security:
        evidence.append(v.Evidence.of(sec, "\n".join(m[1] for m in security.values())))
    if problems:
        return found.or_error(v.failed(expected, "; ".join(problems), evidence, reason="; ".join(problems)))
    return v.passed(expected, f"{', '.join(s.label() for s in found.setups)}: encrypted, key kept private",
                    evidence)


def _place(repo: str, own, images, table, table_text) -> tuple[bool, str]:
    """(in another failure domain, why) for one repository."""
    host = remote_host(repo)
    if host is not None:
        if is_this_host(host, own):
            return False, f"{repo} is on this host ({host})"
        return True, f"{repo}: on {host or 'another machine'}"
    path = repo.removeprefix("local:").removeprefix("file://")
    target = mount_of(path, table)
    if target is None:
        return False, f"{path}: no mount holds it"
    if (kind := network_fs(target[0], table_text)):
        return True, f"{path}: on {target[2]} ({kind}, another machine)"
    shared = [d for d in images if (m := mount_of(d, table)) and m[1] == target[1]]
    if shared:
        return False, f"{path} and {', '.join(shared)} are on device {target[1]} ({target[2]})"
    return True, f"{path}: on device {target[1]} ({target[2]}), not the images' device"


@control("BKP-006", needs=lambda policy: [*backup_tools.NEEDS, ("cat", policy["backup_repository_file"]),
                                          ("cat", MOUNTINFO)])
@artifacts.ends
def backup_separate_failure_domain(snap, vm, policy):
    images = policy["vm_image_dirs"]
    found = backup_tools.configured(snap)
    if not found.setups:
        return _site_place(snap, policy, images)
    expected = (f"a backup repository ({found.names()}) on another host, or on another device than "
                f"{', '.join(images)}")
    art = artifacts.required_file(snap, MOUNTINFO, expected, "the mount table is unreadable")
    table = mounts(art.stdout)
    own = {snap.identity.get("hostname") or "", snap.host}
    rows, good, bad, unknown = {}, [], [], []
    for s in found.setups:
        if not s.repositories and s.repository_unknown:
            unknown.append(f"{s.label()}: {s.repository_unknown}")
            rows.setdefault(id(s), []).append(s.repository_unknown)
        if not s.repositories and not s.repository_unknown:
            bad.append(f"{s.label()}: no repository configured")
        for r in s.repositories:
            ok, why = _place(r.value, own, images, table, art.stdout)
            rows.setdefault(id(s), []).append(f"{r.cite()}  ({why})")
            (good if ok else bad).append(f"{s.tool}: {why}")
    evidence = found.evidence(rows) + [v.Evidence.of(art, "\n".join(
        f"{d} on {m[0]} (device {m[1]}, {m[2]})" for d in images if (m := mount_of(d, table))) or "no mount matched")]
    if good:
        return v.passed(expected, "; ".join(good + [f"also {b}" for b in bad]), evidence)
    if unknown and not bad:
        return v.manual(expected, "; ".join(unknown), evidence,
                        reason="the repository is not named on this host: show where the backups are stored")
    return found.or_error(v.failed(expected, "; ".join(bad + unknown) or "no repository", evidence,
                                   reason="one failing disk, file system or host loses the VMs and their backups"))


def _site_place(snap, policy, images) -> v.Verdict:
    """No tool recognised: the site's repository file."""
    expected = f"a repository on another host, or on another device than {', '.join(images)}"
    repo, repo_art = _repository(snap, policy, expected)
    art = artifacts.required_file(snap, MOUNTINFO, expected, "the mount table is unreadable")
    own = {snap.identity.get("hostname") or "", snap.host}
    ok, why = _place(repo, own, images, mounts(art.stdout), art.stdout)
    evidence = [v.Evidence.of(repo_art, f"repository: {repo}  ({why})"), v.Evidence.of(art, why)]
    if ok:
        return v.passed(expected, why, evidence)
    return v.failed(expected, why, evidence, reason="one failing disk or filesystem loses the VMs and their backups")


QCONF = "/etc/libvirt/qemu.conf"


def _backup_tls_verify(snap) -> tuple[str, v.Evidence]:
    """qemu.conf's effective backup_tls_x509_verify ('1' or '0') and its evidence; an
    unset key falls back to default_tls_x509_verify, then to 1 (libvirt >= 6.10).
    End when qemu.conf was not collected, is unreadable or does not parse."""
    art = artifacts.optional_file(snap, QCONF)
    if art is None:
        return "1", v.Evidence.of(snap.file(QCONF), f"{QCONF}: absent (built-in default 1)")
    try:
        conf = libvirt_grammar.parse(art.stdout)
    except libvirt_grammar.ConfSyntaxError as exc:
        raise artifacts.End(v.error(f"{QCONF}: {exc}", [v.Evidence.of(art, str(exc))]))
    for key in ("backup_tls_x509_verify", "default_tls_x509_verify"):
        if key in conf:
            return str(conf[key].value), v.Evidence.of(art, f"{QCONF}:{conf[key].line}: {conf[key].text}")
    return "1", v.Evidence.of(art, f"{QCONF}: backup_tls_x509_verify and default_tls_x509_verify unset (default 1)")


@control("BKP-008", needs=lambda policy: [("virsh_backup_state", ""),
                                          ("cat", f"{policy['backup_job_dir']}/{{vm}}.xml"), ("cat", QCONF)])
@artifacts.ends
def backup_export_protected(snap, vm, policy):
    path = f"{policy['backup_job_dir']}/{vm}.xml"
    expected = ("push mode, or pull mode over transport='unix' or with tls='yes' and client "
                "certificates verified (backup_tls_x509_verify unset or 1)")
    state = artifacts.output(snap, "virsh_backup_state", "libvirt's backup jobs")
    running = (backup_runs.domain_backups(state.stdout).get(vm) or backup_runs.DomainBackups()).backup_xml
    if running is not None:
        art, text, path = state, running, f"virsh backup-dumpxml {vm} (a running backup job)"
    else:
        art = snap.file(path)
        if art is None:
            return v.error(f"{path} was not collected")
        if artifacts.is_absent(art):
            return v.not_applicable(f"no backup job of {vm} runs and none is stored ({path}): no libvirt "
                                    "backup export to judge", [v.Evidence.of(art, art.stderr.strip())])
        if not art.ok:
            return artifacts.failure(art, path)
        text = art.stdout
    try:
        root = xmlsafe.parse(text)
    except xmlsafe.XMLError as exc:
        return v.failed(expected, "backup job is not valid XML", [v.Evidence.of(art, str(exc))],
                        reason=f"{path}: {exc}")
    mode = root.get("mode", "push")
    server = next(iter(root.xpath("/domainbackup/server")), None)
    evidence = [v.Evidence.of(art, "\n".join(filter(None, [
        f"line {root.sourceline}: <domainbackup mode='{mode}'>", server is not None and xmlsafe.render(server)])))]
    if root.tag != "domainbackup":
        return v.failed(expected, f"root element <{root.tag}>", evidence, reason=f"{path} is not a <domainbackup>")
    if mode != "pull":
        return v.passed(expected, f"{mode} mode: libvirt writes the backup itself, no NBD export", evidence)
    transport = server.get("transport", "tcp") if server is not None else "tcp"
    if transport == "unix":
        return v.passed(expected, "pull mode over a unix socket", evidence)
    if server is None or server.get("tls") != "yes":
        return v.failed(expected, f"pull mode over {transport} without TLS", evidence,
                        reason="the NBD export of the guest's disks is readable unencrypted by anyone who can connect")
    verify, conf_evidence = _backup_tls_verify(snap)
    evidence.append(conf_evidence)
    if verify != "1":
        return v.failed(expected, f"pull mode over TLS, backup_tls_x509_verify = {verify}", evidence,
                        reason="any client may read the export: client certificates are not verified")
    return v.passed(expected, "pull mode over TLS with client certificates verified", evidence)
