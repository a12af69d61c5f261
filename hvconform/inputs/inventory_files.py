"""The files an inventory points at, checked when it loads, before any host is
contacted: an identity file must be a private key only its owner can read, and a
known_hosts file must be well-formed, line by line.

Each check returns None or one problem as text; hvconform.inputs.inventory_schema
locates it (file:line: key: problem). Without these, a key readable by others was
used anyway (OpenSSH refuses it), and a key that is not one or a corrupt known_hosts
only surfaced at connect time, once per host, or never (paramiko skips lines it
cannot read, so a host whose line is corrupt reads as "unknown").
"""

from __future__ import annotations

import base64
import binascii
import re
import stat
import struct
from pathlib import Path

import paramiko

KEY_FILE_MAX = 64 * 1024           # the largest OpenSSH private key (RSA 16384) is ~13 KB
KNOWN_HOSTS_MAX = 64 * 1024 * 1024
MARKERS = ("@cert-authority", "@revoked")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def identity_file_problem(path: Path) -> str | None:
    """Why `path` cannot be an SSH identity file, or None."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file: {path}"
    if st.st_mode & 0o077:
        return (f"{path} is open to others (mode {stat.S_IMODE(st.st_mode):04o}); ssh refuses a "
                f"private key that others may read: chmod 600 {path}")
    if st.st_size > KEY_FILE_MAX:
        return f"{path} is {st.st_size} bytes: too large to be a private key"
    try:
        paramiko.PKey.from_path(str(path))
    except paramiko.PasswordRequiredException:
        return _encrypted(path)
    except TypeError as exc:                      # paramiko: "Key is password-protected, ..."
        if "password" in str(exc).lower():
            return _encrypted(path)
        return f"{path} is not a private key (OpenSSH or PEM): {exc}"
    except (paramiko.SSHException, ValueError, UnicodeError, IndexError, struct.error) as exc:
        return f"{path} is not a private key (OpenSSH or PEM){_why(exc)}"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None


def _encrypted(path: Path) -> str:
    return (f"{path} is protected by a passphrase, which the audit cannot ask for: use a "
            "key without one for the audit account, or load it into ssh-agent and leave "
            "identity_file unset")


def _why(exc) -> str:
    text = str(exc).split(". See ")[0]   # cryptography adds a link to its FAQ
    return f" ({text})" if text else ""


def known_hosts_problem(path: Path) -> str | None:
    """Why `path` is not a well-formed known_hosts file, or None: the first bad lines,
    each as path:line."""
    try:
        st = path.stat()
        if st.st_size > KNOWN_HOSTS_MAX:
            return f"{path} is {st.st_size} bytes: too large for a known_hosts file"
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{path} is not text (byte {exc.start} is not UTF-8): not a known_hosts file"
    bad = []
    for number, line in enumerate(text.split("\n"), 1):
        why = _entry_problem(line.strip())
        if why:
            bad.append(f"{path}:{number}: {why}")
    if not bad:
        return None
    more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
    return "corrupt known_hosts: " + "; ".join(bad[:3]) + more


def _entry_problem(line: str) -> str | None:
    """What is wrong with one known_hosts line (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT)."""
    if not line or line.startswith("#"):
        return None
    if _CONTROL.search(line.replace("\t", " ")):
        return "a control character in the line"
    fields = line.split()
    if fields[0].startswith("@"):
        if fields[0] not in MARKERS:
            return f"unknown marker {fields[0][:20]!r} (expected {' or '.join(MARKERS)})"
        fields = fields[1:]
    if len(fields) < 3:
        return "expected 'host[,host...] key-type base64-key'"
    key_type, blob = fields[1], fields[2]
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return f"the {key_type[:30]} key is not valid base64"
    corrupt = f"the key data does not hold a {key_type[:30]} key (truncated or corrupt)"
    fields = _wire_strings(raw)
    if key_type.endswith("-cert-v01@openssh.com"):
        # a certificate mixes integers in: only its leading type string is checked
        fields = _wire_strings(raw, first_only=True)
        return None if fields and fields[0] == key_type.encode() else corrupt
    if not fields or fields[0] != key_type.encode() or len(fields) < 2:
        return corrupt
    if key_type in ("ssh-ed25519", "sk-ssh-ed25519@openssh.com") and len(fields[1]) != 32:
        return corrupt
    return None


def _wire_strings(raw: bytes, first_only: bool = False) -> list[bytes] | None:
    """A public key blob as its length-prefixed fields (RFC 4253 6.6), or None when a
    length runs past the end: what a truncated or corrupt key looks like."""
    out, at = [], 0
    while at < len(raw):
        if at + 4 > len(raw):
            return None
        n = struct.unpack(">I", raw[at:at + 4])[0]
        if at + 4 + n > len(raw):
            return None
        out.append(raw[at + 4:at + 4 + n])
        at += 4 + n
        if first_only:
            break
    return out


def control_character(text: str) -> str | None:
    """The first control character in `text` (shown escaped), or None."""
    m = _CONTROL.search(text)
    return repr(m[0])[1:-1] if m else None
