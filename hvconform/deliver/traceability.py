"""Traceability: requirement -> control -> test -> references, from the catalog.

    python -m hvconform.deliver.traceability > docs/TRACEABILITY.md

A control keeps its requirement's id and title (tests/unit/test_catalog.py), so
the catalog is the one source: this module only rearranges it. The audit report
uses the same index (`by_reference`) for its traceability section, with the run's
verdicts added.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import profiles as profiles_mod

REGENERATE = "python -m hvconform.deliver.traceability > docs/TRACEABILITY.md"
REQUIREMENTS = catalog_mod.SUITES.parent.parent / "shared" / "REQUIREMENTS.md"

# Framework keys in the order a reviewer asks about them, with what each one is.
FRAMEWORKS = {
    "pp_virt": "NIAP Protection Profile for Virtualization (SFR)",
    "nist": "NIST SP 800-53 Rev. 5",
    "stig": "DISA RHEL 9 STIG",
    "cis": "CIS RHEL 9 Benchmark",
    "cac": "ComplianceAsCode rule",
    "osg": "OpenStack Security Guide",
    "libvirt": "libvirt documentation",
    "qemu": "QEMU documentation",
    "seed": "seed guide section",
}
# seed sections are prose ("1 (Host OS: patching)"), one per row: an index of them
# would repeat the requirements table, so they are shown per row only.
INDEXED = tuple(k for k in FRAMEWORKS if k != "seed")
_DOC_KEYS = ("libvirt", "qemu")
_NOTE = re.compile(r"\s+\(.*\)$")


def reference_values(references: dict) -> list[tuple[str, str]]:
    """(key, value) for every reference of a control, keys in FRAMEWORKS order."""
    out = []
    for key in sorted(references, key=lambda k: list(FRAMEWORKS).index(k) if k in FRAMEWORKS else 99):
        values = references[key]
        for value in values if isinstance(values, list) else [values]:
            out.append((key, str(value)))
    return out


def grouped(references: dict) -> dict[str, list[str]]:
    """key -> its values, keys in FRAMEWORKS order (a string value becomes a list of one)."""
    out: dict[str, list[str]] = {}
    for key, value in reference_values(references):
        out.setdefault(key, []).append(value)
    return out


def reference_id(key: str, value: str) -> str:
    """The id a reviewer looks up: the value without its trailing note, and for
    libvirt/QEMU doc references the document's file name.

    >>> reference_id("pp_virt", "FPT_VIV_EXT.1 (no degradation of other VMs)")
    'FPT_VIV_EXT.1'
    >>> reference_id("libvirt", "docs/drvqemu.rst 'AppArmor sVirt confinement'")
    'drvqemu.rst'
    """
    value = _NOTE.sub("", value.strip())
    if key in _DOC_KEYS:
        value = value.split()[0].removeprefix("docs/") if value else value
    return value


def by_reference(controls) -> dict[str, dict[str, list]]:
    """framework key -> reference id -> the controls citing it (catalog order)."""
    index: dict[str, dict[str, list]] = {k: defaultdict(list) for k in INDEXED}
    for c in controls:
        for key, value in reference_values(c.references):
            if key in index:
                ids = index[key][reference_id(key, value)]
                if c not in ids:
                    ids.append(c)
    return {k: dict(sorted(v.items(), key=lambda kv: natural_key(kv[0]))) for k, v in index.items() if v}


def natural_key(text: str):
    """AC-3 before AC-12: numbers compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def test_node(control) -> str:
    """The pytest node id of a control's cases, the target left as a placeholder:
    suites/qemu/test_qemu.py::test_domain_xml[<host>/<vm>-QEMU-013] for a per-VM row."""
    target = {"vm": "<host>/<vm>", "inventory": "<finding>"}.get(control.applies_to, "<host>")
    suite = getattr(control, "suite", None) or control.domain   # a site's control: suites/site/
    return f"suites/{suite}/test_{suite}.py::test_{control.kind}[{target}-{control.id}]"


