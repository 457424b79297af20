"""The built-in functions a program can call, mapped onto ops of the table.

Owns the user-facing signatures (positional and keyword parameters, which
arguments must be compile-time constants, `dtype=`) and the small amount of
sugar between a call and its op (`zeros` is a fill, `arange` computes its
length).  Shape, dtype and broadcasting rules stay in the op table; this
module only binds arguments.  Imports `weak`, `ops`, `dtype`, `errors`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable

import numpy as np

from .dtype import BOOL, I32
from .errors import GdlTypeError, Span
from .ops.base import normalize_axes
from .weak import Weak

REQUIRED = object()

# Every name of language.md §3: reserved (it cannot be re-bound) even where
# this version does not implement it yet.
LANGUAGE_BUILTINS = frozenset("""
    arange zeros ones full eye linspace rand randn zeros_like ones_like
    exp log log1p sqrt sin cos tanh sigmoid relu abs sign floor maximum minimum clip where pow
    sum mean max min prod argmax argmin cumsum norm logsumexp softmax log_softmax
    dot matmul outer transpose reshape broadcast_to concat stack f32 f64 i32 bool
    stop_grad grad print
""".split())


@dataclass(frozen=True)
class Builtin:
    """A built-in: its parameters (name, default or REQUIRED) and handler."""

    name: str
    params: tuple[tuple[str, Any], ...]
    handler: Callable[..., Any]
    takes_dtype: bool = False


def bind(fn: Builtin, args: list, kwargs: dict[str, tuple[Any, Span]], span: Span) -> dict:
    """Match a call's arguments to `fn`'s parameters as Python would."""
    names = [p for p, _ in fn.params]
    shown = ", ".join(names)
    if len(args) > len(names):
        raise GdlTypeError(f"`{fn.name}` takes at most {len(names)} argument(s) ({shown}), "
                           f"found {len(args)}", span)
    bound = dict(zip(names, args))
    for key, (value, kspan) in kwargs.items():
        if key not in names:
            expected = shown + (", dtype" if fn.takes_dtype else "")
            raise GdlTypeError(f"`{fn.name}` has no parameter `{key}`; expected one of: "
                               f"{expected}", kspan)
        if key in bound:
            raise GdlTypeError(f"`{fn.name}` got `{key}` twice", kspan)
        bound[key] = value
    for name, default in fn.params:
        if name not in bound:
            if default is REQUIRED:
                raise GdlTypeError(f"`{fn.name}` needs its argument `{name}` ({fn.name}({shown}))",
                                   span)
            bound[name] = default
    return bound


# ---------------------------------------------------------------- handlers

def _shape_of(ctx, operand) -> tuple[int, ...]:
    return operand.shape if isinstance(operand, Weak) else operand.type.shape


def _arange(ctx, a, dtype, span):
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
    is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in parts)
    return ctx.init("arange", "int" if is_int else "float", (count,), (),
                    {"start": start, "step": step, "count": count}, dtype, span)


def _fill_builtin(value):
    def handler(ctx, a, dtype, span):
        shape = ctx.const_shape(a["shape"], span)
        return ctx.init("fill", "float", shape, (), {"value": value, "shape": shape}, dtype, span)
    return handler


def _full(ctx, a, dtype, span):
    """full(shape, v): a constant v fills; a computed scalar v is broadcast."""
    shape = ctx.const_shape(a["shape"], span)
    v = a["v"]
    if _shape_of(ctx, v) != ():
        raise GdlTypeError(f"`full` needs a scalar fill value, found shape {list(_shape_of(ctx, v))}",
                           span)
    if isinstance(v, Weak) and v.scalar_value() is not None:
        return ctx.init("fill", v.kind, shape, (), {"value": v.scalar_value(), "shape": shape},
                        dtype, span)
    value = ctx.to_value(v, dtype, span)
    return ctx.apply("broadcast_to", [value], {"shape": shape}, span)


def _random(opname):
    def handler(ctx, a, dtype, span):
        shape = ctx.const_shape(a["shape"], span)
        seed = a["seed"]
        if _shape_of(ctx, seed) != () or (isinstance(seed, Weak) and seed.kind != "int") or (
                not isinstance(seed, Weak) and seed.type.dtype != I32):
            raise GdlTypeError(f"the seed of `{opname}` must be an integer scalar", span)
        if dtype is not None and not dtype.is_float:
            raise GdlTypeError(f"`{opname}` makes floats; dtype={dtype} is not one", span)
        return ctx.init(opname, "float", shape, (seed,), {"shape": shape}, dtype, span)
    return handler


def _unary(opname):
    return lambda ctx, a, dtype, span: ctx.apply(opname, [a["x"]], {}, span)


def _sum(ctx, a, dtype, span):
    x = a["x"]
    if not isinstance(x, Weak) and x.type.dtype == BOOL:
        x = ctx.to_value(x, I32, span)       # summing bools counts them
    axis = a["axis"]
    axes = None
    if axis is not None:
        raw = ctx.const_axes(axis, span)
        axes = normalize_axes(raw, len(_shape_of(ctx, x)), "sum", span)
    keepdims = ctx.const_bool(a["keepdims"], "keepdims", span) if a["keepdims"] is not None \
        else False
    return ctx.apply("sum", [x], {"axis": axes, "keepdims": keepdims}, span)


def _binary(opname):
    return lambda ctx, a, dtype, span: ctx.apply(opname, [a["a"], a["b"]], {}, span)


def _b(name, params, handler, takes_dtype=False) -> Builtin:
    return Builtin(name, tuple(params), handler, takes_dtype)


BUILTINS = MappingProxyType({b.name: b for b in (
    _b("arange", [("start", REQUIRED), ("stop", None), ("step", None)], _arange, True),
    _b("zeros", [("shape", ())], _fill_builtin(0), True),
    _b("ones", [("shape", ())], _fill_builtin(1), True),
    _b("full", [("shape", REQUIRED), ("v", REQUIRED)], _full, True),
    _b("rand", [("shape", ()), ("seed", REQUIRED)], _random("rand"), True),
    _b("randn", [("shape", ()), ("seed", REQUIRED)], _random("randn"), True),
    _b("exp", [("x", REQUIRED)], _unary("exp")),
    _b("log", [("x", REQUIRED)], _unary("log")),
    _b("sum", [("x", REQUIRED), ("axis", None), ("keepdims", None)], _sum),
    _b("norm", [("x", REQUIRED)], _unary("norm")),
    _b("dot", [("a", REQUIRED), ("b", REQUIRED)], _binary("dot")),
    _b("stop_grad", [("x", REQUIRED)], _unary("stop_grad")),
)})

