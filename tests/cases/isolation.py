"""Pass/fail cases of the isolation controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403

CASES: dict = {}

NOT_APPLICABLE: dict = {}

# Cross-VM rows (applies_to: inventory), judged on one host's guests (tests/guests.py).
from tests.guests import NO_SMT, SMT_ON, disk, guest  # noqa: E402

CASES.update({
    "ISO-005": ({"domains": {"a": guest("a", "acme", pins="0", emulator="0"),
                             "b": guest("b", "globex", pins="1", emulator="1")}, **NO_SMT},
                {"domains": {"a": guest("a", "acme", pins="0", emulator="0"),
                             "b": guest("b", "globex", pins="1", emulator="1")}, **SMT_ON}),
    "ISO-015": ({"domains": {"a": guest("a", level="high"), "b": guest("b", level="high")}},
                {"domains": {"a": guest("a", level="high"), "b": guest("b", level="low")}}),
    "ISO-016": ({"domains": {"a": guest("a", level="high", pins="1", emulator="1"),
                             "b": guest("b", level="low", pins="0", emulator="0")}, **NO_SMT},
                {"domains": {"a": guest("a", level="high"), "b": guest("b", level="low")}, **NO_SMT}),
    "ISO-023": ({"domains": {"a": guest("a", devices=[disk("/img/a.img")]),
                             "b": guest("b", devices=[disk("/img/b.img")])}},
                {"domains": {"a": guest("a", devices=[disk("/img/a.img")]),
                             "b": guest("b", devices=[disk("/img/a.img")])}}),
})
NOT_APPLICABLE.update({"ISO-016": {"domains": {"a": guest("a", level="low")}, **NO_SMT}})
