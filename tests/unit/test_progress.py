"""Progress lines of long runs (hvconform/cli/progress.py): one line rewritten in place
on a terminal, plain lines in a CI log, and no host-supplied control character on
the auditor's terminal."""

from __future__ import annotations

from hvconform.cli.progress import Progress, printable


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run(tty: bool, total: int, every: float = 10.0):
    out, clock = [], Clock()
    p = Progress(total, "hosts", "collected", out.append, tty, every=every, clock=clock)
    for i in range(total):
        clock.now += 1.0
        p.item(f"  h{i}: ok", problem=(i == 3))
    p.close()
    return "".join(out)


def test_a_terminal_gets_one_line_rewritten_in_place_with_rate_and_eta():
    text = run(tty=True, total=100)
    assert "\r\x1b[K" in text
    assert "collected: 50/100 hosts (50%), 1.0 hosts/s, ETA 50 s" in text
    assert text.count("\n") == 2     # the host that failed, and the final line
    assert "  h3: ok\n" in text and "  h4: ok" not in text
    assert text.endswith("collected: 100/100 hosts in 100.0 s (1.0 hosts/s)\n")


def test_a_log_gets_plain_lines_now_and_then_and_no_escape():
    text = run(tty=False, total=100, every=10.0)
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert "collected: 10/100 hosts (10%), 1.0 hosts/s, ETA 1:30" in lines
    assert len([line for line in lines if line.startswith("collected:")]) == 10  # 9 + the final one
    assert "  h3: ok" in lines and "  h5: ok" not in lines


def test_a_small_run_lists_every_host_as_before():
    text = run(tty=False, total=3)
    assert text.splitlines() == ["  h0: ok", "  h1: ok", "  h2: ok"]


def test_host_text_cannot_drive_the_terminal():
    hostile = "sudo: \x1b]0;pwned\x07\x1b[2J\x1b[31mred\r\nfake line\u202eevil\x9b1m\x00"
    shown = printable(hostile)
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c == "\u202e" for c in shown)
    assert shown == ("sudo: \\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\r\\nfake line\\u202eevil"
                     "\\x9b1m\\x00")
    assert printable("x" * 1000, limit=10) == "x" * 10 + "..."
