"""Linear algebra: `dot` of two vectors (matmul and friends come later).

`dot` lowers to the reduction template with a product as its map, so it is
one pass over both operands.  Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import BOOL, TensorType
from ..errors import GdlTypeError
from .base import OpDef, Reduce, binary_call, same_dtype, tensor


def _dot_infer(ts, attrs, span):
    a, b = (tensor(t, "an operand of `dot`", span) for t in ts)
    if a.rank != 1 or b.rank != 1:
        raise GdlTypeError(f"`dot` needs two 1-D tensors, found {a} and {b}", span)
    if a.shape != b.shape:
        raise GdlTypeError(f"`dot` needs vectors of one length, found {a} and {b}", span)
    dt = same_dtype((a, b), "dot", span)
    if dt == BOOL:
        raise GdlTypeError("`dot` needs numbers, found bool vectors", span)
    return (TensorType(dt, ()),)


def _dot_numpy(a, b):
    a = np.asarray(a)
    return np.asarray(np.sum(a * b, dtype=a.dtype))


DOT = OpDef("dot", _dot_infer, _dot_numpy, Reduce("add", pre="({0} * {1})"),
            adjoint=lambda e, n, cts: (e.mul(cts[0], n.inputs[1]), e.mul(cts[0], n.inputs[0])),
            promote="all", doc="dot(a, b): inner product of two vectors")

DEFS = (DOT,)

CALLS = (binary_call("dot"),)
