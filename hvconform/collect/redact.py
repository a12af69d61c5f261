"""Secrets never leave collection: a catalogue of secret shapes, applied to every
artifact (stdout and stderr, whatever its key: ps output, files, domain XML,
command output) before it is stored or hashed, and to every error text.

    redact(key, text)          # text with each secret value replaced by [REDACTED]
    redact_artifact(artifact)  # in place, settled and re-hashed, marked `redacted`
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
import threading
from collections.abc import Callable
from dataclasses import dataclass

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


def _words_at(*words: str, back: int = 0, line: bool = False, folded: bool = False):
    """`starts` for a pattern that begins `back` characters before one of `words` (or,
    with `line`, at the start of a line holding one): each place, sorted. With
    `folded` (a re.IGNORECASE pattern, `words` in lowercase) a text that is not ASCII
    gives None, so the pattern runs over all of it: re.IGNORECASE matches four
    non-ASCII letters to ASCII ones (İ ı ſ K), which lower() would not find."""
    def starts(text: str) -> list[int] | None:
        if folded:
            if not text.isascii():
                return None
            text = text.lower()          # the same length and places, for ASCII
        places = set()
        for word in words:
            i = text.find(word)
            while i != -1:
                places.add(text.rfind("\n", 0, i) + 1 if line else i - back)
                i = text.find(word, i + 1)
        return sorted(p for p in places if p >= 0)
    return starts


def _sub_at(pattern: re.Pattern, repl, text: str, starts: list[int]) -> str:
    """pattern.sub(repl, text), trying the pattern only at `starts`: the same text when
    every match begins at one of them. A line pattern (`^\\s*...`) may also match from
    a blank line above its line; it then keeps those blank lines in its group 1, so
    matching from the line itself gives the same text (tests/unit/test_redact.py
    compares both over the lab's texts and generated ones)."""
    parts, done = [], 0
    for at in starts:
        if at < done:
            continue
        m = pattern.match(text, at)
        if m is None or m.end() == at:
            continue
        parts += [text[done:at], repl(m) if callable(repl) else m.expand(repl)]
        done = m.end()
    return "".join(parts) + text[done:] if parts else text


@dataclass(frozen=True)
class Shape:
    """A secret's shape. `sub` is its definition: the pattern over the whole text.
    `apply` gives the same text faster: the pattern runs only when `needs(text)` (a
    literal it cannot match without), or only at `starts(text)` (every place a match
    can begin; None: everywhere)."""
    name: str
    pattern: re.Pattern
    repl: object                     # a string or a function of the match, as for re.sub
    needs: Callable[[str], bool] | None = None
    starts: Callable[[str], list[int] | None] | None = None
    xml_only: bool = False           # only in an XML document (key= is too common elsewhere)

    def sub(self, key: str, text: str) -> str:
        if self.xml_only and not _looks_like_xml(key, text):
            return text
        return self.pattern.sub(self.repl, text)

    def apply(self, key: str, text: str) -> str:
        if self.starts is not None:
            if self.xml_only and not _looks_like_xml(key, text):
                return text
            starts = self.starts(text)
            return self.sub(key, text) if starts is None else _sub_at(self.pattern, self.repl, text, starts)
        return self.sub(key, text) if self.needs is None or self.needs(text) else text


_SECRET_WORDS = ("passw", "passphrase", "secret", "authtok", "auth_token", "authtoken", "api_key",
                 "apikey", "access_key", "accesskey", "private_key", "privatekey", "credential")
_MASKED = lambda m: f"{m[1]}{MASK}"                                     # noqa: E731
_MASKED_QUOTED = lambda m: f"{m[1]}{m[2]}{MASK}{m[2]}"                   # noqa: E731

# Applied in this order: key blocks first, so nothing inside one is half-redacted by
# a later shape. The shapes that ran over most texts (ini key, xml attribute, grub
# plaintext, password argument: ~2/3 of redaction's CPU) run only where they can begin.
SHAPES = [
    Shape("key block", _KEY_BLOCK, lambda m: f"[REDACTED {m[1]}]", needs=lambda t: "PRIVATE KEY" in t),
    Shape("key block tail", _KEY_TAIL, lambda m: f"[REDACTED {m[1]}]", needs=lambda t: "-----END " in t),
    Shape("grub pbkdf2 hash", _GRUB_PBKDF2, MASK, needs=lambda t: "grub.pbkdf2." in t),
    Shape("crypt hash", _CRYPT, MASK, needs=lambda t: "$" in t),
    Shape("grub plaintext password", _GRUB_PLAIN, _arg, starts=_words_at("password", line=True)),
    Shape("qemu secret object data", _SECRET_OBJECT_DATA, _MASKED, needs=lambda t: "secret," in t),
    Shape("qemu secret object json", _JSON_SECRET_OBJECT, _json_object, needs=lambda t: "qom-type" in t),
    Shape("password argument", _ARG_SECRET, _arg, starts=_words_at("password=", "passwd=")),
    Shape("rbd key argument", _RBD_KEY, _MASKED, needs=lambda t: ":key=" in t),
    Shape("secret option", _OPTION_SECRET, _MASKED,
          needs=lambda t: _has(t, "--passw", "--secret", "--token", "--api-key", "--auth-token")),
    # a URL's password needs its userinfo: "user:password@" after "://"
    Shape("url userinfo", _URL, _url, needs=lambda t: "://" in t and _URL_WITH_AT.search(t) is not None),
    Shape("ini key", _INI, _masked_value, starts=_words_at(*_SECRET_WORDS, line=True, folded=True)),
    Shape("xml attribute", _XML_ATTR, _MASKED_QUOTED, starts=_words_at("passw", back=1, folded=True)),
    Shape("xml key attribute", _XML_KEY_ATTR, _MASKED_QUOTED, starts=_words_at("key", back=1), xml_only=True),
]


def redact(key: str, text: str) -> str:
    """`redact("file:/etc/libvirt/qemu.conf", 'vnc_password = "x"')` -> 'vnc_password = "[REDACTED]"'.
    `key` is the artifact key (or "error" for an error text); every shape applies to
    every text, `key` only tells whether it is an XML document."""
    if not text:
        return text
    for shape in SHAPES:
        text = shape.apply(key, text)
    return text


def redact_error(text: str | None) -> str | None:
    """An error text that may hold a host's output (stderr of a killed batch, ...)."""
    return redact("error", text) if text else text


class _Memo:
    """What redact() gave for each text, shared by the threads that collect a fleet.
    Hosts built from one image send many identical texts (package lists, AIDE rules,
    unchanged configs): each is redacted once, and the snapshots that hold it share
    one copy. Keyed by the text and by whether it is an XML document, the only thing
    redact() reads from the key. Bounded in characters, since a host chooses how long
    its texts are: when full it starts again empty."""

    LIMIT = 32 * 1024 * 1024     # characters of kept texts, + ENTRY for each
    ENTRY = 64

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict[tuple[bool, str], str] = {}
        self._chars = 0

    def redact(self, key: str, text: str) -> str:
        if not text:
            return text
        seen = (_looks_like_xml(key, text), text)
        clean = self._seen.get(seen)       # a dict read needs no lock under the GIL
        if clean is None:
            clean = redact(key, text)
            cost = len(text) + (len(clean) if clean is not text else 0) + self.ENTRY
            with self._lock:
                if self._chars + cost > self.LIMIT:
                    self._seen, self._chars = {}, 0
                clean = self._seen.setdefault(seen, clean)
                self._chars += cost
        return clean

    def clear(self) -> None:
        with self._lock:
            self._seen, self._chars = {}, 0


_MEMO = _Memo()


def forget() -> None:
    """Drop the texts remembered: a run's texts should not outlive its collection (the
    audit frees each host's artifacts once its cases are judged)."""
    _MEMO.clear()


def redact_artifact(artifact) -> None:
    """Redact in place and settle it (Artifact.settle: undecodable bytes kept apart,
    then hashed: the hash is of what is stored)."""
    for name in ("stdout", "stderr"):
        text = getattr(artifact, name)
        clean = _MEMO.redact(artifact.key, text)
        if clean != text:
            artifact.redacted = True
        setattr(artifact, name, clean)     # the memo's copy: equal texts are stored once
    artifact.settle()
