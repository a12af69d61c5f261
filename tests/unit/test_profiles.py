"""Profiles select by rule from the catalog's own metadata; a broken file says where."""

import pytest

from hvconform.inputs import catalog
from hvconform.inputs import profiles

CAT = catalog.load()


def test_the_four_profiles_the_issue_names_exist_and_select_something():
    loaded = profiles.load(known_ids={c.id for c in CAT.controls})
    assert {"baseline", "multi-tenant", "pp-virt", "openstack-compute"} <= set(loaded)
    for name, profile in loaded.items():
        assert any(profile.selects(c) for c in CAT.controls), f"profile {name} selects nothing"


def test_rules_follow_the_catalog_metadata():
    p = profiles.Profile("t", "", automated=True)
    assert {c.id for c in CAT.controls if p.selects(c)} == {c.id for c in CAT.controls if not c.manual}
    p = profiles.Profile("t", "", references=("pp_virt",))
    assert {c.id for c in CAT.controls if p.selects(c)} == {c.id for c in CAT.controls
                                                           if "pp_virt" in c.references}
    p = profiles.Profile("t", "", domains=("isolation",), ids=("QEMU-001",))
    chosen = {c.id for c in CAT.controls if p.selects(c)}
    assert "QEMU-001" in chosen and all(i.startswith(("ISO-", "QEMU-001")) for i in chosen)


def test_union_of_two_profiles(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  a: {ids: [QEMU-001]}\n  b: {ids: [HOST-009]}\n")
    assert profiles.select(CAT, ["a", "b"], path) == {"QEMU-001", "HOST-009"}
    assert profiles.select(CAT, ["a"], path) == {"QEMU-001"}


def test_errors_are_located_and_all_reported(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  ok: {automated: true}\n"
                    "  bad:\n    references: [nist, iso27001]\n    domains: [storage]\n"
                    "    colour: red\n  empty: {description: nothing}\n")
    with pytest.raises(profiles.ProfileError) as err:
        profiles.load(path)
    text = str(err.value)
    assert f"{path}:3: profile bad: unknown reference key 'iso27001'" in text
    assert "unknown domain 'storage'" in text and "unknown key 'colour'" in text
    assert f"{path}:7: profile empty: selects nothing" in text


def test_unknown_profile_name_and_unknown_id(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  a: {ids: [QEMU-999]}\n")
    with pytest.raises(profiles.ProfileError, match="no control QEMU-999"):
        profiles.select(CAT, ["a"], path)
    path.write_text("profiles:\n  a: {ids: [QEMU-001]}\n")
    with pytest.raises(profiles.ProfileError, match="unknown profile 'nope'"):
        profiles.select(CAT, ["nope"], path)
