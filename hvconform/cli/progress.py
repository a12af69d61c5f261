"""Progress of a long run: items done/total, rate and ETA.

On a terminal it is one line rewritten in place; elsewhere (a CI log) plain lines,
at most one every `every` seconds, and the last one always. Lines about one item
(a host that failed, or every host of a small run) are printed above the status
line. Both front ends use it: `python -m hvconform audit` and pytest
(fixtures/targets.py).

Host-supplied text (an error message quoting a host's stderr) goes through
`printable()` first: a host must not be able to move the cursor, recolour or
retitle the auditor's terminal, nor hide text with bidirectional overrides.
"""

from __future__ import annotations

import time

from hvconform.model import terminal


def printable(text, limit: int = 300) -> str:
    """model.terminal.printable, cut to `limit` characters (an error text on a progress line)."""
    return terminal.printable(text, limit)


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class Progress:
    """`item(detail)` as each item finishes; `close()` at the end.

    write: prints raw text (no newline added), e.g. sys.stderr.write
    tty:   rewrite one line in place (a terminal) rather than append lines
    every: seconds between plain status lines when not a terminal
    details_up_to: a run of at most this many items prints every item's detail;
           a larger one prints only the details marked as problems
    """

    def __init__(self, total: int, noun: str, verb: str, write, tty: bool, every: float = 10.0,
                 details_up_to: int = 20, clock=time.monotonic):
        self.total, self.noun, self.verb = total, noun, verb
        self._write, self.tty, self.every = write, tty, every
        self.details_up_to = details_up_to
        self._clock = clock
        self.started = clock()
        self.done = 0
        self._last_plain = self.started
        self._shown = False   # a status line is on screen (tty)

    def item(self, detail: str | None = None, problem: bool = False) -> None:
        self.done += 1
        if detail is not None and (problem or self.total <= self.details_up_to):
            self._line(detail)
        now = self._clock()
        if self.tty:
            self._status(now)
        elif now - self._last_plain >= self.every and self.done < self.total:
            self._last_plain = now
            self._write(self.status(now) + "\n")

    def _line(self, text: str) -> None:
        if self.tty and self._shown:
            self._write("\r\x1b[K")
        self._write(text + "\n")
        self._shown = False

    def _status(self, now: float) -> None:
        self._write("\r\x1b[K" + self.status(now))
        self._shown = True

    def status(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        took = now - self.started
        rate = self.done / took if took > 0 else 0.0
        text = f"{self.verb}: {self.done}/{self.total} {self.noun}"
        if self.total:
            text += f" ({self.done * 100 // self.total}%)"
        text += f", {rate:.1f} {self.noun}/s"
        if 0 < self.done < self.total and rate > 0:
            text += f", ETA {duration((self.total - self.done) / rate)}"
        return text

    def close(self) -> str:
        """Print and return the final line: how many, how long, how fast."""
        took = self._clock() - self.started
        rate = self.done / took if took > 0 else 0.0
        line = f"{self.verb}: {self.done}/{self.total} {self.noun} in {took:.1f} s ({rate:.1f} {self.noun}/s)"
        if self.tty and self._shown:
            self._write("\r\x1b[K")
        if self.tty or self.total > self.details_up_to:
            self._write(line + "\n")
        self._shown = False
        return line
