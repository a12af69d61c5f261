"""The VMs of a snapshot as the isolation analyses see them: the XML that applies
(live for a running domain, else the persistent definition) and the VM's tenant and
security level.

Where those two facts come from lives here, for the analyses and for the per-VM
checks alike (`security_level`, `is_sensitive`), first found first:
  1. an element `tenant` or `security-level` in policy `vm_metadata_namespace` under
     <metadata> (the site's own tag);
  2. on an OpenStack compute node, the metadata nova writes into every instance's
     domain XML (`<nova:instance>`, namespace http://openstack.org/xmlns/libvirt/nova/1.1,
     1.0 before Liberty; nova/virt/libvirt/config.py LibvirtConfigGuestMetaNovaInstance,
     ...NovaOwner, ...NovaFlavor): the tenant is the owner's project (`<nova:project
     uuid=...>name</nova:project>`), the level the site's mapping of that project (policy
     nova_project_levels, by name or uuid) or else of the flavor (`<nova:flavor
     name=...>`, policy nova_flavor_levels);
  3. the inventory's `vms:` entry of the host.

    guests = guests_of(snap, policy)     # artifacts.End: why the host cannot be analysed
    guests[0].ref, guests[0].tenant      # -> "weak/weak-tenant-a", "acme"
    guests[0].describe()                 # -> "weak/weak-tenant-a (tenant acme (nova project 2f6e...), level low)"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, xmlsafe

FACTS = ("security-level", "tenant")   # element names in the site's metadata namespace
NOVA_NAMESPACES = ("http://openstack.org/xmlns/libvirt/nova/1.1", "http://openstack.org/xmlns/libvirt/nova/1.0")


@dataclass(eq=False)   # each VM is itself: hashable by identity, for grouping
class Guest:
    host: str
    name: str
    running: bool
    root: etree._Element        # the XML that applies: live if running, else inactive
    inactive: etree._Element    # the persistent definition (static labels, for KMAC-006)
    artifact: object            # the artifact `root` was read from, for evidence
    xml_facts: dict = field(default_factory=dict)        # from <metadata>
    inventory_facts: dict = field(default_factory=dict)  # from the inventory's `vms:`
    nova: dict = field(default_factory=dict)             # from <nova:instance> (nova_facts)

    @property
    def ref(self) -> str:
        return f"{self.host}/{self.name}"

    @property
    def tenant(self) -> str | None:
        return self.xml_facts.get("tenant") or self.nova.get("project") or self.inventory_facts.get("tenant")

    @property
    def level(self) -> str | None:
        return (self.xml_facts.get("security-level") or self.nova.get("level")
                or self.inventory_facts.get("security_level"))

    def describe(self) -> str:
        """`weak/a (tenant acme, level low)`: who a finding is about; a tenant or level
        that came from nova says so, with the project's uuid and the flavor."""
        tenant = f"tenant {self.tenant}" if self.tenant else "no tenant"
        if self.tenant and not self.xml_facts.get("tenant") and self.nova.get("project"):
            tenant += f" (nova project {self.nova.get('project_uuid') or self.nova['project']})"
        level = f"level {self.level}" if self.level else "no level"
        if self.level and not self.xml_facts.get("security-level") and self.nova.get("level"):
            level += f" ({self.nova['level_from']})"
        return f"{self.ref} ({tenant}, {level})"

    def evidence(self, nodes=()) -> v.Evidence:
        """The XML artifact with the lines that decided (or the whole <name> line)."""
        lines = [xmlsafe.render(n) for n in nodes] or [f"<name>{self.name}</name>"]
        return v.Evidence.of(self.artifact, "\n".join(lines))


def differ(a: Guest, b: Guest) -> bool:
    """Different trust domains: tenants or levels known on both sides and not equal.
    An untagged VM is not compared (ISO-015 reports the missing tag)."""
    return ((a.tenant and b.tenant and a.tenant != b.tenant)
            or (a.level and b.level and a.level != b.level))


