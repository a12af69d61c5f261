"""libvirt-only hosts (connection: libvirt): the URI rules, collection through the real
libvirt-python against libvirt's own `test:///` driver (a real driver with no
hypervisor behind it), and, over the whole catalog, that what the API cannot give
never passes: each verdict is either the SSH snapshot's own or the error
"not collected: libvirt-only connection"."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from hvconform.collect import libvirt_api
from hvconform.collect.collector import collect_all, collect_host
from hvconform.inputs import catalog as catalog_mod
from hvconform.inputs import libvirt_uri
from hvconform.inputs.inventory import Host, InventoryError, SSHSettings, load_text
from hvconform.judge import engine, libvirt_only
from hvconform.judge.cases import Cases
from hvconform.model.snapshot import Snapshot
from tests.unit.test_inventory import write_key

DATA = Path(__file__).resolve().parent.parent / "data" / "lab-snapshots"
CAT = catalog_mod.load()
SSH = {h: Snapshot.load(DATA / f"{h}.json") for h in ("hardened", "default", "weak")}

# a key block around no key, built so that no scanner takes this file for holding one
KEY = "-----{0} OPENSSH PRIVATE KEY-----\nAAAA\n-----{1} OPENSSH PRIVATE KEY-----".format("BEGIN", "END")
NODE = """\
<node>
  <domain type='test'>
    <name>vm-on</name>
    <memory>65536</memory>
    <os><type arch='x86_64'>hvm</type></os>
    <description>DESCRIPTION</description>
    <devices><graphics type='vnc' port='5900' passwd='s3cret-vnc'/></devices>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>vm-off</name>
    <memory>65536</memory>
    <os><type arch='x86_64'>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
  <network>
    <name>net-a</name>
    <bridge name='virbr9'/>
    <forward mode='nat'/>
    <ip address='192.168.150.1' netmask='255.255.255.0'/>
  </network>
  <pool type='dir'>
    <name>pool-a</name>
    <target><path>/var/lib/libvirt/images</path></target>
  </pool>
</node>
"""


def api_only(snap: Snapshot) -> Snapshot:
    """What a libvirt-only collection of the same host holds: the API's artifacts alone."""
    return dataclasses.replace(
        snap, identity={**snap.identity, "connection": libvirt_only.CONNECTION}, qemu_pids=[],
        artifacts={k: a for k, a in snap.artifacts.items() if libvirt_only.from_api(k)})


def libvirt_host(uri: str, **ssh) -> Host:
    return Host(name="lv", connection="libvirt", address="", uri=uri,
                ssh=SSHSettings(**{"connect_timeout": 5.0, "command_timeout": 10.0, **ssh}))


# ---- the whole catalog: what the API cannot give never passes --------------------------

def test_every_control_is_judged_unchanged_or_ends_as_not_collected():
    unchanged, not_collected = set(), set()
    for name, ssh in SSH.items():
        lv = api_only(ssh)
        for control in CAT.controls:
            if control.applies_to == "inventory":
                continue
            for vm in [d.name for d in ssh.domains] if control.applies_to == "vm" else [None]:
                want, got = engine.judge(control, ssh, vm), engine.judge(control, lv, vm)
                where = f"{name}/{vm} {control.id}"
                if got.status == "error" and got.reason.startswith(libvirt_only.REASON):
                    not_collected.add(control.id)
                else:
                    # judged from the API's data alone: exactly what the SSH snapshot gives
                    assert (got.status, got.reason) == (want.status, want.reason), where
                    unchanged.add(control.id)
    # per-VM domain XML controls are judged as over SSH; host file/process checks are not
    assert {c.id for c in CAT.controls if c.kind == "domain_xml"} <= unchanged
    assert len(unchanged) >= 30, sorted(unchanged)
    assert {"HOST-001", "KMAC-001", "LIBV-001"} <= not_collected
    assert len(not_collected) >= 100