def gate_text(control) -> str:
    when = control.when or {}
    parts = []
    if "family" in when:
        parts.append(f"{when['family']} family only")
    if "present" in when:
        parts.append(f"only where {when['present']} exists")
    return "; ".join(parts)


def requirement_ids(path: Path = REQUIREMENTS) -> list[str]:
    """Every requirement id in REQUIREMENTS.md, in its order ([] when it is not beside the checkout)."""
    if not path.exists():
        return []
    return re.findall(r"^\| ([A-Z]+-\d{3}) \|", path.read_text(), flags=re.M)


def _profiles_of(cat) -> dict[str, list[str]]:
    profiles = profiles_mod.load()
    return {c.id: [name for name, p in profiles.items() if p.selects(c)] for c in cat.controls}


def _cell(text: str) -> str:
    """Markdown table cells: a | or a newline would break the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown(cat=None, requirements: Path = REQUIREMENTS) -> str:
    cat = cat or catalog_mod.load()
    in_profiles = _profiles_of(cat)
    required = requirement_ids(requirements)
    encoded = {c.id for c in cat.controls}
    out = [
        "# Traceability",
        "",
        f"<!-- Generated by `{REGENERATE}`; do not edit by hand. "
        "tests/unit/test_traceability.py fails when this file is stale. -->",
        "",
        "Requirement -> control -> test -> references, for the "
        f"{len(cat.controls)} controls in `suites/*/controls.yaml`"
        + (f" (of the {len(required)} requirements in `../shared/REQUIREMENTS.md`)" if required else "")
        + ". A control keeps its requirement's id and title. Its test runs once per host "
        "(`<host>`), once per VM (`<host>/<vm>`), or, for an inventory-wide control, once per "
        "finding (`<finding>`: the VMs it concerns, e.g. `weak/a+b`, or the host); select one control with "
        "`pytest --inventory ... -k <ID>`. The audit report (`reports/<run-id>/report.html`) "
        "has the same index with each run's verdicts.",
        "",
    ]
    missing = [i for i in required if i not in encoded]
    if required:
        out += ([f"Not encoded yet ({len(missing)}): " + ", ".join(missing), ""] if missing
                else [f"All {len(required)} requirements are encoded.", ""])

    out += ["## Where is a reference checked?", ""]
    for key, refs in by_reference(cat.controls).items():
        out += [f"### {FRAMEWORKS[key]} (`{key}`)", "", "| Reference | Controls |", "|---|---|"]
        for ref, controls in refs.items():
            out.append(f"| {_cell(ref)} | " + "<br>".join(f"{c.id} {_cell(c.title)}" for c in controls) + " |")
        out.append("")

    out += ["## Requirements, controls and tests", "",
            "Verdicts: *auto* = judged from the collected data; *manual* = the automated "
            "proxy runs, and when it passes the verdict is `manual` (never `pass`): a person "
            "must look (see the next section).", ""]
    for domain in catalog_mod.DOMAINS:
        controls = cat.of(domain)
        if not controls:
            continue
        out += [f"### {domain} (`suites/{domain}/controls.yaml`)", "",
                "| Requirement | Severity | Applies to | Verdict | Test | Profiles | References |",
                "|---|---|---|---|---|---|---|"]
        for c in controls:
            applies = c.applies_to + (f" ({gate_text(c)})" if c.when else "")
            refs = "<br>".join(f"{k}: {_cell(', '.join(vs))}" for k, vs in grouped(c.references).items())
            out.append(f"| **{c.id}** {_cell(c.title)} | {c.severity} | {_cell(applies)} | "
                       f"{'manual' if c.manual else 'auto'} | `{test_node(c)}` | "
                       f"{', '.join(in_profiles[c.id])} | {refs} |")
        out.append("")

    manual = [c for c in cat.controls if c.manual]
    if manual:
        out += ["## What a person must look at", "",
                "| Control | What to look at |", "|---|---|"]
        out += [f"| {c.id} {_cell(c.title)} | {_cell(c.manual)} |" for c in manual]
        out.append("")
    return "\n".join(out)


def main() -> int:
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
