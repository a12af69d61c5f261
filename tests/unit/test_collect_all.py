"""collect_all's own loop: every host reported once, as it ends, results in inventory
order (bench/collect_scheduling.py measures its cost)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from hvconform.collect import collector
from hvconform.model.snapshot import Snapshot


def test_each_host_is_reported_once_as_it_ends_and_results_keep_inventory_order(monkeypatch):
    hosts = [SimpleNamespace(name=f"h{i:02d}", number=i) for i in range(40)]
    release = {h.name: threading.Event() for h in hosts}

    def fake_collect_host(host, *args, **kwargs):
        release[host.name].wait(10)
        return Snapshot(host=host.name), [{"host": host.name}]

    monkeypatch.setattr(collector, "collect_host", fake_collect_host)
    reported = []

    def on_done(snap):
        reported.append(snap.host)
        # hosts end in reverse inventory order, the last few together
        for h in hosts[::-1]:
            if not release[h.name].is_set():
                release[h.name].set()
                if h.number > 5:
                    break

    release["h39"].set()
    done = collector.collect_all(hosts, SimpleNamespace(controls=[], policy=None), lambda h: {},
                                 on_done=on_done, workers=len(hosts))
    assert sorted(reported) == [h.name for h in hosts] and len(reported) == len(hosts)
    assert reported[:3] == ["h39", "h38", "h37"]
    assert list(done) == [h.name for h in hosts]
    assert all(done[h.name][0].host == h.name and done[h.name][1] == [{"host": h.name}] for h in hosts)


def test_hosts_that_end_together_are_reported_in_inventory_order(monkeypatch):
    hosts = [SimpleNamespace(name=n) for n in ("first", "c", "a", "b")]
    go, ended = threading.Event(), threading.Semaphore(0)

    def fake_collect_host(host, *args, **kwargs):
        if host.name != "first":
            go.wait(10)
            ended.release()
        return Snapshot(host=host.name), []

    monkeypatch.setattr(collector, "collect_host", fake_collect_host)
    reported = []

    def on_done(snap):
        reported.append(snap.host)
        if snap.host == "first":   # the main thread looks again only once c, a and b have ended
            go.set()
            for _ in range(3):
                assert ended.acquire(timeout=10)
            time.sleep(0.2)

    collector.collect_all(hosts, SimpleNamespace(controls=[], policy=None), lambda h: {},
                          on_done=on_done, workers=4)
    assert reported == ["first", "c", "a", "b"]
