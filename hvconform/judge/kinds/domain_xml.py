"""An XPath over one VM's domain definition (`virsh dumpxml --inactive`, or the
live XML with `live: true`).

    check: {kind: domain_xml, xpath: /domain/devices/shmem, op: absent}
    check: {kind: domain_xml, op: each_in, value: [127.0.0.1, "::1"],
            xpath: /domain/devices/graphics/@listen}
ops: absent / present (the xpath selects nothing / something), count_eq (a number
from count() or the number of nodes), each_in / each_not_in / each_matches (every
selected attribute value or element text; vacuously true when nothing matches).
Write the xpath to select the offending nodes: the evidence shows them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

from hvconform.model import verdict as v
from hvconform.judge.read import xmlsafe

KIND = "domain_xml"
OPS = ("absent", "present", "count_eq", "each_in", "each_not_in", "each_matches")


def validate(check):
    errs = []
    try:
        etree.XPath(str(check.get("xpath")), namespaces=check.get("namespaces") or None)
    except (etree.XPathSyntaxError, TypeError, ValueError) as exc:
        errs.append(f"'xpath' {check.get('xpath')!r} is not valid XPath 1.0: {exc}")
    op = check.get("op")
    if op not in OPS:
        errs.append(f"unknown op {op!r} (known: {', '.join(OPS)})")
    elif op in ("each_in", "each_not_in") and not isinstance(check.get("value"), list):
        errs.append(f"op '{op}' needs a list 'value'")
    elif op == "count_eq" and not isinstance(check.get("value"), int):
        errs.append("op 'count_eq' needs an integer 'value'")
    elif op == "each_matches":
        try:
            re.compile(check.get("value"))
        except (re.error, TypeError) as exc:
            errs.append(f"op 'each_matches' needs a regular expression 'value': {exc}")
    extra = set(check) - {"kind", "xpath", "op", "value", "live", "namespaces"}
    if extra:
        errs.append(f"unknown keys {sorted(extra)}")
    return errs


def needs(check, policy=None):
    return []  # every domain's XML is always collected


@lru_cache(maxsize=256)
def _compiled(xpath: str, namespaces: tuple) -> etree.XPath:
    # compiled once per row, not once per VM: a large site has thousands of VMs
    return etree.XPath(xpath, namespaces=dict(namespaces) or None)


def expectation(check) -> str:
    op, xp, val = check["op"], check["xpath"], check.get("value")
    if isinstance(val, list):
        val = "[" + ", ".join(str(x) for x in val) + "]"
    return {"absent": f"no match for {xp}", "present": f"a match for {xp}",
            "count_eq": f"{xp} counts {val}", "each_in": f"every {xp} in {val}",
            "each_not_in": f"no {xp} in {val}", "each_matches": f"every {xp} matches {val}"}[op]


def judge(check, snap, vm):
    live = bool(check.get("live", False))
    dom = snap.domain(vm)
    if live and (dom is None or not dom.running):
        return v.not_applicable(f"domain {vm} not running (the check reads its live XML)")
    art = snap.domain_xml(vm, live)
    which = "live" if live else "inactive"
    if art is None:
        return v.error(f"the {which} XML of domain {vm} was not collected")
    if not art.ok:
        return v.error(f"virsh dumpxml of domain {vm} failed (rc {art.rc}): {art.stderr.strip()}")
    try:
        root = xmlsafe.parse(art.stdout)
    except xmlsafe.XMLError as exc:
        return v.error(f"domain {vm}: {which} XML is malformed: {exc}", [v.Evidence.of(art, str(exc))])
    try:
        result = _compiled(check["xpath"], tuple(sorted((check.get("namespaces") or {}).items())))(root)
    except etree.XPathEvalError as exc:
        return v.error(f"domain {vm}: xpath {check['xpath']!r} failed: {exc}")
    ok, actual, shown = _apply(check, result)
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.render(n) for n in shown)
                              or f"{check['xpath']}: no match")]
    if ok:
        return v.passed(expectation(check), actual, evidence)
    return v.failed(expectation(check), actual, evidence, reason=f"domain {vm}: {actual}")


def _apply(check, result) -> tuple[bool, str, list]:
    """(ok, actual in one line, nodes for the excerpt)."""
    op, val = check["op"], check.get("value")
    nodes = result if isinstance(result, list) else []
    if op in ("absent", "present", "count_eq"):
        count = len(nodes) if isinstance(result, list) else (
            int(result) if isinstance(result, float) else int(bool(result)))
        ok = {"absent": count == 0, "present": count > 0, "count_eq": count == val}[op]
        return ok, "no match" if count == 0 else f"{count} match{'es' * (count != 1)}", nodes
    values = [xmlsafe.value_of(n) for n in nodes]
    if op == "each_in":
        bad = [n for n, x in zip(nodes, values) if x not in [str(i) for i in val]]
    elif op == "each_not_in":
        bad = [n for n, x in zip(nodes, values) if x in [str(i) for i in val]]
    else:
        bad = [n for n, x in zip(nodes, values) if not re.search(val, x)]
    if bad:
        return False, "offending: " + ", ".join(xmlsafe.value_of(n) or "''" for n in bad), bad
    return True, ("values: " + ", ".join(values)) if values else "no match", nodes
