"""The one op table, `OPS`, and the built-in functions, `CALLS`, by name, read-only.

Each family module defines its ops as `OpDef` records in a `DEFS` tuple and
the built-in functions that build them as `Call` records in `CALLS`; this
package gathers them.  Adding an op touches its family file only.
"""
from __future__ import annotations

from types import MappingProxyType

from ..ir import Builder
from . import control, effects, elementwise, init, linalg, math, reduce, shape, tapes, views
from .base import Call, Emitter, OpDef

_FAMILIES = (elementwise, math, reduce, linalg, shape, views, init, tapes, control, effects)


def _gather(field: str) -> MappingProxyType:
    """Every family's records of `field` ("DEFS" or "CALLS") by name; each name once."""
    table: dict[str, OpDef | Call] = {}
    for family in _FAMILIES:
        for record in getattr(family, field):
            assert record.name not in table, f"{record.name} defined twice in {field}"
            table[record.name] = record
    return MappingProxyType(table)


OPS = _gather("DEFS")
CALLS = _gather("CALLS")


def must_run(node) -> bool:
    """Whether dead-code elimination must keep a node whose values nothing uses.

    Effects (print, assert) must happen, and so must a program's own `while`
    loops (role "" or recorded, "tape"), anywhere inside the node: one may
    never finish, and then the run must stop with the iteration-limit error,
    not succeed without it.  Loops made by reverse mode run a recorded trip
    count and may go.
    """
    stack = [node]
    while stack:
        n = stack.pop()
        if OPS[n.op].effect or (n.op == "while" and n.role in ("", "tape")):
            return True
        for region in n.regions:
            stack.extend(region.nodes)
    return False


def emitter(builder: Builder, span=None) -> Emitter:
    """An Emitter over `builder` that builds ops from `OPS`."""
    return Emitter(builder, OPS, span)


__all__ = ("OPS", "CALLS", "OpDef", "Call", "Emitter", "emitter", "must_run")
