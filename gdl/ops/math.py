"""Elementwise mathematical functions (sqrt, trigonometry, activations, rounding, clip).

Each op is one `OpDef` block with its type rule, NumPy reference, adjoint
and the C expression the fuser inlines, plus the `Call` that exposes it.
Adjoints are built from other ops (so they can be differentiated again)
and stay NaN-free where the forward value is finite: subgradients are 0 at
kinks (relu'(0) = abs'(0) = 0), and the only infinite derivative,
sqrt'(0), is guarded so that a zero cotangent gives 0 rather than 0 * inf.
NaN propagates through every op here, as in NumPy (OpenCL's fmax/fmin and
sign do not propagate it, so the C forms test `isnan` themselves).
Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import BOOL, I32, DType, TensorType
from ..errors import GdlTypeError
from .base import (REQUIRED, Call, Elementwise, OpDef, broadcast_types, same_dtype, tensor,
                   unary_call, unary_float_infer)


def _float_expr(text: str) -> Elementwise:
    """A C form that is the same text for f32 and f64 (C's type-generic math)."""
    return Elementwise(lambda ins, out, attrs: text)


def _numeric_unary_infer(name: str):
    """Type rule of a unary op on floats or i32 (not bool); the result keeps the dtype."""
    def infer(ts, attrs, span):
        t = tensor(ts[0], f"the operand of `{name}`", span)
        if t.dtype == BOOL:
            raise GdlTypeError(f"`{name}` needs a number, found {t} (use i32(...) or f32(...))",
                               span)
        return (t,)
    return infer


def _zero_unless(e, cond, ct):
    """`ct` where `cond` holds, else 0 (the scalar zero broadcasts in `where`)."""
    return e.where(cond, ct, e.scalar_like(0, ct))


# ---------------------------------------------------------------- log1p, sqrt

LOG1P = OpDef(
    "log1p", unary_float_infer("log1p"), np.log1p, _float_expr("log1p({0})"),
    adjoint=lambda e, n, cts: (e.div(cts[0], e.add(e.scalar_like(1, cts[0]), n.inputs[0])),),
    promote="float", doc="log(1 + x), accurate for tiny x")


def _sqrt_adjoint(e, n, cts):
    """ct / (2 sqrt(x)): inf at x == 0 (sqrt'(0) = inf), but 0 where ct == 0.

    The guard keeps `where(x > 0, sqrt(x), 0)` NaN-free at 0: the unchosen
    branch receives a zero cotangent, and 0 * inf would be NaN there.
    """
    ct = cts[0]
    zero = e.scalar_like(0, ct)
    d = e.mul(ct, e.div(e.scalar_like(0.5, ct), n.out))
    return (e.where(e.op("eq", ct, zero), zero, d),)


SQRT = OpDef(
    "sqrt", unary_float_infer("sqrt"), np.sqrt, _float_expr("sqrt({0})"),
    adjoint=_sqrt_adjoint, promote="float", doc="square root (NaN below 0; sqrt'(0) = inf)")


# ---------------------------------------------------------------- trigonometry, tanh

SIN = OpDef(
    "sin", unary_float_infer("sin"), np.sin, _float_expr("sin({0})"),
    adjoint=lambda e, n, cts: (e.mul(cts[0], e.op("cos", n.inputs[0])),),
    promote="float", doc="sine (radians)")

COS = OpDef(
    "cos", unary_float_infer("cos"), np.cos, _float_expr("cos({0})"),
    adjoint=lambda e, n, cts: (e.neg(e.mul(cts[0], e.op("sin", n.inputs[0]))),),
    promote="float", doc="cosine (radians)")

TANH = OpDef(
    "tanh", unary_float_infer("tanh"), np.tanh, _float_expr("tanh({0})"),
    adjoint=lambda e, n, cts: (
        e.mul(cts[0], e.sub(e.scalar_like(1, n.out), e.mul(n.out, n.out))),),
    promote="float", doc="hyperbolic tangent; tanh' = 1 - tanh^2")


# ---------------------------------------------------------------- sigmoid

def _sigmoid_numpy(x):
    """1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: exp never overflows.

    Both branches use e = exp(-|x|) <= 1, so no inf / inf NaN at large |x|.
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


SIGMOID = OpDef(
    "sigmoid", unary_float_infer("sigmoid"), _sigmoid_numpy,
    _float_expr("({0} >= 0 ? 1 / (1 + exp(-fabs({0}))) "
                ": exp(-fabs({0})) / (1 + exp(-fabs({0}))))"),
    adjoint=lambda e, n, cts: (
        e.mul(cts[0], e.mul(n.out, e.sub(e.scalar_like(1, n.out), n.out))),),
    promote="float", doc="logistic function, stable for large |x|; sigmoid' = s (1 - s)")


# ---------------------------------------------------------------- relu, abs, sign, floor

def _relu_numpy(x):
    """max(x, 0), NaN staying NaN (as PyTorch's relu)."""
    x = np.asarray(x)
    return np.where(x <= 0, np.zeros((), x.dtype), x)


RELU = OpDef(
    "relu", _numeric_unary_infer("relu"), _relu_numpy,
    Elementwise(lambda ins, out, attrs: f"({{0}} <= 0 ? ({out.c_name})0 : {{0}})"),
    adjoint=lambda e, n, cts: (
        _zero_unless(e, e.op("gt", n.inputs[0], e.scalar_like(0, n.inputs[0])), cts[0]),),
    promote="none", doc="max(x, 0) on floats and i32; NaN stays NaN; relu'(0) = 0")


def _abs_expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
    if out == I32:
        # Through uint, as NumPy: abs(INT_MIN) wraps to INT_MIN (no undefined overflow).
        return "({0} < 0 ? as_int(0u - as_uint({0})) : {0})"
    return "fabs({0})"


def _abs_adjoint(e, n, cts):
    """ct * sign(x), with abs'(0) = 0."""
    x, ct = n.inputs[0], cts[0]
    zero = e.scalar_like(0, x)
    return (e.where(e.op("gt", x, zero), ct,
                    _zero_unless(e, e.op("lt", x, zero), e.neg(ct))),)


ABS = OpDef(
    "abs", _numeric_unary_infer("abs"), np.abs, Elementwise(_abs_expr), adjoint=_abs_adjoint,
    promote="none", doc="|x| on floats and i32 (abs of the least i32 wraps); abs'(0) = 0")


def _sign_expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
    if out == I32:
        return "(({0} > 0) - ({0} < 0))"
    t = out.c_name
    # NaN fails all three tests and comes out as itself; -0.0 gives +0.0 (as NumPy).
    return f"({{0}} > 0 ? ({t})1 : ({{0}} < 0 ? ({t})-1 : ({{0}} == 0 ? ({t})0 : {{0}})))"


SIGN = OpDef(
    "sign", _numeric_unary_infer("sign"), np.sign, Elementwise(_sign_expr),
    differentiable=False, promote="none",
    doc="-1, 0 or 1 on floats and i32; NaN gives NaN; zero gradient")

FLOOR = OpDef(
    "floor", unary_float_infer("floor"), np.floor, _float_expr("floor({0})"),
    differentiable=False, promote="float", doc="round down to an integer value; zero gradient")


# ---------------------------------------------------------------- clip

def _clip_infer(ts, attrs, span):
    types = [tensor(t, "an operand of `clip`", span) for t in ts]
    dt = same_dtype(types, "clip", span)
    if dt == BOOL:
        raise GdlTypeError("`clip` needs numbers, found bool operands (use i32(...) or "
                           "f32(...))", span)
    return (TensorType(dt, broadcast_types(types, "clip", span)),)


def _clip_numpy(x, lo, hi):
    """minimum(maximum(x, lo), hi), as np.clip: lo > hi gives hi; NaN propagates."""
    return np.minimum(np.maximum(x, lo), hi)


def _clip_expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
    if out.is_float:
        m = "((({0} > {1}) || isnan({0})) ? {0} : {1})"
        return f"(((({m}) < {{2}}) || isnan({m})) ? ({m}) : {{2}})"
    return "(({0} > {1} ? {0} : {1}) < {2} ? ({0} > {1} ? {0} : {1}) : {2})"


def _clip_adjoint(e, n, cts):
    """The cotangent goes to the one operand whose value the output is.

    x where lo <= x <= hi (closed, as PyTorch's clamp: x wins ties at the
    bounds); lo where x < lo <= hi; hi where x > hi or hi < lo (the output
    is hi then).  PyTorch differs only for lo == hi with x < lo, where its
    clamp passes no gradient at all and this passes it to lo.  With a NaN
    operand nothing passes.
    """
    ct = cts[0]
    x, lo, hi = n.inputs
    inside = e.op("and", e.op("ge", x, lo), e.op("le", x, hi))
    below = e.op("and", e.op("lt", x, lo), e.op("le", lo, hi))
    above = e.op("or", e.op("gt", x, hi), e.op("lt", hi, lo))
    return (_zero_unless(e, inside, ct), _zero_unless(e, below, ct), _zero_unless(e, above, ct))


CLIP = OpDef(
    "clip", _clip_infer, _clip_numpy, Elementwise(_clip_expr), adjoint=_clip_adjoint,
    promote="all", doc="clip(x, lo, hi) = minimum(maximum(x, lo), hi), broadcasting all three")


DEFS = (LOG1P, SQRT, SIN, COS, TANH, SIGMOID, RELU, ABS, SIGN, FLOOR, CLIP)


def _clip_call(ctx, a, dtype, span):
    return ctx.apply("clip", [a["x"], a["lo"], a["hi"]], {}, span)


CALLS = tuple(unary_call(op.name) for op in DEFS if op is not CLIP) + (
    Call("clip", (("x", REQUIRED), ("lo", REQUIRED), ("hi", REQUIRED)), _clip_call),
)
