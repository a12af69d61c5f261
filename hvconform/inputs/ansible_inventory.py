"""An Ansible inventory (INI or YAML file, a folder with group_vars/host_vars, an
executable dynamic inventory) as our hosts, through Ansible's own resolver.

    kind, path, why = kind_of("inventories/hosts.ini")    # ("ansible", "inventories/hosts.ini", ...)
    resolved = read(path)          # ansible-inventory -i path --list (hvconform/inputs/ansible_run.py)
    resolved.hosts                 # {name: settings in our inventory's shape}, checked by its rules
    resolved.problems              # {name: 'path: host web1: ansible_port: expected ...'}

Which format: `ansible:PATH` and `hvconform:PATH` say it outright. Otherwise a regular
file whose YAML top level is a mapping with a `hosts:` key is ours (hvconform's
inventory); anything else (an INI file, an Ansible YAML file whose top level is its
groups, a folder, a program, a file that is not YAML) is given to ansible-inventory.
Every error of our loader then says why the file was read as ours (OURS_HINT).

Mapped (Ansible's precedence already applied by ansible-inventory; templates are not
rendered by --list, so a value with `{{` is an error, as is a vault-encrypted one;
what the values mean to Ansible: hvconform/inputs/ansible_vars.py):
  ansible_host (ansible_ssh_host)    address (default: the inventory host name)
  ansible_user (ansible_ssh_user)    ssh.user            ansible_port (ansible_ssh_port)  ssh.port
  ansible_ssh_private_key_file       ssh.identity_file   ansible_become      sudo (sudo -n, as root)
  ansible_connection                 ssh | paramiko | smart -> ssh, local -> local, others: error
  ansible_ssh_common_args, ansible_ssh_extra_args: -J / -o ProxyJump=  ssh.jump_host,
      -o UserKnownHostsFile=  ssh.known_hosts; -o ProxyCommand/HostName/Port/User/IdentityFile:
      error (use the variables above); other options ignored (StrictHostKeyChecking=no too:
      host keys are always checked)
  hvconform_facts, hvconform_vms, hvconform_policy, hvconform_labels   as in our YAML
  hvconform_sudo (wins over ansible_become), hvconform_known_hosts (path),
  hvconform_libvirt_uri (connection: libvirt; hvconform/inputs/libvirt_uri.py)
Relative paths resolve from the current directory, as Ansible resolves them.
An unknown hvconform_* variable is an error. Ansible's JSON has no line numbers: an
error names the host, the variable and where it was set (the host itself or which
group), from a second `--list --export` run made only when there are errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from hvconform.inputs import ansible_run, ansible_vars
from hvconform.inputs import inventory_schema as rules
from hvconform.inputs.yamlload import LocatedError, load_located

ANSIBLE, OURS = "ansible", "hvconform"
PREFIXES = {"ansible:": ANSIBLE, "hvconform:": OURS}
OURS_HINT = ("{path} was read as hvconform's own inventory format ({why}); if it is an "
             "Ansible inventory, give it as ansible:{path}")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"   # as ssh and Ansible use it
SNIFF_LIMIT = 4 * 1024 * 1024   # bytes read to tell the two formats apart

# Ansible variable -> where it goes in our host settings; the first of a list that is set wins
CONNECTION_VARS = {
    ("address",): ("ansible_host", "ansible_ssh_host"),
    ("ssh", "user"): ("ansible_user", "ansible_ssh_user"),
    ("ssh", "port"): ("ansible_port", "ansible_ssh_port"),
    ("ssh", "identity_file"): ("ansible_ssh_private_key_file",),
}
OURS_VARS = {"hvconform_facts": ("facts",), "hvconform_vms": ("vms",),
             "hvconform_policy": ("policy",), "hvconform_labels": ("labels",),
             "hvconform_sudo": ("sudo",), "hvconform_known_hosts": ("ssh", "known_hosts"),
             "hvconform_libvirt_uri": ("uri",)}
# our key path -> the variable that sets it, for a problem with a value nobody set
SETTER = {**{at: names[0] for at, names in CONNECTION_VARS.items()},
          **{at: var for var, at in OURS_VARS.items()}}
SSH_ARGS_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")
SSH_CONNECTIONS = ("ssh", "paramiko", "smart")


class AnsibleInventoryError(Exception):
    """The inventory as a whole could not be read (the message names it)."""


@dataclass
class Resolved:
    path: str
    hosts: dict[str, dict] = field(default_factory=dict)     # name -> our settings (no problem)
    problems: dict[str, str] = field(default_factory=dict)   # name -> why it cannot be used
    order: list[str] = field(default_factory=list)           # every host, inventory order
    groups: dict[str, list[str]] = field(default_factory=dict)  # children resolved

    def groups_of(self, name: str) -> list[str]:
        return [g for g, members in self.groups.items() if name in members and g != "all"]

    def source_of(self, name: str) -> str:
        return f"{self.path} (ansible-inventory): host {name}"


def kind_of(given: str) -> tuple[str, str, str]:
    """(ANSIBLE or OURS, the path without its prefix, why)."""
    return sniff(given)[:3]


def sniff(given: str) -> tuple[str, str, str, tuple | None]:
    """kind_of(), and the (document, lines) of load_located when the whole file was
    read and parsed to tell: our loader then need not parse a fleet's file again."""
    for prefix, kind in PREFIXES.items():
        if given.startswith(prefix):
            return kind, given[len(prefix):], f"the {prefix} prefix", None
    path = Path(given)
    if path.is_dir():
        return ANSIBLE, given, "a folder", None
    if not path.is_file():
        return OURS, given, "no such file", None   # our loader says so, with the hint
    try:
        with open(path, "rb") as f:
            data = f.read(SNIFF_LIMIT + 1)
        # the bounded loader, as for every YAML file a user gives: an anchor bomb in
        # the first bytes must not expand here either (yamlload says why)
        parsed = load_located(path, data[:SNIFF_LIMIT].decode("utf-8"))
    except (LocatedError, UnicodeDecodeError, OSError):
        if path.suffix in (".yaml", ".yml"):
            return OURS, given, "YAML that does not parse", None
        return ANSIBLE, given, "not YAML", None
    doc = parsed[0]
    if isinstance(doc, dict) and "hosts" in doc:
        return OURS, given, "a top-level hosts: mapping", parsed if len(data) <= SNIFF_LIMIT else None
    return ANSIBLE, given, "no top-level hosts: mapping", None


