"""junit.xml from results.json, for CI, when pytest does not write it
(`python -m hvconform audit`, the fleet front end).

    write(results_doc, run_dir / "junit.xml", seconds=12.3)

The same shape as pytest's (testsuites/testsuite name="pytest", one testcase per
verdict with pytest's classname and name, test ids included), and the same outcomes:
fail is a <failure>, error an <error>, not applicable and manual are <skipped>, waived
is an expected failure (<skipped type="pytest.xfail">), each with its one-line message.
Unlike pytest's, a testcase carries no copy of the whole record (results.json has
it): a fleet's junit.xml stays small enough for CI tools to load (bench/README.md).
Written as a stream: nothing of the size of the file is held in memory.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import quoteattr

# XML 1.0 cannot carry these, even escaped; pytest writes them as #xNN, and so do we
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str:
    text = "" if value is None else str(value)
    return _ILLEGAL.sub(lambda m: f"#x{ord(m.group(0)):02X}", text)


# what quoteattr escapes (&, <, >, ", line breaks, tabs) or _ILLEGAL replaces
_SPECIAL = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _attr(value) -> str:
    text = "" if value is None else str(value)
    if _SPECIAL.search(text) is None:   # most names and messages: nothing to escape
        return f'"{text}"'
    return quoteattr(_text(text))


def classname_and_name(test: str) -> tuple[str, str]:
    """pytest's junit names of a node id: suites/qemu/test_qemu.py::test_x[weak-QEMU-001]
    -> ("suites.qemu.test_qemu", "test_x[weak-QEMU-001]")."""
    path, _, name = test.partition("::")
    return path.removesuffix(".py").replace("/", "."), name


def _message(rec: dict) -> str:
    target = rec["host"] + (f"/{rec['vm']}" if rec.get("vm") else "")
    if rec["status"] == "fail":
        text = f"{rec['control']} {rec.get('title') or ''} on {target}: expected {rec.get('expected')}; actual {rec.get('actual')}"
        return text + (f" ({rec['reason']})" if rec.get("reason") else "")
    if rec["status"] == "not_applicable":
        return f"not applicable: {rec.get('reason')}"
    if rec["status"] == "manual":
        return f"manual: {rec.get('reason')}"
    if rec["status"] == "waived":
        return f"{rec['control']} on {target}: {rec.get('reason')}"
    return f"{rec['control']} on {target}: {rec.get('reason')}"


def _outcome(rec: dict) -> str:
    status, message = rec["status"], _message(rec)
    if status == "fail":
        return f"<failure message={_attr(message)} />"
    if status == "error":
        return f"<error message={_attr('failed on setup: ' + message)} />"
    if status in ("not_applicable", "manual"):
        return f"<skipped type=\"pytest.skip\" message={_attr(message)} />"
    if status == "waived":
        return f"<skipped type=\"pytest.xfail\" message={_attr(message)} />"
    return ""


def _testcase(rec: dict) -> str:
    classname, name = classname_and_name(rec.get("test") or "")
    return (f"<testcase classname={_attr(classname)} name={_attr(name)} time=\"0\">"
            f"{_outcome(rec)}</testcase>\n")


def write(doc: dict, path: Path, seconds: float = 0.0) -> Path:
    verdicts = doc.get("verdicts", [])
    counts = Counter(r["status"] for r in verdicts)
    head = ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites name=\"hvconform\">"
            f"<testsuite name=\"pytest\" errors=\"{counts['error']}\" failures=\"{counts['fail']}\" "
            f"skipped=\"{counts['not_applicable'] + counts['manual'] + counts['waived']}\" "
            f"tests=\"{len(verdicts)}\" time=\"{seconds:.3f}\" "
            f"timestamp={_attr(doc.get('run', {}).get('started'))} "
            f"hostname={_attr(socket.gethostname())}>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write(head)
        for rec in verdicts:
            out.write(_testcase(rec))
        out.write("</testsuite></testsuites>\n")
    return path
