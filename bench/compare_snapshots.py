"""Is the evidence the same? Two recordings of the same lab hosts (e.g. by two versions
of the collection code, one after the other), compared artifact by artifact and
verdict by verdict (issue 11, item 4: faster collection, same evidence).

    .venv/bin/python bench/compare_snapshots.py BEFORE_DIR AFTER_DIR

Each DIR holds <host>.json snapshots (tests/data/record_lab.py writes them; so does
a run's snapshots/). Prints, per host, the artifacts only one side has, those whose
output (rc, stdout and stderr) differs, and those whose command line differs; then every
verdict of the current catalog on both sides whose status differs. elf:* artifacts
are compared by the hardening facts they give (QEMU-016 reads readelf's old form and
readelf + nm's new one). Exit 0 when no artifact is missing and no verdict differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.inputs import catalog  # noqa: E402
from hvconform.judge import engine  # noqa: E402
from hvconform.judge.functions.qemu import elf_findings  # noqa: E402
from hvconform.judge.kinds import fleet  # noqa: E402
from hvconform.model.snapshot import Snapshot  # noqa: E402


def load(folder: Path) -> dict[str, Snapshot]:
    return {p.stem: Snapshot.load(p) for p in sorted(folder.glob("*.json"))}


def _stderr(text: str) -> str:
    """stderr without what says where in its batch a line was ('sh: 864: x: not found')."""
    return re.sub(r"(?m)^sh: \d+: ", "sh: N: ", text)


def same_output(key: str, a, b) -> bool:
    if key.startswith("elf:"):   # readelf alone before, readelf and nm now: each says it
        absent = ("No such file" in a.stderr, "No such file" in b.stderr)
        return a.rc == b.rc and absent[0] == absent[1] and elf_findings(a.stdout) == elf_findings(b.stdout)
    return a.rc == b.rc and _stderr(a.stderr) == _stderr(b.stderr) and a.raw() == b.raw()


def verdicts(snaps: dict[str, Snapshot], cat) -> dict[tuple, str]:
    out = {}
    for c in cat.controls:
        if c.applies_to == "inventory":
            for o in fleet.outcomes(c.check, snaps):
                out[(c.id, o.host, ",".join(o.vms))] = o.verdict.status
            continue
        for name, s in snaps.items():
            for vm in ([d.name for d in s.domains] if c.applies_to == "vm" else [None]):
                out[(c.id, name, vm)] = engine.judge(c, s, vm).status
    return out


def main(before: str, after: str) -> int:
    a, b = load(Path(before)), load(Path(after))
    missing = 0
    for host in sorted(set(a) | set(b)):
        if host not in a or host not in b:
            print(f"{host}: only in {'before' if host in a else 'after'}")
            missing += 1
            continue
        x, y = a[host].artifacts, b[host].artifacts
        only = sorted(set(x) ^ set(y))
        differ = [k for k in sorted(set(x) & set(y)) if not same_output(k, x[k], y[k])]
        sources = sum(x[k].source != y[k].source for k in set(x) & set(y))
        missing += len(only)
        print(f"{host}: {len(x)} / {len(y)} artifacts; only one side: {only or 'none'}; "
              f"output differs: {differ or 'none'}; command line differs: {sources}")
    cat = catalog.load()
    va, vb = verdicts(a, cat), verdicts(b, cat)
    changed = sorted(k for k in set(va) | set(vb) if va.get(k) != vb.get(k))
    print(f"verdicts: {len(va)} / {len(vb)}; status differs: {len(changed)}")
    for k in changed[:30]:
        print(f"  {k}: {va.get(k)} -> {vb.get(k)}")
    return 1 if missing or changed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
