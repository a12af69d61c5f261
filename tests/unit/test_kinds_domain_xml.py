"""domain_xml: XPath over domain definitions, including libvirt's own test corpus."""

from pathlib import Path

import pytest

from hvconform.inputs import catalog
from hvconform.model import verdict as v
from hvconform.judge.engine import judge
from hvconform.judge.kinds import domain_xml
from tests.snapshots import domain, snap

CORPUS = sorted((Path(__file__).resolve().parents[3] / "shared" / "corpus" / "libvirt-domains").glob("*.xml"))
SHMEM = {"kind": "domain_xml", "xpath": "/domain/devices/shmem", "op": "absent"}
LISTEN = {"kind": "domain_xml", "op": "each_in", "value": ["127.0.0.1", "::1"],
          "xpath": "/domain/devices/graphics/@listen | /domain/devices/graphics/listen[@type='address']/@address"}


def one(xml, check, running=False, live=None):
    s = snap(domains={"vm1": xml}, running={"vm1"} if running else set(), live=live)
    return domain_xml.judge(check, s, "vm1")


def test_absent_fails_with_the_offending_element_and_its_line():
    verdict = one(domain("<shmem name='ivshmem0'><size unit='M'>4</size></shmem>"), SHMEM)
    assert verdict.status == v.FAIL and verdict.actual == "1 match"
    excerpt = verdict.evidence[0].excerpt
    assert excerpt.startswith("line 8: <shmem name=\"ivshmem0\">") and "</shmem>" in excerpt


def test_absent_passes_with_the_xpath_as_evidence():
    verdict = one(domain(), SHMEM)
    assert verdict.status == v.PASS and verdict.evidence[0].excerpt == "/domain/devices/shmem: no match"
    assert verdict.expected == "no match for /domain/devices/shmem"


def test_each_in_on_attributes():
    ok = domain("<graphics type='vnc' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>")
    bad = domain("<graphics type='vnc' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>")
    assert one(ok, LISTEN).status == v.PASS
    verdict = one(bad, LISTEN)
    assert verdict.status == v.FAIL and verdict.actual == "offending: 0.0.0.0, 0.0.0.0"
    assert verdict.evidence[0].excerpt.splitlines()[0] == 'line 8: <graphics listen="0.0.0.0">'
    assert one(domain(), LISTEN).status == v.PASS     # no graphics: nothing to expose


def test_count_each_not_in_each_matches_present():
    xml = domain("<disk type='file'><driver name='qemu' type='raw'/></disk>",
                 "<disk type='file'><driver name='qemu' type='qcow2'/></disk>")
    disks = "/domain/devices/disk/driver/@type"
    assert one(xml, {"xpath": "count(/domain/devices/disk)", "op": "count_eq", "value": 2}).status == v.PASS
    assert one(xml, {"xpath": "/domain/devices/disk", "op": "count_eq", "value": 1}).status == v.FAIL
    assert one(xml, {"xpath": disks, "op": "each_not_in", "value": ["vmdk"]}).status == v.PASS
    assert one(xml, {"xpath": disks, "op": "each_matches", "value": "^raw$"}).status == v.FAIL
    assert one(xml, {"xpath": "/domain/devices/disk", "op": "present"}).status == v.PASS


def test_namespaces():
    xml = domain(attrs=" xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'",
                 top="  <qemu:commandline><qemu:arg value='-s'/></qemu:commandline>\n")
    check = {"xpath": "/domain/q:commandline", "op": "absent",
             "namespaces": {"q": "http://libvirt.org/schemas/domain/qemu/1.0"}}
    assert one(xml, check).status == v.FAIL
    assert one(domain(), check).status == v.PASS


def test_live_xml_needs_a_running_domain():
    check = {**SHMEM, "live": True}
    assert one(domain(), check).status == v.NOT_APPLICABLE
    live = {"vm1": domain("<shmem name='x'/>")}
    assert one(domain(), check, running=True, live=live).status == v.FAIL


@pytest.mark.parametrize("xml", ["<domain><name>vm1</name>", "", "not xml at all", "<a/><b/>"])
def test_malformed_xml_is_an_error_naming_the_domain(xml):
    verdict = one(xml, SHMEM)
    assert verdict.status == v.ERROR and "domain vm1" in verdict.reason


@pytest.mark.parametrize("doctype", [
    # billion laughs: XPath string functions would expand what the parser left alone
    '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;">]>',
    '<!DOCTYPE d [<!ENTITY c SYSTEM "file:///etc/hostname">]>',     # a local file
    '<!DOCTYPE d SYSTEM "http://192.0.2.1/domain.dtd">',            # the network
])
def test_documents_with_a_doctype_are_refused(doctype):
    verdict = one(f'<?xml version="1.0"?>{doctype}<domain><name>&c;</name></domain>'.replace(
        "&c;", "&c;" if "ENTITY c" in doctype else "vm1"), {"xpath": "/domain/name", "op": "absent"})
    assert verdict.status == v.ERROR and "DOCTYPE" in verdict.reason


def test_encoding_declaration_is_accepted():
    xml = "<?xml version='1.0' encoding='UTF-8'?>\n" + domain()
    assert one(xml, SHMEM).status == v.PASS


def test_not_collected_and_dumpxml_failure_are_errors():
    s = snap(domains={"vm1": (1, "", "error: failed to get domain 'vm1'")})
    assert domain_xml.judge(SHMEM, s, "vm1").status == v.ERROR
    s = snap(domains={"vm1": domain()})
    del s.artifacts["domain:vm1:inactive"]
    assert domain_xml.judge(SHMEM, s, "vm1").status == v.ERROR


@pytest.mark.parametrize("check, message", [
    ({"xpath": "/domain/[", "op": "absent"}, "not valid XPath"),
    ({"xpath": "/domain", "op": "exists"}, "unknown op"),
    ({"xpath": "/domain", "op": "each_in", "value": "x"}, "list 'value'"),
    ({"xpath": "/domain", "op": "count_eq", "value": "2"}, "integer 'value'"),
    ({"xpath": "/domain", "op": "each_matches", "value": "("}, "regular expression"),
    ({"xpath": "/domain", "op": "absent", "lve": True}, "unknown keys"),
])
def test_validate(check, message):
    assert any(message in e for e in domain_xml.validate({"kind": "domain_xml", **check}))


def test_corpus_is_there():
    assert len(CORPUS) >= 150


@pytest.fixture(scope="module")
def xml_controls():
    return [c for c in catalog.load().controls if c.kind == "domain_xml"]


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_domain_xml_control_over_the_libvirt_corpus(path, xml_controls):
    controls = xml_controls
    s = snap(domains={"vm1": path.read_text()}, running={"vm1"})
    for control in controls:
        verdict = judge(control, s, "vm1")
        assert isinstance(verdict, v.Verdict)
        if path.name == "broken-xml-invalid.xml":
            assert verdict.status == v.ERROR and "malformed" in verdict.reason
        else:
            assert verdict.status in (v.PASS, v.FAIL), (control.id, verdict.reason)
