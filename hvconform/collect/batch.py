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

import secrets
import time

from hvconform.collect import commands
from hvconform.model.snapshot import Artifact, host_text


# A part of a round earns a channel of its own only with this much expected host time
# (ms): a channel costs the auditor ~2.5 ms of CPU (bench/README.md), and a round of
# quick commands (round 2: domain XML, /proc, ~230 ms on weak) gains little from more
# than two (one channel measured ~0.1-0.2 s slower on weak, under load).
MIN_PART_MS = 100


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
        costliest first, each to the least loaded part), each in the original order;
        no more parts than MIN_PART_MS of expected time can fill."""
        cost = [self.costs.get(key, 2) for key, _ in self.items]
        n = max(1, min(n, len(self.items), sum(cost) // MIN_PART_MS if MIN_PART_MS else n))
        load, members = [0] * n, [[] for _ in range(n)]
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
              whole: bool = False, skip=frozenset()) -> dict[str, Artifact]:
        """One Artifact per command that ran to its end marker. Bytes are read as
        host_text (every byte kept); the collector settles each artifact after redaction.
        `whole`: only commands whose stderr frame has ended too (the two streams arrive
        apart: read while the batch still runs, a command's stderr may not be in yet).
        `skip`: keys already kept from an earlier read of the same round (not built again)."""
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(collected_at))
        outs, errs = self._frames_of(stdout, stderr)
        found = {}
        for i, (key, line) in enumerate(self.items):
            if i in outs and (i in errs or not whole) and key not in skip:
                out, rc = outs[i]
                found[key] = Artifact(key=key, source=line, rc=rc, stdout=out,
                                      stderr=errs.get(i, ""), collected_at=at)
        return found

    def _frames_of(self, stdout, stderr) -> tuple[dict, dict]:
        """The ended frames of both streams. A part is read while its round runs and
        again when it ends: streams that have not grown since (the same objects, only
        ever appended to, of the same length) are not decoded and split again."""
        sizes, last = (len(stdout), len(stderr)), self.__dict__.get("_last_split")
        if last is not None and last[0] is stdout and last[1] is stderr and last[2] == sizes:
            return last[3]
        out_text = host_text(bytes(stdout)) if isinstance(stdout, (bytes, bytearray)) else stdout
        err_text = host_text(bytes(stderr)) if isinstance(stderr, (bytes, bytearray)) else stderr
        split = ({i: (text, rc) for i, (text, rc) in frames(out_text, self.nonce).items() if rc is not None},
                 {i: text for i, (text, _) in frames(err_text, self.nonce).items()})
        self._last_split = (stdout, stderr, sizes, split)
        return split


def frames(text: str, nonce: str) -> dict[int, tuple[str, int | None]]:
    r"""{index: (what the command printed, exit code or None)} of each frame of `text`
    that has ended, as script() prints them: "\n<nonce> B <i>\n" ... "\n<nonce> E <i>[ <rc>]\n".
    The same as the matches of the regular expression
    \n<nonce> B (\d+)\n(.*?)\n<nonce> E \1(?: (\d+))?\n (re.S), found with str.find:
    a host's output is read several times while its round runs, and the expression's
    lazy scan was the collector's largest cost after paramiko and redaction
    (bench/README.md; tests/unit/test_batch.py compares the two)."""
    begin, end = f"\n{nonce} B ", f"\n{nonce} E "
    out: dict[int, tuple[str, int | None]] = {}
    pos = 0
    while (b := text.find(begin, pos)) >= 0:
        head = b + len(begin)
        nl = text.find("\n", head)
        index = text[head:nl] if nl >= 0 else ""
        if not index.isdecimal():
            pos = b + 1
            continue
        marker, q = end + index, nl
        while (q := text.find(marker, q + 1)) >= 0:
            after = q + len(marker)
            if text.startswith("\n", after):
                out[int(index)], pos = (text[nl + 1:q], None), after + 1
                break
            if text.startswith(" ", after):
                stop = text.find("\n", after + 1)
                code = text[after + 1:stop] if stop >= 0 else ""
                if code.isdecimal():
                    out[int(index)], pos = (text[nl + 1:q], int(code)), stop + 1
                    break
        else:
            pos = b + 1
    return out
