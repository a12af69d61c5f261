"""Isolation across the inventory (hvconform/judge/fleet, judge/kinds/fleet.py): each
analysis passes and fails on small inventories, each finding names the VMs and the
resource they share, and no well-formed domain XML makes an analysis raise."""

from pathlib import Path

import pytest

from hvconform.model import verdict as v
from hvconform.judge.kinds import fleet
from hvconform.judge.fleet import cpus
from hvconform.inputs.policy import effective
from hvconform.judge.read import guests as guests_mod
from hvconform.judge.read.guests import guests_of
from hvconform.judge.fleet.reconcile import reconcile, summary
from hvconform.model.snapshot import Artifact, Domain, Snapshot
from tests.guests import NO_SMT, NS, SMT_ON, disk, guest, metadata, nic, nova, seclabel

ACME_ID, GLOBEX_ID = "2f6e1c1a-94a3-4f3c-8f0e-3c1e9a7d5b10", "9d0b7e52-1f7e-4c8b-a7c2-5e6f4a3b2c1d"
NOVA_10 = "http://openstack.org/xmlns/libvirt/nova/1.0"
from tests.snapshots import domain, snap

LAB = Path(__file__).resolve().parents[1] / "data" / "lab-snapshots"
CORPUS = sorted((Path(__file__).resolve().parents[3] / "shared" / "corpus" / "libvirt-domains").glob("*.xml"))


def outcomes(analysis, *snaps):
    return fleet.outcomes({"kind": "fleet", "analysis": analysis}, {s.host: s for s in snaps})


def fails(analysis, *snaps):
    found = outcomes(analysis, *snaps)
    assert all(o.verdict.status in (v.FAIL, v.PASS, v.NOT_APPLICABLE) for o in found), \
        [o.verdict.reason for o in found]
    return [o for o in found if o.verdict.status == v.FAIL]


def status(analysis, *snaps):
    return {o.verdict.status for o in outcomes(analysis, *snaps)}


def host(name="h1", running=(), facts=None, **guests_and_more):
    extra = {k: guests_and_more.pop(k) for k in ("files", "cmds") if k in guests_and_more}
    return snap(host=name, domains=guests_and_more, running=set(running), facts=facts or {}, **extra)


# -- where tenant and level come from -------------------------------------------------

def test_metadata_in_the_site_namespace_wins_over_the_inventory():
    s = host(a=guest("a", tenant="acme", level="high"), b=domain(name="b"),
             c=domain(name="c", top=metadata("evil", "low", ns="urn:other")),
             facts={"vms": {"a": {"tenant": "other"}, "b": {"tenant": "globex", "security_level": "low"}}})
    a, b, c = guests_of(s, effective(s.policy))
    assert (a.tenant, a.level) == ("acme", "high")
    assert (b.tenant, b.level) == ("globex", "low")          # from the inventory's vms:
    assert (c.tenant, c.level) == (None, None)                 # another namespace is not ours


def test_nova_metadata_gives_the_project_as_tenant_and_a_mapped_level():
    policy = effective({"nova_flavor_levels": {"m1.small": "low"}, "nova_project_levels": {GLOBEX_ID: "high"}})
    a, b, c = guests_of(host(a=guest("a", top=nova("acme", ACME_ID)),
                             b=guest("b", top=nova("globex", GLOBEX_ID, ns=NOVA_10)),   # before Liberty
                             c=guest("c", "tagged", "medium", top=nova("acme", ACME_ID))), policy)
    assert (a.tenant, a.level, b.tenant, b.level) == ("acme", "low", "globex", "high")
    assert a.describe() == (f"h1/a (tenant acme (nova project {ACME_ID}), level low "
                            "(nova flavor m1.small, policy))")
    assert (c.tenant, c.level) == ("tagged", "medium")          # the site's own tag comes first
    [unmapped] = guests_of(host(a=guest("a", top=nova("acme", ACME_ID))), effective(None))
    assert unmapped.tenant == "acme" and unmapped.level is None


