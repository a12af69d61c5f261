"""Re-record tests/data/lab-snapshots/<host>.json from the live lab (lab/lab up first).

    .venv/bin/python tests/data/record_lab.py
The snapshots hold what the current catalog needs, so re-record after adding
controls or changing the lab; tests/unit/test_recorded_lab.py judges them offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hvconform.inputs import catalog  # noqa: E402
from hvconform.inputs import inventory
from hvconform.collect.collector import collect_all  # noqa: E402
from hvconform.inputs.policy import effective  # noqa: E402
from hvconform.model.snapshot import COLLECTED  # noqa: E402

OUT = REPO / "tests" / "data" / "lab-snapshots"


def main() -> int:
    inv = inventory.load(REPO / "inventories" / "lab.yaml")
    hosts = list(inv.hosts)
    policy = effective(inv.policy)
    results = collect_all(hosts, catalog.load(), lambda h: policy)
    bad = [name for name, (snap, _) in results.items() if snap.status != COLLECTED]
    if bad:
        print(f"not recorded: {', '.join(bad)} were not fully collected", file=sys.stderr)
        return 1
    for name, (snap, _) in results.items():
        snap.save(OUT / f"{name}.json")
        print(f"recorded {OUT / f'{name}.json'}: {len(snap.artifacts)} artifacts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
