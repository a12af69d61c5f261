"""One verdict of the report as HTML: the <details> block the verdict list shows
(badge, control, target; expanded: expected vs actual, why, remediation, references,
test, and each evidence excerpt with its sha256).

Written in plain Python rather than in the Jinja template because a fleet has
~220,000 of them (one page per host, html.py): a template macro costs ~0.5 ms a
verdict, this ~20 us. Every value is escaped, as the template's autoescape does: evidence excerpts are file contents from hosts.
"""

from __future__ import annotations

from hvconform.deliver.report import model
from hvconform.deliver.report.escaping import escape as _e
from hvconform.deliver.traceability import grouped


def badge(status) -> str:
    return f'<span class="badge s-{_e(status)}">{_e(model.LABELS.get(status, status))}</span>'


_REFS: dict[int, tuple[object, str, str]] = {}


def _references(refs) -> tuple[str, str]:
    """(data-refs attribute, References cell) of a control's references: the same dict
    object for every verdict of a control, so computed once per control."""
    hit = _REFS.get(id(refs))
    if hit is not None and hit[0] is refs:
        return hit[1], hit[2]
    tokens = model.reference_tokens(refs)
    keys = dict.fromkeys(k for k, _ in tokens)
    attr = "|" + "|".join([*keys, *(f"{k}:{i}" for k, i in tokens)]) + "|"
    cells = "".join(f'<span class="kv"><i>{_e(k)}</i> {_e(", ".join(vals))}</span>'
                    for k, vals in grouped(refs or {}).items()) or '<span class="muted">none</span>'
    if len(_REFS) > 4096:
        _REFS.clear()
    _REFS[id(refs)] = (refs, attr, cells)
    return attr, cells


def waiver_text(w) -> str:
    if not w:
        return ""
    out = f"waived by <b>{_e(w.get('approver'))}</b> until <b>{_e(w.get('expires'))}</b>"
    if w.get("ticket"):
        out += f" ({_e(w['ticket'])})"
    if w.get("expired"):
        out += ' <b class="t-fail">expired</b>'
    return out


def verdict_html(v: dict, control=None) -> str:
    """The <details class="verdict"> of one results.json record."""
    status, target = v.get("status"), model.target(v)
    refs_attr, refs_cell = _references(v.get("references") or {})
    facts = []
    waiver = v.get("waiver")
    if status == "waived" or waiver:
        extra = f"<br>{_e(waiver['justification'])}" if waiver and waiver.get("justification") else ""
        facts.append(f"<dt>Waiver</dt><dd>{waiver_text(waiver)}{extra}</dd>")
    if status == "manual":
        facts.append(f"<dt>A person must</dt><dd>{_e(v.get('reason'))}</dd>")
    if v.get("expected"):
        facts.append(f"<dt>Expected</dt><dd>{_e(v['expected'])}</dd>")
    if v.get("actual"):
        facts.append(f"<dt>Actual</dt><dd>{_e(v['actual'])}</dd>")
    if v.get("reason") and status != "manual":
        facts.append(f"<dt>Reason</dt><dd>{_e(v['reason'])}</dd>")
    if v.get("vms"):
        facts.append(f"<dt>VMs</dt><dd>{_e(', '.join(map(str, v['vms'])))}</dd>")
    rationale = getattr(control, "rationale", None)
    if rationale:
        facts.append(f"<dt>Why it matters</dt><dd>{_e(rationale)}</dd>")
    if v.get("remediation") and status not in ("pass", "not_applicable"):
        facts.append(f"<dt>Remediation</dt><dd>{_e(v['remediation'])}</dd>")
    facts.append(f"<dt>References</dt><dd>{refs_cell}</dd>")
    if v.get("test"):
        facts.append(f"<dt>Test</dt><dd><code>{_e(v['test'])}</code></dd>")
    evidence = []
    for e in v.get("evidence") or []:
        collected = f" · collected {_e(e['collected_at'])}" if e.get("collected_at") else ""
        evidence.append(
            f'<div class="evidence"><div class="ev-head"><span class="muted">evidence</span> '
            f'<code class="src">{_e(e.get("source"))}</code></div>'
            f'<div class="ev-meta small">sha256 <code>{_e(e.get("sha256"))}</code>{collected}</div>'
            f'<pre>{_e(e.get("excerpt") or "(empty)")}</pre></div>')
    if not evidence:
        evidence.append('<p class="muted small">No evidence attached.</p>')
    # escaped once each, though shown twice
    st, sev, cid = _e(status), _e(v.get("severity")), _e(v.get("control"))
    dom, tgt = _e(v.get("domain")), _e(target)
    return (f'<details class="verdict s-{st}" data-host="{_e(v.get("host"))}" '
            f'data-vm="{tgt if v.get("vm") else ""}" data-domain="{dom}" '
            f'data-severity="{sev}" data-status="{st}" data-control="{cid}" '
            f'data-refs="{_e(refs_attr)}">'
            f'<summary>{badge(status)}<span class="sev sev-{sev}">{sev}</span>'
            f'<b class="cid">{cid}</b><span class="title">{_e(v.get("title"))}</span>'
            f'<span class="tgt">{tgt}</span><span class="dom">{dom}</span></summary>'
            f'<div class="body"><dl class="facts">{"".join(facts)}</dl>{"".join(evidence)}</div>'
            f'</details>\n')
