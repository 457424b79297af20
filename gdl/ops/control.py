"""Structured control flow (`while`, `if`) and the tape ops (`stack_new`, `push`, `get`).

`while` has inputs (carried initial values..., invariants...) with attr
`n_carried`, and regions (cond, body) whose params are (carried...,
invariants...); cond yields one bool scalar, body the next carried values.
`if` has inputs (predicate, operands...) and regions (then, else) whose
params are the operands and whose results are the joined values.  `grad`
holds the region from x to y of a `grad(y, x)` in a program until the
autodiff pass expands it.  The differentiation rules of `while` and `if`
live in `control_ad.py` (their tapes in `tapes.py`); this file holds their
types and reference semantics.
Imports `ops.base`, `dtype`, `errors`, `ir`.
"""
from __future__ import annotations

from ..dtype import BOOL, TensorType
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


# ---------------------------------------------------------------- grad

def _grad_infer(ts, attrs, span, regions):
    """grad(y, x): a value of x's type; the region computes y from (x, constants...)."""
    return (ts[0],)


def _grad_interpret(node, args, ctx):
    raise AssertionError("grad nodes are expanded by the autodiff pass before running")


GRAD = OpDef("grad", _grad_infer, None, Host(), differentiable=False, foldable=False,
             interpret=_grad_interpret,
             doc="grad(y, x[, seed]) in a program: expanded into adjoint nodes by autodiff")

DEFS = (WHILE, IF, GRAD)

CALLS = ()
