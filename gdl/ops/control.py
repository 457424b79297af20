"""Structured control flow (`while`, `if`) and the tape ops (`stack_new`, `push`, `get`).

`while` has inputs (carried initial values..., invariants...) with attr
`n_carried`, and regions (cond, body) whose params are (carried...,
invariants...); cond yields one bool scalar, body the next carried values.
`if` has inputs (predicate, operands...) and regions (then, else) whose
params are the operands and whose results are the joined values.

A tape is a value of type `stack<T>`: `push(S, v)` is a new stack with v on
top and `get(S, i)` reads element i.  They are pure, so the reverse loop
that reads a tape is an ordinary `while` that autodiff can differentiate
again.  The differentiation rules of `while` and `if` live in
`control_ad.py`; this file holds their types and reference semantics.
Imports `ops.base`, `dtype`, `errors`, `ir`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..dtype import BOOL, I32, StackType, TensorType
from ..errors import GdlRuntimeError, GdlTypeError
from .base import Host, OpDef
from .control_ad import IF_RULES, WHILE_RULES


# ---------------------------------------------------------------- while

def _while_infer(ts, attrs, span, regions):
    return tuple(ts[: attrs["n_carried"]])


def _while_interpret(node, args, ctx):
    """Run cond and body until cond is false, at most `ctx.max_iters` times."""
    k = node.attr("n_carried")
    carried, inv = list(args[:k]), list(args[k:])
    cond, body = node.regions
    count = 0
    while bool(ctx.run(cond, carried + inv)[0]):
        if count == ctx.max_iters:
            raise iteration_limit_error(node, ctx.max_iters)
        carried = list(ctx.run(body, carried + inv))
        count += 1
    return tuple(carried)


def iteration_limit_error(node, limit: int) -> GdlRuntimeError:
    """The error of a loop that wants more than `limit` iterations (spans its header)."""
    line = f" at line {node.span.line}" if node.span else ""
    return GdlRuntimeError(
        f"the while loop{line} did not finish within the iteration limit of {limit} "
        f"(raise it with max_iters / --max-iters if the loop is meant to run longer)",
        node.span)


WHILE = OpDef("while", _while_infer, None, Host(), promote="none", foldable=False,
              interpret=_while_interpret, ad_rules=WHILE_RULES,
              doc="while cond { body } over loop-carried values")


# ---------------------------------------------------------------- if

def _if_infer(ts, attrs, span, regions):
    """The joined values have the then-branch's result types (verify checks else)."""
    p = ts[0]
    if not (isinstance(p, TensorType) and p.dtype == BOOL and p.shape == ()):
        raise GdlTypeError(f"an `if` condition must be a bool scalar, found {p}", span)
    return tuple(r.type for r in regions[0].results)


def _if_interpret(node, args, ctx):
    then, other = node.regions
    return tuple(ctx.run(then if bool(args[0]) else other, list(args[1:])))


IF = OpDef("if", _if_infer, None, Host(), promote="none", foldable=False,
           interpret=_if_interpret, ad_rules=IF_RULES, doc="if p { then } else { else }")


# ---------------------------------------------------------------- tapes

@dataclass
class Tape:
    """Reference value of a stack: a shared list and this stack's length.

    A push onto the newest stack appends in place (the tapes autodiff makes
    are used linearly), an older one copies, so values stay persistent.
    """

    items: list
    length: int

    def push(self, v: Any) -> "Tape":
        if len(self.items) == self.length:
            self.items.append(v)
            return Tape(self.items, self.length + 1)
        return Tape(self.items[: self.length] + [v], self.length + 1)

    def get(self, i: int) -> Any:
        assert 0 <= i < self.length, f"tape read {i} of {self.length}"
        return self.items[i]


def _stack_new_infer(ts, attrs, span):
    return (StackType(attrs["elem"]),)


def _push_infer(ts, attrs, span):
    s, v = ts
    assert isinstance(s, StackType) and s.elem == v, (s, v)
    return (s,)


def _get_infer(ts, attrs, span):
    s, i = ts
    assert isinstance(s, StackType) and i == TensorType(I32, ()), (s, i)
    return (s.elem,)


def _tape_adjoint(e, node, cts):
    """Tapes are differentiated only by a second reverse pass through a loop.

    That is grad of grad through `while`, which lands with `grad()` in
    programs; until then reaching here is a bug, never a silent zero.
    """
    raise NotImplementedError(f"the adjoint of `{node.op}` (grad of grad through a loop)")


STACK_NEW = OpDef("stack_new", _stack_new_infer, lambda elem: Tape([], 0), Host(),
                  differentiable=False, foldable=False, doc="an empty tape")
PUSH = OpDef("push", _push_infer, lambda s, v: s.push(v), Host(), adjoint=_tape_adjoint,
             foldable=False, doc="push(S, v): the tape S with v on top")
GET = OpDef("get", _get_infer, lambda s, i: s.get(int(i)), Host(), adjoint=_tape_adjoint,
            foldable=False, doc="get(S, i): element i of the tape S")

DEFS = (WHILE, IF, STACK_NEW, PUSH, GET)

CALLS = ()
