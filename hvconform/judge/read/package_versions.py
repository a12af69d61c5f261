"""Package version order, as the package managers define it.

    dpkg_cmp("1:7.2+dfsg-7+deb12u6", "1:7.2+dfsg-7+deb12u12") -> -1
    rpm_cmp("8.2.0-11.el9_4.1", "8.2.0-11.el9_4") -> 1
dpkg: deb-version(7) (epoch, then upstream and revision compared by alternating
non-digit and digit parts; `~` sorts before everything, letters before other
characters). rpm: rpmvercmp in rpm's lib/rpmvercmp.c (alphanumeric segments, digits
newer than letters, `~` older and `^` newer than the end).
"""

from __future__ import annotations

import re


def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _dpkg_part(a: str, b: str) -> int:
    while a or b:
        na = re.match(r"\D*", a).group()
        nb = re.match(r"\D*", b).group()
        for x, y in zip(na.ljust(max(len(na), len(nb)), "\0"), nb.ljust(max(len(na), len(nb)), "\0")):
            ox, oy = (0 if x == "\0" else _order(x)), (0 if y == "\0" else _order(y))
            if ox != oy:
                return -1 if ox < oy else 1
        a, b = a[len(na):], b[len(nb):]
        da, db = re.match(r"\d*", a).group(), re.match(r"\d*", b).group()
        if int(da or 0) != int(db or 0):
            return -1 if int(da or 0) < int(db or 0) else 1
        a, b = a[len(da):], b[len(db):]
    return 0


def _split_deb(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
    return int(epoch or 0), upstream, revision


def dpkg_cmp(a: str, b: str) -> int:
    ea, ua, ra = _split_deb(a)
    eb, ub, rb = _split_deb(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


def _rpm_segments(s: str):
    return re.findall(r"~|\^|\d+|[a-zA-Z]+", s)


def _rpmvercmp(a: str, b: str) -> int:
    if a == b:
        return 0
    sa, sb = _rpm_segments(a), _rpm_segments(b)
    for x, y in zip(sa, sb):
        if x != y and "~" in (x, y):
            return -1 if x == "~" else 1
        if x != y and "^" in (x, y):
            return 1 if x == "^" else -1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        if x.isdigit():
            x, y = int(x), int(y)
        if x != y:
            return -1 if x < y else 1
    if len(sa) == len(sb):
        return 0
    rest, sign = (sa[len(sb):], 1) if len(sa) > len(sb) else (sb[len(sa):], -1)
    if rest[0] == "~":       # a tilde part makes the longer one older
        return -sign
    if rest[0] == "^" and len(rest) == 1:
        return sign
    return sign


def rpm_cmp(a: str, b: str) -> int:
    """VERSION-RELEASE strings (an optional EPOCH: prefix is compared first)."""
    ea, _, a = a.rpartition(":")
    eb, _, b = b.rpartition(":")
    if int(ea or 0) != int(eb or 0):
        return -1 if int(ea or 0) < int(eb or 0) else 1
    va, _, ra = a.partition("-")
    vb, _, rb = b.partition("-")
    return _rpmvercmp(va, vb) or _rpmvercmp(ra, rb)
