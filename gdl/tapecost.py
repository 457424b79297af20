"""What each loop saves per iteration for its reverse pass (its tape).

A differentiated `while` pushes the values its reverse pass needs onto
tapes, one entry per iteration: its memory grows with the trip count, which
only the run knows.  `gdl check` shows the bytes per iteration so a user can
tell before running how far a loop can go; the runtime checks the growth
against the device as the loop runs (runtime/tapes.py).
Imports `dtype`, `errors`, `ir`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .dtype import BOOL, I32, TensorType
from .errors import Span
from .ir import Graph, walk


@dataclass(frozen=True)
class LoopTape:
    """One loop's tape: device bytes and host scalars saved per iteration."""

    span: Span | None
    device_bytes: int
    host_values: int


def loop_tapes(graph: Graph) -> list[LoopTape]:
    """Every forward `while` of a graph (nested ones too) with what it pushes per
    iteration (reverse loops read tapes, they push nothing)."""
    found = []
    for node, _ in walk(graph.body):
        if node.op != "while" or node.role == "adjoint":
            continue
        device = host = 0
        for region in node.regions:
            for n in region.nodes:
                if n.op != "push":
                    continue
                t = n.inputs[1].type
                if not isinstance(t, TensorType):
                    continue            # an inner loop's tape: saved by reference
                if t.shape == () and t.dtype in (I32, BOOL):
                    host += 1           # a decision or counter: a host list entry
                else:
                    device += t.nbytes
        found.append(LoopTape(node.span, device, host))
    return found
