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
