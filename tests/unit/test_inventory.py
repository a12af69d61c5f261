"""hvconform.inputs.inventory: good inventories load; every mistake is found, located, at once."""

import sys
import types
from pathlib import Path
from textwrap import dedent

import pytest

from hvconform.inputs.inventory import InventoryError, load, load_text, parse_jump, select

ROOT = Path(__file__).resolve().parents[2]

# Lines 1-3 of every mistake below; a mistake's own lines start at 4.
HEAD = "defaults:\n  ssh: {identity_file: id_ed25519, known_hosts: known_hosts}\nhosts:\n"

LAB = """\
defaults:
  connection: ssh
  ssh:
    user: root
    port: 22
    identity_file: ../state/id_ed25519
    known_hosts: ../state/known_hosts
    jump_host: null
    connect_timeout: 10
    command_timeout: 120
  sudo: false
  facts: {tenant: lab}
policy:
  supported_releases: ["debian 12"]
  patch_sla_days: 14
groups:
  lab: [hardened, default, weak]
hosts:
  hardened:
    address: 10.213.0.11
    ssh: {user: hvaudit}
    sudo: true
    facts: {security_level: high, role: compute}
    labels: {rack: r1, slot: 3}
  default:
    address: 10.213.0.12
    facts: {tenant: other}
  weak:
    address: 10.213.0.13
    ssh: {port: 2222, jump_host: hardened, command_timeout: 30.5}
  here:
    connection: local
"""


@pytest.fixture(autouse=True)
def policy_defaults(monkeypatch):
    """A stand-in for hvconform.inputs.policy, so these tests do not follow its values."""
    defaults = {"supported_releases": ["debian 12"], "patch_sla_days": 30, "max_overcommit": 1.0,
                "fips_required": False, "allowed_services": {"sshd": "remote access"}}
    monkeypatch.setitem(sys.modules, "hvconform.inputs.policy", types.SimpleNamespace(DEFAULTS=defaults))
    return defaults


def write_key(path: Path) -> Path:
    """A real Ed25519 private key in OpenSSH format, readable by its owner only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def write_known_hosts(path: Path) -> Path:
    """A well-formed known_hosts file: one host, one real Ed25519 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    path.write_text(f"# a comment\n10.0.0.1 {pub}\n")
    return path


@pytest.fixture
def site(tmp_path):
    """tmp/site/inv.yaml's folder, with a key and a known_hosts beside it."""
    (tmp_path / "site").mkdir()
    write_key(tmp_path / "site" / "id_ed25519")
    write_known_hosts(tmp_path / "site" / "known_hosts")
    return tmp_path / "site"


def errors_of(site, text):
    """The problems load_text() reports, with the file named inv.yaml and the folder TMP."""
    with pytest.raises(InventoryError) as caught:
        load_text(text, site / "inv.yaml")
    assert str(caught.value) == "\n".join(caught.value.errors)
    return [e.replace(f"{site}/inv.yaml", "inv.yaml").replace(str(site), "TMP") for e in caught.value.errors]


def test_lab_inventory_loads_with_defaults_merged_and_paths_resolved(tmp_path, monkeypatch):
    (tmp_path / "state").mkdir()
    write_key(tmp_path / "state" / "id_ed25519")
    write_known_hosts(tmp_path / "state" / "known_hosts")
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "lab.yaml").write_text(LAB)
    monkeypatch.chdir(tmp_path / "state")  # paths follow the file, not the working directory
    inv = load("../inventories/lab.yaml")

    assert [h.name for h in inv.hosts] == ["hardened", "default", "weak", "here"]
    hardened, default, weak, here = inv.hosts
    assert hardened.ssh.user == "hvaudit" and hardened.ssh.port == 22  # ssh merged key by key
    assert hardened.ssh.identity_file == tmp_path / "state" / "id_ed25519"
    assert weak.ssh.known_hosts == tmp_path / "state" / "known_hosts"
    assert (weak.ssh.user, weak.ssh.port, weak.ssh.jump_host) == ("root", 2222, "hardened")
    assert (weak.ssh.connect_timeout, weak.ssh.command_timeout) == (10.0, 30.5)
    assert hardened.sudo and not weak.sudo
    assert hardened.facts == {"tenant": "lab", "security_level": "high", "role": "compute"}
    assert default.facts == {"tenant": "other"}
    assert hardened.labels == {"rack": "r1", "slot": 3}
    assert hardened.groups == ["lab"] and here.groups == []
    assert (here.connection, here.address) == ("local", "")
    assert hardened.source == "../inventories/lab.yaml:19" and here.source.endswith(":31")
    assert inv.policy == {"supported_releases": ["debian 12"], "patch_sla_days": 14}
    assert inv.groups == {"lab": ["hardened", "default", "weak"]}
    assert inv.host("weak") is weak and inv.host("nope") is None


