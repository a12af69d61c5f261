"""Pass/fail cases of the qemu controls not in LEGACY (tests/unit/test_catalog_cases.py)."""

from tests.cases import *  # noqa: F403

CASES: dict = {}

NOT_APPLICABLE: dict = {}
