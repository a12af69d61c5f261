"""YAML with line numbers, so every error can say file:line and the key.

`load_located(path)` returns the plain document and a dict from key paths to line
numbers: `lines[("hosts", "weak", "port")] == 12`. Safe loading only.

Every file a user gives (inventory, waivers, profiles, the catalog) is read here,
and is hostile input. Accepted: YAML 1.1 as PyYAML's SafeLoader reads it, with
anchors, aliases and merge keys (`<<: *base`), but bounded, so a few hundred bytes
cannot expand into gigabytes (an anchor bomb) or loop (an alias inside the node it
names): a file is at most MAX_BYTES, its expanded document at most MAX_NODES values
(an alias counts again each time it is used) and MAX_DEPTH levels deep. Past a bound,
or for a recursive alias, the error is located like any other. Not accepted: tags
that make objects (`!!python/...`), keys that are mappings or lists, duplicate keys.
"""

from __future__ import annotations

from pathlib import Path

import yaml

_MERGE = "tag:yaml.org,2002:merge"
MAX_BYTES = 8 << 20     # a site's inventory of thousands of hosts is a few MiB
MAX_NODES = 200_000     # values after aliases are expanded; the catalog has ~20,000
MAX_DEPTH = 64          # levels of nesting; the deepest file here uses 7


class LocatedError(Exception):
    """An error that names the place: 'inventories/lab.yaml:12: hosts.weak.port: ...'."""


class _At(Exception):
    """A problem found while walking the node tree; load_located adds the file name."""

    def __init__(self, node, message):
        super().__init__(message)
        self.line = node.start_mark.line + 1


class _Bounds:
    """What one document's walk has used: values expanded, and the nodes open above."""

    def __init__(self):
        self.nodes = 0
        self.open: set[int] = set()

    def enter(self, node, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _At(node, f"expands to more than {MAX_NODES} values (aliases counted each "
                            f"time they are used): refused, as an anchor bomb would be")
        if depth > MAX_DEPTH:
            raise _At(node, f"nested deeper than {MAX_DEPTH} levels: refused")
        if id(node) in self.open:
            anchor = getattr(node, "hv_anchor", None)
            raise _At(node, f"an alias inside the node it names (*{anchor or '?'}): it "
                            f"would repeat forever")


def _walk(node, path, lines, bounds=None):
    bounds = bounds or _Bounds()
    bounds.enter(node, len(path))
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        bounds.open.add(id(node))
        try:
            return _walk_collection(node, path, lines, bounds)
        finally:
            bounds.open.discard(id(node))
    lines[path] = node.start_mark.line + 1
    return _scalar(node)


def _walk_collection(node, path, lines, bounds):
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
            out[key] = _walk(value_node, path + (key,), lines, bounds)
            # The key's line, not the value's: a nested mapping starts on the next line.
            lines[path + (key,)] = key_node.start_mark.line + 1
        for value_node in merged:
            many = isinstance(value_node, yaml.SequenceNode)  # `<<: [*a, *b]`: a wins over b
            for source in value_node.value if many else [value_node]:
                if not isinstance(source, yaml.MappingNode):
                    raise _At(source, "'<<' merges mappings only")
                sub_lines: dict = {}
                for key, value in _walk(source, path, sub_lines, bounds).items():
                    if key not in out:
                        out[key] = value
                        lines.update({p: n for p, n in sub_lines.items()
                                      if p[: len(path) + 1] == path + (key,)})
        return out
    return [_walk(item, path + (i,), lines, bounds) for i, item in enumerate(node.value)]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer (recursive) refuses nesting past MAX_DEPTH before
    Python's own recursion limit does, and names each anchored node for messages."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        self.hv_depth = getattr(self, "hv_depth", 0) + 1
        if self.hv_depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} "
                                              f"levels: refused", event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.hv_depth -= 1
        if not isinstance(event, yaml.AliasEvent) and getattr(event, "anchor", None):
            node.hv_anchor = event.anchor
        return node


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
        if text is None:
            if path.stat().st_size > MAX_BYTES:
                raise LocatedError(f"{path}: larger than {MAX_BYTES / (1 << 20):.1f} MiB: refused")
            text = path.read_text(encoding="utf-8")
        if len(text) > MAX_BYTES:
            raise LocatedError(f"{path}: larger than {MAX_BYTES / (1 << 20):.1f} MiB: refused")
        node = yaml.compose(text, Loader=_Loader)
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
