"""Texts are parsed once (hvconform/judge/read/memo.py) and every reader after the
first gets the same result: judging again from the filled caches must give exactly
the verdicts judging gave from empty ones. A check that changed what it was handed
(a parsed tree, a settings dict, the process table) would change the next reader's."""

from pathlib import Path

from hvconform.inputs import catalog as catalog_mod
from hvconform.judge import engine
from hvconform.judge.read import memo
from hvconform.model.snapshot import Snapshot
from tests.cases import domain  # noqa: F401 (loads the case builders)
from tests.snapshots import snap
from tests.unit.test_catalog_cases import CASES

LAB = Path(__file__).resolve().parents[1] / "data" / "lab-snapshots"
CAT = catalog_mod.load()


def verdicts() -> list:
    out = []
    for h in ("hardened", "default", "weak"):
        s = Snapshot.load(LAB / f"{h}.json")
        for c in CAT.controls:
            if c.applies_to != "inventory":
                out += [engine.judge(c, s, vm) for vm in ([d.name for d in s.domains]
                                                           if c.applies_to == "vm" else [None])]
    for cid, (good, bad) in CASES.items():
        c = CAT.by_id(cid)
        vm = "vm1" if c.applies_to == "vm" else None
        out += [engine.judge(c, snap(**good), vm), engine.judge(c, snap(**bad), vm)]
    return out


def test_judging_again_from_the_parse_caches_gives_the_same_verdicts():
    memo.clear_all()
    first = verdicts()
    assert sum(len(c) for c in memo.CACHES) > 100 and len(memo.CACHES) >= 10
    assert verdicts() == first
