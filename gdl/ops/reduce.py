"""Reductions and scans: `sum max min prod` over axes, `norm`, `argmax argmin`, `cumsum`.

Contracts (language.md §3, §5):
- `sum max min prod` take `axis` (None, an int or a tuple; negative allowed)
  and `keepdims`; i32 sums and products wrap.  NaN anywhere in a reduced set
  makes its `max`/`min` NaN (NumPy).  Their gradients: `max`/`min` split the
  cotangent evenly among the elements equal to the result (NaN elements
  count as equal to a NaN result); `prod` counts zeros (none: p/x; one: the
  product of the others at the zero; more: 0) and is written so that its own
  gradient is right too (the second derivative at one or two zeros), with
  no division by a value that can be zero.
- `argmax argmin` give i32 indices, the first on ties, a NaN counting as
  the extreme (the first NaN wins, as np.argmax/np.argmin); `axis` None is
  the flat row-major index.  They pass no gradient.
- `cumsum(x, axis)` scans one axis (attr `reverse` scans from the end: the
  adjoint of a scan is the reversed scan).  Float scans are Kahan-
  compensated in the operand's dtype, in order (the compensation is dropped
  once the running sum is infinite, so inf stays inf); the NumPy reference
  does exactly the same arithmetic.  The call `cumsum(x)` without `axis`
  flattens first, as NumPy does.
- Calls built from these ops: `mean` (sum / count; integers give f32),
  `logsumexp`, `softmax`, `log_softmax` (shifted by the stop_grad'ed max,
  so logits of +-1000 stay finite and log_softmax never takes log(0)).

Every reduction lowers to the deterministic reduction kernels
(runtime/gen_reduce.py: summation order a function of the shape only);
`argmax`/`argmin` to `Kernel("argreduce")` and `cumsum` to `Kernel("scan")`
(runtime/gen_scan.py).  Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import BOOL, F32, I32, TensorType
from ..errors import GdlTypeError
from .base import (REQUIRED, Call, Kernel, OpDef, Reduce, normalize_axes, reduced_shape,
                   require_float, tensor, unary_call)


# ---------------------------------------------------------------- sum max min prod

def _reduce_infer(name: str):
    """Type rule of a reduction over `axis` that keeps its operand's numeric dtype."""
    def infer(ts, attrs, span):
        t = tensor(ts[0], f"the operand of `{name}`", span)
        if t.dtype == BOOL:
            hint = "i32(...) to count" if name in ("sum", "prod") else "i32(...)"
            raise GdlTypeError(f"`{name}` needs numbers, found bool (use {hint})", span)
        axes = normalize_axes(attrs.get("axis"), t.rank, name, span)
        return (TensorType(t.dtype, reduced_shape(t.shape, axes, bool(attrs.get("keepdims")))),)
    return infer


def _reduce_numpy(fn):
    """NumPy reference of a reduction in the operand's own dtype (i32 wraps)."""
    def ref(x, axis=None, keepdims=False):
        x = np.asarray(x)
        return np.asarray(fn(x, axis=axis, keepdims=keepdims, dtype=x.dtype))
    return ref


def _extreme_numpy(fn):
    """NumPy reference of max/min (NaN propagates)."""
    def ref(x, axis=None, keepdims=False):
        x = np.asarray(x)
        return np.asarray(fn(x, axis=axis, keepdims=keepdims), dtype=x.dtype)
    return ref


def _kept(e, n, value):
    """`value` (shaped like the reduction's result) reshaped with the reduced axes as 1s."""
    x = n.inputs[0]
    axes = normalize_axes(n.attr("axis"), x.type.rank, n.op, None)
    return e.reshape(value, reduced_shape(x.type.shape, axes, True)), axes


def _sum_adjoint(e, n, cts):
    """Every element of the input gets the cotangent of the sum it fed."""
    kept, _ = _kept(e, n, cts[0])
    return (e.broadcast_to(kept, n.inputs[0].type.shape),)


def _extreme_adjoint(e, n, cts):
    """ct / count where x equals the result (NaNs equal a NaN result), 0 elsewhere.

    The count is at least 1 (the result is one of the elements), so the
    share is finite; the mask is a comparison, so the rule is linear in ct
    and differentiates again.
    """
    x = n.inputs[0]
    m, axes = _kept(e, n, n.out)
    ct, _ = _kept(e, n, cts[0])
    both_nan = e.op("and", e.op("ne", x, x), e.op("ne", m, m))
    hit = e.op("or", e.op("eq", x, m), both_nan)
    count = e.sum(e.cast(hit, x.type.dtype), axes, keepdims=True)
    return (e.where(hit, e.div(ct, count), e.scalar_like(0, x)),)


