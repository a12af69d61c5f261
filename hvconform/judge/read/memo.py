"""Parse each artifact once: many controls read the same file or XML (qemu.conf by ~45
checks a host, each domain's XML by every per-VM domain_xml row), and parsing it
again for each was most of the judging time at fleet size (bench/README.md).

    parse = memo.of_text(_parse)     # parse(text) -> the same result for the same text
    @memo.per_host                   # the same, with room for a few hosts' texts (PER_HOST)

Keyed by the text itself (an artifact's stdout): the same text gives the same
result, so sharing it is safe as long as callers only read what they get (the
judging code never changes a parsed tree or settings). A failure is remembered
too and raised again. Bounded: the least recently used entries are dropped, and
judging goes host by host (hvconform.audit.judge_by_host), so a host's artifacts
stay cached while its controls are judged.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

SIZE = 512
# for a text only one host's checks read (its process table, its mount table): judging
# goes host by host, so room for a few hosts keeps every hit, and 512 would only hold
# memory (a parsed process table is twice its text: +78 MiB of peak for 300 simulated hosts)
PER_HOST = 64
CACHES: list[OrderedDict] = []   # every parse's cache, for clear_all()


def clear_all() -> None:
    """Forget every parse (tests and bench/judge_only.py judge as from nothing)."""
    for cache in CACHES:
        cache.clear()


def of_text(parse, size: int = SIZE):
    cache: OrderedDict = OrderedDict()
    CACHES.append(cache)
    lock = threading.Lock()

    def cached(text: str):
        with lock:
            hit = cache.get(text)
            if hit is not None:
                cache.move_to_end(text)
        if hit is None:
            try:
                hit = (True, parse(text))
            except Exception as exc:   # e.g. malformed: the same text fails the same way
                hit = (False, exc)
            with lock:
                cache[text] = hit
                while len(cache) > size:
                    cache.popitem(last=False)
        ok, value = hit
        if not ok:
            raise value.with_traceback(None)
        return value

    cached.__name__, cached.__doc__ = parse.__name__, parse.__doc__
    cached.cache = cache
    return cached


def per_host(parse):
    """of_text(parse) with room for PER_HOST texts: `@memo.per_host` on a parse of a
    text that only one host's checks share."""
    return of_text(parse, PER_HOST)
