"""Names from a bundle (host names, above all) that become file names in a run folder,
as the merge of shards words its errors:

    stem = host_file_stem(name, where="shards/2.tar.gz: run.json")   # or UnsafeName

The rule itself is hvconform.model.safe_names, the one gate every name from a host,
an inventory or a bundle passes before it becomes a path (run ids too); this module
only says where the name came from. A name is refused, never rewritten: two
rewritten names could collide.
"""

from __future__ import annotations

from hvconform.model.safe_names import MAX_LENGTH, RULE, UnsafeName, is_safe

__all__ = ["MAX_LENGTH", "UnsafeName", "host_file_stem", "is_safe"]


def host_file_stem(name, where: str = "") -> str:
    """`name` itself when it is safe as a file or folder name, else UnsafeName."""
    if is_safe(name):
        return name
    shown = repr(name) if isinstance(name, str) else f"a {type(name).__name__}"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    prefix = f"{where}: " if where else ""
    raise UnsafeName(f"{prefix}host name {shown} is not a safe file name ({RULE})")