def test_local_inventory_loads():
    inv = load(ROOT / "inventories" / "local.yaml")
    assert [(h.name, h.connection) for h in inv.hosts] == [("local", "local")]
    assert inv.policy == {} and inv.groups == {}


def test_site_example_loads_once_its_key_files_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InventoryError) as caught:
        load(ROOT / "inventories" / "site.example.yaml")
    assert [e.split(": ")[1] for e in caught.value.errors] == ["defaults.ssh.identity_file",
                                                               "defaults.ssh.known_hosts"]
    (tmp_path / ".ssh").mkdir()
    write_key(tmp_path / ".ssh" / "hvaudit_ed25519")
    write_known_hosts(tmp_path / ".ssh" / "hvaudit_known_hosts")
    inv = load(ROOT / "inventories" / "site.example.yaml")
    bastion, hv_a, hv_b, hv_c = inv.hosts
    assert (bastion.ssh.jump_host, hv_a.ssh.jump_host, hv_b.ssh.port) == (None, "bastion", 2222)
    assert (hv_c.connection, hv_c.address) == ("libvirt", "hv-c.example.net")
    assert hv_c.uri == (f"qemu+libssh2://hvaudit@hv-c.example.net/system?sshauth=privkey&no_tty=1&"
                        f"keyfile={tmp_path}/.ssh/hvaudit_ed25519&known_hosts={tmp_path}/.ssh/hvaudit_known_hosts")
    assert hv_a.ssh.identity_file == tmp_path / ".ssh" / "hvaudit_ed25519"
    assert hv_b.facts == {"tenant": "acme", "security_level": "high", "role": "compute"}
    assert select(inv, "compute") == [hv_a, hv_b]


