"""Python controls of the host domain, access and authentication: who may log in
to the hypervisor, and how.

  HOST-010  admin_mfa               sshd demands two factors (AuthenticationMethods, an OTP/U2F/PIV PAM module)
  HOST-013  failed_login_lockout    pam_faillock in the auth stack, deny <= policy faillock_deny_max
  HOST-014  boot_loader_password    a GRUB superuser with a password
"""

from __future__ import annotations

import re

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.functions.registry import control


PAM_SSHD, SSSD_CONF = "/etc/pam.d/sshd", "/etc/sssd/sssd.conf"


def pam_modules(text: str, stack: str = "auth") -> list[tuple[int, str]]:
    """(line number, line) of a PAM file's `stack` lines, `@include`s and substacks kept."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if words and (words[0].lstrip("-") == stack or words[0] == "@include"):
            out.append((n, line.strip()))
    return out


@control("HOST-010", needs=[("sshd_effective", ""), ("cat", PAM_SSHD), ("cat", SSSD_CONF)])
def admin_mfa(snap, vm, policy):
    modules = policy["mfa_pam_modules"]
    expected = ("sshd AuthenticationMethods: every list has two methods; keyboard-interactive backed "
                f"by one of {', '.join(modules)} in {PAM_SSHD}")
    sshd = snap.get("cmd:sshd_effective")
    if sshd is None:
        return v.error("sshd -T was not collected")
    if sshd.rc == 127:
        return v.not_applicable("sshd is not installed", [v.Evidence.of(sshd, sshd.stderr.strip())])
    if not sshd.ok:
        return artifacts.failure(sshd, "sshd -T")
    methods = next((line.split(None, 1)[1] for line in sshd.stdout.splitlines()
                    if line.lower().startswith("authenticationmethods ")), "any")
    evidence = [v.Evidence.of(sshd, f"authenticationmethods {methods}")]
    lists = [entry.split(",") for entry in methods.split()]
    single = [",".join(x) for x in lists if len(set(x)) < 2]
    problems = ["AuthenticationMethods allows one factor" + (f" ({', '.join(single)})" if methods != "any" else " (any)")] \
        if single or methods == "any" else []
    if any(m.startswith("keyboard-interactive") for x in lists for m in x):
        pam = snap.file(PAM_SSHD)
        if pam is None:
            return v.error(f"{PAM_SSHD} was not collected")
        if not pam.ok:
            return artifacts.failure(pam, PAM_SSHD)
        second = [(n, line) for n, line in pam_modules(pam.stdout)
                  if any(re.search(rf"\b{re.escape(m)}\.so\b", line) for m in modules)]
        evidence.append(v.Evidence.of(pam, "\n".join(f"{PAM_SSHD}:{n}: {line}" for n, line in second)
                                      or f"{PAM_SSHD}: no auth line with {', '.join(modules)}"))
        if not second:
            problems.append("keyboard-interactive has no OTP/U2F/PIV module in PAM")
    sssd = snap.file(SSSD_CONF)
    if sssd is not None and sssd.ok and re.search(r"(?m)^\s*pam_cert_auth\s*=\s*true", sssd.stdout):
        evidence.append(v.Evidence.of(sssd, f"{SSSD_CONF}: pam_cert_auth = true (smart card)"))
    if problems:
        return v.failed(expected, f"authenticationmethods {methods}", evidence, reason="; ".join(problems))
    return v.passed(expected, f"authenticationmethods {methods}", evidence)


FAILLOCK_CONF = "/etc/security/faillock.conf"
PAM_AUTH_FILES = {fam.DEBIAN: ["/etc/pam.d/common-auth"],
                  fam.RHEL: ["/etc/pam.d/system-auth", "/etc/pam.d/password-auth"]}


def faillock_deny(conf_text: str, pam_lines) -> tuple[int, str]:
    """pam_faillock's deny: an argument on a PAM line wins over faillock.conf, whose
    default is 3 (faillock.conf(5))."""
    for _, line in pam_lines:
        m = re.search(r"\bdeny=(\d+)", line)
        if m:
            return int(m.group(1)), f"PAM argument deny={m.group(1)}"
    for line in conf_text.splitlines():
        m = re.match(r"\s*deny\s*=\s*(\d+)", line)
        if m:
            return int(m.group(1)), f"{FAILLOCK_CONF}: {line.strip()}"
    return 3, f"{FAILLOCK_CONF}: deny unset (default 3)"


@control("HOST-013", needs=[("cat", FAILLOCK_CONF), *[("cat", p) for ps in PAM_AUTH_FILES.values() for p in ps]])
@artifacts.ends
def failed_login_lockout(snap, vm, policy):
    limit = policy["faillock_deny_max"]
    expected = f"pam_faillock in the auth stack; deny <= {limit}"
    family = fam.family(snap)
    if family is None:
        return v.error(f"cannot tell the distribution family of {snap.host}")
    evidence, missing, faillock_lines = [], [], []
    for path in PAM_AUTH_FILES[family]:
        art = artifacts.required_file(snap, path, expected, f"no {path}: the auth stack is unknown")
        lines = [(n, line) for n, line in pam_modules(art.stdout) if "pam_faillock.so" in line]
        evidence.append(v.Evidence.of(art, "\n".join(f"{path}:{n}: {line}" for n, line in lines)
                                      or f"{path}: no pam_faillock.so line"))
        faillock_lines += lines
        if not lines:
            missing.append(path)
    conf = snap.file(FAILLOCK_CONF)
    if conf is None:
        return v.error(f"{FAILLOCK_CONF} was not collected")
    if not conf.ok and not artifacts.is_absent(conf):
        return artifacts.failure(conf, FAILLOCK_CONF)
    deny, where = faillock_deny(conf.stdout if conf.ok else "", faillock_lines)
    evidence.append(v.Evidence.of(conf, where))
    problems = [f"pam_faillock not in {', '.join(missing)}"] if missing else []
    if deny == 0 or deny > limit:
        problems.append(f"deny={deny}")
    actual = f"pam_faillock {'missing' if missing else 'present'}; deny={deny}"
    if problems:
        return v.failed(expected, actual, evidence, reason="; ".join(problems))
    return v.passed(expected, actual, evidence)


GRUB_FILES = ["/boot/grub2/user.cfg", "/boot/grub2/grub.cfg", "/boot/grub/grub.cfg"]


@control("HOST-014", needs=[("cat", p) for p in GRUB_FILES])
def boot_loader_password(snap, vm, policy):
    expected = "GRUB superuser with a password (GRUB2_PASSWORD in user.cfg or password_pbkdf2 in grub.cfg)"
    found = []
    for path in GRUB_FILES:
        art = snap.file(path)
        if art is None:
            return v.error(f"{path} was not collected")
        if artifacts.is_absent(art):
            continue
        if not art.ok:
            return artifacts.failure(art, path)
        hits = [f"{path}:{n}: {line.split()[0]} {line.split()[1] if len(line.split()) > 1 else ''} ..."
                for n, line in enumerate(art.stdout.splitlines(), 1)
                if re.match(r"\s*(GRUB2_PASSWORD=|password_pbkdf2\s|password\s)", line)]
        found.append((art, path, hits))
    if not found:
        return v.failed(expected, "no GRUB configuration", [v.Evidence.of(snap.file(GRUB_FILES[-1]), "\n".join(
            f"{p}: No such file or directory" for p in GRUB_FILES))],
            reason="no GRUB configuration under /boot: no boot loader password can be shown")
    evidence = [v.Evidence.of(art, "\n".join(hits) or f"{path}: no password line") for art, path, hits in found]
    if any(hits for _, _, hits in found):
        return v.passed(expected, "boot loader password set", evidence)
    return v.failed(expected, "no boot loader password", evidence,
                    reason="anyone at the console can edit the kernel command line (e.g. add mitigations=off)")