def test_inventory_wide_controls_never_pass_on_what_the_api_lacks():
    ssh_cases, lv_cases = Cases(SSH, CAT), Cases({n: api_only(s) for n, s in SSH.items()}, CAT)
    for control in (c for c in CAT.controls if c.applies_to == "inventory"):
        want = {c.id: ssh_cases.verdict(c)[0] for c in ssh_cases.of(control)}
        for case in lv_cases.of(control):
            got = lv_cases.verdict(case)[0]
            if got.status in ("pass", "not_applicable", "manual"):
                assert case.id in want and want[case.id].status == got.status, (case.id, got)
            elif got.status == "error" and libvirt_only.REASON in got.reason:
                continue
            else:   # a finding or another error: made from the API's data, as over SSH
                assert case.id in want and want[case.id].status == got.status, (case.id, got)


def test_what_reading_the_guests_reads_counts_for_every_analysis_judged_together(monkeypatch):
    # the analyses share one reading of each host's guests (kinds/fleet.py outcomes_of):
    # should that reading need more than the API gives, no analysis may pass on it
    from hvconform.judge.kinds import fleet
    from hvconform.judge.read import guests as guests_mod
    real = guests_mod.guests_of
    monkeypatch.setattr(guests_mod, "guests_of", lambda s, policy: s.file("/etc/hostname") or real(s, policy))
    lv = api_only(SSH["weak"])
    checks = [{"kind": "fleet", "analysis": name} for name in sorted(fleet.ANALYSES)]
    for found in fleet.outcomes_of(checks, {"weak": lv, "hardened": SSH["hardened"]}):
        on_lv = [o.verdict for o in found if o.host == "weak"]
        assert on_lv and all(got.status == "fail" or (got.reason.startswith(libvirt_only.REASON)
                                                      and "file:/etc/hostname" in got.reason)
                             for got in on_lv), on_lv
        assert not any(libvirt_only.REASON in (o.verdict.reason or "") for o in found if o.host == "hardened")


def test_a_process_control_on_a_running_vm_is_not_collected_and_a_stopped_one_not_applicable():
    lv = api_only(SSH["weak"])
    control = CAT.by_id("QEMU-001") if CAT.by_id("QEMU-001").kind == "process" else \
        next(c for c in CAT.controls if c.kind == "process")
    running = next(d.name for d in lv.domains if d.running)
    stopped = next(d.name for d in lv.domains if not d.running)
    assert engine.judge(control, lv, running).reason.startswith(libvirt_only.REASON + ": needs cmd:ps")
    assert engine.judge(control, lv, stopped).status == "not_applicable"


# ---- collection through libvirt-python, against libvirt's test driver -------------------

