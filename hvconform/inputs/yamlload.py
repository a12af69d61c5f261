"""YAML with line numbers, so every error can say file:line and the key.

`load_located(path)` returns the plain document and a dict from key paths to line
numbers: `lines[("hosts", "weak", "port")] == 12`. Safe loading only.
"""

from __future__ import annotations

from pathlib import Path

import yaml

_MERGE = "tag:yaml.org,2002:merge"


class LocatedError(Exception):
    """An error that names the place: 'inventories/lab.yaml:12: hosts.weak.port: ...'."""


class _At(Exception):
    """A problem found while walking the node tree; load_located adds the file name."""

    def __init__(self, node, message):
        super().__init__(message)
        self.line = node.start_mark.line + 1


def _walk(node, path, lines):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out, merged = {}, []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                # `<<: *anchor`: explicit keys win whatever their order, so merge last.
                merged.append(value_node)
                continue
            key = _scalar(key_node)
            try:
                duplicate = key in out
            except TypeError:  # `? {a: 1}`: a mapping or list used as a key
                raise _At(key_node, "keys must be plain scalars, not mappings or lists") from None
            if duplicate:
                raise _At(key_node, f"duplicate key '{key}'")
            out[key] = _walk(value_node, path + (key,), lines)
            # The key's line, not the value's: a nested mapping starts on the next line.
            lines[path + (key,)] = key_node.start_mark.line + 1
        for value_node in merged:
            many = isinstance(value_node, yaml.SequenceNode)  # `<<: [*a, *b]`: a wins over b
            for source in value_node.value if many else [value_node]:
                if not isinstance(source, yaml.MappingNode):
                    raise _At(source, "'<<' merges mappings only")
                sub_lines: dict = {}
                for key, value in _walk(source, path, sub_lines).items():
                    if key not in out:
                        out[key] = value
                        lines.update({p: n for p, n in sub_lines.items()
                                      if p[: len(path) + 1] == path + (key,)})
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, path + (i,), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def load_located(path: Path, text: str | None = None):
    """Parse YAML at `path` (or `text`); return (document, lines). Empty -> (None, {})."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"{exc.context}, {exc.problem}" if exc.context else str(exc.problem or exc)
        if exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" (see line {exc.context_mark.line + 1})"
        raise LocatedError(f"{path}:{line}: not valid YAML: {message}") from None
    except UnicodeDecodeError as exc:
        raise LocatedError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise LocatedError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.reader.ReaderError as exc:  # a control character: no mark, only a position
        line = text.count("\n", 0, exc.position) + 1
        raise LocatedError(f"{path}:{line}: not valid YAML: {exc.reason} "
                           f"(#x{exc.character:04x})") from None
    lines: dict = {}
    if node is None:
        return None, lines
    try:
        return _walk(node, (), lines), lines
    except _At as exc:
        raise LocatedError(f"{path}:{exc.line}: {exc}") from None
    except yaml.MarkedYAMLError as exc:  # e.g. a bad !!timestamp or an unknown !tag
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise LocatedError(f"{path}:{line}: {exc.problem or exc}") from None
