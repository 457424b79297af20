"""Initialisers: constants, fills, `arange`, `rand`, `randn`.

All are elementwise in the fuser's sense: an expression of the output's
flat index `{idx}` (and, for the random ops, of the seed operand), so an
initialiser costs no memory traffic beyond its output.  The random streams
follow language.md §3.1 exactly (reference: `gdl.philox`).
Imports `ops.base`, `dtype`, `errors`, numpy, `philox`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import philox
from ..dtype import F32, F64, I32, DType, TensorType
from ..errors import GdlTypeError
from .base import REQUIRED, Call, Elementwise, Host, OpDef, tensor


def c_literal(value, dtype: DType) -> str:
    """A C literal of `value` that reads back exactly in `dtype`."""
    if dtype.kind == "bool":
        return "1" if value else "0"
    if dtype.kind == "int":
        v = (int(value) + 2**31) % 2**32 - 2**31     # wrap to i32
        return "(-2147483647-1)" if v == -2147483648 else str(v)
    x = dtype.np.type(value)
    if np.isnan(x):
        return f"(({dtype.c_name})NAN)"
    if np.isinf(x):
        return f"(({dtype.c_name}){'-' if x < 0 else ''}INFINITY)"
    # The shortest decimal that reads back as exactly this value in its dtype.
    text = np.format_float_scientific(x, unique=True, trim="0")
    return text + ("f" if dtype == F32 else "")


def _typed_array(value: tuple, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    """Row-major `value` as an array of `dtype`; integers wrap to i32."""
    if dtype.kind == "int":
        return np.array([int(v) & 0xFFFFFFFF for v in value], np.uint32).view(np.int32).reshape(shape)
    return np.array(value, dtype=dtype.np).reshape(shape)


# ---------------------------------------------------------------- const, fill

def _const_infer(ts, attrs, span):
    return (TensorType(attrs["dtype"], tuple(attrs["shape"])),)


CONST = OpDef(
    "const", _const_infer,
    lambda value, dtype, shape: _typed_array(value, dtype, shape), Host(),
    differentiable=False, doc="a literal tensor (values in row-major order)")


def _fill_infer(ts, attrs, span):
    return (TensorType(attrs["dtype"], tuple(attrs["shape"])),)


FILL = OpDef(
    "fill", _fill_infer,
    lambda value, dtype, shape: np.full(shape, _typed_array((value,), dtype, ())),
    Elementwise(lambda ins, out, attrs: c_literal(attrs["value"], out)), differentiable=False,
    doc="a tensor with every element equal to one constant")


# ---------------------------------------------------------------- arange

def _arange_infer(ts, attrs, span):
    return (TensorType(attrs["dtype"], (attrs["count"],)),)


def _arange_numpy(start, step, count, dtype):
    if dtype.kind == "int":
        k = np.arange(count, dtype=np.int64)
        return ((int(start) + k * int(step)) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    t = dtype.np.type
    return (t(start) + np.arange(count, dtype=dtype.np) * t(step)).astype(dtype.np)


def _arange_expr(ins, out, attrs):
    """start + k * step in the output dtype (wrapping for i32), as the reference."""
    start, step = c_literal(attrs["start"], out), c_literal(attrs["step"], out)
    if out.kind == "int":
        return f"as_int(as_uint({start}) + as_uint((int){{idx}}) * as_uint({step}))"
    return f"({start} + convert_{out.c_name}({{idx}}) * {step})"


ARANGE = OpDef(
    "arange", _arange_infer, _arange_numpy, Elementwise(_arange_expr),
    differentiable=False, doc="start + k * step for k = 0, 1, ..., count - 1")


# ---------------------------------------------------------------- eye, linspace

def _eye_infer(ts, attrs, span):
    return (TensorType(attrs["dtype"], (attrs["n"], attrs["n"])),)


EYE = OpDef(
    "eye", _eye_infer, lambda n, dtype: np.eye(n, dtype=dtype.np),
    Elementwise(lambda ins, out, attrs: f"(({{idx}} / {attrs['n']}) == ({{idx}} % {attrs['n']})"
                                        f" ? {c_literal(1, out)} : {c_literal(0, out)})"),
    differentiable=False, doc="eye(n): the n x n identity")


def _linspace_infer(ts, attrs, span):
    return (TensorType(attrs["dtype"], (attrs["count"],)),)


def _linspace_step(start, stop, count) -> float:
    return (stop - start) / (count - 1) if count > 1 else 0.0


def _linspace_numpy(start, stop, count, dtype):
    """start + k * step in the dtype, the last element exactly `stop` (as the device)."""
    t = dtype.np.type
    out = t(start) + np.arange(count, dtype=dtype.np) * t(_linspace_step(start, stop, count))
    if count > 1:
        out[-1] = t(stop)
    return out.astype(dtype.np)


def _linspace_expr(ins, out, attrs):
    start, stop, n = attrs["start"], attrs["stop"], attrs["count"]
    step = c_literal(_linspace_step(start, stop, n), out)
    ramp = f"{c_literal(start, out)} + convert_{out.c_name}({{idx}}) * {step}"
    if n == 1:
        return f"({ramp})"
    return f"({{idx}} == {n - 1} ? {c_literal(stop, out)} : {ramp})"


LINSPACE = OpDef(
    "linspace", _linspace_infer, _linspace_numpy, Elementwise(_linspace_expr),
    differentiable=False, doc="linspace(a, b, n): n evenly spaced values from a to b")


# ---------------------------------------------------------------- rand, randn

def _random_infer(name):
    def infer(ts, attrs, span):
        seed = tensor(ts[0], f"the seed of `{name}`", span)
        if seed.dtype != I32 or seed.shape:
            raise GdlTypeError(f"the seed of `{name}` must be an i32 scalar, found {seed}", span)
        if attrs["dtype"] not in (F32, F64):
            raise GdlTypeError(f"`{name}` makes floats, not {attrs['dtype']}", span)
        return (TensorType(attrs["dtype"], tuple(attrs["shape"])),)
    return infer


def _rand_numpy(seed, dtype, shape):
    return philox.uniform(tuple(shape), int(seed), dtype.np)


def _randn_numpy(seed, dtype, shape):
    return philox.normal(tuple(shape), int(seed), dtype.np)


RAND = OpDef(
    "rand", _random_infer("rand"), _rand_numpy,
    Elementwise(lambda ins, out, attrs: f"gdl_rand_{out.c_name}({{0}}, {{idx}})"),
    differentiable=False, doc="uniform [0, 1) from Philox4x32-10 (language.md §3.1)")

RANDN = OpDef(
    "randn", _random_infer("randn"), _randn_numpy,
    Elementwise(lambda ins, out, attrs: f"gdl_randn_{out.c_name}({{0}}, {{idx}})"),
    differentiable=False, doc="standard normal by Box-Muller on Philox4x32-10")

DEFS = (CONST, FILL, ARANGE, EYE, LINSPACE, RAND, RANDN)


# ---------------------------------------------------------------- calls

def _arange_call(ctx, a, dtype, span):
    """arange(stop) or arange(start, stop[, step]): compile-time bounds."""
    first = ctx.const_scalar(a["start"], "the bounds of `arange`", span)
    parts = [first] if a["stop"] is None else [
        first, ctx.const_scalar(a["stop"], "the bounds of `arange`", span)]
    if a["step"] is not None:
        if a["stop"] is None:
            raise GdlTypeError("`arange` with a step needs start and stop too", span)
        parts.append(ctx.const_scalar(a["step"], "the step of `arange`", span))
    start, stop, step = (0, parts[0], 1) if len(parts) == 1 else (
        parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
    if step == 0:
        raise GdlTypeError("`arange` needs a non-zero step", span)
    count = math.ceil((stop - start) / step)
    if count < 1:
        raise GdlTypeError(f"arange({start}, {stop}, {step}) is empty; every dimension is at "
                           "least 1", span)
    is_int = all(isinstance(v, int) and not isinstance(v, bool) for v in parts)
    return ctx.init("arange", "int" if is_int else "float", (count,), (),
                    {"start": start, "step": step, "count": count}, dtype, span)


def _fill_call(value):
    """zeros(shape) / ones(shape): a constant fill, weak unless `dtype=` is given."""
    def handler(ctx, a, dtype, span):
        shape = ctx.const_shape(a["shape"], span)
        return ctx.init("fill", "float", shape, (), {"value": value, "shape": shape}, dtype, span)
    return handler


def _full_call(ctx, a, dtype, span):
    """full(shape, v): a constant v fills; a computed scalar v is broadcast."""
    shape = ctx.const_shape(a["shape"], span)
    v = a["v"]
    if ctx.shape_of(v) != ():
        raise GdlTypeError(f"`full` needs a scalar fill value, found shape "
                           f"{list(ctx.shape_of(v))}", span)
    if ctx.literal(v) is not None:
        return ctx.init("fill", ctx.kind_of(v), shape, (), {"value": ctx.literal(v),
                                                             "shape": shape}, dtype, span)
    return ctx.apply("broadcast_to", [ctx.to_value(v, dtype, span)], {"shape": shape}, span)


def _random_call(opname):
    """rand/randn(shape, seed=): a constant or run-time integer seed."""
    def handler(ctx, a, dtype, span):
        shape = ctx.const_shape(a["shape"], span)
        seed = a["seed"]
        if ctx.shape_of(seed) != () or ctx.kind_of(seed) != "int":
            raise GdlTypeError(f"the seed of `{opname}` must be an integer scalar, found "
                               f"{ctx.kind_of(seed)} of shape {list(ctx.shape_of(seed))}", span)
        if dtype is not None and not dtype.is_float:
            raise GdlTypeError(f"`{opname}` makes floats; dtype={dtype} is not one", span)
        return ctx.init(opname, "float", shape, (seed,), {"shape": shape}, dtype, span)
    return handler


def _eye_call(ctx, a, dtype, span):
    n = ctx.const_int(a["n"], "the size of `eye`", span)
    if n < 1:
        raise GdlTypeError(f"eye({n}) is empty; every dimension is at least 1", span)
    return ctx.init("eye", "float", (n, n), (), {"n": n}, dtype, span)


def _linspace_call(ctx, a, dtype, span):
    start = ctx.const_scalar(a["start"], "the start of `linspace`", span)
    stop = ctx.const_scalar(a["stop"], "the stop of `linspace`", span)
    n = ctx.const_int(a["n"], "the count of `linspace`", span)
    if n < 1:
        raise GdlTypeError(f"linspace(..., {n}) is empty; every dimension is at least 1", span)
    if dtype is not None and not dtype.is_float:
        raise GdlTypeError(f"`linspace` makes floats; dtype={dtype} is not one", span)
    return ctx.init("linspace", "float", (n,), (),
                    {"start": float(start), "stop": float(stop), "count": n}, dtype, span)


def _like_call(value):
    """zeros_like(x) / ones_like(x): x's shape and dtype (weak if x is a literal)."""
    def handler(ctx, a, dtype, span):
        x = a["x"]
        shape = ctx.shape_of(x)
        kind = ctx.kind_of(x)
        dt = dtype if dtype is not None else ctx.dtype_of(x)
        return ctx.init("fill", kind, shape, (), {"value": value, "shape": shape}, dt, span)
    return handler


CALLS = (
    Call("eye", (("n", REQUIRED),), _eye_call, True),
    Call("linspace", (("start", REQUIRED), ("stop", REQUIRED), ("n", REQUIRED)),
         _linspace_call, True),
    Call("zeros_like", (("x", REQUIRED),), _like_call(0), True),
    Call("ones_like", (("x", REQUIRED),), _like_call(1), True),
    Call("arange", (("start", REQUIRED), ("stop", None), ("step", None)), _arange_call, True),
    Call("zeros", (("shape", ()),), _fill_call(0), True),
    Call("ones", (("shape", ()),), _fill_call(1), True),
    Call("full", (("shape", REQUIRED), ("v", REQUIRED)), _full_call, True),
    Call("rand", (("shape", ()), ("seed", REQUIRED)), _random_call("rand"), True),
    Call("randn", (("shape", ()), ("seed", REQUIRED)), _random_call("randn"), True),
)
