"""suites/ and the catalog agree: every check kind a domain's rows use has its test
function, and no test function waits on a kind no row uses."""

import ast

import pytest

from hvconform.inputs import catalog

CAT = catalog.load()


@pytest.mark.parametrize("domain", catalog.DOMAINS)
def test_each_kind_used_has_exactly_one_test(domain):
    path = catalog.SUITES / domain / f"test_{domain}.py"
    tree = ast.parse(path.read_text())
    tests = [f.name.removeprefix("test_") for f in tree.body
             if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")]
    assert sorted(tests) == sorted({c.kind for c in CAT.of(domain)}), path


def test_every_domain_has_at_least_five_controls():
    for domain in catalog.DOMAINS:
        assert len(CAT.of(domain)) >= 5, domain


def test_the_site_suite_has_one_test_per_kind():
    """An overlay's control may be of any kind: suites/site/ has a test for each."""
    from hvconform.judge.engine import KINDS

    path = catalog.SUITES / catalog.SITE_SUITE / f"test_{catalog.SITE_SUITE}.py"
    tree = ast.parse(path.read_text())
    tests = [f.name.removeprefix("test_") for f in tree.body
             if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")]
    assert sorted(tests) == sorted(KINDS), path
    assert not CAT.of(catalog.SITE_SUITE)   # ours are never in it
