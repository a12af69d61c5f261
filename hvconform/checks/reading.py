"""Reading artifacts the same way in every kind: absent is a fact about the host,
any other failure is an error (could not collect), never a silent "unset".

`cat` and `stat` both exit 1 for a missing path and for a permission problem, so
the two are told apart by stderr, which collection keeps with the artifact.
"""

from __future__ import annotations

from hvconform import verdict as v

_ABSENT = ("No such file or directory", "Not a directory")


def is_absent(art) -> bool:
    return not art.ok and any(s in art.stderr for s in _ABSENT)


def failure(art, what: str) -> v.Verdict:
    """The error verdict for an artifact that exists but could not be read."""
    detail = art.stderr.strip().splitlines()[-1] if art.stderr.strip() else "no message"
    return v.error(f"{what}: command failed (rc {art.rc}): {detail}", [v.Evidence.of(art, art.stderr)])



def required_file(snap, path: str, expected: str, absent_reason: str, absent_actual=None):
    """Read a file a check cannot do without: (artifact, None) when it was read, else
    (None, the verdict that ends the check): not collected or unreadable -> error,
    absent -> fail with `absent_reason`.

        art, end = reading.required_file(snap, "/etc/os-release", expected, "release unknown")
        if end: return end
    """
    art = snap.file(path)
    if art is None:
        return None, v.error(f"{path} was not collected")
    if is_absent(art):
        return None, v.failed(expected, absent_actual or f"no {path}",
                              [v.Evidence.of(art, art.stderr.strip())], reason=absent_reason)
    if not art.ok:
        return None, failure(art, path)
    return art, None