def test_per_vm_checks_take_a_sensitive_level_from_the_nova_flavor():
    from hvconform.judge.read import guests as guests_mod
    from hvconform.judge.read.xmlsafe import parse
    root = parse(guest("a", top=nova("acme", ACME_ID, "s1.dedicated")))
    policy = effective({"nova_flavor_levels": {"s1.dedicated": "high"}})
    assert guests_mod.is_sensitive(snap(), "a", root, policy)
    assert not guests_mod.is_sensitive(snap(), "a", root, effective(None))


def test_iso005_and_net016_findings_name_the_nova_projects():
    pair = {"a": guest("a", pins="0", emulator="0", devices=[nic()], top=nova("acme", ACME_ID)),
            "b": guest("b", pins="1", emulator="1", devices=[nic()], top=nova("globex", GLOBEX_ID))}
    [found] = fails("shared_cores", host(**pair, **SMT_ON))
    assert f"nova project {ACME_ID}" in found.verdict.actual and f"nova project {GLOBEX_ID}" in found.verdict.actual
    [found] = fails("shared_segments", host(**pair))
    assert "acme, globex" in found.verdict.actual


def test_a_site_namespace_from_policy():
    s = host(a=domain(name="a", top=metadata("acme", "high", ns="urn:example:sec")))
    s.policy = {"vm_metadata_namespace": "urn:example:sec"}
    assert guests_of(s, effective(s.policy))[0].tenant == "acme"


def test_a_domain_whose_xml_is_missing_stops_the_host_with_an_error():
    s = host(a=guest("a"))
    del s.artifacts["domain:a:inactive"]
    [found] = outcomes("shared_disks", s)
    assert found.verdict.status == v.ERROR and "inactive XML of domain a was not collected" in found.verdict.reason


# -- cpusets ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, cpuset", [("0-3,^2,8", {0, 1, 3, 8}), ("1", {1}), ("0-1, 4", {0, 1, 4})])
def test_cpusets(text, cpuset):
    assert cpus.parse_cpuset(text) == cpuset


def test_a_bad_cpuset_is_an_error_verdict_not_an_exception():
    s = host(a=guest("a", level="high", pins="0-x"), **SMT_ON)
    [found] = outcomes("sensitive_pinning", s)
    assert found.verdict.status == v.ERROR and "not a cpuset" in found.verdict.reason


def test_placement_follows_pins_then_the_domain_cpuset():
    from lxml import etree
    root = etree.fromstring("<domain><vcpu cpuset='2-3'>2</vcpu><cputune><vcpupin vcpu='0' cpuset='1'/>"
                            "</cputune></domain>")
    place = cpus.placement(root)
    assert place.vcpus == {0: {1}, 1: {2, 3}} and place.emulator == {2, 3} and place.cpus() == {1, 2, 3}
    assert cpus.placement(etree.fromstring("<domain><vcpu>1</vcpu></domain>")).unpinned() == ["vCPU 0", "emulator"]
    # placement='auto' hands the choice to numad and ignores cpuset (formatdomain.rst 'CPU
    # Allocation'): which CPUs numad picks is not in the XML
    auto = cpus.placement(etree.fromstring("<domain><vcpu placement='auto' cpuset='1'>1</vcpu></domain>"))
    assert auto.unpinned() == ["vCPU 0", "emulator"] and auto.cpus() is cpus.ANY
    threads = cpus.placement(etree.fromstring(
        "<domain><vcpu cpuset='2'>1</vcpu><iothreads>2</iothreads><iothreadids><iothread id='5'/></iothreadids>"
        "<cputune><iothreadpin iothread='5' cpuset='3'/></cputune></domain>"))
    assert threads.iothreads == {5: {3}, 1: {2}} and threads.cpus() == {2, 3}


# -- ISO-005 -----------------------------------------------------------------------------

def tenants_on_siblings(**more):
    return host("weak", a=guest("a", "acme", "low", pins="0", emulator="0"),
                b=guest("b", "globex", "low", pins="1", emulator="1"), **more)


def test_iso005_tenants_on_smt_siblings_fail_naming_both_and_the_core():
    [found] = fails("shared_cores", tenants_on_siblings(**SMT_ON))
    assert found.vms == ["weak/a", "weak/b"] and found.host == "weak"
    assert "core {0,1}" in found.verdict.actual and "SMT on" in found.verdict.actual
    assert "tenant acme" in found.verdict.actual and "tenant globex" in found.verdict.actual
    assert any("vcpupin" in e.excerpt for e in found.verdict.evidence)


