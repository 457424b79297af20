"""The one op table, `OPS`: every op of GDL by name, read-only.

Each family module defines its ops as `OpDef` records in a `DEFS` tuple;
this package gathers them.  Adding an op touches its family file only.
"""
from __future__ import annotations

from types import MappingProxyType

from ..ir import Builder
from . import control, elementwise, init, linalg, reduce, shape
from .base import Emitter, OpDef

_FAMILIES = (elementwise, reduce, linalg, shape, init, control)


def _table() -> MappingProxyType:
    table: dict[str, OpDef] = {}
    for family in _FAMILIES:
        for op in family.DEFS:
            assert op.name not in table, f"op {op.name} defined twice"
            table[op.name] = op
    return MappingProxyType(table)


OPS = _table()


def emitter(builder: Builder, span=None) -> Emitter:
    """An Emitter over `builder` that builds ops from `OPS`."""
    return Emitter(builder, OPS, span)


__all__ = tuple(["OPS", "OpDef", "Emitter", "emitter"])