def _prod_adjoint(e, n, cts):
    """d prod / dx_i, the product of the other elements, counting zeros.

    With P the product of the nonzero elements and Z the number of zeros:
    Z = 0: P / x_i; Z = 1: P at the zero, P / x_i * (the zero) elsewhere;
    Z = 2: P * (the other zero) at each zero, 0 elsewhere; more: 0.  The
    zeros' values stay in the formula (they are 0, but their derivatives are
    not), so differentiating this rule again gives the exact Hessian where
    Z <= 2; every division is by a nonzero element.
    """
    x = n.inputs[0]
    ct, axes = _kept(e, n, cts[0])
    zero, one = e.scalar_like(0, x), e.scalar_like(1, x)
    z = e.op("eq", x, zero)
    safe = e.where(z, one, x)                                   # zeros replaced by 1
    p = e.op("prod", safe, axis=axes, keepdims=True)            # P
    nz = e.sum(e.cast(z, x.type.dtype), axes, keepdims=True)    # Z
    zs = e.sum(e.where(z, x, zero), axes, keepdims=True)        # 0, with d/dx = 1 at zeros
    none = e.div(p, safe)
    one_zero = e.where(z, p, e.mul(none, zs))
    two_zeros = e.where(z, e.mul(p, e.sub(zs, x)), zero)
    g = e.where(e.op("eq", nz, zero), none,
                e.where(e.op("eq", nz, one), one_zero,
                        e.where(e.op("eq", nz, e.scalar_like(2, x)), two_zeros, zero)))
    return (e.mul(ct, g),)


SUM = OpDef("sum", _reduce_infer("sum"), _reduce_numpy(np.sum), Reduce("add"),
            adjoint=_sum_adjoint, doc="sum(x, axis=, keepdims=): sum of elements; i32 sums wrap")

MAX = OpDef("max", _reduce_infer("max"), _extreme_numpy(np.max), Reduce("max"),
            adjoint=_extreme_adjoint,
            doc="max(x, axis=, keepdims=): largest element; NaN if any is NaN")

MIN = OpDef("min", _reduce_infer("min"), _extreme_numpy(np.min), Reduce("min"),
            adjoint=_extreme_adjoint,
            doc="min(x, axis=, keepdims=): smallest element; NaN if any is NaN")

PROD = OpDef("prod", _reduce_infer("prod"), _reduce_numpy(np.prod), Reduce("mul"),
             adjoint=_prod_adjoint, doc="prod(x, axis=, keepdims=): product; i32 products wrap")


# ---------------------------------------------------------------- norm

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


# ---------------------------------------------------------------- argmax argmin

def _arg_infer(name: str):
    """Type rule of argmax/argmin: one axis (or None: the flat index), i32 result."""
    def infer(ts, attrs, span):
        t = tensor(ts[0], f"the operand of `{name}`", span)
        axis = attrs.get("axis")
        if axis is not None and not isinstance(axis, int):
            axis = tuple(axis)
            if len(axis) != 1:
                raise GdlTypeError(f"`{name}` takes one axis (an integer) or none, found "
                                   f"{list(axis)}", span)
        axes = normalize_axes(axis, t.rank, name, span)
        return (TensorType(I32, reduced_shape(t.shape, axes, bool(attrs.get("keepdims")))),)
    return infer


def _arg_numpy(fn):
    """np.argmax/np.argmin as i32: the first index on ties and the first NaN."""
    def ref(x, axis=None, keepdims=False):
        x = np.asarray(x)
        if axis is not None and not isinstance(axis, int):
            (axis,) = axis
        out = fn(x.reshape(-1) if axis is None else x, axis=None if axis is None else axis)
        out = np.asarray(out, np.int32)
        if keepdims:
            axes = normalize_axes(axis, x.ndim, "argmax", None)
            out = out.reshape(reduced_shape(x.shape, axes, True))
        return out
    return ref


ARGMAX = OpDef("argmax", _arg_infer("argmax"), _arg_numpy(np.argmax), Kernel("argreduce"),
               differentiable=False,
               doc="argmax(x, axis=, keepdims=): i32 index of the largest (first on ties)")