def test_iso005_passes_without_smt_with_sched_core_or_within_one_tenant():
    assert status("shared_cores", tenants_on_siblings(**NO_SMT)) == {v.PASS}
    core = {"files": {**SMT_ON["files"], "/etc/libvirt/qemu.conf": 'sched_core = "vcpus"\n'},
            "cmds": SMT_ON["cmds"]}
    assert status("shared_cores", tenants_on_siblings(**core)) == {v.PASS}
    same = host(a=guest("a", "acme", pins="0"), b=guest("b", "acme", pins="1"), **SMT_ON)
    assert status("shared_cores", same) == {v.PASS}


def test_iso005_an_unpinned_vm_may_use_every_core():
    smt_on_separate_cores = {"files": {**SMT_ON["files"]}, "cmds": NO_SMT["cmds"]}
    s = host(a=guest("a", "acme", pins="0", emulator="0"), b=guest("b", "globex"), **smt_on_separate_cores)
    [found] = fails("shared_cores", s)
    assert "core {0}" in found.verdict.actual and "core {1}" not in found.verdict.actual


def test_iso005_unknown_topology_is_an_error():
    [found] = outcomes("shared_cores", tenants_on_siblings())
    assert found.verdict.status == v.ERROR and "topology" in found.verdict.reason



def _hostile(name: str, vcpu: str = "1", more: str = "") -> str:
    """A domain of tenant `name` pinned to CPU 0, with host-chosen counts."""
    return guest(name, name, "high", pins="0", emulator="0").replace("<vcpu>1</vcpu>", f"<vcpu>{vcpu}</vcpu>{more}")


@pytest.mark.parametrize("vcpu, more, why", [
    ("abc", "", "<vcpu> is not a count"),
    ("4000000000", "", "more than 16384"),
    ("1", "<iothreads>4000000000</iothreads>", "more than 16384"),
    ("1", "<cputune><vcpupin vcpu='0' cpuset='0-60000,' /></cputune>", "not a cpuset"),
])
@pytest.mark.parametrize("analysis", ["shared_cores", "sensitive_pinning"])
def test_one_hosts_absurd_cpu_counts_are_its_error_and_the_others_are_still_judged(analysis, vcpu, more, why):
    """A domain XML is the host's to write: a count no machine has, or text where a count
    goes, is that host's error verdict, found without building a thread per count; the
    other hosts' findings still stand (before: one '*' error for the whole inventory)."""
    bad = host("bad", a=_hostile("acme", vcpu, more), b=_hostile("globex"), **SMT_ON)
    good = host("good", a=_hostile("acme"), b=_hostile("globex"), **SMT_ON)
    found = {o.host: o.verdict for o in outcomes(analysis, bad, good)}
    assert found["bad"].status == v.ERROR and why in found["bad"].reason
    assert found["good"].status == v.FAIL


def test_many_iothreads_are_numbered_in_one_pass():
    from lxml import etree
    ids = "".join(f"<iothread id='{n}'/>" for n in range(2, 16000, 2))
    place = cpus.placement(etree.fromstring(
        f"<domain><vcpu>1</vcpu><iothreads>16000</iothreads><iothreadids>{ids}</iothreadids></domain>"))
    assert sorted(place.iothreads) == list(range(1, 16001))

# -- ISO-016 -----------------------------------------------------------------------------

def test_iso016_sensitive_vm_unpinned_and_sharing_cores_fails():
    s = host("weak", a=guest("a", "acme", "low", pins="0"), b=guest("b", "globex", "high", pins="1"), **SMT_ON)
    found = fails("sensitive_pinning", s)
    assert [f.vms for f in found] == [["weak/b"], ["weak/b", "weak/a"]]
    assert "emulator not pinned" in found[0].verdict.actual
    assert "sensitive weak/b" in found[1].verdict.actual and "core {0,1}" in found[1].verdict.actual


