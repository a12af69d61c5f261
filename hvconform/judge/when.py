"""`when:` on a control: the fact that decides whether it applies to a host at all.

    when: {family: rhel}                       # SELinux rows: RHEL/Fedora/Rocky only
    when: {present: /etc/nova/nova.conf}       # [OpenStack] rows: only where nova is
A host that does not meet the gate gets not_applicable naming the fact that decided
(the os-release ID, the missing file), never a silent skip. The gate is judged
before the check, so a check need not repeat it.
"""

from __future__ import annotations

from hvconform.judge.read import family as fam
from hvconform.model import verdict as v
from hvconform.judge.read import artifacts

KEYS = ("family", "present")


def validate(when) -> list[str]:
    if not isinstance(when, dict) or not when:
        return ["'when' must be a mapping with one of: " + ", ".join(KEYS)]
    errs = [f"'when' has unknown key '{k}' (known: {', '.join(KEYS)})" for k in when if k not in KEYS]
    if "family" in when and when["family"] not in (fam.DEBIAN, fam.RHEL):
        errs.append(f"'when: family' must be {fam.DEBIAN} or {fam.RHEL}")
    if "present" in when and not str(when["present"]).startswith("/"):
        errs.append("'when: present' must be an absolute path")
    return errs


def needs(when) -> list[tuple[str, str]]:
    return [("stat", when["present"])] if when and "present" in when else []


def gate(when, snap) -> v.Verdict | None:
    """None when the control applies; else its not_applicable (or error) verdict."""
    if not when:
        return None
    if "family" in when:
        found = fam.family(snap)
        if found is None:
            return v.error(f"cannot tell the distribution family of {snap.host} "
                           f"(/etc/os-release: {fam.describe(snap) or 'unreadable'})")
        if found != when["family"]:
            art = snap.file(fam.OS_RELEASE)
            return v.not_applicable(f"applies to the {when['family']} family; this host is "
                                    f"{fam.describe(snap)} ({found} family)",
                                    [v.Evidence.of(art)])
    if "present" in when:
        path = when["present"]
        art = snap.get(f"stat:{path}")
        if art is None:
            return v.error(f"{path} was not collected")
        if artifacts.is_absent(art):
            return v.not_applicable(f"{path} does not exist on this host",
                                    [v.Evidence.of(art, art.stderr.strip())])
        if not art.ok:
            return artifacts.failure(art, path)
    return None
