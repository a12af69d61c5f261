"""Secrets never leave collection: redacted before an artifact is stored or hashed.

What counts as a secret: password-like keys in libvirt/QEMU config files, the
graphics `passwd` attribute (and similar) in any domain XML, private key blocks
anywhere, and secret values on a QEMU command line.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S)
# qemu.conf: vnc_password = "...", spice_password, *_tls_x509_secret_uuid is an id, not a secret
_CONF_SECRET = re.compile(r"^(\s*#?\s*\w*(?:password|passwd|secret_value|passphrase)\w*\s*=\s*)(.+)$",
                          re.M | re.I)
# domain XML: <graphics passwd='...'>, also passwd in <auth> forms and <secret> values
_XML_SECRET_ATTR = re.compile(r"""(\s(?:passwd|password|key|secret)\s*=\s*)(["'])(.*?)\2""",
                              re.I | re.S)
# qemu command line: -object secret,data=..., password=..., "data":"..." in JSON -object
_CMDLINE_SECRET = re.compile(r"((?:^|[,\s\0])(?:password|passwd|data)=)([^,\s\0]*)")
_JSON_SECRET = re.compile(r'("(?:data|password|passwd)"\s*:\s*")([^"]*)(")')


def redact(key: str, text: str) -> str:
    """`redact("file:/etc/libvirt/qemu.conf", 'vnc_password = "x"')` -> 'vnc_password = "[REDACTED]"'."""
    # the whole block goes, armour lines too: a stored snapshot must not look like a key
    out = _PRIVATE_KEY.sub(lambda m: f"[REDACTED {m[1]}PRIVATE KEY]", text)
    path = key.split(":", 1)[1] if ":" in key else key
    if key.startswith("domain:") or path.endswith(".xml"):
        out = _XML_SECRET_ATTR.sub(lambda m: f"{m[1]}{m[2]}{MASK}{m[2]}", out)
    elif path.startswith("/etc/") and path.endswith(".conf"):
        out = _CONF_SECRET.sub(lambda m: f'{m[1]}"{MASK}"', out)
    elif path.startswith("/proc/") and path.endswith("/cmdline"):
        out = _CMDLINE_SECRET.sub(lambda m: f"{m[1]}{MASK}", out)
        out = _JSON_SECRET.sub(lambda m: f"{m[1]}{MASK}{m[3]}", out)
    return out


def redact_artifact(artifact) -> None:
    """Redact in place and re-hash: the hash is of what is stored."""
    from hvconform.model.snapshot import sha256_text

    for name in ("stdout", "stderr"):
        clean = redact(artifact.key, getattr(artifact, name))
        if clean != getattr(artifact, name):
            setattr(artifact, name, clean)
            artifact.redacted = True
    artifact.sha256 = sha256_text(artifact.stdout)