def test_iso016_sensitive_vm_on_a_core_of_its_own_passes():
    s = host(a=guest("a", level="low", pins="0", emulator="0"), b=guest("b", level="high", pins="1", emulator="1"),
             **NO_SMT)
    assert status("sensitive_pinning", s) == {v.PASS}
    assert status("sensitive_pinning", host(a=guest("a", level="low"), **NO_SMT)) == {v.NOT_APPLICABLE}


def test_iso016_two_sensitive_vms_sharing_a_core_are_one_finding():
    s = host(a=guest("a", level="high", pins="0", emulator="0"), b=guest("b", level="high", pins="0", emulator="0"),
             **NO_SMT)
    [found] = fails("sensitive_pinning", s)
    assert sorted(found.vms) == ["h1/a", "h1/b"]


def test_iso016_without_smt_a_floating_vm_may_use_the_sensitive_vms_cpu():
    # SMT off or not supported: an unpinned VM may still run on any online CPU of the host
    # (formatdomain.rst 'CPU Tuning': without vcpupin/emulatorpin and <vcpu cpuset>, "pinned
    # to all the physical CPUs"), so it shares the sensitive VM's CPU 1
    s = host(a=guest("a", level="low"), b=guest("b", level="high", pins="1", emulator="1"), **NO_SMT)
    [found] = fails("sensitive_pinning", s)
    assert found.vms == ["h1/b", "h1/a"] and "core {1}" in found.verdict.actual


def test_iso016_the_online_cpus_stand_for_an_unpinned_vm_when_siblings_are_unreadable():
    online = {"files": {**NO_SMT["files"], "/sys/devices/system/cpu/online": "0-3\n"},
              "cmds": {"cpu_siblings": (2, "", "grep: /sys/devices/system/cpu/cpu*/topology: No such file\n")}}
    s = host(a=guest("a", level="low"), b=guest("b", level="high", pins="2", emulator="2"), **online)
    [found] = fails("sensitive_pinning", s)
    assert "core {2}" in found.verdict.actual and "core {0}" not in found.verdict.actual


def test_iso016_unknown_cpus_conservatively_overlap_every_pinned_cpu():
    unknown = {"files": {**NO_SMT["files"]}, "cmds": {"cpu_siblings": (2, "", "grep: no such file\n")}}
    s = host(a=guest("a", level="low"), b=guest("b", level="high", pins="3", emulator="3"), **unknown)
    [found] = fails("sensitive_pinning", s)
    assert found.vms == ["h1/b", "h1/a"] and "core {3}" in found.verdict.actual


def test_iso016_a_floating_iothread_or_numad_placement_is_unpinned():
    iothread = guest("b", level="high", pins="1", emulator="1", top="  <iothreads>1</iothreads>\n")
    s = host(a=guest("a", level="low", pins="0", emulator="0"), b=iothread, **NO_SMT)
    found = fails("sensitive_pinning", s)
    assert [f.vms for f in found] == [["h1/b"], ["h1/b", "h1/a"]]      # may float onto a's CPU 0
    assert "IOThread 1 not pinned" in found[0].verdict.actual and "core {0}" in found[1].verdict.actual
    pinned = iothread.replace("<emulatorpin cpuset='1'/>", "<emulatorpin cpuset='1'/><iothreadpin iothread='1' cpuset='1'/>")
    assert status("sensitive_pinning", host(a=guest("a", level="low", pins="0", emulator="0"), b=pinned,
                                            **NO_SMT)) == {v.PASS}


def test_iso016_on_the_recorded_hardened_host_a_floating_vm_reaches_both_pinned_cpus():
    # hardened's real topology: SMT notsupported, CPUs 0 and 1; its two sensitive guests are
    # pinned to one CPU each. A VM pinned nowhere may run on both.
    hardened = Snapshot.load(LAB / "hardened.json")
    hardened.domains.append(Domain("floating", False))
    hardened.add(Artifact("domain:floating:inactive", "virsh dumpxml --inactive floating", 0,
                          guest("floating", level="low")))
    found = fails("sensitive_pinning", hardened)
    assert sorted(f.vms for f in found) == [["hardened/hardened-guest", "hardened/floating"],
                                            ["hardened/hardened-net", "hardened/floating"]]
    assert {f.verdict.actual.split(" may both run on ")[1] for f in found} == {"core {0} of hardened",
                                                                              "core {1} of hardened"}