def read(path: str) -> Resolved:
    """The hosts of an Ansible inventory, each mapped and checked, or with its problem."""
    try:
        doc = ansible_run.list_inventory(path)
    except ansible_run.AnsibleRunError as exc:
        raise AnsibleInventoryError(f"{path}: cannot read as an Ansible inventory: {exc}") from None
    out = Resolved(path)
    hostvars = (doc.get("_meta") or {}).get("hostvars") or {}
    if not isinstance(hostvars, dict):
        raise AnsibleInventoryError(f"{path}: ansible-inventory's _meta.hostvars is not a mapping")
    out.groups, out.order = _groups(doc, hostvars)
    clash = sorted(set(out.groups) & set(out.order))
    if clash:
        raise AnsibleInventoryError(f"{path}: {', '.join(clash)}: both a group and a host; "
                                    "--limit could not tell them apart: rename one")
    if not out.order:
        raise AnsibleInventoryError(f"{path}: ansible-inventory found no hosts (if this is "
                                    f"hvconform's own format, give it as hvconform:{path})")
    check = _Check(path)
    raws = {}
    for name in out.order:
        if rules.name_ok(check, ("hosts", name), name, "host"):
            raws[name] = _map(check, name, hostvars.get(name) or {})
    _validate(check, raws, out)
    if "*" in check.by_host:   # a rule about no host in particular: the inventory as a whole
        raise AnsibleInventoryError("; ".join(f"{path}: {var}: {m}" for var, m in check.by_host["*"]))
    if check.by_host:
        located = _locate(path, check.by_host)
        out.problems = {n: f"{path}: host {n}: " + "; ".join(located[n]) for n in check.by_host}
    for name in out.problems:
        out.hosts.pop(name, None)
    return out


def _groups(doc: dict, hostvars: dict) -> tuple[dict[str, list[str]], list[str]]:
    """{group: every host in it or its children}, and every host in inventory order."""
    direct = {g: v for g, v in doc.items() if g != "_meta" and isinstance(v, dict)}

    def members(group, seen):
        if group in seen or group not in direct:
            return []
        seen.add(group)
        found = [h for h in direct[group].get("hosts") or [] if isinstance(h, str)]
        for child in direct[group].get("children") or []:
            found += members(child, seen)
        return list(dict.fromkeys(found))

    groups = {g: members(g, set()) for g in direct}
    order = list(dict.fromkeys(groups.get("all", []) + [h for m in groups.values() for h in m]
                               + [h for h in hostvars if isinstance(h, str)]))
    groups.setdefault("all", list(order))
    return groups, order