@pytest.mark.parametrize("body, expected", [
    ("  weak:\n    address: 10.0.0.3\n    ssh:\n      port: abc\n",
     "inv.yaml:7: hosts.weak.ssh.port: expected an integer from 1 to 65535, got 'abc'"),
    ("  a:\n    address: x\n    ssh: {port: 70000}\n",
     "inv.yaml:6: hosts.a.ssh.port: expected an integer from 1 to 65535, got 70000"),
    ("  a:\n    address: x\n    ssh: {port: true}\n",
     "inv.yaml:6: hosts.a.ssh.port: expected an integer from 1 to 65535, got True"),
    ("  a:\n    address: x\n    adress: y\n",
     "inv.yaml:6: hosts.a.adress: unknown key (did you mean 'address'?); "
     "known keys: connection, address, uri, ssh, sudo, facts, labels, vms"),
    ("  a:\n    address: x\n    ssh:\n      usr: root\n",
     "inv.yaml:7: hosts.a.ssh.usr: unknown key (did you mean 'user'?); known keys: user, port, "
     "identity_file, known_hosts, jump_host, connect_timeout, command_timeout, "
     "max_command_output, max_host_output"),
    ("  a:\n    sudo: true\n",
     "inv.yaml:4: hosts.a.address: required for an ssh host (or set connection: local)"),
    ("  a:\n    connection: winrm\n",  # and no complaint about a missing address
     "inv.yaml:5: hosts.a.connection: expected ssh, local or libvirt, got 'winrm'"),
    ("  a:\n    address: x\n    sudo: 'yes'\n",
     "inv.yaml:6: hosts.a.sudo: expected true or false, got 'yes'"),
    ("  a:\n    address: x\n    ssh: {connect_timeout: 0}\n",
     "inv.yaml:6: hosts.a.ssh.connect_timeout: expected a number of seconds greater than 0, "
     "at most 300, got 0"),
    ("  a:\n    address: x\n    ssh: {command_timeout: 2m}\n",
     "inv.yaml:6: hosts.a.ssh.command_timeout: expected a number of seconds greater than 0, "
     "at most 3600, got '2m'"),
    ("  a:\n    address: x\n    facts:\n      security_level: 3\n",
     "inv.yaml:7: hosts.a.facts.security_level: expected a string, got 3"),
    ("  a:\n    address: x\n    facts: {colour: red}\n",
     "inv.yaml:6: hosts.a.facts.colour: unknown key; known keys: security_level, tenant, role; "
     "free-form ones go under labels:"),
    ("  a:\n    address: x\n    labels: {rack: [1, 2]}\n",
     "inv.yaml:6: hosts.a.labels.rack: expected a string, number or true/false, got [1, 2]"),
    ("  hv a:\n    address: x\n",
     "inv.yaml:4: hosts.hv a: host name 'hv a': use only letters, digits, '.', '_' and '-' "
     "(at most 128), not starting with '.' or '-' (it becomes a test id and a file name)"),
    ("  a:\n    address: -oProxyCommand=x\n",  # ssh would read it as an option
     "inv.yaml:5: hosts.a.address: expected a host name or IP address, got '-oProxyCommand=x'"),
    ("  a: 10.0.0.1\n", "inv.yaml:4: hosts.a: expected a mapping, got '10.0.0.1'"),
    ("  a:\n    address: x\n    ssh: root@x\n", "inv.yaml:6: hosts.a.ssh: expected a mapping, got 'root@x'"),
    ("  a:\n    address: x\n    ssh: {jump_host: 'a b'}\n",
     "inv.yaml:6: hosts.a.ssh.jump_host: 'a b' names no host in this inventory and is not "
     "[user@]host[:port]"),
    ("  a:\n    address: x\n    ssh: {jump_host: 'u@gw:99999'}\n",
     "inv.yaml:6: hosts.a.ssh.jump_host: 'u@gw:99999' names no host in this inventory and is not "
     "[user@]host[:port]"),
    ("  a:\n    address: x\n    ssh: {jump_host: l}\n  l:\n    connection: local\n",
     "inv.yaml:6: hosts.a.ssh.jump_host: jump host 'l' has connection: local"),
    ("  a:\n    address: x\n    ssh: {identity_file: nope}\n",
     "inv.yaml:6: hosts.a.ssh.identity_file: no such file: TMP/nope"),
    ("  a:\n    address: x\n    ssh: {known_hosts: nope}\n",
     "inv.yaml:6: hosts.a.ssh.known_hosts: no such file: TMP/nope (host keys are verified "
     "against it; used by a)"),
    ("  a:\n    address: x\n    ssh: {known_hosts: [kh]}\n",
     "inv.yaml:6: hosts.a.ssh.known_hosts: expected a file path, got ['kh']"),
    ("  a:\n    address: x\n    ssh: {user: '-l root'}\n",
     "inv.yaml:6: hosts.a.ssh.user: expected a user name (letters, digits, . _ -), got '-l root'"),
])
def test_each_mistake_is_located(site, body, expected):
    assert errors_of(site, HEAD + body) == [expected]


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf", "1e9", "301", "86400"])
def test_connect_timeout_inf_is_refused_not_waited_for(site, value):
    """Issue 10: `connect_timeout: .inf` hung the run; every timeout is bounded."""
    errors = errors_of(site, HEAD + f"  a:\n    address: x\n    ssh: {{connect_timeout: {value}}}\n")
    assert len(errors) == 1 and errors[0].startswith(
        "inv.yaml:6: hosts.a.ssh.connect_timeout: expected a number of seconds greater than 0, "
        "at most 300, got "), errors
    if value not in ("301",):
        errors = errors_of(site, HEAD + f"  a:\n    address: x\n    ssh: {{command_timeout: {value}}}\n")
        assert "ssh.command_timeout: expected a number of seconds greater than 0, at most 3600" \
            in errors[0]


def test_vms_a_host_should_have_with_their_facts(site):
    text = HEAD + ("  a:\n    address: x\n    vms:\n      - web1\n"
                   "      - {name: db1, tenant: acme, security_level: high}\n  b:\n    address: y\n")
    a, b = load_text(text, site / "inv.yaml").hosts
    assert a.vms == {"web1": {}, "db1": {"tenant": "acme", "security_level": "high"}}
    assert b.vms is None  # not listed: nothing to reconcile


