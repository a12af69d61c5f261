"""Secrets never leave collection: a catalogue of secret shapes, applied to every
artifact (stdout and stderr, whatever its key: ps output, files, domain XML,
command output) before it is stored or hashed, and to every error text.

    redact(key, text)          # text with each secret value replaced by [REDACTED]
    redact_artifact(artifact)  # in place, re-hashed, marked `redacted`
    redact_error(text)         # an error text built from a host's output

Shapes, each with its cases in tests/unit/test_redact.py (SHAPES names them):

  key blocks    -----BEGIN ... PRIVATE KEY----- (PEM, OpenSSH, PGP ... KEY BLOCK) to
                its END line, or to the end of the text when the END line is missing;
                and a block's tail whose BEGIN line was cut off (a truncated error text)
  arguments     password=, passwd= and the data= of a QEMU secret object, as QEMU
                takes them (-object secret,...,data=..., -spice ...,password=...), in
                JSON form too ({"qom-type":"secret",...,"data":"..."}, also as XML
                escapes it), rbd's :key=, and --password/--secret/--token options
  URLs          the password of user:password@ in any scheme://... (a restic
                repository, nova's transport_url with several hosts, a database
                `connection`)
  INI keys      `name = value` where the name says password, passwd, passphrase,
                secret, authtok or a key/token credential (nova.conf
                metadata_proxy_shared_secret, sssd ldap_default_authtok, qemu.conf
                vnc_password, ...), commented out or not; not ids and paths (*_uuid,
                *_file, *_path, *_type) and not the flags yes/no/true/false/on/off/0/1
  XML attrs     passwd= and password= attribute values (and key= in XML documents)
  hashes        GRUB2's grub.pbkdf2.* and crypt(3) hashes ($6$..., $y$...), and the
                plaintext of a GRUB `password user secret` line

What stays: the key or option name, so a control still sees that a password is
set (`vnc_password = "[REDACTED]"`, `password_pbkdf2 root [REDACTED]`).
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"
_FLAGS = {"", "yes", "no", "true", "false", "on", "off", "0", "1", "none", '""', "''"}

# -- key blocks ----------------------------------------------------------------------
_KEY_KIND = r"[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?"
_KEY_BLOCK = re.compile(rf"-----BEGIN ({_KEY_KIND})-----.*?(?:-----END \1-----|\Z)", re.S)
# the tail of a block whose BEGIN line is gone: base64 lines (or a cut one) up to END
_KEY_TAIL = re.compile(rf"(?:(?<=\n)|\A)[A-Za-z0-9+/=:\- \t]*(?:\n[A-Za-z0-9+/=:\- \t]*)*?"
                       rf"-----END ({_KEY_KIND})-----")

# -- arguments -----------------------------------------------------------------------
# a value ends at a separator QEMU or a shell or XML would see
_VALUE = r"[^,\s\0'\"<>&]*"
_ARG_SECRET = re.compile(rf"((?:^|(?<=[,\s\0:]))(?:password|passwd)=)({_VALUE})", re.M)
_SECRET_OBJECT_DATA = re.compile(rf"(\bsecret,(?:{_VALUE},)*?data=)({_VALUE})")
_RBD_KEY = re.compile(rf"(:key=)([^:\s\0'\"<>&]*)")
_OPTION_SECRET = re.compile(r"(--(?:password|passwd|secret|token|api-key|auth-token)(?:=|[ \t]+))"
                            r"([^\s\0'\"<>&]+)")
_JSON_SECRET_OBJECT = re.compile(r"\{[^{}]*?(?:\"|&quot;)qom-type(?:\"|&quot;)\s*:\s*"
                                 r"(?:\"|&quot;)secret(?:\"|&quot;)[^{}]*\}")
_JSON_DATA = re.compile(r"((?:\"|&quot;)(?:data|password)(?:\"|&quot;)\s*:\s*(?:\"|&quot;))"
                        r"((?:[^\"\\&]|\\.|&(?!quot;))*)")

# -- URLs ----------------------------------------------------------------------------
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>/]*")
_URL_WITH_AT = re.compile(r"://[^\s'\"<>/]*@")   # what _URL takes, up to an @: fast (a literal first)
_USERINFO = re.compile(r"((?:://|,)[^\s:@,/]*:)([^\s@,/]*)(@)")

# -- INI keys ------------------------------------------------------------------------
_SECRET_WORD = (r"(?:password|passwd|passphrase|secret|authtok|auth_?token|api_?key|access_?key"
                r"|secret_?key|private_?key|credentials?)")
_INI = re.compile(rf"^(\s*[#;]?\s*(?=[\w.\-]*{_SECRET_WORD})"
                  rf"(?![\w.\-]*(?:_uuid|_file|_path|_type|_dir|_id|_usage)\s*=)"
                  rf"[\w.\-]+\s*=[ \t]*)(.*?)[ \t]*$", re.M | re.I)

# -- XML attributes ------------------------------------------------------------------
# (not secret=: libvirt's <encryption secret='uuid'> names a secret, it holds none)
_XML_ATTR = re.compile(r"""(\s(?:passwd|password)\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_XML_KEY_ATTR = re.compile(r"""(\skey\s*=\s*)(["'])(.*?)\2""", re.S)

# -- hashes --------------------------------------------------------------------------
_GRUB_PBKDF2 = re.compile(r"grub\.pbkdf2\.[A-Za-z0-9]+\.\d+\.[0-9A-Fa-f]+\.[0-9A-Fa-f]+")
_CRYPT = re.compile(r"\$(?:1|2[abxy]?|5|6|y|gy|7|sha1|md5)\$[./A-Za-z0-9$=,-]{8,}")
_GRUB_PLAIN = re.compile(r"^(\s*password\s+\S+\s+)(\S+)", re.M)


def _masked_value(m) -> str:
    """An INI value: masked inside its quotes, unless it is empty or a flag."""
    value = m[2]
    if value.strip("\"'").strip().lower() in _FLAGS:
        return m[0]
    quoted = len(value) > 1 and value[0] in "\"'" and value[-1] == value[0]
    return f"{m[1]}{value[0]}{MASK}{value[0]}" if quoted else f"{m[1]}{MASK}"


def _arg(m) -> str:
    return m[0] if m[2].lower() in _FLAGS else f"{m[1]}{MASK}"


def _url(m) -> str:
    return _USERINFO.sub(lambda u: f"{u[1]}{MASK}{u[3]}" if u[2] else u[0], m[0])


def _json_object(m) -> str:
    return _JSON_DATA.sub(lambda d: f"{d[1]}{MASK}", m[0])


def _looks_like_xml(key: str, text: str) -> bool:
    path = key.split(":", 1)[1] if ":" in key else key
    return key.startswith("domain:") or path.endswith(".xml") or text.lstrip()[:1] == "<"


def _has(text: str, *words: str) -> bool:
    """Whether one of `words` is in `text`: a shape whose pattern needs one of them
    cannot change a text without any, and the test costs far less than the pattern
    (the shapes' patterns were ~85 ms of CPU a host; bench/README.md)."""
    return any(w in text for w in words)


def _has_folded(text: str, *words: str) -> bool:
    """_has for a case-insensitive pattern (`words` in lowercase). re.IGNORECASE also
    matches four non-ASCII letters to ASCII ones (İ ı ſ K), so a text that is not ASCII
    is always given to the pattern."""
    if not text.isascii():
        return True
    low = text.lower()
    return any(w in low for w in words)


_SECRET_WORDS = ("passw", "passphrase", "secret", "authtok", "auth_token", "authtoken", "api_key",
                 "apikey", "access_key", "accesskey", "private_key", "privatekey", "credential")

# (name, needs, apply), applied in this order: key blocks first, so nothing inside
# one is half-redacted by a later shape. `needs(text)` is a cheap test for a literal
# the pattern cannot match without; `apply(key, text)` runs the pattern only then
# (tests/unit/test_redact.py checks each shape gives the same text without `needs`).
SHAPES = [
    ("key block", lambda t: "PRIVATE KEY" in t,
     lambda k, t: _KEY_BLOCK.sub(lambda m: f"[REDACTED {m[1]}]", t)),
    ("key block tail", lambda t: "-----END " in t,
     lambda k, t: _KEY_TAIL.sub(lambda m: f"[REDACTED {m[1]}]", t)),
    ("grub pbkdf2 hash", lambda t: "grub.pbkdf2." in t, lambda k, t: _GRUB_PBKDF2.sub(MASK, t)),
    ("crypt hash", lambda t: "$" in t, lambda k, t: _CRYPT.sub(MASK, t)),
    ("grub plaintext password", lambda t: "password" in t, lambda k, t: _GRUB_PLAIN.sub(_arg, t)),
    ("qemu secret object data", lambda t: "secret," in t,
     lambda k, t: _SECRET_OBJECT_DATA.sub(lambda m: f"{m[1]}{MASK}", t)),
    ("qemu secret object json", lambda t: "qom-type" in t, lambda k, t: _JSON_SECRET_OBJECT.sub(_json_object, t)),
    ("password argument", lambda t: _has(t, "password=", "passwd="), lambda k, t: _ARG_SECRET.sub(_arg, t)),
    ("rbd key argument", lambda t: ":key=" in t, lambda k, t: _RBD_KEY.sub(lambda m: f"{m[1]}{MASK}", t)),
    ("secret option", lambda t: _has(t, "--passw", "--secret", "--token", "--api-key", "--auth-token"),
     lambda k, t: _OPTION_SECRET.sub(lambda m: f"{m[1]}{MASK}", t)),
    # a URL's password needs its userinfo: "user:password@" after "://"
    ("url userinfo", lambda t: "://" in t and _URL_WITH_AT.search(t) is not None,
     lambda k, t: _URL.sub(_url, t)),
    ("ini key", lambda t: _has_folded(t, *_SECRET_WORDS), lambda k, t: _INI.sub(_masked_value, t)),
    ("xml attribute", lambda t: _has_folded(t, "passw"),
     lambda k, t: _XML_ATTR.sub(lambda m: f"{m[1]}{m[2]}{MASK}{m[2]}", t)),
    ("xml key attribute", lambda t: "key" in t,
     lambda k, t: _XML_KEY_ATTR.sub(lambda m: f"{m[1]}{m[2]}{MASK}{m[2]}", t) if _looks_like_xml(k, t) else t),
]


def redact(key: str, text: str) -> str:
    """`redact("file:/etc/libvirt/qemu.conf", 'vnc_password = "x"')` -> 'vnc_password = "[REDACTED]"'.
    `key` is the artifact key (or "error" for an error text); every shape applies to
    every text, `key` only tells whether it is an XML document."""
    if not text:
        return text
    for _, needs, apply in SHAPES:
        if needs(text):
            text = apply(key, text)
    return text


def redact_error(text: str | None) -> str | None:
    """An error text that may hold a host's output (stderr of a killed batch, ...)."""
    return redact("error", text) if text else text


def redact_artifact(artifact) -> None:
    """Redact in place and re-hash: the hash is of what is stored."""
    from hvconform.model.snapshot import sha256_text

    for name in ("stdout", "stderr"):
        clean = redact(artifact.key, getattr(artifact, name))
        if clean != getattr(artifact, name):
            setattr(artifact, name, clean)
            artifact.redacted = True
    artifact.sha256 = sha256_text(artifact.stdout)
