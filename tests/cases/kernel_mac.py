"""Pass/fail cases of the kernel_mac controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403

CASES: dict = {}

NOT_APPLICABLE: dict = {}

# Cross-VM rows (applies_to: inventory), judged on one host's guests (tests/guests.py).
from tests.guests import guest, seclabel  # noqa: E402

CASES.update({
    "KMAC-006": ({"domains": {"a": guest("a", top=seclabel("system_u:system_r:svirt_t:s0:c1,c2")),
                              "b": guest("b", top=seclabel("system_u:system_r:svirt_t:s0:c3,c4"))},
                  "running": {"a", "b"}},
                 {"domains": {"a": guest("a", top=seclabel("system_u:system_r:svirt_t:s0:c1,c2")),
                              "b": guest("b", top=seclabel("system_u:system_r:svirt_t:s0:c1,c2"))},
                  "running": {"a", "b"}}),
})
NOT_APPLICABLE.update({"KMAC-006": {"domains": {"a": guest("a")}}})   # defined, not running
