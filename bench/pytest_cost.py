"""What pytest itself costs per test case, before any judging: N empty parametrized
cases in a file of their own, run by a fresh pytest with no plugins loaded. The reason
fleets have their own front end (`python -m hvconform audit`; README.md, issue 11).

    .venv/bin/python bench/pytest_cost.py --cases 200000

Prints one JSON line: {"cases", "wall_s", "cpu_s", "ms_per_case", "peak_rss_mib"}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = """import pytest

@pytest.mark.parametrize("i", range({cases}))
def test_case(i):
    pass
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as where:
        (Path(where) / "test_cost.py").write_text(TEST.format(cases=args.cases))
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "test_cost.py"], cwd=where, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
        return 1
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"cases": args.cases, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                      "ms_per_case": round(1000 * cpu / args.cases, 3),
                      "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
