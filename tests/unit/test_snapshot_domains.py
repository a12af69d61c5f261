"""Snapshot.domain(name): a host's domain by name, as each per-VM verdict looks it up."""

from hvconform.model.snapshot import Domain, Snapshot


def test_the_first_domain_of_a_name_and_none_for_a_name_not_listed():
    s = Snapshot(host="h", domains=[Domain("a", True), Domain("b", False), Domain("a", False)])
    assert s.domain("a") is s.domains[0] and s.domain("b") is s.domains[1]
    assert s.domain("c") is None


def test_the_lookup_follows_the_list_as_it_changes():
    s = Snapshot(host="h", domains=[Domain("a", True)])
    assert s.domain("b") is None
    s.domains.append(Domain("b", True))               # the same list, grown
    assert s.domain("b") is s.domains[1]
    s.domains = [Domain("c", False)]                  # another list
    assert s.domain("a") is None and s.domain("c") is s.domains[0]


def test_the_lookup_is_not_saved_with_the_snapshot():
    s = Snapshot(host="h", domains=[Domain("a", True)])
    s.domain("a")
    assert s.to_dict() == Snapshot(host="h", domains=[Domain("a", True)]).to_dict()
    assert Snapshot.from_dict(s.to_dict()).domain("a") == Domain("a", True)
