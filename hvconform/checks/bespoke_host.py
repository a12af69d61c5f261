"""Bespoke checks of the host domain."""

from __future__ import annotations

import shlex

from hvconform import verdict as v
from hvconform.checks import reading
from hvconform.checks.bespoke import bespoke

OS_RELEASE = "/etc/os-release"


def os_release(text: str) -> dict[str, tuple[int, str]]:
    """KEY=value lines (shell quoting) -> {KEY: (line number, value)}."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        key, eq, value = line.strip().partition("=")
        if eq and key and not key.startswith("#"):
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value.strip("\"'")]
            out[key] = (n, " ".join(words))
    return out


def covers(allowed: str, os_id: str, version: str) -> bool:
    """'rhel 9' covers rhel 9 and 9.4; 'ubuntu 22.04' covers only 22.04(.x)."""
    a_id, _, a_version = allowed.partition(" ")
    return a_id == os_id and (version == a_version or version.startswith(a_version + "."))


@bespoke("HOST-001", needs=[("cat", OS_RELEASE)])
def supported_release(snap, vm, policy):
    allowed = policy["supported_releases"]
    expected = f"ID VERSION_ID in [{', '.join(allowed)}] and not past vendor end of support"
    art, end = reading.required_file(snap, OS_RELEASE, expected, "the release cannot be established")
    if end:
        return end
    fields = os_release(art.stdout)
    os_id, version = fields.get("ID", (0, ""))[1], fields.get("VERSION_ID", (0, ""))[1]
    release = f"{os_id} {version}".strip()
    evidence = [v.Evidence.of(art, "\n".join(f"{OS_RELEASE}:{fields[k][0]}: {k}={fields[k][1]}"
                                             for k in ("ID", "VERSION_ID") if k in fields))]
    match = next((a for a in allowed if covers(a, os_id, version)), None)
    if match is None:
        return v.failed(expected, release or "no ID/VERSION_ID", evidence,
                        reason=f"{release or 'unknown release'} is not in policy supported_releases")
    eol, today = policy["release_eol"].get(match), (snap.started or "")[:10]
    if eol and today and today > eol:
        return v.failed(expected, f"{release}, collected {today}", evidence,
                        reason=f"vendor support for {match} ended {eol}")
    note = (f"supported until {eol}" if eol and today else
            "no end-of-support date in policy release_eol" if not eol else
            "collection date unknown: end of support not compared")
    return v.passed(expected, f"{release} ({note})", evidence)
