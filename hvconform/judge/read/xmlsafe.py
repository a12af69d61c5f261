"""XML from targets (domain definitions, capabilities, backup copies) is data an
attacker may control: parse it with entities unresolved, no network and no huge
trees, and report malformed input instead of raising from a check.
"""

from __future__ import annotations

from lxml import etree

from hvconform.judge.read import memo


class RefusedXML(ValueError):
    """Well-formed, but not something libvirt ever prints (a DOCTYPE with entities)."""


XMLError = (etree.XMLSyntaxError, RefusedXML)   # for `except xmlsafe.XMLError`


def parser() -> etree.XMLParser:
    # a new parser per call: lxml parsers are not safe to share across threads
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _parse(text: str) -> etree._Element:
    """The root element; bytes so an `<?xml encoding=...?>` declaration is allowed.

    Raises one of XMLError when the document is not well-formed, is empty, or has a
    DOCTYPE: libvirt never writes one, and XPath string functions would still expand
    the internal entities that the parser left unresolved.

    Each text is parsed once (judge/read/memo.py): callers read the tree, never change it.
    """
    root = etree.fromstring(text.encode("utf-8", "surrogateescape"), parser())
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.externalDTD is not None or info.doctype:
        raise RefusedXML("document has a DOCTYPE; domain and capabilities XML never do")
    return root


parse = memo.of_text(_parse)


def render(node, limit: int = 400) -> str:
    """One XPath result for an evidence excerpt, with its line in the document."""
    if isinstance(node, etree._Element):
        text = etree.tostring(node, with_tail=False, encoding="unicode").strip()
        text = text if len(text) <= limit else text[:limit] + " ..."
        return f"line {node.sourceline}: {text}"
    if getattr(node, "is_attribute", False):
        parent = node.getparent()
        return f"line {parent.sourceline}: <{parent.tag} {node.attrname}=\"{node}\">"
    if getattr(node, "is_text", False) and node.getparent() is not None:
        return f"line {node.getparent().sourceline}: {node.getparent().tag} text {str(node)!r}"
    return repr(node)


def render_all(nodes) -> str:
    """`render` of each node, one per line: the excerpt of several XPath results."""
    return "\n".join(render(n) for n in nodes)


def line_of(node) -> str:
    """`render` cut short, for evidence that lists many elements one per line."""
    return render(node, limit=240)


def value_of(node) -> str:
    """What each_in/each_matches compare: an attribute's value, an element's text."""
    if isinstance(node, etree._Element):
        return (node.text or "").strip()
    return str(node)
