"""Reading artifacts the same way in every kind: absent is a fact about the host,
any other failure is an error (could not collect), never a silent "unset".

`cat` and `stat` both exit 1 for a missing path and for a permission problem, so
the two are told apart by stderr, which collection keeps with the artifact.
"""

from __future__ import annotations

import json

from hvconform.model import verdict as v
from hvconform.judge.read import xmlsafe

_ABSENT = ("No such file or directory", "Not a directory")


def is_absent(art) -> bool:
    return not art.ok and any(s in art.stderr for s in _ABSENT)


def failure(art, what: str) -> v.Verdict:
    """The error verdict for an artifact that exists but could not be read."""
    detail = art.stderr.strip().splitlines()[-1] if art.stderr.strip() else "no message"
    return v.error(f"{what}: command failed (rc {art.rc}): {detail}", [v.Evidence.of(art, art.stderr)])


# ---- reading straight through: a missing artifact ends the check with its verdict ----

class End(Exception):
    """A verdict that ends a check early (not collected, unreadable, not applicable):
    the one way judging code stops early. Readers raise it where a check cannot go on;
    a check function decorated with `ends` (or a kind's judge, catching it in one
    place) reads straight through instead of testing a returned error after every read."""

    def __init__(self, verdict: v.Verdict):
        super().__init__(verdict.reason)
        self.verdict = verdict


def ends(fn):
    """Decorator for check functions: an End raised inside becomes the check's verdict."""
    def run(snap, vm, policy):
        try:
            return fn(snap, vm, policy)
        except End as exc:
            return exc.verdict
    run.__name__, run.__doc__ = fn.__name__, fn.__doc__
    return run


def output(snap, name: str, what: str, absent_ok: bool = False):
    """The artifact of a declared command (`cmd:<name>`); End when not collected or it
    failed. `absent_ok`: a 'No such file' failure (a sysfs directory this kernel lacks)
    is a fact, and the artifact is returned."""
    art = snap.get(f"cmd:{name}")
    if art is None:
        raise End(v.error(f"{what} was not collected"))
    if art.ok or (absent_ok and is_absent(art)):
        return art
    raise End(failure(art, what))


def required_file(snap, path: str, expected: str, absent_reason: str, absent_actual=None):
    """A file's artifact, for a file a check cannot do without: End when not collected
    or unreadable (error), and when absent (fail with `absent_reason`; `absent_actual`
    says what was found instead, by default "no <path>")."""
    art = snap.file(path)
    if art is None:
        raise End(v.error(f"{path} was not collected"))
    if is_absent(art):
        raise End(v.failed(expected, absent_actual or f"no {path}",
                           [v.Evidence.of(art, art.stderr.strip())], reason=absent_reason))
    if not art.ok:
        raise End(failure(art, path))
    return art


def json_output(snap, name: str, what: str):
    """(artifact, parsed JSON) of a declared command (empty output is []); End when
    not collected, failed, or the JSON is malformed."""
    art = output(snap, name, what)
    try:
        return art, json.loads(art.stdout or "[]")
    except ValueError as exc:
        raise End(v.error(f"{what} printed malformed JSON: {exc}", [v.Evidence.of(art)]))



def optional_file(snap, path: str):
    """A file's artifact, None when the path does not exist; End when not collected
    or unreadable."""
    art = snap.file(path)
    if art is None:
        raise End(v.error(f"{path} was not collected"))
    if is_absent(art):
        return None
    if not art.ok:
        raise End(failure(art, path))
    return art


def absent_evidence(snap, path: str) -> v.Evidence:
    """Evidence that a path does not exist: the reader's complaint, as collected."""
    art = snap.file(path)
    return v.Evidence.of(art, art.stderr.strip() or f"{path}: absent")


def domain_root(snap, name: str, live: bool = False):
    """(root element, artifact) of a domain's XML; End when not collected, failed or
    malformed. `live` reads the running definition and falls back to the inactive one
    for a domain that is not running."""
    dom = snap.domain(name)
    live = live and dom is not None and dom.running
    which = "live" if live else "inactive"
    art = snap.domain_xml(name, live)
    if art is None:
        raise End(v.error(f"the {which} XML of domain {name} was not collected"))
    if not art.ok:
        raise End(v.error(f"virsh dumpxml of domain {name} failed (rc {art.rc}): {art.stderr.strip()}"))
    try:
        return xmlsafe.parse(art.stdout), art
    except xmlsafe.XMLError as exc:
        raise End(v.error(f"domain {name}: {which} XML is malformed: {exc}", [v.Evidence.of(art, str(exc))]))


def all_domains(snap) -> dict:
    """{name: root} of every domain's inactive XML; End when any cannot be read (unlike
    parsed_domains, which leaves such a domain to its per-VM rows)."""
    return {d.name: domain_root(snap, d.name)[0] for d in snap.domains}



def problems_verdict(expected: str, problems: list[str], ok_actual: str, evidence, subject: str = "") -> v.Verdict:
    """fail listing `problems` (the reason prefixed by `subject`, e.g. 'domain vm1: '),
    else pass with `ok_actual`."""
    if problems:
        actual = "; ".join(problems)
        return v.failed(expected, actual, evidence, reason=f"{subject}{actual}")
    return v.passed(expected, ok_actual, evidence)


def parsed_domains(snap):
    """(name, root) of every domain whose inactive XML was read and parses; one that
    does not is left to the per-VM rows, which report it as their own error."""
    for d in snap.domains:
        art = snap.domain_xml(d.name)
        if art is not None and art.ok:
            try:
                yield d.name, xmlsafe.parse(art.stdout)
            except xmlsafe.XMLError:
                continue
