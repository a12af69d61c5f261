"""Judging (hvconform.audit.judge_run) and the fleet front end (hvconform/cli/audit.py)
keep Python's garbage collector off what lives to the end of the run, and leave the
process's collector as they found it: benchmarks and tests run audits in their own
process."""

from __future__ import annotations

import gc

import pytest

from hvconform import audit as judging
from hvconform.cli import audit


def test_judging_and_writing_freeze_what_collection_left_and_restore_the_collector():
    threshold = gc.get_threshold()
    kept = [[i] for i in range(1000)]          # what collection left
    with pytest.raises(RuntimeError):
        with judging.few_full_collections():
            assert gc.get_freeze_count() >= len(kept)
            assert gc.get_threshold()[2] == 1000 and gc.get_threshold()[:2] == threshold[:2]
            raise RuntimeError("a step failed")
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0


def test_nested_only_the_outermost_freezes_and_restores():
    # the front end holds it around judging and writing, judge_run again inside
    threshold = gc.get_threshold()
    with judging.few_full_collections():
        frozen = gc.get_freeze_count()
        with judging.few_full_collections():
            later = [[i] for i in range(1000)]
        assert gc.get_freeze_count() == frozen and gc.get_threshold()[2] == 1000
        assert len(later) == 1000
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0


def test_while_collecting_every_hundredth_host_done_freezes_and_close_unfreezes():
    seen = []
    settling = audit._Settling()
    done = settling.after(seen.append)
    try:
        for i in range(audit._Settling.EVERY - 1):
            done(i)
        assert gc.get_freeze_count() == 0
        done("the hundredth")
        assert gc.get_freeze_count() > 0
    finally:
        settling.close()
    assert gc.get_freeze_count() == 0 and len(seen) == audit._Settling.EVERY


def test_results_are_parsed_with_the_collector_paused_and_resumed():
    from hvconform.model import results
    seen = []
    gc.callbacks.append(lambda phase, info: seen.append(phase))
    try:
        doc = results.loads('{"verdicts": [' + ",".join(['{"a": [1, {"b": []}]}'] * 200_000) + "]}")
    finally:
        gc.callbacks.pop()
    assert len(doc["verdicts"]) == 200_000 and seen == [] and gc.isenabled()
    with pytest.raises(ValueError):
        results.loads("{not json")
    assert gc.isenabled()
