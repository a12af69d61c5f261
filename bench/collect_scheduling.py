"""The main thread's CPU in collect_all's own loop (handing out hosts, waiting for
them, putting results in inventory order), without SSH: each host's collection is
replaced by a sleep of 5-65 ms, so only the scheduling is measured. It should grow
linearly with the hosts.

    .venv/bin/python bench/collect_scheduling.py --hosts 1000 [--workers 32]

Prints one JSON line: {"hosts", "workers", "main_thread_cpu_s", "us_per_host", "wall_s"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.collect import collector  # noqa: E402
from hvconform.model.snapshot import Snapshot  # noqa: E402


def _fake_collect_host(host, *args, **kwargs):
    # spread like real hosts: a few finish together, most one at a time
    time.sleep(0.005 * (1 + host.number * 7919 % 13))
    return Snapshot(host=host.name), []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args(argv)
    hosts = [SimpleNamespace(name=f"h{i:05d}", number=i) for i in range(args.hosts)]
    catalog = SimpleNamespace(controls=[], policy=None)
    collector.collect_host = _fake_collect_host
    seen = []
    assert threading.current_thread() is threading.main_thread()
    cpu, wall = time.thread_time(), time.monotonic()
    done = collector.collect_all(hosts, catalog, lambda h: {}, on_done=lambda s: seen.append(s.host),
                                 workers=args.workers)
    cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
    assert len(done) == len(seen) == args.hosts
    print(json.dumps({"hosts": args.hosts, "workers": args.workers, "main_thread_cpu_s": round(cpu, 3),
                      "us_per_host": round(1e6 * cpu / args.hosts, 1), "wall_s": round(wall, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