@pytest.mark.parametrize("vms, expected", [
    ("web1", ["inv.yaml:6: hosts.a.vms: expected a list of VM names or {name: ..., tenant: ..., "
              "security_level: ...}, got 'web1'"]),
    ("[web1, web1]", ["inv.yaml:6: hosts.a.vms[1]: VM 'web1' is listed twice"]),
    ("[a/b, 3]", ["inv.yaml:6: hosts.a.vms[0]: expected a libvirt domain name (no '/'), got 'a/b'",
                  "inv.yaml:6: hosts.a.vms[1]: expected a libvirt domain name (no '/'), got 3"]),
    ("\n      - {tenant: acme}\n      - {name: x, tennant: acme}\n      - {name: y, security_level: 2}",
     ["inv.yaml:7: hosts.a.vms[0]: a VM needs a name",
      "inv.yaml:8: hosts.a.vms[1].tennant: unknown key (did you mean 'tenant'?); "
      "known keys: name, security_level, tenant, role",
      "inv.yaml:9: hosts.a.vms[2].security_level: expected a string, got 2"]),
])
def test_vm_mistakes_are_located(site, vms, expected):
    assert errors_of(site, HEAD + f"  a:\n    address: x\n    vms: {vms}\n") == expected


def test_vms_are_per_host_not_defaults(site):
    text = "defaults:\n  vms: [x]\nhosts:\n  a: {connection: local}\n"
    [error] = errors_of(site, text)
    assert error.startswith("inv.yaml:2: defaults.vms: unknown key; known keys: connection, ssh,")


@pytest.mark.parametrize("groups, expected", [
    ("  all: [a, b, c]\n", ["inv.yaml:9: groups.all[2]: unknown host 'c'; hosts: a, b"]),
    ("  g: [a]\n  h: [aa, g]\n", ["inv.yaml:10: groups.h[0]: unknown host 'aa' (did you mean 'a'?); hosts: a, b",
                                  "inv.yaml:10: groups.h[1]: 'g' is a group; groups list hosts only"]),
    ("  a: [b]\n", ["inv.yaml:9: groups.a: a host has this name too; --limit could not tell them apart"]),
    ("  g: a\n", ["inv.yaml:9: groups.g: expected a list of host names, got 'a'"]),
    ("  g/1: [a]\n", ["inv.yaml:9: groups.g/1: group name 'g/1': use only letters, digits, '.', '_' "
                      "and '-' (at most 128), not starting with '.' or '-' (it becomes a test id "
                      "and a file name)"]),
])
def test_group_mistakes(site, groups, expected):
    text = HEAD + "  a:\n    address: x\n  b:\n    address: y\ngroups:\n" + groups
    assert errors_of(site, text) == expected


@pytest.mark.parametrize("policy, expected", [
    ("  patch_sla: 14\n", "inv.yaml:7: policy.patch_sla: unknown key (did you mean 'patch_sla_days'?); "
     "known keys: supported_releases, patch_sla_days, max_overcommit, fips_required, allowed_services"),
    ("  supported_releases: debian 12\n", "inv.yaml:7: policy.supported_releases: expected a list like "
     "the default ['debian 12'], got 'debian 12'"),
    ("  supported_releases:\n    - debian 12\n    - 24.04\n", "inv.yaml:9: policy.supported_releases[1]: "
     "expected a string like the default's items, got 24.04"),
    ("  patch_sla_days: 14.5\n", "inv.yaml:7: policy.patch_sla_days: expected an integer like the "
     "default 30, got 14.5"),
    ("  fips_required: 1\n", "inv.yaml:7: policy.fips_required: expected true or false like the "
     "default False, got 1"),
    ("  allowed_services: [sshd]\n", "inv.yaml:7: policy.allowed_services: expected a mapping like the "
     "default {'sshd': 'remote access'}, got ['sshd']"),
])
def test_policy_mistakes(site, policy, expected):
    text = HEAD + "  a:\n    address: x\npolicy:\n" + policy
    assert errors_of(site, text) == [expected]


