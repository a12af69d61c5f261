"""Plain-text files a site keeps for hvconform to read (backup manifest, status and
repository files, restore records): an entry is a line that is neither blank nor a
`#` comment, with its line number for evidence."""

from __future__ import annotations


def entries(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.strip().startswith("#")]
