"""--shard K/N: a stable share of the hosts by name, disjoint and covering, near
balanced, read from a Kubernetes Indexed Job's variables when not given; bad values
are usage errors naming what was given."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import pytest

from hvconform.inputs import shard
from hvconform.inputs.shard import Shard, ShardError, bucket, parse, resolve, select

NAMES = [f"hv-{rack}-{i:03d}.dc1.example.org" for rack in "abcdefghij" for i in range(100)]


@dataclass(frozen=True)
class Host:
    name: str


def test_every_host_is_in_exactly_one_shard():
    hosts = [Host(n) for n in NAMES]
    for count in (1, 2, 3, 4, 7, 16):
        shares = [select(hosts, Shard(k, count)) for k in range(1, count + 1)]
        names = [h.name for share in shares for h in share]
        assert sorted(names) == sorted(NAMES), count          # covering, and disjoint
        assert len(names) == len(set(names))


def test_a_shard_keeps_the_given_order():
    hosts = [Host(n) for n in NAMES]
    mine = select(hosts, Shard(3, 4))
    assert mine == [h for h in hosts if h in mine] and 0 < len(mine) < len(hosts)


def test_no_shard_is_every_host():
    hosts = [Host(n) for n in NAMES[:5]]
    assert select(hosts, None) == hosts
    assert select(hosts, Shard(1, 1)) == hosts


def test_shards_are_balanced_within_reason():
    # A hash, not a round robin: each shard's size is binomial. 1000 hosts over 4, 10
    # and 50 shards: every shard within 4 standard deviations of the mean (at 4
    # shards: 250 +- 55), which a skewed or constant rule would miss by far
    for count in (4, 10, 50):
        sizes = Counter(bucket(n, count) for n in NAMES)
        assert set(sizes) == set(range(1, count + 1))
        mean = len(NAMES) / count
        spread = 4 * (len(NAMES) * (1 / count) * (1 - 1 / count)) ** 0.5
        assert all(abs(size - mean) <= spread for size in sizes.values()), (count, sizes)


def test_the_shard_of_a_host_depends_on_its_name_alone():
    before = {n: bucket(n, 4) for n in NAMES}
    # adding hosts, or listing them in another order, moves no other host
    grown = NAMES[::-1] + [f"new-{i}" for i in range(200)]
    assert {n: bucket(n, 4) for n in grown if n in before} == before
    # and the rule is fixed: the same name gives the same shard in any process
    assert [bucket(n, 4) for n in ("hardened", "default", "weak")] == [2, 3, 2]


def test_one_more_shard_moves_only_the_hosts_of_the_new_shard():
    moved = [n for n in NAMES if bucket(n, 4) != bucket(n, 5)]
    assert all(bucket(n, 5) == 5 for n in moved)            # nothing moves between old shards
    assert 0.1 * len(NAMES) < len(moved) < 0.3 * len(NAMES)  # about 1/5 of them


def test_the_rule_is_jump_consistent_hashing_of_the_names_sha256():
    # Values of the paper's C++ function (compiled as C here), so another
    # implementation of the rule can be checked against this one.
    assert [shard._jump(k, 1000) for k in (0, 1, 2, 0xDEADBEEF, 2**64 - 1)] == \
        [0, 549, 338, 285, 313]
    assert [shard._jump(0xA5A5A5A5DEADBEEF, n) for n in range(1, 11)] == [0] * 9 + [9]
    key = int.from_bytes(hashlib.sha256(b"weak").digest()[:8], "big")
    assert bucket("weak", 7) == shard._jump(key, 7) + 1


@pytest.mark.parametrize("text,index,count", [("1/4", 1, 4), ("4/4", 4, 4), (" 2 / 3 ", 2, 3),
                                               ("1/1", 1, 1)])
def test_k_counts_from_one(text, index, count):
    got = parse(text)
    assert (got.index, got.count, got.label) == (index, count, f"{index}/{count}")


@pytest.mark.parametrize("text,words", [
    ("0/4", "shards count from 1 (1/4 .. 4/4)"),
    ("5/4", "K must be 1 to N (4)"),
    ("1/0", "the number of shards N must be 1 to"),
    ("2", "expected K/N, e.g. 2/4"),
    ("a/b", "expected K/N"),
    ("-1/4", "expected K/N"),
    ("1/4/2", "expected K/N"),
    ("", "expected K/N"),
    ("1/99999999", "expected K/N"),
])
def test_bad_values_are_usage_errors_saying_what_was_given(text, words):
    with pytest.raises(ShardError) as err:
        parse(text)
    assert words in str(err.value) and repr(text) in str(err.value) and "\n" not in str(err.value)


def test_kubernetes_index_counts_from_zero():
    env = {"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "4"}
    got = resolve(None, env)
    assert (got.index, got.count) == (1, 4)
    assert got.source == "JOB_COMPLETION_INDEX=0, JOB_COMPLETIONS=4"
    assert resolve(None, {"JOB_COMPLETION_INDEX": "3", "JOB_COMPLETIONS": "4"}).label == "4/4"


def test_the_option_wins_over_the_kubernetes_variables():
    env = {"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "4"}
    assert resolve("3/8", env).label == "3/8"
    assert resolve("1/1", env).label == "1/1"      # the way to audit everything inside such a pod
    assert resolve(None, {}) is None and resolve("", {}) is None


@pytest.mark.parametrize("env,words", [
    ({"JOB_COMPLETION_INDEX": "1"}, "JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not"),
    ({"JOB_COMPLETIONS": "4"}, "JOB_COMPLETIONS is set but JOB_COMPLETION_INDEX is not"),
    ({"JOB_COMPLETION_INDEX": "4", "JOB_COMPLETIONS": "4"}, "must be below JOB_COMPLETIONS"),
    ({"JOB_COMPLETION_INDEX": "-1", "JOB_COMPLETIONS": "4"}, "expected two whole numbers"),
    ({"JOB_COMPLETION_INDEX": "1", "JOB_COMPLETIONS": "four"}, "expected two whole numbers"),
    ({"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "0"}, "must be below JOB_COMPLETIONS"),
])
def test_bad_kubernetes_variables_are_usage_errors(env, words):
    with pytest.raises(ShardError) as err:
        resolve(None, env)
    assert words in str(err.value), str(err.value)


def test_a_shard_records_its_share_and_the_selection_it_is_a_share_of():
    rec = Shard(2, 4, "--shard").record(["hardened", "default", "weak"])
    assert rec == {"index": 2, "count": 4, "label": "2/4", "algorithm": shard.ALGORITHM,
                   "source": "--shard", "selected": ["hardened", "default", "weak"]}
