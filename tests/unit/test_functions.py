"""Bespoke checks: registration, policy-dependent needs, and each function's edge cases."""

import pytest

from hvconform.inputs import catalog
from hvconform.judge import engine
from hvconform.model import verdict as v
from hvconform.judge.functions import registry
from hvconform.judge.kinds import function as function_kind
from hvconform.inputs.policy import DEFAULTS, effective
from tests.cases import NO_SYSTEMD
from tests.snapshots import domain, snap

DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
RHEL_94 = 'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\nVERSION_ID="9.4"\n'


def judge(function, s, vm=None):
    return function_kind.judge({"kind": "function", "function": function}, s, vm)


def test_every_registered_function_belongs_to_a_catalog_row_with_its_id():
    rows = {c.check["function"]: c.id for c in catalog.load().controls if c.kind == "function"}
    assert rows == {name: entry.control_id for name, entry in registry.REGISTRY.items()}


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError):
        registry.control("HOST-001")(registry.REGISTRY["supported_release"].function)


def test_effective_overlays_the_host_policy_on_defaults():
    policy = effective(snap(policy={"backup_rpo_hours": 4}).policy)
    assert policy["backup_rpo_hours"] == 4 and policy["backup_manifest"] == DEFAULTS["backup_manifest"]
    assert effective(snap().policy) == effective(None) == DEFAULTS


def test_validate_and_needs():
    assert function_kind.validate({"kind": "function", "function": "nope"})
    assert function_kind.validate({"kind": "function", "function": "supported_release", "x": 1})
    assert function_kind.needs({"function": "supported_release"}) == [("cat", "/etc/os-release")]
    assert ("cat", "/srv/m") in function_kind.needs({"function": "config_in_backup_set"},
                                                    {**DEFAULTS, "backup_manifest": "/srv/m"})


def test_needs_expand_vm_placeholders_and_policy():
    control = catalog.load().by_id("BKP-002")
    assert engine.needs([control], DEFAULTS, ["vm1", "vm2"]) == [
        ("cat", "/var/backups/libvirt/vm1.xml"), ("cat", "/var/backups/libvirt/vm2.xml")]
    assert engine.needs([control], DEFAULTS, []) == []
    manifest = catalog.load().by_id("BKP-001")
    assert engine.needs([manifest], {"backup_manifest": "/srv/list"})[-1] == ("cat", "/srv/list")


# HOST-001 ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, started, status", [
    (DEBIAN_12, "2025-06-01T00:00:00+00:00", v.PASS),
    (RHEL_94, "2025-06-01T00:00:00+00:00", v.PASS),                 # "rhel 9" covers 9.4
    ('ID=debian\nVERSION_ID="10"\n', "2025-06-01T00:00:00+00:00", v.FAIL),
    ('ID=ubuntu\nVERSION_ID="22.10"\n', "2025-06-01T00:00:00+00:00", v.FAIL),
    (DEBIAN_12, "2028-07-01T00:00:00+00:00", v.FAIL),               # past end of support
    (DEBIAN_12, "", v.PASS),                                         # date unknown: said so
])
def test_supported_release(text, started, status):
    verdict = judge("supported_release", snap(files={"/etc/os-release": text}, started=started))
    assert verdict.status == status


def test_supported_release_evidence_and_policy_overlay():
    s = snap(files={"/etc/os-release": DEBIAN_12}, policy={"supported_releases": ["debian 13"]})
    verdict = judge("supported_release", s)
    assert verdict.status == v.FAIL and verdict.actual == "debian 12"
    assert verdict.evidence[0].excerpt == "/etc/os-release:4: ID=debian\n/etc/os-release:3: VERSION_ID=12"
    assert judge("supported_release", snap(files={"/etc/os-release": None})).status == v.FAIL
    assert judge("supported_release", snap()).status == v.ERROR


# KMAC-004 ------------------------------------------------------------------------------
CAPS = ("<capabilities><host><uuid>x</uuid>{}</host></capabilities>")
SECMODEL = "<secmodel><model>{}</model><doi>0</doi></secmodel>"


@pytest.mark.parametrize("models, status", [
    (["selinux", "dac"], v.PASS), (["apparmor", "dac"], v.PASS), (["dac"], v.FAIL),
    (["none"], v.FAIL), ([], v.FAIL)])
