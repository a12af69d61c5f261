"""`--shard K/N`: the share of the hosts one process audits when an audit is split
across processes or machines (a CI matrix, a Kubernetes Indexed Job), to be joined
again by `python -m hvconform merge`.

    shard = resolve("2/4", os.environ)      # Shard(2, 4), or None: audit every host
    mine = select(hosts, shard)             # hosts already narrowed by --limit

K counts from 1: the shards of a 4-way split are 1/4, 2/4, 3/4 and 4/4; 0/4 is a
usage error (it would be the 0-based reading, which only Kubernetes' index uses).
Without --shard, a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (0-based, set by
Kubernetes in each pod) and JOB_COMPLETIONS (the Job's completions; Kubernetes does
not set it: the manifest passes it, docs/k8s-indexed-job.yaml) give shard
INDEX+1 of COMPLETIONS. The option wins over the variables; one variable without
the other is a usage error (every pod would otherwise audit every host).

A host's shard depends on its name alone, never on the inventory's order: the
first 8 bytes of sha256(name, UTF-8) as a big-endian integer, put in one of N
buckets by jump consistent hashing (Lamping & Veach, 2014, arXiv:1406.2294).
Adding or removing a host moves no other host; going from N to N+1 shards moves
only about 1/(N+1) of the hosts (all into the new shard). `ALGORITHM` names this
rule in each shard's record, so a merge can refuse shards split by another rule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

ALGORITHM = "sha256-jump/1"
INDEX_ENV, COUNT_ENV = "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS"
MAX_SHARDS = 100_000
_SPEC = re.compile(r"\s*(\d{1,7})\s*/\s*(\d{1,7})\s*\Z")
_MASK64 = (1 << 64) - 1


class ShardError(ValueError):
    """A --shard value or Kubernetes variables that cannot be used; the message says
    what was given and what is expected (a usage error, one line)."""


@dataclass(frozen=True)
class Shard:
    index: int          # 1..count
    count: int
    source: str = ""    # where it came from: "--shard" or "JOB_COMPLETION_INDEX=1, JOB_COMPLETIONS=4"

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def record(self, selected: list[str]) -> dict:
        """What a shard run says about itself (run.json, the bundle's manifest,
        results.json): which share, by which rule, of which selection (the host names
        after --limit, in inventory order; a merge checks every shard saw the same
        selection, finds hosts no shard audited, and restores this order)."""
        return {"index": self.index, "count": self.count, "label": self.label,
                "algorithm": ALGORITHM, "source": self.source, "selected": list(selected)}


def parse(text: str, source: str = "--shard") -> Shard:
    match = _SPEC.match(text or "")
    if not match:
        raise ShardError(f"{source} {text!r}: expected K/N, e.g. 2/4 (shard 2 of 4; K counts from 1)")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS:
        raise ShardError(f"{source} {text!r}: the number of shards N must be 1 to {MAX_SHARDS}")
    if index == 0:
        raise ShardError(f"{source} {text!r}: shards count from 1 (1/{count} .. {count}/{count}); "
                         f"for a 0-based index use JOB_COMPLETION_INDEX")
    if index > count:
        raise ShardError(f"{source} {text!r}: K must be 1 to N ({count})")
    return Shard(index, count, source)


def from_env(environ) -> Shard | None:
    """Shard JOB_COMPLETION_INDEX+1 of JOB_COMPLETIONS, or None when neither is set."""
    index, count = environ.get(INDEX_ENV, "").strip(), environ.get(COUNT_ENV, "").strip()
    if not index and not count:
        return None
    if not index or not count:
        given, missing = (INDEX_ENV, COUNT_ENV) if index else (COUNT_ENV, INDEX_ENV)
        raise ShardError(f"{given} is set but {missing} is not: a Kubernetes Indexed Job needs both "
                         f"({COUNT_ENV} = the Job's spec.completions, passed in the pod's env), "
                         f"or give --shard K/N")
    source = f"{INDEX_ENV}={index}, {COUNT_ENV}={count}"
    if not index.isdigit() or not count.isdigit() or len(index) > 7 or len(count) > 7:
        raise ShardError(f"{source}: expected two whole numbers, the index counting from 0")
    if int(index) >= int(count):
        raise ShardError(f"{source}: the index (from 0) must be below {COUNT_ENV}")
    return parse(f"{int(index) + 1}/{int(count)}", source)


def resolve(option: str | None, environ) -> Shard | None:
    """The shard this process audits: --shard when given (it wins), else the
    Kubernetes variables, else None (every selected host)."""
    if option is not None and str(option).strip():
        return parse(str(option))
    return from_env(environ)


def bucket(name: str, count: int) -> int:
    """The shard (1..count) of the host called `name`."""
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()[:8], "big")
    return _jump(key, count) + 1


def _jump(key: int, buckets: int) -> int:
    """Jump consistent hash: a 64-bit key to a bucket 0..buckets-1 (Lamping & Veach)."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def select(hosts: list, shard: Shard | None) -> list:
    """The hosts (anything with a .name) of `shard`, in their given order; all when None."""
    if shard is None:
        return list(hosts)
    return [h for h in hosts if bucket(h.name, shard.count) == shard.index]
