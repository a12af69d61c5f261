"""Many read-only commands in one round trip, each result kept apart.

The script frames every command with markers carrying a per-batch random nonce,
on stdout and on stderr, and the exit code after it; `parse` splits the two
streams back into one Artifact per command. A file that happens to contain
marker-like text cannot forge a frame without the nonce.

`parts(n)` splits a batch into n batches of about equal cost (commands.COST_MS), which
the transport starts at once on separate channels of one session: still one round
trip, but the slow commands no longer wait for each other.
"""

from __future__ import annotations

import re
import secrets
import time

from hvconform.collect import commands
from hvconform.model.snapshot import Artifact, host_text


class Batch:
    def __init__(self):
        self.nonce = secrets.token_hex(8)
        self.items: list[tuple[str, str]] = []   # (artifact key, command line)
        self.costs: dict[str, int] = {}          # artifact key -> commands.cost()

    def add(self, key: str, name: str, **args) -> None:
        if key not in self.costs:
            self.items.append((key, commands.render(name, **args)))
            self.costs[key] = commands.cost(name)

    def __len__(self):
        return len(self.items)

    def lines(self) -> list[str]:
        return [line for _, line in self.items]

    def parts(self, n: int) -> list["Batch"]:
        """At most n batches holding these items, balanced by expected cost (the
        costliest first, each to the least loaded part), each in the original order."""
        n = max(1, min(n, len(self.items)))
        load, members = [0] * n, [[] for _ in range(n)]
        cost = [self.costs.get(key, 2) for key, _ in self.items]
        for i in sorted(range(len(self.items)), key=lambda i: -cost[i]):
            k = load.index(min(load))
            load[k] += cost[i]
            members[k].append(i)
        out = []
        for idx in members:
            part = Batch()
            part.items = [self.items[i] for i in sorted(idx)]
            part.costs = {key: self.costs.get(key, 2) for key, _ in part.items}
            out.append(part)
        return [p for p in out if p.items]

    def script(self) -> str:
        n = f"'{self.nonce}'"
        lines = [commands.PREAMBLE]
        for i, (_, line) in enumerate(self.items):
            lines += [f"printf '\\n%s B %s\\n' {n} {i}",
                      f"printf '\\n%s B %s\\n' {n} {i} >&2",
                      line,
                      f"printf '\\n%s E %s %s\\n' {n} {i} \"$?\"",
                      f"printf '\\n%s E %s\\n' {n} {i} >&2"]
        return "\n".join(lines) + "\n"

    def parse(self, stdout: str | bytes, stderr: str | bytes, collected_at: float,
              whole: bool = False) -> dict[str, Artifact]:
        """One Artifact per command that ran to its end marker. Bytes are read as
        host_text (every byte kept); the collector settles each artifact after redaction.
        `whole`: only commands whose stderr frame has ended too (the two streams arrive
        apart: read while the batch still runs, a command's stderr may not be in yet)."""
        stdout = host_text(bytes(stdout)) if isinstance(stdout, (bytes, bytearray)) else stdout
        stderr = host_text(bytes(stderr)) if isinstance(stderr, (bytes, bytearray)) else stderr
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(collected_at))
        frame = re.compile(rf"\n{self.nonce} B (\d+)\n(.*?)\n{self.nonce} E \1(?: (\d+))?\n",
                           re.S)
        outs = {int(m[1]): (m[2], int(m[3])) for m in frame.finditer(stdout) if m[3]}
        errs = {int(m[1]): m[2] for m in frame.finditer(stderr)}
        found = {}
        for i, (key, line) in enumerate(self.items):
            if i in outs and (i in errs or not whole):
                out, rc = outs[i]
                found[key] = Artifact(key=key, source=line, rc=rc, stdout=out,
                                      stderr=errs.get(i, ""), collected_at=at)
        return found
