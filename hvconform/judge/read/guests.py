"""The VMs of a snapshot as the isolation analyses see them: the XML that applies
(live for a running domain, else the persistent definition) and the VM's tenant and
security level.

The site's convention for those two facts lives here, for the analyses and for the
per-VM checks alike (`security_level`, `is_sensitive`): an element `tenant` or
`security-level` in policy `vm_metadata_namespace` under <metadata>, else the
inventory's `vms:` entry of the host.

    guests = guests_of(snap, policy)     # artifacts.End: why the host cannot be analysed
    guests[0].ref, guests[0].tenant      # -> "weak/weak-tenant-a", "acme"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts, xmlsafe

FACTS = ("security-level", "tenant")   # element names in the site's metadata namespace


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

    @property
    def ref(self) -> str:
        return f"{self.host}/{self.name}"

    @property
    def tenant(self) -> str | None:
        return self.xml_facts.get("tenant") or self.inventory_facts.get("tenant")

    @property
    def level(self) -> str | None:
        return self.xml_facts.get("security-level") or self.inventory_facts.get("security_level")

    def describe(self) -> str:
        """`weak/a (tenant acme, level low)`: who a finding is about."""
        facts = [f"tenant {self.tenant}" if self.tenant else "no tenant",
                 f"level {self.level}" if self.level else "no level"]
        return f"{self.ref} ({', '.join(facts)})"

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
                         metadata_facts(root, namespace), dict(declared.get(d.name) or {})))
    return out


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
    """A VM's security level from its domain XML `root`, else the inventory's `vms:`
    facts; the same precedence as Guest.level."""
    tagged = metadata_facts(root, policy["vm_metadata_namespace"]).get("security-level")
    return tagged or ((((snap.facts or {}).get("vms") or {}).get(vm) or {}).get("security_level"))


def is_sensitive(snap, vm: str, root, policy) -> bool:
    """The VM's level is one of policy `sensitive_security_levels`."""
    return security_level(snap, vm, root, policy) in policy["sensitive_security_levels"]