def test_mac_security_model(models, status):
    caps = CAPS.format("".join(SECMODEL.format(m) for m in models))
    assert judge("mac_security_model", snap(capabilities=caps)).status == status


def test_mac_security_model_errors():
    assert judge("mac_security_model", snap()).status == v.ERROR
    assert judge("mac_security_model", snap(capabilities="<capabilities>")).status == v.ERROR
    assert judge("mac_security_model", snap(capabilities=(1, "", "error: failed to connect"))).status == v.ERROR


# LOG-001 / LOG-002 -----------------------------------------------------------------------
PS_AUDITD = "    1     0 root     init            /sbin/init\n  612     0 root     auditd          /sbin/auditd\n"
PS_NONE = "    1     0 root     init            /sbin/init\n  613     0 root     auditdx         /x\n"
GOOD_CMDLINE = "ro quiet audit=1 audit_backlog_limit=8192\n"


@pytest.mark.parametrize("ps, cmdline, status", [
    (PS_AUDITD, GOOD_CMDLINE, v.PASS),
    (PS_NONE, GOOD_CMDLINE, v.FAIL),
    (PS_AUDITD, "ro quiet audit=1\n", v.FAIL),
    (PS_AUDITD, "ro audit=1 audit_backlog_limit=64\n", v.FAIL),
    (PS_AUDITD, "ro audit_backlog_limit=8192 -- audit=1\n", v.FAIL),   # init's, not the kernel's
])
def test_auditd_active(ps, cmdline, status):
    assert judge("auditd_active", snap(ps=ps, files={"/proc/cmdline": cmdline})).status == status


def test_auditd_active_not_collected():
    assert judge("auditd_active", snap(files={"/proc/cmdline": GOOD_CMDLINE})).status == v.ERROR


DCONF = "/etc/libvirt/libvirtd.conf"
PS_LIBVIRTD_LINE = "   62     0 root     libvirtd        libvirtd -d --listen\n"


@pytest.mark.parametrize("conf, ps, status", [
    ("audit_level = 2\n", PS_NONE, v.PASS),
    ("", PS_AUDITD, v.PASS),                # default 1 with auditd
    ("", PS_NONE, v.FAIL),                  # default 1 without auditd: nothing audited
    ("audit_level = 0\n", PS_AUDITD, v.FAIL),
    (None, PS_AUDITD, v.NOT_APPLICABLE),
    ("audit_level = \n", PS_AUDITD, v.ERROR),
])
def test_libvirt_audit_level(conf, ps, status):
    # a monolithic host as in the lab (libvirtd --listen, no systemd): $DCONF = libvirtd.conf
    host = snap(files={DCONF: conf, "/etc/libvirt/virtqemud.conf": None}, ps=ps + PS_LIBVIRTD_LINE,
                cmds={"systemctl_libvirt_active": NO_SYSTEMD})
    assert judge("libvirt_audit_level", host).status == status


# BKP-002 ---------------------------------------------------------------------------------
EXPORT = "/var/backups/libvirt/vm1.xml"
VNC = "<graphics type='vnc' port='-1' passwd='{}'/>"


def test_definition_export_equal_ignoring_passwords_comments_and_layout():
    current = domain(VNC.format("[REDACTED]"))
    export = "<!-- exported -->\n" + domain(VNC.format("s3cret")).replace("\n    ", "\n")
    verdict = judge("definition_export_current", snap(domains={"vm1": current}, files={EXPORT: export}), "vm1")
    assert verdict.status == v.PASS


def export_verdict(current, export=...):
    files = {} if export is ... else {EXPORT: export}
    return judge("definition_export_current", snap(domains={"vm1": current}, files=files), "vm1")


def test_definition_export_stale_missing_or_broken():
    current = domain("<shmem name='x'/>")
    verdict = export_verdict(current, domain())
    assert verdict.status == v.FAIL and verdict.actual.startswith("backup copy differs at /domain/devices")
    assert export_verdict(current, None).status == v.FAIL
    assert export_verdict(current, "<dom").status == v.FAIL
    assert export_verdict(current).status == v.ERROR
