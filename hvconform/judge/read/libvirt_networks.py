"""libvirt's virtual networks, as the network checks read them:

  cmd:virsh_net_dumpxml_all  `### network <name>` then that network's XML, per network
  cmd:virsh_net_list         the `virsh net-list --all` table (virsh(1)): name, state, autostart
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe

GOOD_MODES = ("nat", "route", "isolated")
BRIDGED_MODES = ("bridge", "private", "vepa", "passthrough", "hostdev")


def networks(snap) -> tuple[dict, object]:
    """{name: root element} of every libvirt network, from virsh_net_dumpxml_all."""
    art = artifacts.output(snap, "virsh_net_dumpxml_all", "virsh net-dumpxml of each network")
    sections, name = {}, None
    for line in art.stdout.splitlines():
        if line.startswith("### network "):
            name = line[len("### network "):]
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    out = {}
    for name, lines in sections.items():
        try:
            out[name] = xmlsafe.parse("\n".join(lines))
        except xmlsafe.XMLError as exc:
            raise artifacts.End(v.error(f"network {name}: no readable definition ({exc})",
                                     [v.Evidence.of(art, art.stderr.strip() or "\n".join(lines))]))
    return out, art


def net_states(snap) -> tuple[dict, object]:
    """{name: (state, autostart)} from the `virsh net-list --all` table."""
    art = artifacts.output(snap, "virsh_net_list", "virsh net-list --all")
    out = {}
    for line in art.stdout.splitlines()[2:]:
        cols = line.split()
        if len(cols) >= 3:
            out[cols[0]] = (cols[1], cols[2])
    return out, art


def forward_mode(net) -> str:
    fwd = net.find("forward")
    return "isolated" if fwd is None else fwd.get("mode", "nat")


def network_and_portgroup(iface, nets: dict) -> tuple[object | None, object | None]:
    """(network, portgroup) an <interface type='network'> takes settings from, each None
    when absent: the portgroup its <source portgroup=...> names, else the network's
    default='yes' one (formatnetwork.rst 'Portgroups'). Names are compared, never put
    into a path expression: they come from the host."""
    src = iface.find("source")
    if iface.get("type") != "network" or src is None:
        return None, None
    net = nets.get(src.get("network"))
    if net is None:
        return None, None
    groups = net.findall("portgroup")
    named = src.get("portgroup")
    chosen = [g for g in groups if g.get("name") == named] if named else [g for g in groups if g.get("default") == "yes"]
    return net, (chosen[0] if chosen else None)


def inherited(iface, nets: dict, attribute: str) -> tuple[str | None, str]:
    """An interface attribute in effect (trustGuestRxFilters): the interface's own, else
    its portgroup's, else its network's (formatnetwork.rst 'Portgroups': "an explicit
    setting in the portgroup overrides the network-wide setting, and an explicit setting
    in the individual domain interface will override the setting in the portgroup");
    with where it came from."""
    if iface.get(attribute) is not None:
        return iface.get(attribute), "its own"
    net, group = network_and_portgroup(iface, nets)
    if group is not None and group.get(attribute) is not None:
        return group.get(attribute), f"portgroup {group.get('name')} of network {net.findtext('name')}"
    if net is not None and net.get(attribute) is not None:
        return net.get(attribute), f"network {net.findtext('name')}"
    return None, "unset"
