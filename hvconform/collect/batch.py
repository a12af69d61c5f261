"""Many read-only commands in one round trip, each result kept apart.

The script frames every command with markers carrying a per-batch random nonce,
on stdout and on stderr, and the exit code after it; `parse` splits the two
streams back into one Artifact per command. A file that happens to contain
marker-like text cannot forge a frame without the nonce.
"""

from __future__ import annotations

import re
import secrets
import time

from hvconform.collect import commands
from hvconform.model.snapshot import Artifact


class Batch:
    def __init__(self):
        self.nonce = secrets.token_hex(8)
        self.items: list[tuple[str, str]] = []   # (artifact key, command line)

    def add(self, key: str, name: str, **args) -> None:
        if key not in dict(self.items):
            self.items.append((key, commands.render(name, **args)))

    def __len__(self):
        return len(self.items)

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

    def parse(self, stdout: str, stderr: str, collected_at: float) -> dict[str, Artifact]:
        """One Artifact per command that ran to its end marker."""
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(collected_at))
        frame = re.compile(rf"\n{self.nonce} B (\d+)\n(.*?)\n{self.nonce} E \1(?: (\d+))?\n",
                           re.S)
        outs = {int(m[1]): (m[2], int(m[3])) for m in frame.finditer(stdout) if m[3]}
        errs = {int(m[1]): m[2] for m in frame.finditer(stderr)}
        found = {}
        for i, (key, line) in enumerate(self.items):
            if i in outs:
                out, rc = outs[i]
                found[key] = Artifact(key=key, source=line, rc=rc, stdout=out,
                                      stderr=errs.get(i, ""), collected_at=at)
        return found
