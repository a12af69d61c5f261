"""Which distribution family a host belongs to, from its /etc/os-release.

Debian/Ubuntu and RHEL/Fedora/Rocky differ in paths, users and MAC (AppArmor vs
SELinux); checks that differ ask `family(snap)`. The identity round always collects
/etc/os-release, so this needs nothing declared.
"""

from __future__ import annotations

import shlex

from hvconform.judge.read import memo

OS_RELEASE = "/etc/os-release"
DEBIAN, RHEL = "debian", "rhel"
_IDS = {DEBIAN: {"debian", "ubuntu"}, RHEL: {"rhel", "fedora", "centos", "rocky", "almalinux", "ol"}}


@memo.of_text
def os_release_lines(text: str) -> dict[str, tuple[int, str]]:
    """KEY=value lines with shell quoting -> {KEY: (line number, value)}; the line
    number is for evidence (HOST-001 quotes the lines that decided). Parsed once per
    text (judge/read/memo.py): callers read it, never change it."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        key, eq, value = line.strip().partition("=")
        if eq and key and not key.startswith("#"):
            try:
                out[key] = (n, " ".join(shlex.split(value)))
            except ValueError:
                out[key] = (n, value.strip("\"'"))
    return out


def os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting -> {KEY: value}."""
    return {key: value for key, (_, value) in os_release_lines(text).items()}


def family(snap) -> str | None:
    """"debian", "rhel", or None when os-release is missing or names neither."""
    art = snap.file(OS_RELEASE)
    if art is None or not art.ok:
        return None
    fields = os_release(art.stdout)
    ids = {fields.get("ID", "")} | set(fields.get("ID_LIKE", "").split())
    return next((name for name, members in _IDS.items() if ids & members), None)


def describe(snap) -> str:
    """'debian 12' style, for reasons: the fact that decided."""
    art = snap.file(OS_RELEASE)
    fields = os_release(art.stdout) if art is not None and art.ok else {}
    return f"{fields.get('ID', '?')} {fields.get('VERSION_ID', '')}".strip()