class _Check(rules.Check):
    """Our inventory's rules, each problem filed under its host and the Ansible variable
    that gave the value: ('hosts', 'web1', 'ssh', 'port') -> web1, ansible_port."""

    def __init__(self, path: str):
        super().__init__(Path(path), {})
        self.origins: dict[str, dict[tuple, str]] = {}   # host -> our key path -> variable
        self.by_host: dict[str, list[tuple[str, str]]] = {}   # host -> [(variable, message)]

    def __call__(self, at: tuple, message: str):
        name, rest = (at[1], at[2:]) if len(at) > 1 and at[0] == "hosts" else ("*", at)
        origins = self.origins.get(name, {})
        named = {**SETTER, **origins}
        n = next((n for n in range(len(rest), 0, -1) if rest[:n] in named), 0)
        var = named[rest[:n]] if n else "host"
        var += "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in rest[n:])
        self.by_host.setdefault(name, []).append((var, message))

    def file(self, name: str, var: str, message: str):
        self.by_host.setdefault(name, []).append((var, message))


class _HostCheck(rules.Check):
    """The rules of a section that has no host in its key path (policy): add it."""

    def __init__(self, parent: _Check, name: str):
        super().__init__(parent.path, {})
        self.parent, self.name = parent, name

    def __call__(self, at: tuple, message: str):
        self.parent(("hosts", self.name) + at, message)


def _map(check: _Check, name: str, hv) -> dict:
    """One host's variables -> our settings (unchecked); problems filed on `check`."""
    origins = check.origins.setdefault(name, {})
    if not isinstance(hv, dict):
        check.file(name, "hostvars", f"expected a mapping of variables, got {rules.show(hv)}")
        return {}
    raw: dict = {"ssh": {}}

    def put(at: tuple, var: str, value):
        problem = ansible_vars.unusable(value)
        if problem:
            check.file(name, var, problem)
            return
        target = raw
        for key in at[:-1]:
            target = target.setdefault(key, {})
        target[at[-1]] = value
        origins[at] = var

    for var in sorted(v for v in hv if isinstance(v, str) and v.startswith("hvconform_")):
        if var not in OURS_VARS:
            close = difflib.get_close_matches(var, OURS_VARS, 1)
            check.file(name, var, "unknown hvconform_ variable"
                       + (f" (did you mean {close[0]!r}?)" if close else "")
                       + f"; known: {', '.join(OURS_VARS)}")
    connection = _connection(check, name, hv)
    if connection is None:
        return raw
    raw["connection"] = connection
    origins[("connection",)] = "hvconform_libvirt_uri" if connection == "libvirt" else "ansible_connection"
    for at, names in CONNECTION_VARS.items():
        var = next((v for v in names if v in hv), None)
        if var is not None and not (connection != "ssh" and at == ("address",)):
            value = hv[var]
            if at == ("ssh", "port") and isinstance(value, str) and value.strip().isdigit():
                value = int(value)   # Ansible takes "2222" as well as 2222
            put(at, var, value)
    if connection == "ssh" and "address" not in raw and ("address",) not in origins:
        raw["address"] = name   # as Ansible: the inventory name is the address
        origins[("address",)] = "inventory host name (no ansible_host)"
    for var in SSH_ARGS_VARS:
        if var in hv:
            _ssh_args(check, name, var, hv[var], put)
    for var, at in OURS_VARS.items():
        if var in hv and var != "hvconform_libvirt_uri":
            value = ansible_vars.boolean(hv[var]) if var == "hvconform_sudo" else hv[var]
            put(at, var, value)
    if "hvconform_sudo" not in hv and "ansible_become" in hv:
        become = ansible_vars.boolean(hv["ansible_become"])
        put(("sudo",), "ansible_become", become)
        if become is True:
            _become_is_sudo(check, name, hv)
    if connection == "libvirt":
        put(("uri",), "hvconform_libvirt_uri", hv["hvconform_libvirt_uri"])
    return raw


def _connection(check: _Check, name: str, hv: dict) -> str | None:
    if "hvconform_libvirt_uri" in hv:
        return "libvirt"
    value = hv.get("ansible_connection", "ssh")
    problem = ansible_vars.unusable(value)
    if problem:
        check.file(name, "ansible_connection", problem)
        return None
    if value in SSH_CONNECTIONS:
        return "ssh"
    if value == "local":
        return "local"
    check.file(name, "ansible_connection", f"{rules.show(value)}: hvconform reaches hosts over "
               f"SSH ({', '.join(SSH_CONNECTIONS)}), locally (local), or through the libvirt "
               "API (hvconform_libvirt_uri)")
    return None


