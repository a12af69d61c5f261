"""Pass/fail cases of the network controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403

CASES: dict = {}

NOT_APPLICABLE: dict = {}

# Cross-VM rows (applies_to: inventory), judged on one host's guests (tests/guests.py).
from tests.guests import guest, nic  # noqa: E402

CASES.update({
    "NET-016": ({"domains": {"a": guest("a", "acme", devices=[nic(isolated=True)]),
                             "b": guest("b", "globex", devices=[nic(isolated=True)])}},
                {"domains": {"a": guest("a", "acme", devices=[nic()]),
                             "b": guest("b", "globex", devices=[nic()])}}),
})
NOT_APPLICABLE.update({"NET-016": {"domains": {"a": guest("a", "acme")}}})
