"""Views: `transpose`, slices (`x[1:3, ::2]`, `x[0]`) and run-time indexing (`x[i]`).

A view copies nothing: its lowering is a `ViewMap` (an affine coordinate
map) that the planner composes into the strided loads of the kernels that
read it.  Their adjoints scatter the cotangent back into zeros of the
source's shape (`embed_slice`, `embed_index`), whose own adjoints are the
views again, so indexing can be differentiated any number of times.
A run-time index out of range is an error naming the line and the index.
Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import I32, TensorType
from ..errors import GdlRuntimeError, GdlTypeError
from .base import Kernel, OpDef, View, ViewMap, tensor

# A slice spec has one entry per source axis: ("i", k) picks index k (the
# axis disappears), ("s", start, step, count) keeps `count` elements from
# `start` every `step` (step may be negative).


# ---------------------------------------------------------------- transpose

def _transpose_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of `transpose`", span)
    axes = tuple(attrs["axes"])
    if sorted(axes) != list(range(t.rank)):
        raise GdlTypeError(f"`transpose` needs a permutation of the axes 0..{t.rank - 1} of "
                           f"{t}, found axes={list(axes)}", span)
    return (TensorType(t.dtype, tuple(t.shape[a] for a in axes)),)


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(axes)
    for d, a in enumerate(axes):
        inv[a] = d
    return tuple(inv)


TRANSPOSE = OpDef(
    "transpose", _transpose_infer, lambda x, axes: np.transpose(x, axes),
    View(lambda ts, attrs: ViewMap(tuple((a, 1) for a in attrs["axes"]),
                                   (0,) * len(attrs["axes"]))),
    adjoint=lambda e, n, cts: (e.op("transpose", cts[0], axes=_inverse(n.attr("axes"))),),
    doc="transpose(x, axes=): axes permuted (reversed by default)")


# ---------------------------------------------------------------- static slices

def slice_shape(spec: tuple) -> tuple[int, ...]:
    return tuple(s[3] for s in spec if s[0] == "s")


def _slice_infer(ts, attrs, span):
    t = tensor(ts[0], "the indexed value", span)
    spec = attrs["spec"]
    assert len(spec) == t.rank, (spec, t)
    return (TensorType(t.dtype, slice_shape(spec)),)


def numpy_index(spec: tuple) -> tuple:
    """The NumPy index tuple of a slice spec."""
    out = []
    for s in spec:
        if s[0] == "i":
            out.append(s[1])
        else:
            _, start, step, count = s
            stop = start + step * count
            out.append(slice(start, stop if stop >= 0 else None, step))
    return tuple(out)


def _slice_map(ts, attrs) -> ViewMap:
    spec = attrs["spec"]
    dims = tuple((e, s[2]) for e, s in enumerate(spec) if s[0] == "s")
    return ViewMap(dims, tuple(s[1] for s in spec))


SLICE = OpDef(
    "slice", _slice_infer, lambda x, spec: np.array(np.asarray(x)[numpy_index(spec)]),
    View(_slice_map),
    adjoint=lambda e, n, cts: (e.op("embed_slice", cts[0], spec=n.attr("spec"),
                                    shape=n.inputs[0].type.shape),),
    doc="x[a:b:c, k, ...] with compile-time bounds: a strided view")


def _embed_slice_infer(ts, attrs, span):
    t = tensor(ts[0], "the scattered value", span)
    assert t.shape == slice_shape(attrs["spec"]), (t, attrs)
    return (TensorType(t.dtype, tuple(attrs["shape"])),)


def _embed_slice_numpy(ct, spec, shape):
    out = np.zeros(shape, np.asarray(ct).dtype)
    out[numpy_index(spec)] = ct
    return out


EMBED_SLICE = OpDef(
    "embed_slice", _embed_slice_infer, _embed_slice_numpy, Kernel("embed"),
    adjoint=lambda e, n, cts: (e.op("slice", cts[0], spec=n.attr("spec")),),
    doc="zeros of `shape` with the value written where the slice `spec` reads")


# ---------------------------------------------------------------- run-time index

def _index_infer(ts, attrs, span):
    t = tensor(ts[0], "the indexed value", span)
    i = tensor(ts[1], "an index", span)
    axis = attrs["axis"]
    if i.dtype != I32 or i.shape:
        raise GdlTypeError(f"an index must be an integer scalar, found {i}", span)
    assert 0 <= axis < t.rank, (axis, t)
    return (TensorType(t.dtype, t.shape[:axis] + t.shape[axis + 1:]),)


def checked_index(span, index, size: int) -> int:
    """`index` wrapped like Python's (negative counts from the end), or an error at `span`."""
    k = int(index)
    if not -size <= k < size:
        raise GdlRuntimeError(f"index {k} is out of range for an axis of length {size} "
                              f"(expected {-size} to {size - 1})", span)
    return k % size


def _index_interpret(node, args, ctx):
    x, i = args
    axis = node.attr("axis")
    k = checked_index(node.span, i, x.shape[axis])
    return (np.array(np.take(x, k, axis=axis)),)


def _index_map(ts, attrs) -> ViewMap:
    axis, rank = attrs["axis"], ts[0].rank
    dims = tuple((e, 1) for e in range(rank) if e != axis)
    return ViewMap(dims, (0,) * rank, ((1, axis),))


def _index_numpy(x, i, axis):
    """The reference value, the index already checked (see `_index_interpret`)."""
    return np.array(np.take(x, int(i) % x.shape[axis], axis=axis))


INDEX = OpDef(
    "index", _index_infer, _index_numpy, View(_index_map), foldable=False,
    interpret=_index_interpret,
    adjoint=lambda e, n, cts: (e.op("embed_index", cts[0], n.inputs[1], axis=n.attr("axis"),
                                    shape=n.inputs[0].type.shape), None),
    doc="x[i] with a run-time i32 index i (negative counts from the end)")


def _embed_index_infer(ts, attrs, span):
    t = tensor(ts[0], "the scattered value", span)
    shape, axis = tuple(attrs["shape"]), attrs["axis"]
    assert t.shape == shape[:axis] + shape[axis + 1:], (t, attrs)
    return (TensorType(t.dtype, shape),)


def _embed_index_numpy(ct, i, axis, shape):
    out = np.zeros(shape, np.asarray(ct).dtype)
    out[(slice(None),) * axis + (int(i) % shape[axis],)] = ct
    return out


def _embed_index_interpret(node, args, ctx):
    ct, i = args
    checked_index(node.span, i, node.attr("shape")[node.attr("axis")])
    return (_embed_index_numpy(ct, i, node.attr("axis"), node.attr("shape")),)


EMBED_INDEX = OpDef(
    "embed_index", _embed_index_infer, _embed_index_numpy, Kernel("embed"), foldable=False,
    interpret=_embed_index_interpret,
    adjoint=lambda e, n, cts: (e.op("index", cts[0], n.inputs[1], axis=n.attr("axis")), None),
    doc="zeros of `shape` with the value written at run-time index i of `axis`")

DEFS = (TRANSPOSE, SLICE, EMBED_SLICE, INDEX, EMBED_INDEX)
CALLS = ()