def test_policy_number_accepts_an_integer(site):
    inv = load_text(HEAD + "  a:\n    address: x\npolicy:\n  max_overcommit: 2\n", site / "inv.yaml")
    assert inv.policy == {"max_overcommit": 2}


@pytest.mark.parametrize("text, expected", [
    ("", "inv.yaml:1: the file is empty; expected a mapping with 'hosts:'"),
    ("# nothing yet\n", "inv.yaml:1: the file is empty; expected a mapping with 'hosts:'"),
    ("- a\n- b\n", "inv.yaml:1: expected a mapping with keys defaults, policy, groups, hosts, overlays, got a list"),
    ("hosts:\n  a:\n    address: x\n   sudo: true\n", "inv.yaml:4: not valid YAML: while parsing a block "
     "mapping, expected <block end>, but found '<block mapping start>' (see line 2)"),
    ("hosts:\n  a: {connection: local}\n  a: {connection: local}\n", "inv.yaml:3: duplicate key 'a'"),
    ("hosts:\n", "inv.yaml:1: hosts: no hosts declared: add a mapping of host names to their settings"),
])
def test_file_level_mistakes(site, text, expected):
    assert errors_of(site, text) == [expected]


def test_every_mistake_is_reported_at_once_in_file_order(site):
    text = dedent("""\
        defaults:
          ssh: {identity_file: missing_key, known_hosts: known_hosts, port: 0}
        hosts:
          weak:
            address: 10.0.0.3
            ssh: {port: abc}
            sudo: maybe
          nameless:
            connection: ssh
        groups:
          lab: [weak, strong]
        policy:
          colour: blue
        extra: 1
        """)
    assert errors_of(site, text) == [
        "inv.yaml:2: defaults.ssh.port: expected an integer from 1 to 65535, got 0",
        "inv.yaml:2: defaults.ssh.identity_file: no such file: TMP/missing_key",
        "inv.yaml:6: hosts.weak.ssh.port: expected an integer from 1 to 65535, got 'abc'",
        "inv.yaml:7: hosts.weak.sudo: expected true or false, got 'maybe'",
        "inv.yaml:8: hosts.nameless.address: required for an ssh host (or set connection: local)",
        "inv.yaml:11: groups.lab[1]: unknown host 'strong'; hosts: weak, nameless",
        "inv.yaml:13: policy.colour: unknown key; known keys: supported_releases, patch_sla_days, "
        "max_overcommit, fips_required, allowed_services",
        "inv.yaml:14: extra: unknown key; known keys: defaults, policy, groups, hosts, overlays",
    ]


def test_missing_known_hosts_is_reported_once_where_written_and_not_for_local_hosts(site):
    text = (HEAD.replace("known_hosts: known_hosts", "known_hosts: gone")
            + "  a: {address: x}\n  b: {address: y}\n  here: {connection: local}\n")
    assert errors_of(site, text) == [
        "inv.yaml:2: defaults.ssh.known_hosts: no such file: TMP/gone (host keys are verified "
        "against it; used by a, b)"]
    inv = load_text(text.split("  a:")[0] + "  here: {connection: local}\n", site / "inv.yaml")
    assert inv.hosts[0].ssh.known_hosts == site / "gone"  # kept, unused


