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

