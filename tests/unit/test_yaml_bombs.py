"""YAML a user gives (inventory, waivers, profiles, catalog) cannot exhaust the
auditor's machine (issue 10): an anchor bomb grew past 5 GB, a recursive alias gave
INTERNALERROR. Aliases stay (merge keys `<<: *x` use them) but expansion is bounded;
each case ends in one located error, fast, in bounded memory."""

from __future__ import annotations

import contextlib
import io
import json
import resource
import subprocess
import sys
import textwrap

import pytest

from hvconform.inputs import yamlload
from tests.conftest import ROOT

MEMORY_LIMIT = 1 << 30

BOMB = "bomb:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
RECURSIVE = "bomb: &loop\n  again: *loop\n"
RECURSIVE_LIST = "bomb: &loop [1, *loop]\n"
DEEP = "bomb: " + "[" * 5000 + "]" * 5000 + "\n"

# each loader, given the path of a file holding `text` (plus what the file needs)
ONE_FILE = """
from hvconform.inputs import {module}
p.write_text(text)
try:
    {module}.load(p)
except {module}.{error} as exc:
    print(json.dumps(str(exc)))
"""
LOAD = {
    **{module: ONE_FILE.format(module=module, error=error) for module, error in
       (("inventory", "InventoryError"), ("waivers", "WaiverError"), ("profiles", "ProfileError"))},
    "catalog": """
from hvconform.inputs import catalog
for d in catalog.DOMAINS:
    (p.parent / "suites" / d).mkdir(parents=True, exist_ok=True)
    (p.parent / "suites" / d / "controls.yaml").write_text("controls: []\\n")
p = p.parent / "suites" / "qemu" / "controls.yaml"
p.write_text(text)
try:
    catalog.load(p.parent.parent)
except catalog.CatalogError as exc:
    print(json.dumps(str(exc)))
""",
}


def load_in_this_process(tmp_path, kind: str, text: str) -> str:
    """The loader's error (fine here for what cannot exhaust memory, only recurse)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(textwrap.dedent(LOAD[kind]), {"json": json, "p": tmp_path / "input.yaml", "text": text})
    assert out.getvalue().strip(), f"{kind}: the loader accepted it"
    return json.loads(out.getvalue())


def load_in_a_small_process(tmp_path, kind: str, text: str) -> tuple[subprocess.CompletedProcess, str]:
    script = ("import json, sys\nfrom pathlib import Path\n"
              f"p = Path({str(tmp_path / 'input.yaml')!r})\ntext = sys.stdin.read()\n"
              + textwrap.dedent(LOAD[kind]))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    proc = subprocess.run([sys.executable, "-c", script], input=text, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, preexec_fn=limit)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stdout.strip(), f"{kind}: the loader accepted it"
    return proc, json.loads(proc.stdout)


@pytest.mark.parametrize("kind", sorted(LOAD))
def test_a_yaml_anchor_bomb_is_refused(tmp_path, kind):
    _, error = load_in_a_small_process(tmp_path, kind, BOMB)
    assert "input.yaml:" in error or "controls.yaml:" in error
    assert f"expands to more than {yamlload.MAX_NODES} values" in error


@pytest.mark.parametrize("text", [RECURSIVE, RECURSIVE_LIST], ids=["mapping", "list"])
@pytest.mark.parametrize("kind", sorted(LOAD))
def test_a_recursive_alias_is_a_located_error(tmp_path, kind, text):
    error = load_in_this_process(tmp_path, kind, text)
    assert ".yaml:" in error and "an alias inside the node it names (*loop)" in error


@pytest.mark.parametrize("kind", sorted(LOAD))
def test_yaml_nested_too_deep_is_a_located_error(tmp_path, kind):
    error = load_in_this_process(tmp_path, kind, DEEP)
    assert ".yaml:1:" in error and f"nested deeper than {yamlload.MAX_DEPTH} levels" in error


def test_a_file_too_large_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("x: " + "a" * (yamlload.MAX_BYTES + 1) + "\n")
    with pytest.raises(yamlload.LocatedError, match=r"big.yaml: larger than 8.0 MiB"):
        yamlload.load_located(path)


def test_aliases_and_merge_keys_within_the_bounds_still_work(tmp_path):
    doc, lines = yamlload.load_located(tmp_path / "x.yaml", textwrap.dedent("""\
        base: &base {user: audit, port: 22}
        a: {<<: *base, port: 2222}
        b: [*base, *base]
    """))
    assert doc["a"] == {"user": "audit", "port": 2222}
    assert doc["b"] == [{"user": "audit", "port": 22}] * 2
    assert lines[("a", "port")] == 2


def test_an_anchor_bomb_is_not_expanded_while_telling_ansible_from_our_format(tmp_path):
    """--inventory first sniffs the file's format (inputs/ansible_inventory.kind_of):
    that read goes through the bounded loader too, then ours says where the bomb is."""
    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from hvconform.inputs import ansible_inventory, inventory
        p = Path({str(tmp_path / 'inv.yaml')!r})
        p.write_text({BOMB!r})
        kind = ansible_inventory.kind_of(str(p))
        try:
            inventory.load(p)
        except inventory.InventoryError as exc:
            print(json.dumps([kind[0], str(exc)]))
    """)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, preexec_fn=limit)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    kind, error = json.loads(proc.stdout)
    assert kind == "hvconform" and "expands to more than" in error
