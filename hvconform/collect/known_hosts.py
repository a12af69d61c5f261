"""The keys a known_hosts file holds for one host name, found as paramiko finds them
(HostKeys.lookup), in time that does not grow with the file for plain names.

    KnownHosts(path).keys_for("[10.0.0.5]:2222")   # {"ssh-ed25519": PKey, ...}

paramiko's lookup tries every entry of the file: for a hashed name (`|1|salt|hmac`,
what `HashKnownHosts yes` and `ssh-keyscan -H` write) it recomputes the HMAC in
Python, ~17 us an entry. Each host of a fleet looking itself up in a known_hosts of
a thousand hashed hosts cost 17 ms, and the whole fleet's lookups grew with the
square of its size (bench/known_hosts_lookup.py). Here plain names are found in a
dict, and a hashed name costs one C HMAC an entry, against salts decoded once.
"""

from __future__ import annotations

import base64
import binascii
import hmac

import paramiko

_HASHED = "|1|"


def _b64(data: bytes) -> str:
    """base64 as paramiko writes it in a hashed name (encodebytes, newlines dropped)."""
    return base64.encodebytes(data).decode().replace("\n", "")


def _hashed(name: str) -> tuple[bytes, bytes] | None:
    """(salt, digest) of a hashed name that paramiko could match, or None: paramiko
    compares the whole re-encoded string, so a salt or digest not in its canonical
    base64 never matches (and a salt not 20 bytes long makes paramiko fail)."""
    parts = name.split("|")
    if len(parts) != 4:
        return None
    try:
        salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
    except (binascii.Error, ValueError):
        return None
    if len(salt) != 20 or _b64(salt) != parts[2] or _b64(digest) != parts[3]:
        return None
    return salt, digest


def _entries(path: str) -> list:
    """The file's entries in order, each line read by paramiko's HostKeyEntry.from_line,
    as HostKeys.load reads them, with two differences. A line paramiko cannot read (a
    key that is not base64, bytes that are not UTF-8) is skipped, as ssh skips it, where
    HostKeys.load raised and so failed every host; the inventory load refuses such a
    file before any host is contacted, so this is for one changed since. And a name
    already given the same key by an earlier line is not taken off the later line:
    HostKeys.load does that with a lookup for each name, which made loading quadratic
    in the file's lines, and it never changes what a lookup finds (the earlier line's
    key of that type comes first anyway)."""
    entries = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line, lineno)
            except Exception:  # noqa: BLE001 - a damaged line is skipped, as ssh does
                continue
            if entry is not None:
                entries.append(entry)
    return entries


class KnownHosts:
    """One version of a known_hosts file, parsed once, indexed."""

    def __init__(self, path: str):
        self._entries = _entries(path)
        self._plain: dict[str, list[int]] = {}         # name as written -> lines
        self._hashed: list[tuple[bytes, bytes, int]] = []
        for i, entry in enumerate(self._entries):
            for name in entry.hostnames:
                self._plain.setdefault(name, []).append(i)     # each name matches itself
                if name.startswith(_HASHED) and (found := _hashed(name)) is not None:
                    self._hashed.append((*found, i))

    def keys_for(self, name: str) -> dict:
        """{key type: key} of the entries naming `name`, the first of each type in the
        file's order: dict(paramiko.HostKeys(path).lookup(name) or {})."""
        matched = set(self._plain.get(name, ()))
        if not name.startswith(_HASHED):
            raw = name.encode()
            matched.update(i for salt, digest, i in self._hashed
                           if hmac.compare_digest(hmac.digest(salt, raw, "sha1"), digest))
        keys: dict = {}
        for i in sorted(matched):
            key = self._entries[i].key
            if key is not None:
                keys.setdefault(key.get_name(), key)
        return keys
