"""The catalog: it loads, it matches REQUIREMENTS.md, and a broken one says where."""

import re
import shutil
from pathlib import Path

import pytest

from hvconform.inputs import catalog
from hvconform.collect import commands
from hvconform.judge.engine import FLEET_KINDS, PER_VM_KINDS, needs
from hvconform.inputs.yamlload import load_located

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / ".." / "shared" / "REQUIREMENTS.md"


def requirement_rows() -> dict[str, list[str]]:
    """id -> the cells of its row in REQUIREMENTS.md (id, title, ..., severity at 4, per-VM last)."""
    rows = {}
    for line in REQUIREMENTS.read_text().splitlines():
        match = re.match(r"\| ([A-Z]+-\d{3}) \|", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
    return rows


@pytest.fixture(scope="module")
def cat():
    return catalog.load()


def test_catalog_loads_with_at_least_five_controls_per_domain(cat):
    for domain in catalog.DOMAINS:
        assert len(cat.of(domain)) >= 5, domain
    assert len(cat.digest) == 64


def test_every_id_is_a_requirement_with_its_title_and_severity(cat):
    rows = requirement_rows()
    assert len(rows) == 179
    for c in cat.controls:
        assert c.id in rows, c.id
        assert c.title == rows[c.id][1].replace("\\|", "|"), c.id
        assert c.severity == rows[c.id][4], c.id
        if c.applies_to == "vm":
            assert rows[c.id][-1] == "yes", f"{c.id} is per-VM here but not in REQUIREMENTS.md"


def test_every_requirement_is_encoded_exactly_once(cat):
    ids = [c.id for c in cat.controls]
    missing = sorted(set(requirement_rows()) - set(ids))
    assert not missing, f"{len(missing)} requirements not encoded: {', '.join(missing)}"
    assert len(ids) == len(set(ids)) == 179


def test_ids_are_unique(cat):
    ids = [c.id for c in cat.controls]
    assert len(ids) == len(set(ids))


def test_the_id_line_starts_each_row_so_grep_lands_on_it(cat):
    for domain in catalog.DOMAINS:
        path = catalog.SUITES / domain / "controls.yaml"
        doc, lines = load_located(path)
        text = path.read_text().splitlines()
        for i, row in enumerate(doc["controls"]):
            assert text[lines[("controls", i)] - 1] == f"  - id: {row['id']}"
            assert sum(line.endswith(f"id: {row['id']}") for line in text) == 1


def test_per_vm_kinds_are_per_vm_rows(cat):
    for c in cat.controls:
        if c.kind in PER_VM_KINDS:
            assert c.applies_to == "vm", c.id
        elif c.kind in FLEET_KINDS:
            assert c.applies_to == "inventory", c.id
        elif c.kind != "function":
            assert c.applies_to == "host", c.id


def test_everything_the_catalog_needs_is_a_declared_read_only_command(cat):
    wanted = needs(cat.controls, domains=["vm1"])
    assert wanted
    for name, arg in wanted:
        assert name in commands.COMMANDS, name
        takes_path = "{path}" in commands.COMMANDS[name]
        line = commands.render(name, path=arg) if takes_path else commands.render(name)
        assert commands.allowed(line) == name, line


def test_references_use_only_known_keys_and_carry_the_seed(cat):
    for c in cat.controls:
        assert set(c.references) <= set(catalog.REFERENCE_KEYS), c.id
        assert "seed" in c.references and "nist" in c.references, c.id


# a broken catalog -------------------------------------------------------------------------
def broken(tmp_path, domain: str, old: str, new: str) -> tuple[Path, str]:
    suites = tmp_path / "suites"
    shutil.copytree(catalog.SUITES, suites, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = suites / domain / "controls.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return suites, str(path)


def row_line(path: str, control_id: str) -> int:
    return next(n for n, line in enumerate(Path(path).read_text().splitlines(), 1)
                if line == f"  - id: {control_id}")


def errors_of(suites) -> list[str]:
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.load(suites)
    return exc.value.errors


def test_bad_severity_names_file_and_line(tmp_path):
    suites, path = broken(tmp_path, "host", "severity: medium", "severity: urgent")
    assert errors_of(suites) == [f"{path}:{row_line(path, 'HOST-003')}: HOST-003: severity 'urgent' "
                                 f"is not one of ('high', 'medium', 'low')"]


def test_unknown_reference_key_names_file_and_line(tmp_path):
    suites, path = broken(tmp_path, "qemu", "      nist:", "      nsit:")
    [error] = errors_of(suites)
    assert error.startswith(f"{path}:{row_line(path, 'QEMU-001')}: QEMU-001: unknown reference key 'nsit'")


def test_unknown_kind_names_file_and_line(tmp_path):
    suites, path = broken(tmp_path, "kernel_mac", "kind: sysctl", "kind: sysctll")
    [error] = errors_of(suites)
    assert error.startswith(f"{path}:{row_line(path, 'KMAC-010')}: KMAC-010: unknown check kind 'sysctll'")


def test_a_renamed_kind_is_a_located_error_naming_the_new_name(tmp_path):
    for old, new, domain, control_id in (("function", "bespoke", "host", "HOST-001"),
                                         ("fleet", "inventory", "isolation", "ISO-005")):
        suites, path = broken(tmp_path / old, domain, f"kind: {old}", f"kind: {new}")
        [error] = errors_of(suites)
        assert error == (f"{path}:{row_line(path, control_id)}: {control_id}: check kind '{new}' is "
                         f"now called '{old}': write kind: {old}")


def test_bad_check_parameters_name_file_and_line(tmp_path):
    suites, path = broken(tmp_path, "isolation", "op: present", "op: exists")
    [error] = errors_of(suites)
    assert error.startswith(f"{path}:{row_line(path, 'ISO-002')}: ISO-002: check: unknown op 'exists'")


def test_duplicate_id_names_both_places(tmp_path):
    suites, path = broken(tmp_path, "crypto", "  - id: CRY-005", "  - id: CRY-003")
    [error] = errors_of(suites)
    first = row_line(path, "CRY-003")
    lines = Path(path).read_text().splitlines()
    second = [n for n, line in enumerate(lines, 1) if line == "  - id: CRY-003"][1]
    assert error == f"{path}:{second}: id CRY-003 already defined at {path}:{first}"


def test_every_error_in_every_file_is_reported(tmp_path):
    suites, _ = broken(tmp_path, "host", "severity: medium", "severity: urgent")
    (suites / "backup" / "controls.yaml").write_text("controls:\n  - id: BKP-001\n")
    (suites / "network" / "controls.yaml").unlink()
    errors = errors_of(suites)
    assert len(errors) >= 3
    assert any("backup/controls.yaml:2: missing key 'title'" in e for e in errors)
    assert any("network/controls.yaml: missing" in e for e in errors)


def test_inventory_rows_refuse_gates_and_manual(tmp_path):
    """Inventory-wide outcomes are not judged through checks.judge, so a gate or a manual
    note there would be ignored silently: the catalog refuses them instead."""
    suites, path = broken(tmp_path, "isolation", "    check: {kind: fleet, analysis: shared_disks}",
                          "    check: {kind: fleet, analysis: shared_disks}\n    when: {family: rhel}")
    [error] = errors_of(suites)
    assert error == (f"{path}:{row_line(path, 'ISO-023')}: ISO-023: 'when' and 'manual' are not "
                     "supported on applies_to: inventory")


# the digest: what decides a verdict ------------------------------------------------------
def test_the_digest_is_stable_and_a_copied_catalog_digests_the_same(tmp_path):
    """A run's copy of the catalog digests as the original: the judge code and policy
    defaults come from the running package whichever suites folder is loaded."""
    suites = tmp_path / "suites"
    shutil.copytree(catalog.SUITES, suites, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    assert catalog.load().digest == catalog.load().digest == catalog.load(suites).digest \
        == catalog.digest_of()


def test_the_digest_changes_with_a_control_row(tmp_path):
    suites, _ = broken(tmp_path, "host", "severity: medium", "severity: high")
    assert catalog.load(suites).digest != catalog.load().digest


def test_the_digest_changes_with_one_function_of_the_judge(tmp_path):
    """Read from files, not imports: a copy of the package with one check edited."""
    package = tmp_path / "hvconform"
    shutil.copytree(catalog.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    assert catalog.digest_of(package=package) == catalog.digest_of()
    # wherever the function lives (the domain modules may be split), change its body
    [path] = [p for p in (package / "judge").rglob("*.py")
              if re.search(r"^def supported_release\(", p.read_text(), re.M)]
    text = path.read_text()
    edited = r'\1    policy = {**policy, "supported_releases": []}\n'   # a first line in its body
    path.write_text(re.sub(r"^(def supported_release\(.*\):\n)", edited, text, count=1, flags=re.M))
    assert path.read_text() != text
    assert catalog.digest_of(package=package) != catalog.digest_of()


def test_the_digest_changes_with_a_policy_default():
    from hvconform.inputs.policy import DEFAULTS
    assert catalog.digest_of(defaults=dict(DEFAULTS)) == catalog.digest_of()
    assert catalog.digest_of(defaults={**DEFAULTS, "backup_rpo_hours": 12}) != catalog.digest_of()
