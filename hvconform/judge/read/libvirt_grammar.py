"""libvirt's `key = value` configuration files (qemu.conf, libvirtd.conf, virtlogd.conf).

The grammar is that of libvirt's own reader (src/util/virconf.c), so a file this
parser rejects is a file the daemon refuses to start with:
  name    = letter (letter | digit | "_")*
  value   = "string" | 'string' | \"\"\"multi-line string\"\"\" | [+-]digits | list
  list    = "[" value ("," value)* ","? "]"   (blank lines allowed inside, comments not)
  a `#` comment may follow a value; statements end at a newline or ";".
For a key set twice libvirt uses the first occurrence; the later ones are kept in
`Setting.shadowed` so evidence can show them.

    >>> parse('user = "root"  # not this\\n')["user"].value
    'root'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvconform.judge.read import memo


@dataclass
class Setting:
    key: str
    value: str | int | list
    line: int                 # line of the key, 1-based
    text: str                 # the statement as written, on one line
    shadowed: list[int] = field(default_factory=list)   # lines of later, ignored duplicates


class ConfSyntaxError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


def shown(value) -> str:
    """The value as a string, as conditions compare it: lists as `["a", "b"]`."""
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else shown(v) for v in value) + "]"
    return str(value)


# Runs the reader skips or takes, matched at once rather than a character at a time:
# qemu.conf is ~1,000 lines of comments, and stepping through them one character per
# call was most of its parsing time.
_BLANKS = re.compile(r"[ \t]*")
_BLANKS_EOL = re.compile(r"[ \t\r\n]*")
_REST_OF_LINE = re.compile(r"[^\r\n]*")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?\d+")
_QUOTED = {q: re.compile(rf"[^{q}\r\n]*") for q in "\"'"}
# Where a statement may begin: blanks, line ends and whole `#` comment lines, skipped as
# one run (qemu.conf is mostly comments: one call per comment line was ~80% of parsing
# it). Possessive (`*+`): every pass takes at least one character, nothing is retried.
_SKIPPED = re.compile(r"(?:[ \t\r\n]+|#[^\r\n]*)*+")


class _Reader:
    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def skip_blanks(self, eol: bool = False) -> None:
        end = (_BLANKS_EOL if eol else _BLANKS).match(self.text, self.pos).end()
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def skip_line(self) -> None:
        self.pos = _REST_OF_LINE.match(self.text, self.pos).end()

    def skip_to_statement(self) -> None:
        end = _SKIPPED.match(self.text, self.pos).end()
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def fail(self, message: str):
        raise ConfSyntaxError(self.line, message)

    def string(self) -> str:
        if self.peek(3) == '"""':
            end = self.text.find('"""', self.pos + 3)
            if end < 0:
                self.fail("unterminated string")
            body = self.text[self.pos + 3:end]
            self.line += body.count("\n")
            self.pos = end + 3
            return body
        quote, start = self.peek(), self.pos + 1
        match = _QUOTED[quote].match(self.text, start)
        if self.text[match.end():match.end() + 1] != quote:
            self.fail("unterminated string")
        self.pos = match.end() + 1
        return match.group()

    def value(self):
        self.skip_blanks()
        c = self.peek()
        if c in ('"', "'"):
            return self.string()
        if c == "[":
            return self.items()
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return int(match.group())
        self.fail("expecting a value")

    def items(self) -> list:
        self.pos += 1
        out, opened = [], self.line
        self.skip_blanks(eol=True)
        while self.peek() != "]":
            if not self.peek():   # the end of the file: name the line that opened the list
                raise ConfSyntaxError(opened, "list is not closed with ]")
            if out:
                if self.peek() != ",":
                    self.fail("expecting a separator in list")
                self.pos += 1
                self.skip_blanks(eol=True)
                if self.peek() == "]":
                    break
            out.append(self.value())
            self.skip_blanks(eol=True)
        self.pos += 1
        return out

    def statement(self) -> Setting | None:
        self.skip_to_statement()
        if self.pos >= len(self.text):
            return None
        match = _NAME.match(self.text, self.pos)
        if not match:
            self.fail("expecting a name")
        start, line = self.pos, self.line
        self.pos = match.end()
        self.skip_blanks()
        if self.peek() != "=":
            self.fail("expecting an assignment")
        self.pos += 1
        value = self.value()
        text = " ".join(self.text[start:self.pos].split())
        self.skip_blanks()
        if self.peek() == "#":
            self.skip_line()
        if self.pos < len(self.text) and self.peek() not in "\r\n;":
            self.fail("expecting a separator")
        if self.peek() == ";":
            self.pos += 1
        return Setting(match.group(), value, line, text)


def _parse(text: str) -> dict[str, Setting]:
    """Every key set in `text`, with where and how; raise ConfSyntaxError naming the line.
    Each text is parsed once (judge/read/memo.py): callers read the settings, never change them."""
    return _settings(_Reader(text))


def _settings(reader: _Reader) -> dict[str, Setting]:
    """Every statement the reader gives, by key; a key set again is recorded as shadowed."""
    settings = {}
    while reader.pos < len(reader.text):
        s = reader.statement()
        if s is None:
            continue
        if s.key in settings:
            settings[s.key].shadowed.append(s.line)
        else:
            settings[s.key] = s
    return settings


parse = memo.of_text(_parse)
