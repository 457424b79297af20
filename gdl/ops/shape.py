"""Shape ops: `broadcast_to`, `reshape`, `concat` (and `stack`), the identity `stop_grad`.

`broadcast_to` is an index map the fuser folds into the kernel that reads
it, `reshape` and `stop_grad` alias their input's buffer, `concat` is one
kernel reading each operand where it lands.  Also the calls `reshape` (one
-1 allowed), `broadcast_to`, `transpose`, `concat` and `stack`.
Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import TensorType, broadcast_shapes
from ..errors import GdlTypeError
from .base import (REQUIRED, Alias, Call, Elementwise, Kernel, OpDef, normalize_axes, same_dtype,
                   tensor, unary_call)


def _broadcast_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of `broadcast_to`", span)
    shape = tuple(attrs["shape"])
    if len(shape) < t.rank or broadcast_shapes(t.shape, shape) != shape:
        raise GdlTypeError(f"cannot broadcast {t} to shape {list(shape)}", span)
    return (TensorType(t.dtype, shape),)


BROADCAST_TO = OpDef(
    "broadcast_to", _broadcast_infer,
    lambda x, shape: np.array(np.broadcast_to(x, shape)),
    Elementwise(lambda ins, out, attrs: "{0}"),
    # The autodiff pass sums the cotangent back over the broadcast axes.
    adjoint=lambda e, n, cts: (cts[0],),
    doc="broadcast_to(x, shape): NumPy broadcasting to a given shape")


def _reshape_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of `reshape`", span)
    shape = tuple(attrs["shape"])
    size = 1
    for d in shape:
        size *= d
    if size != t.size:
        raise GdlTypeError(f"cannot reshape {t} ({t.size} elements) to shape {list(shape)} "
                           f"({size} elements)", span)
    return (TensorType(t.dtype, shape),)


RESHAPE = OpDef(
    "reshape", _reshape_infer, lambda x, shape: np.reshape(x, shape), Alias(),
    adjoint=lambda e, n, cts: (e.reshape(cts[0], n.inputs[0].type.shape),),
    doc="reshape(x, shape): the same elements in row-major order, another shape")


STOP_GRAD = OpDef(
    "stop_grad", lambda ts, attrs, span: (tensor(ts[0], "the operand of `stop_grad`", span),),
    lambda x: np.asarray(x), Alias(), differentiable=False,
    doc="stop_grad(x): the value of x, through which no gradient flows")



# ---------------------------------------------------------------- concat

def _concat_infer(ts, attrs, span):
    types = [tensor(t, "an operand of `concat`", span) for t in ts]
    axis = attrs["axis"]
    first = types[0]
    same_dtype(types, "concat", span)
    for k, t in enumerate(types[1:], start=2):
        if t.rank != first.rank or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if i != axis):
            raise GdlTypeError(f"`concat` along axis {axis} needs operands that agree on every "
                               f"other axis: operand 1 is {first}, operand {k} is {t}", span)
    size = sum(t.shape[axis] for t in types)
    return (TensorType(first.dtype, first.shape[:axis] + (size,) + first.shape[axis + 1:]),)


def _concat_adjoint(e, n, cts):
    """Each operand gets the slice of the cotangent where it landed."""
    axis, at, out = n.attr("axis"), 0, []
    for x in n.inputs:
        width = x.type.shape[axis]
        spec = tuple(("s", at, 1, width) if d == axis else ("s", 0, 1, size)
                     for d, size in enumerate(n.out.type.shape))
        out.append(e.op("slice", cts[0], spec=spec))
        at += width
    return tuple(out)


CONCAT = OpDef(
    "concat", _concat_infer, lambda *xs, axis: np.concatenate(xs, axis=axis), Kernel("concat"),
    adjoint=_concat_adjoint, promote="all",
    doc="concat([a, b, ...], axis=0): operands joined along an existing axis")

DEFS = (BROADCAST_TO, RESHAPE, STOP_GRAD, CONCAT)


# ---------------------------------------------------------------- calls

def _reshape_call(ctx, a, dtype, span):
    """reshape(x, shape): one -1 stands for whatever size is left."""
    x = a["x"]
    size = 1
    for d in ctx.shape_of(x):
        size *= d
    shape = list(ctx.const_shape(a["shape"], span, allow_minus_one=True))
    if shape.count(-1) > 1:
        raise GdlTypeError(f"`reshape` allows one -1, found shape {shape}", span)
    if -1 in shape:
        known = 1
        for d in shape:
            known *= d if d != -1 else 1
        if size % known:
            raise GdlTypeError(f"cannot reshape {size} elements to shape {shape}", span)
        shape[shape.index(-1)] = size // known
    return ctx.apply("reshape", [x], {"shape": tuple(shape)}, span)


def _broadcast_call(ctx, a, dtype, span):
    return ctx.apply("broadcast_to", [a["x"]], {"shape": ctx.const_shape(a["shape"], span)},
                     span)


def _transpose_call(ctx, a, dtype, span):
    """transpose(x): axes reversed; transpose(x, axes=[...]): any permutation."""
    rank = len(ctx.shape_of(a["x"]))
    if a["axes"] is None:
        axes = tuple(reversed(range(rank)))
    else:
        raw = ctx.const_axes(a["axes"], span)
        raw = (raw,) if isinstance(raw, int) else tuple(raw)
        if len(raw) != rank:
            raise GdlTypeError(f"`transpose` of a rank-{rank} tensor needs {rank} axes, found "
                               f"axes={list(raw)}", span)
        axes = tuple(d % rank if -rank <= d < rank else d for d in raw)
    return ctx.apply("transpose", [a["x"]], {"axes": axes}, span)


def _concat_call(ctx, a, dtype, span):
    items = ctx.items(a["xs"], "concat", span)
    rank = len(ctx.shape_of(items[0]))
    if rank == 0:
        raise GdlTypeError("`concat` joins tensors along an axis; scalars have none "
                           "(use stack)", span)
    axis = normalize_axes(ctx.const_axes(a["axis"], span) if a["axis"] is not None else 0,
                          rank, "concat", span)
    if len(axis) != 1:
        raise GdlTypeError("`concat` takes one axis", span)
    return ctx.apply("concat", items, {"axis": axis[0]}, span)


def _stack_call(ctx, a, dtype, span):
    """stack([...], axis): each operand gains a length-1 axis, then they are joined."""
    items = ctx.items(a["xs"], "stack", span)
    shape = ctx.shape_of(items[0])
    for k, it in enumerate(items[1:], start=2):
        if ctx.shape_of(it) != shape:
            raise GdlTypeError(f"`stack` needs operands of one shape: operand 1 has shape "
                               f"{list(shape)}, operand {k} has {list(ctx.shape_of(it))}", span)
    axis = normalize_axes(ctx.const_axes(a["axis"], span) if a["axis"] is not None else 0,
                          len(shape) + 1, "stack", span)[0]
    grown = shape[:axis] + (1,) + shape[axis:]
    parts = [ctx.apply("reshape", [it], {"shape": grown}, span) for it in items]
    return ctx.apply("concat", parts, {"axis": axis}, span)


CALLS = (
    unary_call("stop_grad"),
    Call("reshape", (("x", REQUIRED), ("shape", REQUIRED)), _reshape_call),
    Call("broadcast_to", (("x", REQUIRED), ("shape", REQUIRED)), _broadcast_call),
    Call("transpose", (("x", REQUIRED), ("axes", None)), _transpose_call),
    Call("concat", (("xs", REQUIRED), ("axis", None)), _concat_call),
    Call("stack", (("xs", REQUIRED), ("axis", None)), _stack_call),
)
