"""Tapes: the `stack<T>` values reverse mode keeps for loops, and their pure ops.

`push(S, v, i)` is S with v appended at index i (always its length: the
loop counter), `get(S, i)` reads element i.  Being pure values and ops,
the reverse loop that reads a tape is an ordinary `while` that autodiff
differentiates again, so their adjoints mirror each other: the cotangent
of a tape is a tape of cotangents, `get` scatters into it
(`stack_add_at` on `stack_zeros`), `push` reads its element back, and
cotangent tapes add with `stack_add`.  At run time a tape of device
tensors is one growable device buffer written in place (tapes are used
linearly); a tape of host decisions is a host list.
Imports `ops.base`, `dtype`, numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dtype import I32, StackType, TensorType
from .base import Host, OpDef


@dataclass
class Tape:
    """Reference value of a stack: a shared list and this stack's length.

    Appending to the newest stack shares the list (tapes are used
    linearly); writing into an older one copies, so values stay persistent.
    """

    items: list
    length: int

    def push(self, v: Any, i: int) -> "Tape":
        assert i == self.length, f"push at {i} onto a tape of length {self.length}"
        if len(self.items) == self.length:
            self.items.append(v)
            return Tape(self.items, self.length + 1)
        return Tape(self.items[: self.length] + [v], self.length + 1)

    def get(self, i: int) -> Any:
        assert 0 <= i < self.length, f"tape read {i} of {self.length}"
        return self.items[i]

    def add_at(self, i: int, v: Any) -> "Tape":
        items = list(self.items[: self.length])
        items[i] = items[i] + v
        return Tape(items, self.length)


def _scalar_i32(t) -> bool:
    return t == TensorType(I32, ())


def _stack_new_infer(ts, attrs, span):
    return (StackType(attrs["elem"]),)


def _push_infer(ts, attrs, span):
    s, v, i = ts
    assert isinstance(s, StackType) and s.elem == v and _scalar_i32(i), (s, v, i)
    return (s,)


def _get_infer(ts, attrs, span):
    s, i = ts
    assert isinstance(s, StackType) and _scalar_i32(i), (s, i)
    return (s.elem,)


def _zeros_infer(ts, attrs, span):
    assert isinstance(ts[0], StackType), ts
    return (ts[0],)


def _add_at_infer(ts, attrs, span):
    s, i, v = ts
    assert isinstance(s, StackType) and s.elem == v and _scalar_i32(i), (s, i, v)
    return (s,)


def _add_infer(ts, attrs, span):
    assert isinstance(ts[0], StackType) and ts[0] == ts[1], ts
    return (ts[0],)


def _get_adjoint(e, n, cts):
    """The cotangent of element i, scattered into a zero tape of the same length."""
    s, i = n.inputs
    return (e.op("stack_add_at", e.op("stack_zeros", s), i, cts[0]), None)


STACK_NEW = OpDef("stack_new", _stack_new_infer, lambda elem: Tape([], 0), Host(),
                  differentiable=False, foldable=False, doc="an empty tape")
PUSH = OpDef("push", _push_infer, lambda s, v, i: s.push(v, int(i)), Host(),
             adjoint=lambda e, n, cts: (cts[0], e.op("get", cts[0], n.inputs[2]), None),
             foldable=False, doc="push(S, v, i): the tape S with v appended at index i")
GET = OpDef("get", _get_infer, lambda s, i: s.get(int(i)), Host(), adjoint=_get_adjoint,
            foldable=False, doc="get(S, i): element i of the tape S")
STACK_ZEROS = OpDef(
    "stack_zeros", _zeros_infer,
    lambda s: Tape([np.zeros_like(x) for x in s.items[: s.length]], s.length), Host(),
    differentiable=False, foldable=False, doc="a tape of zeros as long as S")
STACK_ADD_AT = OpDef(
    "stack_add_at", _add_at_infer, lambda s, i, v: s.add_at(int(i), v), Host(),
    adjoint=lambda e, n, cts: (cts[0], None, e.op("get", cts[0], n.inputs[1])),
    foldable=False, doc="stack_add_at(S, i, v): S with v added to element i")
STACK_ADD = OpDef(
    "stack_add", _add_infer,
    lambda a, b: Tape([x + y for x, y in zip(a.items[: a.length], b.items[: b.length])],
                      a.length), Host(),
    adjoint=lambda e, n, cts: (cts[0], cts[0]), foldable=False,
    doc="stack_add(A, B): two tapes of one length added element by element")

DEFS = (STACK_NEW, PUSH, GET, STACK_ZEROS, STACK_ADD_AT, STACK_ADD)
CALLS = ()
