"""Running batch scripts on a target and reading them back, bounded.

A round trip is one or more batch scripts started at once (channels of one SSH
session, or processes on this machine) and read together until each has ended.
Reading is bounded, and each bound is checked as the bytes arrive, never after:
- a deadline (command_timeout): the channels are closed, and the host's own
  `timeout` (commands.WRAPPER) ends whatever still runs there;
- bytes per command (max_command_output) and per host (max_host_output): reading
  stops and the channels are closed (a command still writing dies of SIGPIPE, the
  rest at the host's timeout); the host becomes an error naming the cap.
When a round ends early, the frames read completely so far still come back
(TransportError.outputs), so nothing already collected is lost. Each command's end
marker is timed as it arrives: the log gives every command's duration.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field

from hvconform.inputs.inventory import MAX_COMMAND_OUTPUT, MAX_HOST_OUTPUT
from hvconform.model.snapshot import ERROR, TIMEOUT

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
_CHUNK = 64 * KiB


class TransportError(Exception):
    """A host could not be reached or used; `status` is a results.json host status.
    `outputs`: what the channels of the round gave before it ended, if it started."""

    def __init__(self, status: str, message: str, outputs: list | None = None):
        super().__init__(message)
        self.status = status
        self.outputs = outputs


@dataclass(frozen=True)
class Limits:
    """Why these defaults: hvconform.inputs.inventory (MAX_COMMAND_OUTPUT)."""

    command_output: int = MAX_COMMAND_OUTPUT   # bytes of one command's stdout (or stderr)
    host_output: int = MAX_HOST_OUTPUT         # bytes of everything one host sends, all rounds


def limits_of(host) -> Limits:
    """The output caps of `host` (its inventory ssh settings)."""
    return Limits(host.ssh.max_command_output, host.ssh.max_host_output)


def size(n: int) -> str:
    """16777216 -> '16 MiB'."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit:
            return f"{n / unit:g} {name}"
    return f"{n} bytes"


@dataclass
class Output:
    """What one channel gave: exit code (None: it did not end), both streams, and
    when each command's end marker arrived (frame index -> seconds from the start)."""

    rc: int | None = None
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    ended: dict = field(default_factory=dict)
    stderr_ended: set = field(default_factory=set)   # frame indexes whose stderr frame ended


class _Frames:
    """Where the frames of one stream are (batch.py's markers), found as bytes arrive."""

    LONGEST_MARKER = 64

    # what follows "\n<nonce> " in a marker; the nonce is found with bytes.find, since
    # a pattern made for each channel's nonce cost a regex compile per channel
    REST = re.compile(rb"([BE]) (\d+)(?: \d+)?\n")

    def __init__(self, nonce: str):
        self.tag = b"\n" + nonce.encode() + b" "
        self.pos = 0            # scanning resumes here
        self.open = None        # index of the frame being written, if any
        self.open_at = 0        # where its content starts

    def _markers(self, buf: bytearray, at: int):
        r"""The matches of \n<nonce> ([BE]) (\d+)(?: \d+)?\n in buf from `at`, as finditer."""
        while (i := buf.find(self.tag, at)) >= 0:
            m = self.REST.match(buf, i + len(self.tag))
            if m is None:
                at = i + 1
                continue
            yield m
            at = m.end()

    def feed(self, buf: bytearray, old_len: int, on_end) -> None:
        for m in self._markers(buf, max(self.pos, old_len - self.LONGEST_MARKER)):
            self.pos = m.end()
            if m[1] == b"B":
                self.open, self.open_at = int(m[2]), m.end()
            else:
                self.open = None
                on_end(int(m[2]))

    def open_size(self, buf: bytearray) -> int:
        return len(buf) - self.open_at if self.open is not None else 0


class ChannelRefused(TransportError):
    """The host would not open one more channel now (sshd MaxSessions): the part waits
    until another channel of the host ends."""

    def __init__(self, message: str):
        super().__init__(ERROR, message)


