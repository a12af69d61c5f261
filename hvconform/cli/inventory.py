"""`python -m hvconform inventory PATH [--limit NAMES]`: the hosts an inventory resolves
to, as JSON, without contacting any of them: for our YAML and for an Ansible inventory
(read through ansible-inventory; see hvconform/inputs/ansible_inventory.py).

Exit codes: 0 every host usable; 1 some hosts have a problem (each printed on stderr, and
as `problem` in the JSON: an audit reports them as errors and audits the others);
2 the inventory as a whole is unusable (the errors on stderr).
"""

from __future__ import annotations

import json
import os
import sys

from hvconform.inputs import inventory as inventory_mod

HELP = "print the hosts an inventory (ours or Ansible's) resolves to, as JSON"


def add_arguments(parser) -> None:
    parser.add_argument("inventory", help="our inventory YAML, or an Ansible inventory (INI or "
                                          "YAML file, folder, executable); ansible:PATH or "
                                          "hvconform:PATH to say which")
    parser.add_argument("--limit", default=None,
                        help="comma-separated host or group names (default: all)")


def describe(host) -> dict:
    """One host as plain JSON values: where and how it is reached, and what the site says."""
    ssh = host.ssh
    out = {"name": host.name, "connection": host.connection, "address": host.address,
           "port": ssh.port if host.connection == "ssh" else None,
           "user": ssh.user if host.connection == "ssh" else None, "sudo": host.sudo,
           "groups": host.groups, "facts": host.facts, "vms": host.vms, "labels": host.labels,
           "policy": host.policy, "source": host.source}
    if host.connection == "ssh":
        out.update(identity_file=_path(ssh.identity_file), known_hosts=_path(ssh.known_hosts),
                   jump_host=ssh.jump_host)
    if host.connection == "libvirt":
        out["uri"] = host.uri
    if host.problem:
        out["problem"] = host.problem
    return out


def run(args) -> int:
    try:
        inv = inventory_mod.load(args.inventory)
        hosts = inventory_mod.select(inv, args.limit)
    except inventory_mod.InventoryError as exc:
        for line in exc.errors:
            print(f"error: {line}", file=sys.stderr)
        if exc.hint:
            print(f"note: {exc.hint}", file=sys.stderr)
        return 2
    doc = {"inventory": inv.source, "format": inv.format, "policy": inv.policy,
           "groups": inv.groups, "hosts": [describe(h) for h in hosts]}
    print(json.dumps(doc, indent=1))
    problems = [h.problem for h in hosts if h.problem]
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


def _path(path) -> str | None:
    return None if path is None else os.fspath(path)