# -- ISO-015 -----------------------------------------------------------------------------

def test_iso015_mixed_levels_untagged_and_disagreeing_vms_fail():
    s = host("weak", a=guest("a", level="low"), b=guest("b", level="high"), c=domain(name="c"),
             d=guest("d", level="low"), facts={"vms": {"d": {"security_level": "high"}}})
    actual = [f.verdict.actual for f in fails("security_levels", s)]
    assert any(a.startswith("weak/c has no security level") and NS in a for a in actual)
    assert "weak/d is security level low in its domain XML but high in the inventory" in actual
    assert "VMs of 2 security levels share host weak (high: weak/b; low: weak/a, weak/d)" in actual


def test_iso015_vms_off_the_hosts_declared_level_fail():
    s = host("hardened", a=guest("a", level="low"), facts={"security_level": "high"})
    [found] = fails("security_levels", s)
    assert found.vms == ["hardened/a"] and "declares high" in found.verdict.actual


def test_iso015_one_level_per_host_passes_across_hosts():
    one = host("h1", a=guest("a", level="high"), b=guest("b", level="high"))
    two = host("h2", c=guest("c", level="low"))
    assert status("security_levels", one, two) == {v.PASS}


# -- ISO-023 -----------------------------------------------------------------------------

def test_iso023_a_disk_writable_by_two_vms_fails_naming_both_and_the_path():
    s = host("weak", a=guest("a", devices=[disk("/img/a.img")]), b=guest("b", devices=[disk("/img/a.img", "vdb")]))
    [found] = fails("shared_disks", s)
    assert found.vms == ["weak/a", "weak/b"]
    assert found.verdict.actual == ("/img/a.img on weak is used by 2 VMs, not all read-only: "
                                    "weak/a (writable as vda), weak/b (writable as vdb)")
    assert all("/img/a.img" in e.excerpt for e in found.verdict.evidence)


def test_iso023_read_only_everywhere_passes_and_same_path_on_two_hosts_is_two_files():
    ro = disk("/img/base.iso", extra="<readonly/>")
    assert status("shared_disks", host(a=guest("a", devices=[ro]), b=guest("b", devices=[ro]))) == {v.PASS}
    assert status("shared_disks", host("h1", a=guest("a", devices=[disk("/img/a.img")])),
                  host("h2", b=guest("b", devices=[disk("/img/a.img")]))) == {v.PASS}


def test_iso023_a_backing_file_another_vm_writes_fails():
    overlay = disk("/img/b.qcow2", extra="<backingStore type='file'><format type='raw'/>"
                                         "<source file='/img/base.img'/></backingStore>")
    s = host(a=guest("a", devices=[disk("/img/base.img")]), b=guest("b", devices=[overlay]))
    [found] = fails("shared_disks", s)
    assert "h1/b (backing file of vda)" in found.verdict.actual


def test_iso023_a_network_disk_is_shared_across_hosts():
    rbd = ("<disk type='network' device='disk'><source protocol='rbd' name='pool/vol'>"
           "<host name='ceph1' port='6789'/></source><target dev='vda'/></disk>")
    [found] = fails("shared_disks", host("h1", a=guest("a", devices=[rbd])), host("h2", b=guest("b", devices=[rbd])))
    assert found.host == "*" and found.vms == ["h1/a", "h2/b"] and "rbd pool/vol" in found.verdict.actual
    assert fleet.case_id(found, "ISO-023") == "h1/a+h2/b-ISO-023"


def test_iso023_a_shareable_disk_fails():
    [found] = fails("shared_disks", host(a=guest("a", devices=[disk("/img/a.img", extra="<shareable/>")])))
    assert found.vms == ["h1/a"] and "<shareable/>" in found.verdict.actual


# -- KMAC-006 ----------------------------------------------------------------------------

def running_pair(label_a, label_b):
    return host("h1", running={"a", "b"}, a=guest("a", top=seclabel(label_a)), b=guest("b", top=seclabel(label_b)))