ARGMIN = OpDef("argmin", _arg_infer("argmin"), _arg_numpy(np.argmin), Kernel("argreduce"),
               differentiable=False,
               doc="argmin(x, axis=, keepdims=): i32 index of the smallest (first on ties)")


# ---------------------------------------------------------------- cumsum

def _cumsum_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of `cumsum`", span)
    if t.dtype == BOOL:
        raise GdlTypeError("`cumsum` needs numbers, found bool (use i32(...) to count)", span)
    axis = attrs.get("axis")
    if not isinstance(axis, int):
        raise GdlTypeError(f"`cumsum` takes one axis (an integer), found {axis!r}", span)
    normalize_axes(axis, t.rank, "cumsum", span)
    return (t,)


def _cumsum_numpy(x, axis, reverse=False):
    """The scan the kernel computes: in order, Kahan-compensated for floats (i32 wraps)."""
    x = np.asarray(x)
    axis = normalize_axes(axis, x.ndim, "cumsum", None)[0]
    lines = np.moveaxis(x, axis, 0)
    if reverse:
        lines = lines[::-1]
    if x.dtype.kind != "f":
        out = np.cumsum(lines, axis=0, dtype=x.dtype)
    else:
        out = np.empty_like(lines)
        acc = np.zeros(lines.shape[1:], x.dtype)
        comp = np.zeros(lines.shape[1:], x.dtype)
        with np.errstate(all="ignore"):
            for j in range(lines.shape[0]):
                y = lines[j] - comp
                t = acc + y
                comp = np.where(np.isfinite(t), (t - acc) - y, 0).astype(x.dtype)
                acc = t
                out[j] = acc
    if reverse:
        out = out[::-1]
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


def _cumsum_adjoint(e, n, cts):
    """Element j feeds every later prefix: the cotangent scanned the other way."""
    return (e.op("cumsum", cts[0], axis=n.attr("axis"), reverse=not n.attr("reverse")),)


CUMSUM = OpDef("cumsum", _cumsum_infer, _cumsum_numpy, Kernel("scan"), adjoint=_cumsum_adjoint,
               doc="cumsum(x, axis=, reverse=): running sums along one axis; i32 wraps")


DEFS = (SUM, MAX, MIN, PROD, NORM, ARGMAX, ARGMIN, CUMSUM)


# ---------------------------------------------------------------- calls

def _axes_arg(ctx, a, x, name, span):
    """The `axis` argument as normalized axes (None: every axis)."""
    if a["axis"] is None:
        return None
    return normalize_axes(ctx.const_axes(a["axis"], span), len(ctx.shape_of(x)), name, span)


def _keepdims_arg(ctx, a, span) -> bool:
    return False if a.get("keepdims") is None else ctx.const_bool(a["keepdims"], "keepdims", span)


def _reduce_call(name: str):
    """`name(x, axis=None, keepdims=false)`; bools are counted as i32 by sum and prod."""
    def handler(ctx, a, dtype, span):
        x = a["x"]
        if name in ("sum", "prod") and ctx.kind_of(x) == "bool":
            x = ctx.to_value(x, I32, span)
        if name in ("max", "min") and a["axis"] is not None and ctx.dtype_of(a["axis"]):
            hint = "maximum" if name == "max" else "minimum"
            raise GdlTypeError(f"`{name}` reduces one tensor: its second argument is `axis`, "
                               f"an integer or a list of integers (use `{hint}(a, b)` for the "
                               f"elementwise {hint})", span)
        axes = _axes_arg(ctx, a, x, name, span)
        return ctx.apply(name, [x], {"axis": axes, "keepdims": _keepdims_arg(ctx, a, span)},
                         span)
    return Call(name, (("x", REQUIRED), ("axis", None), ("keepdims", None)), handler)


def _arg_call(name: str):
    """`argmax(x, axis=None, keepdims=false)`: axis None gives the flat index."""
    def handler(ctx, a, dtype, span):
        x = a["x"]
        axis = None
        if a["axis"] is not None:
            axis = ctx.const_axes(a["axis"], span)
            if not isinstance(axis, int):
                raise GdlTypeError(f"`{name}` takes one axis (an integer), found {list(axis)}",
                                   span)
            axis = normalize_axes(axis, len(ctx.shape_of(x)), name, span)[0]
        return ctx.apply(name, [x], {"axis": axis, "keepdims": _keepdims_arg(ctx, a, span)},
                         span)
    return Call(name, (("x", REQUIRED), ("axis", None), ("keepdims", None)), handler)


