"""Round trips as both transports make them (collect.transport, collect.ssh).

A round trip starts every part of a batch at once and is read by channels.Reader;
a later round may start while an earlier one is still being read (the collector
starts round 2 as soon as round 1's domain list and process table are in). Each
script is checked against hvconform.collect.commands before it is sent, and each
round is logged as it ends, with every command's time (sent/<host>.json).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hvconform.collect import commands
from hvconform.collect.channels import ChannelRefused, Output, Round, TransportError
from hvconform.model.snapshot import ERROR, host_text, readable


_SUDO_PROMPT = ("a password is required", "a terminal is required", "may not run sudo",
                "is not in the sudoers", "not allowed to execute")


def sudo_failure(host, outputs: list[Output]) -> None:
    """Raise the error that says what to grant, when sudo -n refused to run a batch."""
    for out in outputs:
        stderr = readable(host_text(bytes(out.stderr)))
        if any(s in stderr for s in _SUDO_PROMPT):
            last = stderr.strip().splitlines()[-1]
            raise TransportError(ERROR, f"sudo -n refused on {host.name} for user {host.ssh.user!r} "
                                 f"({last}): grant it passwordless sudo for the audit (sh and "
                                 "timeout), or set sudo: false")


class RoundTrips:
    """What both transports do with rounds: start one (every part at once, each script
    checked against hvconform.collect.commands before it is sent), wait for some (a
    later round may start while an earlier one is still read), log each as it ends.
    A transport gives `host`, `log`, `reader`, `sudo` and `_open(script, timeout)`."""

    def start(self, parts: list[tuple[str, str, list[str]]], timeout: float) -> Round:
        """Start the parts (nonce, script, command lines) of one round trip."""
        for _, script, _ in parts:
            commands.check_script(script)  # refuses an undeclared line before sending
        framing = [(nonce, lines) for nonce, _, lines in parts]
        deadline = time.monotonic() + timeout
        streams, started = [], time.time()
        openers = [lambda script=script: self._open(script, timeout) for _, script, _ in parts]
        try:
            for opener in openers:
                try:
                    streams.append(opener() if None not in streams else None)
                except ChannelRefused:     # sshd MaxSessions: the rest wait for a free channel
                    streams.append(None)
                    self.reader.refused_at = self.reader.ended
        except TransportError as exc:
            for stream in streams:
                if stream is not None:
                    stream.stop()
            self.log.add(framing, started, None, str(exc))
            raise
        return self.reader.start(streams, framing, deadline, openers)

    def wait(self, rounds: list[Round], until=None) -> None:
        """Read `rounds` until all have ended (or `until()`); log each that ended."""
        try:
            self.reader.wait(rounds, until)
        except TransportError as exc:
            for r in rounds:
                self._logged(r, str(exc))
            raise
        for r in rounds:
            if r.done and not r.logged:
                self._logged(r)
                if self.sudo:
                    sudo_failure(self.host, r.outputs)

    def run(self, parts: list[tuple[str, str, list[str]]], timeout: float) -> list[Output]:
        """One round trip, started and read to its end."""
        r = self.start(parts, timeout)
        self.wait([r])
        return r.outputs

    def _logged(self, r: Round, note: str = "") -> None:
        if not r.logged:
            self.log.add(r.framing, r.started, r.outputs if r.done or note else None, note, r.ended_at)
            r.logged = True


@dataclass
class SentLog:
    """Every round trip sent to one host: what, when, how it ended, each command's time."""

    entries: list[dict] = field(default_factory=list)

    def add(self, parts: list[tuple[str, list[str]]], started: float, outputs: list | None,
            note: str = "", ended: float | None = None) -> None:
        lines = [line for _, ls in parts for line in ls]
        rcs = [o.rc for o in outputs] if outputs else [None]
        entry = {"sent_at": _iso(started), "seconds": round((ended or time.time()) - started, 3),
                 "rc": None if None in rcs else max(rcs), "commands": lines, "note": note,
                 "channels": len(parts)}
        if outputs:
            entry["command_seconds"] = [d for (_, ls), o in zip(parts, outputs)
                                        for d in _durations(len(ls), o.ended)]
        self.entries.append(entry)


def _durations(n: int, ended: dict) -> list:
    """Each command's seconds, from when the one before it in its channel ended."""
    out, before = [], 0.0
    for i in range(n):
        at = ended.get(i)
        out.append(None if at is None else round(at - before, 4))
        before = at if at is not None else before
    return out


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