class _Channel:
    """One script being read: the running thing (None while it waits for the host to
    take one more channel; `opener` starts it), its output, its frames, its deadline."""

    def __init__(self, stream, nonce: str, lines: list[str], deadline: float, opener=None):
        self.stream, self.lines, self.deadline, self.opener = stream, lines, deadline, opener
        self.started = time.monotonic()
        self.out = Output()
        self.frames = (_Frames(nonce), _Frames(nonce))
        self.done, self.ended_at = False, None

    def running(self) -> str | None:
        """The command line whose frame is open on stdout, if any."""
        i = self.frames[0].open
        return self.lines[i] if i is not None and i < len(self.lines) else None


class Round:
    """The channels of one round trip, started at once; read by Reader.wait()."""

    def __init__(self, chans: list[_Channel], framing: list[tuple[str, list[str]]]):
        self.chans, self.framing = chans, framing
        self.started = time.time()          # for the log
        self.logged = False

    @property
    def outputs(self) -> list[Output]:
        return [c.out for c in self.chans]

    @property
    def done(self) -> bool:
        return all(c.done for c in self.chans)

    @property
    def ended_at(self) -> float | None:
        """When its last channel ended (wall clock), if all did."""
        return max(c.ended_at for c in self.chans) if self.done and self.chans else None

    def ended(self, part: int, index: int) -> bool:
        """Whether command `index` of part `part` has ended: both its end markers arrived."""
        out = self.chans[part].out
        return index in out.ended and index in out.stderr_ended


class Reader:
    """Reads the channels of a host's round trips, bounded by `limits`; counts the
    host's bytes across rounds."""

    def __init__(self, limits: Limits, cap_names=("ssh.max_command_output", "ssh.max_host_output")):
        self.limits = limits
        self.cap_names = cap_names
        self.total = 0
        self.ended, self.refused_at = 0, -1   # channels ended; how many had when one was refused

    def start(self, streams: list, parts: list[tuple[str, list[str]]], deadline: float,
              openers=None) -> Round:
        """A round whose `streams[i]` runs the script of `parts[i]` = (nonce, command lines);
        a stream that is None waits, and `openers[i]()` starts it later."""
        openers = openers or [None] * len(parts)
        return Round([_Channel(s, nonce, lines, deadline, o)
                      for s, (nonce, lines), o in zip(streams, parts, openers)], parts)

    def read(self, streams: list, parts: list[tuple[str, list[str]]], deadline: float) -> list[Output]:
        """One round, read to its end."""
        r = self.start(streams, parts, deadline)
        self.wait([r])
        return r.outputs

    def wait(self, rounds: list[Round], until=None) -> None:
        """Read every channel of `rounds` until all have ended, or `until()` is true (the
        rest is read by a later call). On a deadline or a cap every channel of these
        rounds is stopped and the TransportError raised; what they gave stays in them."""
        try:
            self._loop([c for r in rounds for c in r.chans], until)
        except TransportError as exc:
            for r in rounds:
                for c in r.chans:
                    if c.stream is not None:
                        c.stream.stop()
            exc.outputs = [o for r in rounds for o in r.outputs]
            raise

    def _loop(self, chans: list[_Channel], until) -> None:
        while True:
            pending = [c for c in chans if not c.done]
            if not pending or (until is not None and until()):
                return
            now = time.monotonic()
            late = [c for c in pending if c.deadline <= now]
            if late:
                still = [c.running() for c in late if c.running()]
                raise TransportError(TIMEOUT, "commands did not finish within the command_timeout"
                                     + (f"; still running: {still[0]}" if still else "")
                                     + "; the batch was ended on the host")
            if self._start_waiting(pending):
                continue
            select.select([w for c in pending if c.stream for w in c.stream.waitables()], [], [],
                          min(min(c.deadline for c in pending) - now, 0.5))
            for c in pending:
                if c.stream is not None:
                    self._take(c, c.deadline)

    def _start_waiting(self, pending: list[_Channel]) -> bool:
        """Start what waits for a channel, once another has ended since the host last
        refused one; True if it took one. With nothing running, a refusal is final."""
        waiting = [c for c in pending if c.stream is None]
        if not waiting or self.ended <= self.refused_at:
            return False
        for c in waiting:
            try:
                c.stream, c.started = c.opener(), time.monotonic()
            except ChannelRefused as exc:
                if all(x.stream is None for x in pending):
                    raise TransportError(ERROR, f"{exc}, and none is open") from None
                self.refused_at = self.ended
                return False
        return True

    def _take(self, c: _Channel, deadline: float) -> None:
        while time.monotonic() < deadline:   # a steady stream still meets the deadline
            got = c.stream.read_some(_CHUNK)
            if not any(got):
                break
            for which, data in enumerate(got):
                if not data:
                    continue
                buf = c.out.stdout if which == 0 else c.out.stderr
                old = len(buf)
                buf += data
                at = time.monotonic() - c.started
                on_end = ((lambda i: c.out.ended.__setitem__(i, round(at, 4))) if which == 0
                          else c.out.stderr_ended.add)
                c.frames[which].feed(buf, old, on_end)
                self.total += len(data)
                if c.frames[which].open_size(buf) > self.limits.command_output:
                    line = c.lines[c.frames[which].open]
                    raise TransportError(ERROR, f"output over the cap of {size(self.limits.command_output)} "
                                         f"per command ({self.cap_names[0]}) from `{line}`: reading "
                                         "stopped and the batch was ended on the host; raise the cap "
                                         "in the inventory if this output is expected")
                if self.total > self.limits.host_output:
                    line = c.running()
                    raise TransportError(ERROR, f"output over the cap of {size(self.limits.host_output)} "
                                         f"per host ({self.cap_names[1]})"
                                         + (f", reached during `{line}`" if line else "")
                                         + ": reading stopped and the batch was ended on the host; "
                                         "raise the cap in the inventory if this output is expected")
        if c.stream.finished():
            c.done, c.ended_at = True, time.time()
            c.out.rc = c.stream.exit_status()
            self.ended += 1


