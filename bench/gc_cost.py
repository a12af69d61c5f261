"""What Python's garbage collector costs in a fleet audit: bench/fleet.py, timed by
gc.callbacks.

    .venv/bin/python bench/gc_cost.py --hosts 1000

Passes its arguments to fleet.py and prints, on stderr after fleet.py's JSON line,
the seconds spent in collections of each generation and how many there were. A
full collection (generation 2) walks every object still tracked: what found the
fleet front end's cost in it (bench/README.md).
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fleet  # noqa: E402

seconds, count, started = Counter(), Counter(), {}


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        started["at"] = time.perf_counter()
    else:
        seconds[info["generation"]] += time.perf_counter() - started["at"]
        count[info["generation"]] += 1


def main(argv=None) -> int:
    gc.callbacks.append(_timed)
    try:
        code = fleet.main(argv)
    finally:
        gc.callbacks.remove(_timed)
    print("gc seconds by generation: " + ", ".join(f"{g}: {seconds[g]:.2f} s in {count[g]}"
                                                  for g in sorted(count)), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
