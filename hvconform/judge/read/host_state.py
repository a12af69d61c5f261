"""Host facts several control functions read the same way: installed packages, systemd
unit-file states, the process table, and `grep` over configuration directories.

Collection asks both families' tools on every host (`dpkg-query -l` fails with 127 on
RHEL, `rpm -qa` on Debian); `installed(snap)` reads the one of the host's family.
"""

from __future__ import annotations

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, memo

DPKG, RPM = "cmd:dpkg_list", "cmd:rpm_list"
PACKAGE_NEEDS = [("dpkg_list", ""), ("rpm_list", "")]
UNIT_FILES = "cmd:systemctl_unit_files"
PS = "cmd:ps"
NO_SYSTEMD = "not been booted with systemd"      # systemctl's answer where PID 1 is not systemd
ARCHES = {"x86_64", "noarch", "i686", "aarch64", "ppc64le", "s390x"}
ENABLED = ("enabled", "enabled-runtime", "alias", "indirect", "generated")


class Unknown(artifacts.End):
    """A fact a check cannot do without is missing; `verdict` says why (an error or n/a)."""


@memo.of_text
def parse_dpkg(text: str) -> dict[str, str]:
    """`dpkg-query -l` -> {name: version} of installed packages (status `ii`/`hi`;
    `rc` = removed, configuration left, is not installed). Multi-arch `:amd64` dropped.
    Parsed once per text (judge/read/memo.py): callers read it, never change it."""
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 3)   # status, name, version; not the description's words
        if len(parts) >= 3 and len(parts[0]) == 2 and parts[0][1] == "i":
            out[parts[1].split(":")[0]] = parts[2]
    return out


@memo.of_text
def parse_rpm(text: str) -> dict[str, str]:
    """`rpm -qa` (NAME-VERSION-RELEASE.ARCH per line, rpm's default query format;
    the epoch is not printed) -> {name: "VERSION-RELEASE"}."""
    out = {}
    for line in text.split():
        head, _, arch = line.rpartition(".")
        nvr = head if arch in ARCHES else line          # gpg-pubkey-* has no arch
        name, _, rest = nvr.rpartition("-")            # rest = RELEASE
        name, _, version = name.rpartition("-")
        if name and version:
            out[name] = f"{version}-{rest}"
    return out


def installed(snap) -> tuple[str, dict[str, str], object]:
    """(family, {package: version}, artifact) from the family's package database."""
    family = fam.family(snap)
    if family is None:
        raise Unknown(v.error(f"cannot tell the distribution family of {snap.host}: "
                              "its package database is unknown"))
    key, parse = (DPKG, parse_dpkg) if family == fam.DEBIAN else (RPM, parse_rpm)
    art = snap.get(key)
    if art is None:
        raise Unknown(v.error(f"the package list ({key[4:]}) was not collected"))
    if not art.ok:
        raise Unknown(artifacts.failure(art, art.source))
    return family, parse(art.stdout), art


def unit_states(snap) -> tuple[dict[str, str], object]:
    """`systemctl list-unit-files` -> {unit: state}; {} when systemctl is absent
    (no systemd at all), an error verdict when it failed otherwise."""
    art = snap.get(UNIT_FILES)
    if art is None:
        raise Unknown(v.error("systemctl list-unit-files was not collected"))
    if art.rc == 127:
        return {}, art
    if not art.ok:
        raise Unknown(artifacts.failure(art, "systemctl list-unit-files"))
    return dict(_unit_states(art.stdout)), art


@memo.per_host
def _unit_states(text: str) -> dict[str, str]:
    # once per text: several checks a host read the unit files
    states = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1]
    return states


def enabled_units(states: dict[str, str], names) -> list[str]:
    """The units of `names` (with or without .service/.socket/.timer) enabled to start."""
    out = []
    for name in names:
        for unit in ([name] if "." in name else [f"{name}.service", f"{name}.socket", f"{name}.timer"]):
            if states.get(unit) in ENABLED:
                out.append(f"{unit} {states[unit]}")
    return out


@memo.per_host
def ps_rows(text: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """`ps -eo pid=,uid=,user:32=,comm=,args=` -> (((pid, uid, user, comm(, args)), line), ...):
    the args column keeps its spaces; lines with fewer than four columns are dropped.
    Parsed once per text (judge/read/memo.py; ~25 checks a host read the table), as
    tuples so that no caller can change what the others read."""
    return tuple((tuple(cols), line.strip()) for cols, line in ((line.split(None, 4), line)
                                                                for line in text.splitlines())
                 if len(cols) >= 4)


def processes(snap) -> tuple[list[tuple[str, str]], object]:
    """[(comm, ps line)] from `ps -eo pid=,uid=,user:32=,comm=,args=`."""
    art = snap.get(PS)
    if art is None or not art.ok:
        raise Unknown(v.error("the process table was not collected"))
    return [(cols[3], line) for cols, line in ps_rows(art.stdout)], art


def process_lines(procs, names) -> list[str]:
    """The ps lines of `procs` (from processes()) whose command is one of `names`."""
    return [line for comm, line in procs if comm in names]


def running(snap, comm: str) -> tuple[list[str] | None, object]:
    """The ps lines whose command is `comm`; None (not an exception) when the process
    table was not collected, so a check can fall back to other evidence."""
    art = snap.get(PS)
    if art is None or not art.ok:
        return None, art
    return [line for cols, line in ps_rows(art.stdout) if cols[3] == comm], art


def grep_lines(art, what: str) -> list[str]:
    """Lines a `grep -r` printed. grep exits 1 for no match and 2 when a named path is
    missing, which is a fact (nothing configured there); any other complaint
    (permission denied) makes the result unusable."""
    if art is None:
        raise Unknown(v.error(f"{what} was not collected"))
    if art.rc == 127:
        raise Unknown(v.error(f"{what}: grep is not installed"))
    complaints = [line for line in art.stderr.splitlines()
                  if line.strip() and "No such file or directory" not in line]
    if art.rc not in (0, 1, 2) or complaints:
        raise Unknown(artifacts.failure(art, what))
    return list(nonblank_lines(art.stdout))


@memo.per_host
def nonblank_lines(text: str) -> tuple[str, ...]:
    """The lines of `text` that are not blank, split once per text (judge/read/memo.py):
    a distribution's AIDE rules alone are over a thousand lines."""
    return tuple(line for line in text.splitlines() if line.strip())
