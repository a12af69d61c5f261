"""Python controls of the backup domain, how the backups are protected: the
repository's key kept private, the repository in another failure domain than the
VMs' images, and libvirt's backup exports not readable by anyone who connects.

  BKP-005  backup_key_protected             a repository configured; its key file 0600 root
  BKP-006  backup_separate_failure_domain   a remote repository, or on another device than the images
  BKP-008  backup_export_protected          pull-mode exports over a unix socket or verified TLS

Where the repository and its key are is site policy (hvconform.inputs.policy), so
these checks' needs are functions of the policy. Formats: proc(5) mountinfo,
libvirt formatbackup.rst.
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.read import libvirt_grammar
from hvconform.judge.read import artifacts
from hvconform.judge.read import site_files
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.ops import octal


def _repository(snap, policy, expected):
    """(repository line, its artifact); End when no repository is configured."""
    path = policy["backup_repository_file"]
    art = artifacts.required_file(snap, path, expected, "no backup repository is configured")
    entries = site_files.entries(art.stdout)
    if not entries:
        raise artifacts.End(v.failed(expected, f"{path} is empty", [v.Evidence.of(art, f"{path}: empty")],
                                     reason="no backup repository is configured"))
    return entries[0][1], art


@control("BKP-005", needs=lambda policy: [("cat", policy["backup_repository_file"]),
                                          ("stat", policy["backup_password_file"])])
@artifacts.ends
def backup_key_protected(snap, vm, policy):
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
    mode, owner = (st.stdout.split() + ["", ""])[:2]
    evidence.append(v.Evidence.of(st, f"{key}: {st.stdout.strip()}"))
    actual = f"repository {repo}; {key} mode {mode} owner {owner}"
    bits = octal(mode)
    bad = ([f"mode {mode} is beyond 0600"] if bits is None or bits & ~0o600 else []) + (
        [f"owned by {owner}, not root"] if owner != "root" else [])
    if bad:
        return v.failed(expected, actual, evidence, reason="; ".join(bad))
    return v.passed(expected, actual, evidence)


MOUNTINFO = "/proc/self/mountinfo"
# restic and borg repository forms that name another machine
_REMOTE = re.compile(r"(?:sftp|rest|s3|b2|azure|gs|swift|rclone):|ssh://|[\w.-]+@[\w.-]+:|[\w.-]+:/")
_URL_HOST = re.compile(r"(?:^(?:sftp|rest|s3|b2|azure|gs|swift|rclone):(?:[a-z+]+://)?|//)"
                       r"(?:[^@/\s]+@)?(\[[^\]]+\]|[^:/\s]+)|^(?:[\w.-]+@)?([\w.-]+):")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}


def mounts(text: str) -> list[tuple[str, str, str]]:
    """proc(5) mountinfo lines -> [(mount point, major:minor, source)], in mount order."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if "-" in fields[6:] and len(fields) >= 5:
            rest = fields[fields.index("-", 6) + 1:]
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
            out.append((point, fields[2], rest[1] if len(rest) > 1 else ""))
    return out


def mount_of(path: str, table) -> tuple[str, str, str] | None:
    """The mount a path lies on: the longest mount point above it, the last mounted there."""
    best = None
    for entry in table:
        point = entry[0].rstrip("/") or "/"
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[0].rstrip("/") or "/"):
                best = entry
    return best


@control("BKP-006", needs=lambda policy: [("cat", policy["backup_repository_file"]), ("cat", MOUNTINFO)])
@artifacts.ends
def backup_separate_failure_domain(snap, vm, policy):
    images = policy["vm_image_dirs"]
    expected = f"a repository on another host, or on another device than {', '.join(images)}"
    repo, repo_art = _repository(snap, policy, expected)
    evidence = [v.Evidence.of(repo_art, f"repository: {repo}")]
    if _REMOTE.match(repo) and not repo.startswith("local:"):
        match = _URL_HOST.search(repo)
        host = next((g for g in match.groups() if g), "") if match else ""
        own = {snap.identity.get("hostname") or "", snap.host} - {""}
        if host.lower() in _LOCAL_HOSTS | {h.lower() for h in own}:
            return v.failed(expected, f"repository {repo} is on this host ({host})", evidence,
                            reason="a remote-style URL that points back at this host")
        return v.passed(expected, f"remote repository on {host or repo}", evidence)
    art = artifacts.required_file(snap, MOUNTINFO, expected, "the mount table is unreadable")
    path = repo.removeprefix("local:")
    table = mounts(art.stdout)
    target = mount_of(path, table)
    shared = [(d, m) for d in images if (m := mount_of(d, table)) and target and m[1] == target[1]]
    excerpt = [f"{p} on {m[0]} (device {m[1]}, {m[2]})" for p, m in [(path, target)] + shared if m] + [
        f"{d} on {m[0]} (device {m[1]}, {m[2]})" for d in images
        if (m := mount_of(d, table)) and (d, m) not in shared]
    evidence.append(v.Evidence.of(art, "\n".join(excerpt) or "no mount matched"))
    if target is None:
        return v.error(f"{MOUNTINFO}: no mount holds {path}", evidence)
    if shared:
        return v.failed(expected, f"{path} and {', '.join(d for d, _ in shared)} are on device {target[1]}",
                        evidence, reason="one failing disk or filesystem loses the VMs and their backups")
    return v.passed(expected, f"{path} on device {target[1]} ({target[2]}), not the images' device", evidence)


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


@control("BKP-008", needs=lambda policy: [("cat", f"{policy['backup_job_dir']}/{{vm}}.xml"), ("cat", QCONF)])
@artifacts.ends
def backup_export_protected(snap, vm, policy):
    path = f"{policy['backup_job_dir']}/{vm}.xml"
    expected = ("push mode, or pull mode over transport='unix' or with tls='yes' and client "
                "certificates verified (backup_tls_x509_verify unset or 1)")
    art = snap.file(path)
    if art is None:
        return v.error(f"{path} was not collected")
    if artifacts.is_absent(art):
        return v.not_applicable(f"no stored backup job for {vm} ({path}): no libvirt backup export to judge",
                                [v.Evidence.of(art, art.stderr.strip())])
    if not art.ok:
        return artifacts.failure(art, path)
    try:
        root = xmlsafe.parse(art.stdout)
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