def test_known_hosts_defaults_to_the_users_own(site, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    text = "hosts:\n  a: {address: x}\n  b: {address: y}\n"
    assert errors_of(site, text) == [f"inv.yaml:2: hosts.a.ssh.known_hosts: not set, and ssh's default "
                                     f"{tmp_path}/.ssh/known_hosts does not exist (host keys are verified "
                                     "against it; used by a, b)"]
    (tmp_path / ".ssh").mkdir()
    write_known_hosts(tmp_path / ".ssh" / "known_hosts")
    assert load_text(text, site / "inv.yaml").hosts[0].ssh.known_hosts == tmp_path / ".ssh" / "known_hosts"


def test_absolute_and_home_paths_are_kept(site, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(site))
    text = f"hosts:\n  a:\n    address: x\n    ssh: {{identity_file: ~/id_ed25519, known_hosts: {site}/known_hosts}}\n"
    ssh = load_text(text, tmp_path / "elsewhere" / "inv.yaml").hosts[0].ssh
    assert (ssh.identity_file, ssh.known_hosts) == (site / "id_ed25519", site / "known_hosts")


def test_jump_hosts_that_go_in_a_circle(site):
    text = HEAD.replace("}", ", jump_host: gw}") + "  gw: {address: gw.example}\n  a: {address: x}\n"
    assert errors_of(site, text) == [
        "inv.yaml:4: hosts.gw.ssh.jump_host: jumps in a circle: gw -> gw (a jump host inherited "
        "from defaults may need `jump_host: null`)"]
    fixed = text.replace("{address: gw.example}", "{address: gw.example, ssh: {jump_host: null}}")
    gw, a = load_text(fixed, site / "inv.yaml").hosts
    assert (gw.ssh.jump_host, a.ssh.jump_host) == (None, "gw")


def test_yaml_merge_keys_work(site):
    text = HEAD + "  a: &hv\n    address: x\n    facts: {role: compute}\n  b:\n    <<: *hv\n    address: y\n"
    a, b = load_text(text, site / "inv.yaml").hosts
    assert (b.address, b.facts) == ("y", {"role": "compute"})


def test_unreadable_files_are_reported(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"hosts: \xff\n")
    for path, message in [(tmp_path / "bin.yaml", "not UTF-8 text"), (tmp_path / "no.yaml", "cannot read")]:
        with pytest.raises(InventoryError) as caught:
            load(path)
        assert caught.value.errors == [f"{path}: {message}" + caught.value.errors[0].split(message)[1]]


@pytest.mark.parametrize("spec, parsed", [
    ("gw", (None, "gw", None)), ("audit@gw.example:2222", ("audit", "gw.example", 2222)),
    ("[fe80::1]:22", (None, "fe80::1", 22)), ("fe80::1", None), ("a b", None), ("u@h:0", None),
])
def test_parse_jump(spec, parsed):
    assert parse_jump(spec) == parsed


@pytest.fixture
def three_hosts(site):
    text = HEAD + "  h1: {address: a}\n  h2: {address: b}\n  h3: {address: c}\ngroups:\n  odd: [h3, h1]\n"
    return load_text(text, site / "inv.yaml")


@pytest.mark.parametrize("wanted, names", [
    ("h2", ["h2"]), ("odd", ["h1", "h3"]), ("h3,odd, h2", ["h1", "h2", "h3"]), (["h1", "h1"], ["h1"]),
    ("", ["h1", "h2", "h3"]), (None, ["h1", "h2", "h3"]),
])
def test_select_by_host_and_group_in_inventory_order(three_hosts, wanted, names):
    assert [h.name for h in select(three_hosts, wanted)] == names


def test_select_reports_every_unknown_name(three_hosts, site):
    with pytest.raises(InventoryError) as caught:
        select(three_hosts, "h1,h11,even")
    assert caught.value.errors == [
        f"{site}/inv.yaml: no host or group named 'h11' (did you mean 'h1'?) (hosts: h1, h2, h3; groups: odd)",
        f"{site}/inv.yaml: no host or group named 'even' (hosts: h1, h2, h3; groups: odd)"]


def test_our_inventory_file_is_parsed_once_with_the_format_sniff(site, monkeypatch):
    """Telling our format from Ansible's parses the file; a fleet's inventory (1,000 hosts:
    ~0.7 s) is not parsed a second time. A file past the sniff's limit still is, whole."""
    from hvconform.inputs import ansible_inventory, inventory, yamlload

    path = site / "inv.yaml"
    path.write_text(LAB.replace("../state/", ""))
    names = [h.name for h in load(path).hosts]
    calls = []

    def counting(path, text=None):
        calls.append(len(text) if text is not None else None)
        return yamlload.load_located(path, text)

    monkeypatch.setattr(ansible_inventory, "load_located", counting)
    monkeypatch.setattr(inventory, "load_located", counting)
    assert [h.name for h in load(path).hosts] == names
    assert len(calls) == 1
    calls.clear()
    monkeypatch.setattr(ansible_inventory, "SNIFF_LIMIT", len(path.read_bytes()) - 1)
    assert [h.name for h in load(path).hosts] == names
    assert len(calls) == 2 and calls[1] is None     # the whole file, by our loader
