"""Shape ops: `broadcast_to`, `reshape`, and the identity `stop_grad`.

None of them copies data on the device: `broadcast_to` is an index map the
fuser folds into the kernel that reads it, `reshape` and `stop_grad` alias
their input's buffer.  Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import TensorType, broadcast_shapes
from ..errors import GdlTypeError
from .base import Alias, Elementwise, OpDef, tensor, unary_call


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

DEFS = (BROADCAST_TO, RESHAPE, STOP_GRAD)

CALLS = (unary_call("stop_grad"),)