def guests_of(snap, policy) -> list[Guest]:
    """Every domain of the snapshot; End (an error naming the reason) when a domain's
    XML is missing, unreadable or malformed, so the host cannot be analysed.
    `policy` is the host's effective policy (hvconform.inputs.policy.effective)."""
    namespace = policy["vm_metadata_namespace"]
    levels = nova_levels(policy)
    declared = (snap.facts or {}).get("vms") or {}
    out = []
    for d in snap.domains:
        inactive = snap.domain_xml(d.name)
        live = snap.domain_xml(d.name, live=True) if d.running else None
        wanted = [inactive] + ([live] if d.running else [])
        for art, what in zip(wanted, ("inactive", "live")):
            if art is None:
                raise artifacts.End(v.error(f"the {what} XML of domain {d.name} was not collected"))
            if not art.ok:
                raise artifacts.End(v.error(f"the {what} XML of domain {d.name} could not be read "
                                            f"(rc {art.rc}): {art.stderr.strip()[-200:]}"))
        try:
            inactive_root = xmlsafe.parse(inactive.stdout)
            root = xmlsafe.parse(live.stdout) if live else inactive_root
        except xmlsafe.XMLError as exc:
            raise artifacts.End(v.error(f"the XML of domain {d.name} is not well-formed: {exc}"))
        out.append(Guest(snap.host, d.name, d.running, root, inactive_root, live or inactive,
                         metadata_facts(root, namespace), dict(declared.get(d.name) or {}),
                         nova_facts(root, levels)))
    return out


def nova_levels(policy) -> tuple[dict, dict]:
    """The site's mapping of nova projects and flavors to security levels."""
    return policy["nova_project_levels"], policy["nova_flavor_levels"]


def nova_facts(root, levels=({}, {})) -> dict:
    """{project, project_uuid, user, flavor, instance, level, level_from} from the
    <nova:instance> nova writes under <metadata>; {} for a domain nova does not manage."""
    for top in root.findall("metadata/*"):
        if not isinstance(top.tag, str):
            continue
        name = etree.QName(top)
        if name.namespace not in NOVA_NAMESPACES or name.localname != "instance":
            continue
        ns = {"nova": name.namespace}
        project = top.find("nova:owner/nova:project", ns)
        flavor = top.find("nova:flavor", ns)
        facts = {"project": (project.text or "").strip() if project is not None else "",
                 "project_uuid": project.get("uuid", "") if project is not None else "",
                 "flavor": flavor.get("name", "") if flavor is not None else "",
                 "instance": (top.findtext("nova:name", "", ns) or "").strip()}
        facts["project"] = facts["project"] or facts["project_uuid"]
        by_project, by_flavor = levels
        for key, mapping, what in ((facts["project"], by_project, f"nova project {facts['project']}"),
                                   (facts["project_uuid"], by_project, f"nova project {facts['project_uuid']}"),
                                   (facts["flavor"], by_flavor, f"nova flavor {facts['flavor']}")):
            if key and key in mapping:
                facts["level"], facts["level_from"] = str(mapping[key]), f"{what}, policy"
                break
        return {k: val for k, val in facts.items() if val}
    return {}


def metadata_facts(root, namespace: str) -> dict:
    """{'security-level': ..., 'tenant': ...} from <metadata> elements in `namespace`:
    the element itself (`<ns:security-level>`) or its descendants, by local name."""
    facts = {}
    for top in root.findall("metadata/*"):
        if not isinstance(top.tag, str) or etree.QName(top).namespace != namespace:
            continue
        for el in top.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname in FACTS and (el.text or "").strip():
                facts.setdefault(etree.QName(el).localname, el.text.strip())
    return facts


def security_level(snap, vm: str, root, policy) -> str | None:
    """A VM's security level from its domain XML `root` (the site's tag, else nova's
    project or flavor mapped by policy), else the inventory's `vms:` facts; the same
    precedence as Guest.level."""
    namespace, levels = policy["vm_metadata_namespace"], nova_levels(policy)
    tagged = metadata_facts(root, namespace).get("security-level") or nova_facts(root, levels).get("level")
    return tagged or ((((snap.facts or {}).get("vms") or {}).get(vm) or {}).get("security_level"))


def is_sensitive(snap, vm: str, root, policy) -> bool:
    """The VM's level is one of policy `sensitive_security_levels`."""
    return security_level(snap, vm, root, policy) in policy["sensitive_security_levels"]