def test_collects_under_the_ssh_keys_with_api_sources_and_no_secure_xml(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    snap, sent = libvirt_api.collect_host(libvirt_host(f"test://{node}"), {"x": 1})
    assert snap.status == "collected", snap.error
    assert [(d.name, d.running) for d in snap.domains] == [("vm-on", True), ("vm-off", False)]
    assert snap.get("cmd:virsh_list_all").stdout == "vm-on\nvm-off\n"
    assert snap.get("cmd:virsh_list_running").stdout == "vm-on\n"
    live, inactive = snap.domain_xml("vm-on", live=True), snap.domain_xml("vm-off")
    assert live.source == "libvirt: virDomainGetXMLDesc(vm-on, 0)"
    assert inactive.source == "libvirt: virDomainGetXMLDesc(vm-off, VIR_DOMAIN_XML_INACTIVE)"
    assert "<name>vm-off</name>" in inactive.stdout and snap.domain_xml("vm-off", live=True) is None
    assert not any("s3cret" in a.stdout for a in snap.artifacts.values())   # never SECURE
    # libvirt's test driver refuses VIR_NETWORK_XML_INACTIVE (the qemu driver takes it,
    # tests/integration/test_libvirt_lab.py): the failure is kept, as virsh's would be
    nets = snap.get("cmd:virsh_net_dumpxml_all")
    assert nets.stdout == "### network net-a\n" and nets.rc == 1 and "unsupported flags" in nets.stderr
    assert snap.get("cmd:virsh_net_list").stdout.splitlines()[2].split() == ["net-a", "active", "no", "yes"]
    assert "<name>pool-a</name>" in snap.get("cmd:virsh_pool_xmls").stdout
    assert snap.get("cmd:virsh_capabilities").stdout.startswith("<capabilities>")
    assert snap.identity["connection"] == "libvirt" and snap.identity["hostname"]
    assert snap.get("cmd:ps") is None and snap.file("/etc/os-release") is None
    assert set(snap.artifacts) <= libvirt_only.API_KEYS | {k for k in snap.artifacts if k.startswith("domain:")}
    calls = [c for entry in sent for c in entry["commands"]]
    assert calls[0] == f"libvirt: virConnectOpenAuth(test://{node}, VIR_CONNECT_RO)"
    assert all(c.startswith("libvirt: vir") for c in calls) and snap.round_trips == len(sent)
    # the same checks read it as they read virsh's output
    for control in (c for c in CAT.controls if c.kind == "domain_xml"):
        assert engine.judge(control, snap, "vm-on").status in ("pass", "fail", "not_applicable")


def test_a_secret_in_what_the_api_returns_is_redacted_as_over_ssh(tmp_path):
    node = tmp_path / "node.xml"
    # a domain's XML is returned whole by the API: a private key in its description goes
    node.write_text(NODE.replace("DESCRIPTION", KEY))
    snap, _ = libvirt_api.collect_host(libvirt_host(f"test://{node}"))
    for art in (snap.domain_xml("vm-on"), snap.domain_xml("vm-on", live=True)):
        assert art.redacted and "AAAA" not in art.stdout and "[REDACTED OPENSSH PRIVATE KEY]" in art.stdout


def test_an_unreachable_uri_is_a_clean_error_and_the_other_hosts_are_collected(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    good = libvirt_host(f"test://{node}")
    gone = dataclasses.replace(good, name="gone", uri="qemu+libssh2://root@127.0.0.1:1/system?"
                               f"no_tty=1&known_hosts={tmp_path}/kh&keyfile={tmp_path}/key")
    nowhere = dataclasses.replace(good, name="nowhere", uri="qemu:///system?socket=/nonexistent/sock")
    done = collect_all([gone, good, nowhere], CAT, lambda h: {})
    assert done["lv"][0].status == "collected"
    assert done["gone"][0].status == "unreachable" and "127.0.0.1:1" in done["gone"][0].error
    assert done["nowhere"][0].status == "error" and "/nonexistent/sock" in done["nowhere"][0].error
    assert all(s.error is None or "Traceback" not in s.error for s, _ in done.values())


def test_a_call_that_blocks_past_the_deadline_ends_as_timeout_keeping_what_was_read(monkeypatch, tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    real = libvirt_api._networks
    monkeypatch.setattr(libvirt_api, "_networks", lambda conn, work: (__import__("time").sleep(3),
                                                                     real(conn, work)))
    snap, _ = libvirt_api.collect_host(libvirt_host(f"test://{node}", command_timeout=0.5))
    assert snap.status == "partial" and "did not finish within 0.5s" in snap.error
    assert snap.domain_xml("vm-on") is not None and snap.get("cmd:virsh_net_list") is None


def test_an_open_that_fails_with_no_cause_is_tried_once_more(monkeypatch, tmp_path):
    # libvirt's libssh2 transport, under load, can lose the remote command's exit status
    # and say only "cause is unknown" (seen in CI on the lab's hardened host)
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    real, opened = libvirt_api._open, []

    def flaky(uri, work, fails=("An error occurred, but the cause is unknown",)):
        opened.append(uri)
        if len(opened) <= len(fails):
            raise libvirt_api.libvirt.libvirtError(fails[len(opened) - 1])
        return real(uri, work)

    monkeypatch.setattr(libvirt_api, "_open", flaky)
    snap, sent = libvirt_api.collect_host(libvirt_host(f"test://{node}"))
    assert snap.status == "collected" and len(opened) == 2
    assert sent[0]["note"] == "tried again" and "cause is unknown" in sent[0]["commands"][0]
    # twice unknown: an error, not a third try; any other error: no second try
    opened.clear()
    monkeypatch.setattr(libvirt_api, "_open", lambda u, w: flaky(u, w, fails=(
        "An error occurred, but the cause is unknown",) * 2))
    snap, _ = libvirt_api.collect_host(libvirt_host(f"test://{node}"))
    assert snap.status == "error" and "cause is unknown" in snap.error and len(opened) == 2
    opened.clear()
    monkeypatch.setattr(libvirt_api, "_open", lambda u, w: flaky(u, w, fails=("Connection refused",)))
    snap, _ = libvirt_api.collect_host(libvirt_host(f"test://{node}"))
    assert snap.status == "unreachable" and len(opened) == 1


def test_collector_dispatches_on_the_connection(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    snap, sent = collect_host(libvirt_host(f"test://{node}"), CAT.controls)
    assert snap.status == "collected" and snap.identity["connection"] == "libvirt" and sent


# ---- the URI in an inventory ------------------------------------------------------------

def lab_like(tmp_path, host: str) -> str:
    write_key(tmp_path / "key")   # a real one: the inventory load checks it is a private key
    (tmp_path / "kh").write_text("")
    return textwrap.dedent(f"""\
        defaults:
          ssh: {{identity_file: key, known_hosts: kh}}
        hosts:
          {host}
        """)


def test_inventory_uri_is_completed_with_key_and_known_hosts(tmp_path):
    inv = load_text(lab_like(tmp_path, "hv: {connection: libvirt, uri: 'qemu+libssh2://a@hv.example/system'}"),
                    tmp_path / "inv.yaml")
    (host,) = inv.hosts
    assert host.connection == "libvirt" and host.address == "hv.example"
    assert host.uri == (f"qemu+libssh2://a@hv.example/system?no_tty=1&keyfile={tmp_path}/key"
                        f"&known_hosts={tmp_path}/kh")


@pytest.mark.parametrize("uri, message", [
    ("qemu+tcp://hv/system", "transport 'tcp' refused: it sends everything unencrypted"),
    ("qemu+ext:///system?command=/bin/sh", "transport 'ext' refused"),
    ("qemu+ssh://hv/system?no_verify=1", "parameter no_verify= refused: it turns host key"),
    ("qemu+libssh2://hv/system?known_hosts_verify=auto", "known_hosts_verify=auto refused"),
    ("qemu+ssh://hv/system?command=/tmp/x", "parameter command= refused"),
    ("qemu+ssh://u:pw@hv/system", "has a password"),
    ("xen+ssh://hv/system", "driver 'xen'"),
    ("qemu+ssh://hv/session", "path '/session': expected /system"),
    ("qemu+ssh://hv/system?knownhosts=x", "unknown parameter 'knownhosts'"),
    ("qemu+libssh2://hv/system?known_hosts=nope", "known_hosts: no such file: "),
    ("qemu:///system?keyfile=key", "parameter keyfile= does not apply to transport 'none'"),
    ("qemu+ssh://hv/system", "qemu+ssh runs OpenSSH, which checks host keys against ~/.ssh/known_hosts"),
])
def test_uri_mistakes_are_located_inventory_errors(tmp_path, uri, message):
    with pytest.raises(InventoryError) as caught:
        load_text(lab_like(tmp_path, f"hv: {{connection: libvirt, uri: '{uri}'}}"), tmp_path / "inv.yaml")
    assert any(e.startswith(f"{tmp_path}/inv.yaml:4: hosts.hv.uri: ") and message in e
               for e in caught.value.errors), caught.value.errors


def test_qemu_ssh_with_the_default_known_hosts_and_local_uri_are_accepted(tmp_path):
    uri, problems = libvirt_uri.check("qemu+ssh://hv/system", tmp_path)
    assert (uri, problems) == ("qemu+ssh://hv/system?no_tty=1", [])
    assert libvirt_uri.check("qemu:///system", tmp_path) == ("qemu:///system", [])
    with pytest.raises(InventoryError, match="uri: required for a libvirt host"):
        load_text("hosts:\n  hv: {connection: libvirt}\n", tmp_path / "inv.yaml")
    with pytest.raises(InventoryError, match="hosts.hv.uri: only for connection: libvirt"):
        load_text("hosts:\n  hv: {connection: local, uri: 'qemu:///system'}\n", tmp_path / "inv.yaml")
