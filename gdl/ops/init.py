"""Initialisers: constants, fills, `arange`, `rand`, `randn`.

All are elementwise in the fuser's sense: an expression of the output's
flat index `{idx}` (and, for the random ops, of the seed operand), so an
initialiser costs no memory traffic beyond its output.  The random streams
follow language.md §3.1 exactly (reference: `gdl.philox`).
Imports `ops.base`, `dtype`, `errors`, numpy, `philox`.
"""
from __future__ import annotations

import numpy as np

from .. import philox
from ..dtype import F32, F64, I32, DType, TensorType
from ..errors import GdlTypeError
from .base import Elementwise, Host, OpDef, tensor


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

DEFS = (CONST, FILL, ARANGE, RAND, RANDN)