def _cumsum_call(ctx, a, dtype, span):
    """cumsum(x, axis=None): without `axis` the flattened x is scanned (NumPy)."""
    x = a["x"]
    x = ctx.to_value(x, I32 if ctx.kind_of(x) == "bool" else None, span)
    if a["axis"] is None:
        x = ctx.e(span).reshape(x, (x.type.size,))
        axis = 0
    else:
        axis = ctx.const_axes(a["axis"], span)
        if not isinstance(axis, int):
            raise GdlTypeError(f"`cumsum` takes one axis (an integer), found {list(axis)}", span)
        axis = normalize_axes(axis, x.type.rank, "cumsum", span)[0]
    return ctx.apply("cumsum", [x], {"axis": axis, "reverse": False}, span)


def _float_value(ctx, x, span):
    """A strong float value of `x` (integers and bools become f32)."""
    return ctx.to_value(x, None if ctx.kind_of(x) == "float" else F32, span)


def _mean_call(ctx, a, dtype, span):
    """mean(x, axis=None, keepdims=false) = sum / count, in f32 for integer x."""
    x = _float_value(ctx, a["x"], span)
    axes = _axes_arg(ctx, a, x, "mean", span)
    axes = tuple(range(x.type.rank)) if axes is None else axes
    keep = _keepdims_arg(ctx, a, span)
    e = ctx.e(span)
    s = e.op("sum", x, axis=axes, keepdims=keep)
    count = int(np.prod([x.type.shape[i] for i in axes], dtype=np.int64))
    return e.div(s, e.const(count, x.type.dtype))


def _shifted(e, x, axes):
    """(x - m, log(sum(exp(x - m)))) along `axes` with kept dims, m the max, stop_grad'ed.

    An infinite max shifts by 0 instead (inf - inf would be NaN), as
    scipy and PyTorch do.
    """
    m = e.op("stop_grad", e.op("max", x, axis=axes, keepdims=True))
    zero = e.scalar_like(0, x)
    m = e.where(e.op("eq", e.sub(m, m), zero), m, zero)
    d = e.sub(x, m)
    return m, d, e.op("log", e.sum(e.op("exp", d), axes, keepdims=True))


def _logsumexp_call(ctx, a, dtype, span):
    """logsumexp(x, axis=None, keepdims=false) = m + log(sum(exp(x - m))), m the max."""
    x = _float_value(ctx, a["x"], span)
    axes = _axes_arg(ctx, a, x, "logsumexp", span)
    axes = tuple(range(x.type.rank)) if axes is None else axes
    e = ctx.e(span)
    m, _, log_s = _shifted(e, x, axes)
    out = e.add(m, log_s)
    if not _keepdims_arg(ctx, a, span):
        out = e.reshape(out, reduced_shape(x.type.shape, axes, False))
    return out


def _softmax_call(log: bool):
    """softmax(x, axis=-1) = exp(x - m - log s); log_softmax = x - m - log s."""
    name = "log_softmax" if log else "softmax"

    def handler(ctx, a, dtype, span):
        x = _float_value(ctx, a["x"], span)
        axis = -1 if a["axis"] is None else ctx.const_axes(a["axis"], span)
        axes = normalize_axes(axis, x.type.rank, name, span)
        e = ctx.e(span)
        _, d, log_s = _shifted(e, x, axes)
        out = e.sub(d, log_s)
        return out if log else e.op("exp", out)
    return Call(name, (("x", REQUIRED), ("axis", None)), handler)


CALLS = (
    _reduce_call("sum"),
    _reduce_call("max"),
    _reduce_call("min"),
    _reduce_call("prod"),
    Call("mean", (("x", REQUIRED), ("axis", None), ("keepdims", None)), _mean_call),
    _arg_call("argmax"),
    _arg_call("argmin"),
    Call("cumsum", (("x", REQUIRED), ("axis", None)), _cumsum_call),
    Call("logsumexp", (("x", REQUIRED), ("axis", None), ("keepdims", None)), _logsumexp_call),
    _softmax_call(False),
    _softmax_call(True),
    unary_call("norm"),
)
