"""The comparison operators and the condition lists built on them."""

import pytest

from hvconform.judge import conditions
from hvconform.judge.ops import OPS, compare, describe


@pytest.mark.parametrize("actual, op, value, expected", [
    ("1", "eq", 1, True),
    ("1", "ge", 2, False),
    ("2", "in", [1, 2], True),
    ("0x10", "eq", 16, True),
    ("0000000000000000", "eq", "0000000000000000", True),
    ("0000003fffffffff", "eq", "0000000000000000", False),
    ("|/bin/false", "matches", r"^\|/bin/false$", True),
    ("core", "matches", r"^\|/bin/false$", False),
    ("root", "not_in", ["root", "+0"], False),
    ("+0", "not_in", ["root", "+0"], False),
    ("libvirt-qemu", "not_in", ["root", "+0"], True),
    ("abc", "lt", 3, False),                         # not a number: never ordered
    ("0770", "mode_within", "0770", True),
    ("770", "mode_within", "0770", True),            # libvirt reads perms as octal either way
    ("0777", "mode_within", "0770", False),
    ("rwx", "mode_within", "0770", False),
    ("aes128-ctr,aes256-gcm@openssh.com", "each_in", ["aes128-ctr", "aes256-gcm@openssh.com"], True),
    ("aes128-ctr,aes128-cbc", "each_in", ["aes128-ctr"], False),
])
def test_compare(actual, op, value, expected):
    assert compare(actual, op, value) is expected


@pytest.mark.parametrize("op, expected", [
    ("present", False), ("absent", True), ("ne", True), ("not_in", True), ("not_matches", True),
    ("eq", False), ("in", False), ("matches", False), ("ge", False), ("mode_within", False),
])
def test_an_absent_value_satisfies_only_negations(op, expected):
    assert compare(None, op, "0770" if op == "mode_within" else [1] if "in" in op else 1) is expected


def test_every_op_has_words():
    for op in OPS:
        assert describe("k", op, [1] if op in ("in", "not_in", "each_in") else 1)


def test_default_applies_to_unset_keys_only():
    conds = [{"key": "max_clients", "op": "le", "value": 5000, "default": 5000}]
    assert conditions.evaluate(conds, {})[:3] == (
        True, "max_clients <= 5000", "max_clients = unset (default 5000)")
    assert conditions.evaluate(conds, {"max_clients": "100000"})[0] is False


def test_any_and_all_groups_nest():
    conds = [{"any": [{"key": "allowgroups", "op": "present"},
                      {"all": [{"key": "allowusers", "op": "present"},
                               {"key": "permitrootlogin", "op": "eq", "value": "no"}]}]}]
    ok, expected, actual, failing = conditions.evaluate(conds, {"allowusers": "ops", "permitrootlogin": "no"})
    assert ok and expected == "(allowgroups set or (allowusers set and permitrootlogin = no))"
    assert actual == "allowgroups = unset; allowusers = ops; permitrootlogin = no"
    ok, _, _, failing = conditions.evaluate(conds, {"allowusers": "ops"})
    assert not ok and failing == [expected]


def test_keys_lists_every_key_once_in_order():
    conds = [{"key": "a", "op": "present"},
             {"any": [{"key": "b", "op": "present"},
                      {"all": [{"key": "a", "op": "absent"}, {"key": "c", "op": "absent"}]}]}]
    assert conditions.keys(conds) == ["a", "b", "c"]


@pytest.mark.parametrize("expect, message", [
    ([], "non-empty list"),
    ([{"key": "a"}], "needs 'key' and 'op'"),
    ([{"key": "a", "op": "approx", "value": 1}], "unknown op 'approx'"),
    ([{"key": "a", "op": "eq"}], "needs a 'value'"),
    ([{"key": "a", "op": "in", "value": 1}], "needs a list value"),
    ([{"key": "a", "op": "mode_within", "value": "rw"}], "octal mode"),
    ([{"key": "a", "op": "matches", "value": "("}], "bad regular expression"),
    ([{"key": "a", "op": "eq", "value": 1, "dflt": 2}], "unknown keys ['dflt']"),
    ([{"any": []}], "'any' needs a non-empty list"),
    ([{"all": [{"key": "a", "op": "nope"}]}], "expect[0].all[0]: unknown op"),
])
def test_validate_names_the_problem(expect, message):
    errors = conditions.validate({"expect": expect})
    assert errors and message in errors[0]
