"""Asterisk nodes (呼叫中心节点) of a multi-node center — pure helpers, no I/O.

Every Asterisk node runs with its own ``systemname`` (``settings.asterisk.node``). Asterisk then
prefixes every channel uniqueid and linkedid with it (``pbx2-1763880000.42``), so ids never collide
between nodes and the node of a call can be read from its uniqueid. Each node has its own AMI bridge,
which owns the lifecycle of that node's call rows and reads its own command stream.
"""

from __future__ import annotations

import re

#: A node name: lower-case letters, digits, ``_`` and ``-``; starts with a letter (Asterisk
#: ``systemname``, Redis key part and metric label all accept it).
NODE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_PLAIN_UNIQUEID = re.compile(r"^\d+\.\d+$")


def validate_node(name: str) -> str:
    """``name`` if it is a valid node name, else ValueError with the rule."""
    if not NODE_NAME.fullmatch(name or ""):
        raise ValueError(
            f"invalid node name {name!r}: use 1-32 of a-z 0-9 _ -, starting with a letter (e.g. pbx1)"
        )
    return name


def node_of_uniqueid(uniqueid: str | None) -> str | None:
    """The node prefix of an Asterisk uniqueid (``pbx2-1763880000.42`` → ``pbx2``), or None.

    A uniqueid without a prefix (Asterisk without ``systemname``) has no node.
    """
    if not uniqueid or "-" not in uniqueid:
        return None
    prefix, _, rest = uniqueid.rpartition("-")
    if not _PLAIN_UNIQUEID.fullmatch(rest) or not NODE_NAME.fullmatch(prefix):
        return None
    return prefix