def _become_is_sudo(check: _Check, name: str, hv: dict) -> None:
    method, user = hv.get("ansible_become_method", "sudo"), hv.get("ansible_become_user", "root")
    if method != "sudo":
        check.file(name, "ansible_become_method", f"{rules.show(method)}: hvconform becomes root "
                   "with `sudo -n` only; set hvconform_sudo: false to audit without it")
    if user != "root":
        check.file(name, "ansible_become_user", f"{rules.show(user)}: hvconform's sudo runs the "
                   "audit's commands as root only")


def _ssh_args(check: _Check, name: str, var: str, value, put) -> None:
    """The few ssh options that say where to connect: ProxyJump, UserKnownHostsFile."""
    options, problem = ansible_vars.ssh_options(value)
    if problem:
        check.file(name, var, problem)
    for key, val in options:
        if key == "proxyjump" and val.lower() != "none":
            if "," in val:
                check.file(name, var, f"ProxyJump {val!r}: one jump host only")
            else:
                put(("ssh", "jump_host"), f"{var} (ProxyJump)", val)
        elif key == "userknownhostsfile" and val.split():
            put(("ssh", "known_hosts"), f"{var} (UserKnownHostsFile)", val.split()[0])
        elif key in ansible_vars.REFUSED_SSH_OPTIONS:
            check.file(name, var, f"-o {key}: not supported here; "
                                  f"{ansible_vars.REFUSED_SSH_OPTIONS[key]}")


def _validate(check: _Check, raws: dict, out: Resolved) -> None:
    """Our inventory's own rules (hvconform/inputs/inventory_schema.py) on the mapped hosts."""
    base = Path.cwd()
    own, policies = {}, {}
    for name, raw in raws.items():
        if name in check.by_host:   # already unusable: its other values would only add noise
            continue
        policy = raw.pop("policy", None)
        if policy is not None:
            policies[name] = rules.policy(_HostCheck(check, name), policy)
        section = rules.section(check, ("hosts", name), raw, rules.HOST_KEYS, base)
        if section is not None:
            own[name] = section
    merged = {name: {"connection": "ssh", "sudo": False, **s,
                     **{k: dict(s.get(k, {})) for k in ("ssh", "facts", "labels")}}
              for name, s in own.items()}
    for name, m in merged.items():
        # each host its own problem (our YAML reports a shared file once, where it is written)
        if not rules.uses_known_hosts(m):
            continue
        if m["ssh"].get("known_hosts") is None:
            m["ssh"]["known_hosts"] = Path(DEFAULT_KNOWN_HOSTS).expanduser()
        known = m["ssh"].get("known_hosts")
        if isinstance(known, Path) and not known.is_file():
            said = "no such file" if ("ssh", "known_hosts") in check.origins[name] else \
                "not set, and ssh's default does not exist"
            check(("hosts", name, "ssh", "known_hosts"),
                  f"{said}: {known} (host keys are checked against it; set "
                  "hvconform_known_hosts, or -o UserKnownHostsFile= in ansible_ssh_common_args)")
            m["ssh"]["known_hosts"] = rules.BAD
    rules.connections(check, {}, own, merged)
    rules.libvirt_hosts(check, merged, base)
    for name, m in merged.items():
        if name not in check.by_host:
            m["policy"] = policies.get(name, {})
            out.hosts[name] = m


def _locate(path: str, by_host: dict) -> dict[str, list[str]]:
    """Each problem with where its variable was set, from `--list --export` (which keeps
    group variables in their groups). Ansible gives no file or line: the host or group
    is as close as it gets."""
    try:
        export = ansible_run.list_inventory(path, export=True)
    except ansible_run.AnsibleRunError:
        export = {}
    own = ((export.get("_meta") or {}).get("hostvars") or {})
    groups, _ = _groups(export, own) if export else ({}, [])
    out = {}
    for name, problems in by_host.items():
        lines = []
        for var, message in problems:
            base_var = var.split(" ", 1)[0].split(".", 1)[0].split("[", 1)[0]
            if isinstance(own.get(name), dict) and base_var in own[name]:
                where = f" (set on host {name}: its inventory line or host_vars/{name})"
            else:
                setters = [g for g, members in groups.items() if name in members
                           and base_var in ((export.get(g) or {}).get("vars") or {})]
                where = (f" (from group {', '.join(setters)}: its vars or group_vars/"
                         f"{setters[0]})" if setters else "")
            lines.append(f"{var}: {message}{where}")
        out[name] = lines
    return out