def test_kmac006_two_running_vms_with_one_mcs_pair_fail():
    s = running_pair("system_u:system_r:svirt_t:s0:c1,c2", "system_u:system_r:svirt_t:s0:c1,c2")
    [found] = fails("shared_labels", s)
    assert found.vms == ["h1/a", "h1/b"] and "share the label selinux s0:c1,c2" in found.verdict.actual


def test_kmac006_unique_pairs_pass_and_no_running_vm_is_not_applicable():
    s = running_pair("system_u:system_r:svirt_t:s0:c1,c2", "system_u:system_r:svirt_tcg_t:s0:c3,c4")
    assert status("shared_labels", s) == {v.PASS}
    assert status("shared_labels", host(a=guest("a"))) == {v.NOT_APPLICABLE}


def test_kmac006_unconfined_and_unlabelled_running_vms_fail():
    s = host(running={"a", "b"}, a=guest("a", top=seclabel("system_u:system_r:unconfined_t:s0")),
             b=guest("b", top="  <seclabel type='dynamic' model='dac' relabel='yes'><label>+0:+0</label></seclabel>\n"))
    actual = sorted(f.verdict.actual for f in fails("shared_labels", s))
    assert actual == ["h1/a runs as system_u:system_r:unconfined_t:s0, not confined by svirt_t",
                      "h1/b runs without an sVirt/AppArmor label (seclabel models: dac)"]


def test_kmac006_one_static_label_in_two_definitions_fails():
    label = seclabel("system_u:system_r:svirt_t:s0:c10,c20", kind="static")
    [found] = fails("shared_labels", host(a=guest("a", top=label), b=guest("b", top=label)))
    assert "(defined, static label)" in found.verdict.actual and found.vms == ["h1/a", "h1/b"]


# -- NET-016 -----------------------------------------------------------------------------

def test_net016_tenants_on_one_bridge_without_isolation_fail():
    s = host("weak", a=guest("a", "acme", devices=[nic()]), b=guest("b", "globex", devices=[nic(isolated=True)]))
    [found] = fails("shared_segments", s)
    assert found.vms == ["weak/a", "weak/b"]
    assert found.verdict.actual.startswith("tenants acme, globex share bridge br0 (untagged) on weak")
    assert "weak/a (tenant acme, port not isolated)" in found.verdict.actual


@pytest.mark.parametrize("a, b", [
    (nic(isolated=True), nic(isolated=True)),        # both ports isolated
    (nic(vlan=10), nic(vlan=20)),                    # different VLANs
    (nic("br0"), nic("br1")),                        # different bridges
])
def test_net016_isolated_or_separate_segments_pass(a, b):
    assert status("shared_segments", host(a=guest("a", "acme", devices=[a]), b=guest("b", "globex", devices=[b]))) \
        == {v.PASS}


def test_net016_a_network_that_isolates_its_ports_passes():
    net = "<interface type='network'><source network='tenants'/></interface>"
    s = host(a=guest("a", "acme", devices=[net]), b=guest("b", "globex", devices=[net]))
    s.add(Artifact("cmd:virsh_net_dumpxml_all", "virsh net-dumpxml (each network)", 0,
                   "### network tenants\n<network><name>tenants</name><port isolated='yes'/></network>\n"))
    assert status("shared_segments", s) == {v.PASS}
    del s.artifacts["cmd:virsh_net_dumpxml_all"]
    [found] = fails("shared_segments", s)
    assert found.verdict.actual.endswith("the networks' XML was not read")
    assert status("shared_segments", host(a=guest("a"))) == {v.NOT_APPLICABLE}


# -- the whole inventory -----------------------------------------------------------------

def test_an_uncollected_host_is_an_error_and_the_others_are_still_analysed():
    down = snap(host="down", status="unreachable", error="connection refused")
    up = host("up", a=guest("a", devices=[disk("/i")]), b=guest("b", devices=[disk("/i")]))
    found = outcomes("shared_disks", down, up)
    assert [(o.host, o.verdict.status) for o in found] == [("down", v.ERROR), ("up", v.FAIL)]
    assert fleet.case_id(found[0], "ISO-023") == "down-ISO-023"
    assert fleet.case_id(found[1], "ISO-023") == "up/a+b-ISO-023"


