"""Inventory: the hosts to audit and how to reach them, from our YAML or an Ansible inventory.

    inv = load("inventories/site.yaml")    # InventoryError lists every problem at once
    inv = load("ansible:hosts.ini")        # an Ansible inventory, through ansible-inventory
    targets = select(inv, "hardened,lab")  # what `--limit hardened,lab` asks for

Our format, annotated: inventories/site.example.yaml. Everything is checked here, before
any connection, so a typo never turns into a half-run audit. Each problem names
file:line and the dotted key: `lab.yaml:14: hosts.weak.ssh.port: expected ...`.
Which format a path is: hvconform/inputs/ansible_inventory.py `kind_of()` (a YAML file
with a top-level `hosts:` mapping is ours; `ansible:` / `hvconform:` force either).
An Ansible inventory is mapped and checked by the same rules, host by host: a host
whose variables are wrong is kept with its `problem`, and collection reports it as an
error without contacting it, so the other hosts are still audited.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.inputs import ansible_inventory
from hvconform.inputs import inventory_schema as rules
from hvconform.inputs.inventory_schema import DEFAULTS_KEYS, HOST_KEYS, TOP_KEYS
from hvconform.inputs.yamlload import LocatedError, load_located

# 'user@host:port' -> (user, host, port), the same reading load() validated; for the transport.
parse_jump = rules.parse_jump


# Output caps (bytes) while reading a host (hvconform.collect.channels): the largest
# artifact of the lab snapshots is 171 KB (a process table) and the largest host 0.5 MB;
# a big hypervisor's process table or firewall ruleset can be 100x that. Output past
# these is a hostile or broken host: it becomes an error naming the cap, which a site
# raises per host or in defaults (ssh: {max_command_output: 64MiB}).
MAX_COMMAND_OUTPUT = 16 << 20
MAX_HOST_OUTPUT = 64 << 20


@dataclass(frozen=True)
class SSHSettings:
    user: str = field(default_factory=getpass.getuser)  # as ssh does: the local user
    port: int = 22
    identity_file: Path | None = None  # None: none given
    known_hosts: Path | None = None  # load() fills in ~/.ssh/known_hosts for ssh hosts
    jump_host: str | None = None  # an inventory host's name, or [user@]host[:port]
    connect_timeout: float = 10.0
    command_timeout: float = 120.0  # per round trip
    max_command_output: int = MAX_COMMAND_OUTPUT  # bytes of one command's output
    max_host_output: int = MAX_HOST_OUTPUT  # bytes of all a host sends


@dataclass(frozen=True)
class Host:
    name: str
    connection: str  # "ssh" | "local" | "libvirt" (the libvirt API alone: collect/libvirt_api.py)
    address: str  # "" for connection: local; a libvirt host's: its URI's host
    ssh: SSHSettings
    sudo: bool = False  # commands run as `sudo -n`
    facts: dict = field(default_factory=dict)  # security_level, tenant, role
    labels: dict = field(default_factory=dict)  # the site's own, free-form
    groups: list[str] = field(default_factory=list)
    source: str = ""  # "inventories/lab.yaml:14": where the host is declared
    # VMs the site expects here, {name: facts}; None when the inventory does not list them
    vms: dict | None = None
    uri: str = ""  # connection: libvirt: the URI opened read-only, checked and completed
    policy: dict = field(default_factory=dict)  # this host's own values over the inventory's
    # Why this host cannot be collected (a bad variable in an Ansible inventory): it is
    # reported as an error, never contacted, and the other hosts are still audited.
    problem: str | None = None


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: list[Host]
    policy: dict = field(default_factory=dict)  # this file's values; defaults are added elsewhere
    groups: dict[str, list[str]] = field(default_factory=dict)
    overlays: list[Path] = field(default_factory=list)  # site catalog overlays (inputs/overlay.py)
    format: str = "hvconform"  # or "ansible": read through ansible-inventory
    source: str = ""  # what was given (an Ansible one may be a folder or a program)

    def problems(self) -> list[str]:
        """One line per host that cannot be collected, and why."""
        return [h.problem for h in self.hosts if h.problem]

    def host(self, name: str) -> Host | None:
        """The host called `name` (e.g. to follow a jump_host), or None."""
        return next((h for h in self.hosts if h.name == name), None)


class InventoryError(Exception):
    """Every problem found, each 'file:line: dotted.key: message', in file order."""

    def __init__(self, errors: list[str], hint: str | None = None):
        self.errors = list(errors)
        self.hint = hint   # e.g. why the file was read as our format, not Ansible's
        super().__init__("\n".join(self.errors + ([f"note: {hint}"] if hint else [])))


def load(path: str | Path) -> Inventory:
    """Read and check the inventory at `path`, ours or Ansible's; raise InventoryError
    listing all problems that concern the whole inventory (a host's own are its `problem`)."""
    kind, real, why, parsed = ansible_inventory.sniff(str(path))
    if kind == ansible_inventory.ANSIBLE:
        return _from_ansible(str(path), real)
    try:
        return _parse(Path(real), None, parsed)
    except InventoryError as exc:
        if why.startswith("the "):   # the hvconform: prefix: no guess was made
            raise
        # a wrong guess must be impossible to miss: say why the file was read as ours
        raise InventoryError(exc.errors, ansible_inventory.OURS_HINT.format(path=real, why=why)) from None


def load_text(text: str, name: str | Path = "inventory.yaml") -> Inventory:
    """As load(), from `text`; errors name `name` and relative paths resolve from its folder."""
    return _parse(Path(name), text)


def select(inventory: Inventory, names_or_groups) -> list[Host]:
    """Hosts named directly or through a group, in inventory order.

    `names_or_groups` is a list or a comma-separated string ("hardened,lab"); empty or
    None selects every host. Unknown names raise InventoryError, all of them at once.
    """
    if isinstance(names_or_groups, str):
        names_or_groups = names_or_groups.split(",")
    names = [n.strip() for n in names_or_groups or () if n.strip()]
    if not names:
        return list(inventory.hosts)
    hosts, groups = [h.name for h in inventory.hosts], list(inventory.groups)
    wanted, errors = set(), []
    for name in names:
        if name in inventory.groups:
            wanted.update(inventory.groups[name])
        elif name in hosts:
            wanted.add(name)
        else:
            errors.append(f"{inventory.path}: no host or group named {name!r}"
                          f"{rules.suggest(name, hosts + groups)} (hosts: {', '.join(hosts)}; "
                          f"groups: {', '.join(groups) or 'none'})")
    if errors:
        raise InventoryError(errors)
    return [h for h in inventory.hosts if h.name in wanted]


def _parse(path: Path, text: str | None, parsed: tuple | None = None) -> Inventory:
    """`parsed`: the file's (document, lines), when the format sniff already parsed it."""
    try:
        doc, lines = parsed or load_located(path, text)
    except LocatedError as exc:
        raise InventoryError([str(exc)]) from None
    if doc is None:
        raise InventoryError([f"{path}:1: the file is empty; expected a mapping with 'hosts:'"])
    if not isinstance(doc, dict):
        raise InventoryError([f"{path}:1: expected a mapping with keys {', '.join(TOP_KEYS)}, "
                              f"got {rules.kind(doc)}"])
    check = rules.Check(path, lines)
    doc = check.keys((), doc, TOP_KEYS)
    base = Path(os.path.abspath(path)).parent  # relative paths are relative to the file
    defaults = rules.section(check, ("defaults",), doc.get("defaults"), DEFAULTS_KEYS, base) or {}
    raw_hosts = doc.get("hosts")
    if raw_hosts is None or raw_hosts == {}:
        check(("hosts",), "no hosts declared: add a mapping of host names to their settings")
    names = [n for n in check.keys(("hosts",), raw_hosts, None)
             if rules.name_ok(check, ("hosts", n), n, "host")]
    own = {n: rules.section(check, ("hosts", n), raw_hosts[n], HOST_KEYS, base) for n in names}
    # A host that is not even a mapping was reported; checking it further only adds noise.
    own = {n: settings for n, settings in own.items() if settings is not None}
    merged = {name: _merge(defaults, settings) for name, settings in own.items()}
    rules.connections(check, defaults, own, merged)
    rules.libvirt_hosts(check, merged, base)
    groups = rules.groups(check, doc.get("groups"), names)
    policy = rules.policy(check, doc.get("policy"))
    overlays = rules.overlays(check, doc.get("overlays"), base)
    if check.errors:
        raise InventoryError(check.sorted_errors())
    hosts = [_host(name, m, [g for g, members in groups.items() if name in members],
                   f"{path}:{lines[('hosts', name)]}") for name, m in merged.items()]
    return Inventory(path, hosts, policy, groups, overlays, source=str(path))


def _from_ansible(given: str, path: str) -> Inventory:
    """The hosts of an Ansible inventory; a host with a problem is kept with it (not collected)."""
    try:
        resolved = ansible_inventory.read(path)
    except ansible_inventory.AnsibleInventoryError as exc:
        raise InventoryError([str(exc)]) from None
    hosts = []
    for name in resolved.order:
        groups, source = resolved.groups_of(name), resolved.source_of(name)
        if name in resolved.problems:
            hosts.append(Host(name=name, connection="ssh", address="", ssh=SSHSettings(),
                              groups=groups, source=source, problem=resolved.problems[name]))
        else:
            hosts.append(_host(name, resolved.hosts[name], groups, source))
    return Inventory(Path(path), hosts, {}, resolved.groups, format=ansible_inventory.ANSIBLE,
                     source=given)


def _merge(defaults: dict, own: dict) -> dict:
    """A host's settings over the defaults; ssh, facts and labels key by key, not replaced."""
    merged = {"connection": "ssh", "sudo": False, **defaults, **own}
    for key in ("ssh", "facts", "labels"):
        merged[key] = {**defaults.get(key, {}), **own.get(key, {})}
    return merged


def _host(name: str, m: dict, groups: list[str], source: str, problem=None) -> Host:
    ssh = dict(m["ssh"])
    for key in ("connect_timeout", "command_timeout"):
        if key in ssh:
            ssh[key] = float(ssh[key])
    for key in ("max_command_output", "max_host_output"):
        if key in ssh:
            ssh[key] = rules.size_bytes(ssh[key])
    return Host(name=name, connection=m["connection"], address=m.get("address", ""),
                ssh=SSHSettings(**ssh), sudo=m["sudo"], facts=m["facts"], labels=m["labels"],
                groups=groups, source=source, vms=m.get("vms"), uri=m.get("uri", ""),
                policy=m.get("policy", {}), problem=problem)
