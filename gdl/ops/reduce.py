"""Reductions: `sum` over all or some axes, and `norm` (the L2 norm).

Each lowers to the one deterministic reduction template (gdl/kernels/
reduce.cl): the summation order is a function of the shape only, so results
are bitwise repeatable.  Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import BOOL, I32, TensorType
from ..errors import GdlTypeError
from .base import (REQUIRED, Call, OpDef, Reduce, normalize_axes, reduced_shape,
                   require_float, tensor, unary_call)


def _sum_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of `sum`", span)
    if t.dtype == BOOL:
        raise GdlTypeError("`sum` needs numbers, found bool (use i32(...) to count)", span)
    axes = normalize_axes(attrs.get("axis"), t.rank, "sum", span)
    return (TensorType(t.dtype, reduced_shape(t.shape, axes, bool(attrs.get("keepdims")))),)


def _sum_numpy(x, axis=None, keepdims=False):
    x = np.asarray(x)
    return np.asarray(np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype))


def _sum_adjoint(e, n, cts):
    """Every element of the input gets the cotangent of the sum it fed."""
    x = n.inputs[0]
    axes = normalize_axes(n.attr("axis"), x.type.rank, "sum", None)
    kept = e.reshape(cts[0], reduced_shape(x.type.shape, axes, True))
    return (e.broadcast_to(kept, x.type.shape),)


SUM = OpDef("sum", _sum_infer, _sum_numpy, Reduce("add"), adjoint=_sum_adjoint,
            doc="sum(x, axis=, keepdims=): sum of elements; i32 sums wrap")


def _norm_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of `norm`", span)
    require_float(t, "norm", span)
    return (TensorType(t.dtype, ()),)


def _norm_numpy(x):
    x = np.asarray(x)
    return np.asarray(np.sqrt(np.sum(x * x, dtype=x.dtype)), dtype=x.dtype)


def _norm_adjoint(e, n, cts):
    """d norm(x) = ct * x / norm(x), with 0 at the zero vector (norm'(0) = 0)."""
    x = n.inputs[0]
    zero = e.scalar_like(0, n.out)
    safe = e.where(e.op("eq", n.out, zero), e.scalar_like(1, n.out), n.out)
    return (e.mul(x, e.div(cts[0], safe)),)


NORM = OpDef("norm", _norm_infer, _norm_numpy,
             Reduce("add", pre="({0} * {0})", post="sqrt({0})"), adjoint=_norm_adjoint,
             promote="float", doc="norm(x): L2 norm of all elements")


DEFS = (SUM, NORM)


def _sum_call(ctx, a, dtype, span):
    """sum(x, axis=None, keepdims=false); summing bools counts them."""
    x = a["x"]
    if ctx.dtype_of(x) == BOOL:
        x = ctx.to_value(x, I32, span)
    axes = None
    if a["axis"] is not None:
        axes = normalize_axes(ctx.const_axes(a["axis"], span), len(ctx.shape_of(x)), "sum", span)
    keepdims = False if a["keepdims"] is None else ctx.const_bool(a["keepdims"], "keepdims", span)
    return ctx.apply("sum", [x], {"axis": axes, "keepdims": keepdims}, span)


CALLS = (
    Call("sum", (("x", REQUIRED), ("axis", None), ("keepdims", None)), _sum_call),
    unary_call("norm"),
)