class ProcessStream:
    """A batch run on this machine: its own process group, killed as a whole."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.files = [self.proc.stdout, self.proc.stderr]
        for f in self.files:
            os.set_blocking(f.fileno(), False)
        self.eof = [False, False]

    def waitables(self):
        return [f for f, e in zip(self.files, self.eof) if not e]

    def read_some(self, n: int) -> tuple[bytes, bytes]:
        got = [b"", b""]
        for i, f in enumerate(self.files):
            if self.eof[i]:
                continue
            try:
                data = os.read(f.fileno(), n)
            except BlockingIOError:
                continue
            if data:
                got[i] = data
            else:
                self.eof[i] = True
        return got[0], got[1]

    def finished(self) -> bool:
        return all(self.eof) and self.proc.poll() is not None

    def exit_status(self) -> int | None:
        return self.proc.returncode

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for f in self.files:
            f.close()
        self.proc.wait()


class SSHStream:
    """A batch run on one channel of an SSH session."""

    def __init__(self, chan, host: str):
        self.chan, self.host = chan, host

    def waitables(self):
        return [self.chan]

    def read_some(self, n: int) -> tuple[bytes, bytes]:
        try:
            out = self.chan.recv(n) if self.chan.recv_ready() else b""
            err = self.chan.recv_stderr(n) if self.chan.recv_stderr_ready() else b""
        except (OSError, EOFError, RuntimeError) as exc:   # paramiko's SSHException is one
            raise TransportError(ERROR, f"connection to {self.host} lost: {exc}") from None
        return out, err

    def finished(self) -> bool:
        # the exit status can overtake the last stderr data: wait for EOF as well
        c = self.chan
        return (c.exit_status_ready() and (c.eof_received or c.closed)
                and not c.recv_ready() and not c.recv_stderr_ready())

    def exit_status(self) -> int | None:
        return self.chan.recv_exit_status()

    def stop(self) -> None:
        self.chan.close()