def test_each_host_without_findings_gets_its_pass_or_not_applicable():
    clean = host("clean", a=guest("a", devices=[disk("/a")]))
    empty = host("empty")
    dirty = host("dirty", b=guest("b", devices=[disk("/b")]), c=guest("c", devices=[disk("/b")]))
    found = outcomes("shared_disks", clean, empty, dirty)
    assert [(o.host, o.verdict.status, o.vms) for o in found] == [
        ("dirty", v.FAIL, ["dirty/b", "dirty/c"]), ("clean", v.PASS, []), ("empty", v.NOT_APPLICABLE, [])]
    assert found[1].verdict.evidence and fleet.case_id(found[1], "ISO-023") == "clean-ISO-023"


def test_judge_on_one_host_merges_the_findings():
    s = host(a=guest("a", devices=[disk("/x"), disk("/y", "vdb")]), b=guest("b", devices=[disk("/x"), disk("/y", "vdb")]))
    verdict = fleet.judge({"kind": "fleet", "analysis": "shared_disks"}, s)
    assert verdict.status == v.FAIL and verdict.actual.count("used by 2 VMs") == 2 and "\n" not in verdict.actual


def test_validate_names_the_known_analyses():
    assert fleet.validate({"kind": "fleet", "analysis": "nope"})[0].startswith("unknown analysis 'nope' (known:")
    assert fleet.validate({"kind": "fleet", "analysis": "shared_disks", "x": 1}) == ["unknown keys ['x']"]


# -- the inventory's vms: against what was found ----------------------------------------

def test_reconcile_reports_vms_not_found_and_not_listed():
    s = host("weak", a=domain(name="a"), b=domain(name="b"), facts={"vms": {"a": {}, "old": {}}})
    s.add(Artifact("cmd:virsh_list_all", "virsh list", 0, "a\nb\n"))
    entries = reconcile({"weak": s, "other": host("other", c=domain(name="c"))})
    assert entries == [{"host": "weak", "vm": "old", "status": "not_found"},
                       {"host": "weak", "vm": "b", "status": "not_listed"}]
    assert summary(entries) == ["VMs listed in the inventory but not found: weak/old",
                                "VMs found but not listed in the inventory: weak/b"]


def test_reconcile_skips_a_host_whose_domains_could_not_be_listed():
    s = host("weak", facts={"vms": {"a": {}}})
    s.add(Artifact("cmd:virsh_list_all", "virsh list", 1, "", "error: failed to connect"))
    assert reconcile({"weak": s}) == []


def test_the_analyses_judged_together_read_each_hosts_guests_once(monkeypatch):
    lab = {h: Snapshot.load(LAB / f"{h}.json") for h in ("hardened", "default", "weak")}
    checks = [{"kind": "fleet", "analysis": name} for name in sorted(fleet.ANALYSES)]
    alone = [fleet.outcomes(check, lab) for check in checks]
    read = []
    monkeypatch.setattr(guests_mod, "guests_of", lambda s, policy: read.append(s.host) or guests_of(s, policy))
    together = fleet.outcomes_of(checks, lab)
    assert sorted(read) == sorted(lab)
    assert together == alone and any(o.verdict.status == v.FAIL for found in together for o in found)


# -- never raises on libvirt's own domain XML ---------------------------------------------

@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_analysis_over_the_libvirt_corpus(path):
    text = path.read_text()
    # the same definition twice, running: every pairwise comparison is exercised
    s = snap(domains={"vm1": text, "vm2": text}, running={"vm1", "vm2"}, **SMT_ON)
    for name in sorted(fleet.ANALYSES):
        for found in outcomes(name, s):
            if path.name == "broken-xml-invalid.xml":
                assert found.verdict.status == v.ERROR and "not well-formed" in found.verdict.reason
            else:
                assert found.verdict.status in (v.PASS, v.FAIL, v.NOT_APPLICABLE) or \
                    "not a cpuset" in found.verdict.reason, (name, found.verdict.reason)
