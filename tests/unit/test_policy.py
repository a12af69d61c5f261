"""Site policy (hvconform/inputs/policy.py): each key names the controls that read it,
and the catalog lint proves that list rather than trusting it.

The proof observes real reads: every control is judged on its catalog cases (pass,
fail, not applicable and the extra ones of tests/cases/<domain>.py) and asked for its
needs, with `policy.effective` swapped for one returning a mapping that notes each
key read and the control being judged at the time.
"""

from collections import defaultdict

import pytest

from hvconform.inputs import catalog, policy
from hvconform.inputs.inventory import InventoryError, load_text
from hvconform.judge import engine
from tests.snapshots import snap
from tests.unit.test_catalog_cases import CASES, EXTRA_CASES, NOT_APPLICABLE


class Recording(dict):
    """An effective policy that notes, per key, the control reading it (`judging[0]`).
    Every reader goes through [], get or `in`: the checks never iterate the policy."""

    def __init__(self, values, judging, reads):
        super().__init__(values)
        self._judging, self._reads = judging, reads

    def _note(self, key):
        self._reads[key].add(self._judging[0])

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


def observe(cat) -> dict[str, set[str]]:
    """{policy key: ids of the controls that read it} over every case and every needs()."""
    reads, judging = defaultdict(set), [None]
    merge = policy.effective
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(policy, "effective", lambda site: Recording(merge(site), judging, reads))
        for c in cat.controls:
            judging[0] = c.id
            vm = "vm1" if c.applies_to == "vm" else None
            snapshots = [*CASES[c.id], *([NOT_APPLICABLE[c.id]] if c.id in NOT_APPLICABLE else []),
                         *(kwargs for kwargs, _ in EXTRA_CASES.get(c.id, []))]
            for kwargs in snapshots:
                engine.judge(c, snap(**kwargs), vm)
            engine.needs([c], None, ["vm1"])
    return dict(reads)


def lint(keys: dict, control_ids, observed: dict) -> list[str]:
    """Problems with `keys` {name: policy.Key}: a declared control the catalog lacks, a
    key no control reads, a key whose declared readers are not the observed ones."""
    problems = []
    for name, key in keys.items():
        declared, seen = set(key.controls), observed.get(name, set())
        unknown = sorted(declared - set(control_ids))
        if unknown:
            problems.append(f"{name}: names {', '.join(unknown)}, not in the catalog")
        if not seen:
            problems.append(f"{name}: no control reads it in any case")
        elif declared != seen:
            problems.append(f"{name}: names {sorted(declared)}, but read by {sorted(seen)} "
                            f"(undeclared: {sorted(seen - declared)}, not reading: {sorted(declared - seen)})")
    problems += [f"{name}: read, but not a policy key" for name in sorted(set(observed) - set(keys))]
    return problems


@pytest.fixture(scope="module")
def cat():
    return catalog.load()


@pytest.fixture(scope="module")
def observed(cat):
    return observe(cat)


def test_every_key_is_read_by_exactly_the_controls_it_names(cat, observed):
    assert lint(policy.KEYS, {c.id for c in cat.controls}, observed) == []


def test_the_observation_attributes_reads_to_the_control_judged(observed):
    assert observed["backup_manifest"] == {"BKP-001"}              # judge and needs alike
    assert observed["vm_metadata_namespace"] >= {"ISO-015", "ISO-016"}   # through read/guests.py


def test_a_key_naming_an_unknown_control_fails_the_lint():
    keys = {"backup_rpo_hours": policy.Key(24, controls=("BKP-003", "BKP-999"), doc="RPO.")}
    assert lint(keys, {"BKP-003"}, {"backup_rpo_hours": {"BKP-003"}}) == [
        "backup_rpo_hours: names BKP-999, not in the catalog",
        "backup_rpo_hours: names ['BKP-003', 'BKP-999'], but read by ['BKP-003'] "
        "(undeclared: [], not reading: ['BKP-999'])"]


def test_a_reader_left_undeclared_or_a_key_nobody_reads_fails_the_lint():
    keys = {"a": policy.Key(1, controls=("HOST-001",), doc="A."),
            "b": policy.Key(2, controls=("HOST-001",), doc="B.")}
    problems = lint(keys, {"HOST-001", "HOST-002"}, {"a": {"HOST-001", "HOST-002"}, "c": {"HOST-002"}})
    assert problems == ["a: names ['HOST-001'], but read by ['HOST-001', 'HOST-002'] "
                        "(undeclared: ['HOST-002'], not reading: [])",
                        "b: no control reads it in any case",
                        "c: read, but not a policy key"]


def test_defaults_come_from_the_keys_and_each_key_is_documented():
    assert policy.DEFAULTS == {name: key.default for name, key in policy.KEYS.items()}
    assert list(policy.DEFAULTS) == list(policy.KEYS)       # the inventory lists keys in this order
    for name, key in policy.KEYS.items():
        assert key.doc.strip() and key.controls and isinstance(key.controls, tuple), name


def test_effective_lays_site_values_over_the_defaults_without_touching_them():
    site = {"backup_rpo_hours": 4}
    merged = policy.effective(site)
    assert merged["backup_rpo_hours"] == 4 and policy.DEFAULTS["backup_rpo_hours"] == 24
    assert merged.keys() == policy.DEFAULTS.keys() and site == {"backup_rpo_hours": 4}
    assert policy.effective(None) == policy.effective({}) == policy.DEFAULTS


def test_the_inventory_accepts_exactly_the_policy_keys(tmp_path):
    head = "hosts:\n  a:\n    connection: local\npolicy:\n"
    inv = load_text(head + "  backup_rpo_hours: 4\n", tmp_path / "inv.yaml")
    assert inv.policy == {"backup_rpo_hours": 4}
    with pytest.raises(InventoryError) as err:
        load_text(head + "  backup_rpo_hour: 4\n", tmp_path / "inv.yaml")
    assert "policy.backup_rpo_hour: unknown key (did you mean 'backup_rpo_hours'?)" in str(err.value)
