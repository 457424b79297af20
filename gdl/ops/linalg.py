"""Linear algebra: `dot` of two vectors, `matmul` (and the operator `@`), `outer`.

Contracts.
- `dot(a, b)`: two 1-D tensors of one length -> scalar; lowers to the
  reduction template with a product as its map (one pass over both).
- `matmul(a, b)` / `a @ b`: NumPy's matmul on 1-D and 2-D operands:
  [m, k] @ [k, n] -> [m, n], [m, k] @ [k] -> [m], [k] @ [k, n] -> [n] and
  [k] @ [k] -> [] (the dot product).  Operands are promoted to one dtype
  ("all"); i32 wraps; bool is an error.  The internal attributes
  `transpose_a` / `transpose_b` (2-D operands only) make the op read that
  operand transposed through its index map, with no copy: the adjoint rule
  uses them (dA = ct @ B^T, dB = A^T @ ct), so gradients are matmul nodes
  again and can be differentiated again.  Vector operands are 1-row (left)
  or 1-column (right) matrices for the kernel and the adjoint.  Lowers to
  `Kernel("matmul")` (runtime/gen_linalg.py, kernels/matmul.cl).
- `outer(a, b)`: two 1-D tensors -> [len a, len b], a composite of
  `reshape` and a broadcasting `mul` (no kernel of its own).
Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import BOOL, TensorType, common_dtype
from ..errors import GdlTypeError
from .base import REQUIRED, Call, Emitter, Kernel, OpDef, Reduce, binary_call, same_dtype, tensor

# ---------------------------------------------------------------- dot


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


# ---------------------------------------------------------------- matmul

def matmul_dims(a: TensorType, b: TensorType, ta: bool = False,
                tb: bool = False) -> tuple[int, int, int, int]:
    """(M, K, K', N) of `a @ b` seen as matrices (vectors as 1 x K and K x 1)."""
    if a.rank == 1:
        m, k = 1, a.shape[0]
    else:
        m, k = a.shape[::-1] if ta else a.shape
    if b.rank == 1:
        k2, n = b.shape[0], 1
    else:
        k2, n = b.shape[::-1] if tb else b.shape
    return m, k, k2, n


def _shown(t: TensorType, transposed: bool) -> str:
    return f"{t}.T" if transposed else str(t)


def _matmul_infer(ts, attrs, span):
    a, b = (tensor(t, "an operand of `@` (matmul)", span) for t in ts)
    ta, tb = bool(attrs.get("transpose_a")), bool(attrs.get("transpose_b"))
    both = f"{_shown(a, ta)} @ {_shown(b, tb)}"
    for t, side in ((a, "left"), (b, "right")):
        if t.rank not in (1, 2):
            raise GdlTypeError(f"`@` (matmul) needs 1-D or 2-D operands, found {both} (the "
                               f"{side} operand has rank {t.rank})", span)
    for t, flag, name in ((a, ta, "transpose_a"), (b, tb, "transpose_b")):
        if flag and t.rank != 2:
            raise GdlTypeError(f"`{name}` of matmul needs a 2-D operand, found {t}", span)
    dt = same_dtype((a, b), "@", span)
    if dt == BOOL:
        raise GdlTypeError(f"`@` (matmul) needs numbers, found {both} (use i32(...) or "
                           "f32(...))", span)
    m, k, k2, n = matmul_dims(a, b, ta, tb)
    if k != k2:
        raise GdlTypeError(f"cannot multiply {both}: inner dimensions {k} and {k2} differ",
                           span)
    shape = (m,) * (a.rank == 2) + (n,) * (b.rank == 2)
    return (TensorType(dt, shape),)


def _matmul_numpy(a, b, transpose_a=False, transpose_b=False):
    """NumPy's matmul; integers wrap in their own width (through unsigned ints)."""
    a, b = np.asarray(a), np.asarray(b)
    a = a.T if transpose_a else a
    b = b.T if transpose_b else b
    if a.dtype.kind in "iu":
        u = np.dtype(f"u{a.dtype.itemsize}")
        return np.asarray(np.matmul(a.astype(u), b.astype(u))).view(a.dtype)
    return np.asarray(np.matmul(a, b))


def _mm(e: Emitter, a, b, ta: bool, tb: bool):
    """A matmul node; flags appear as attributes only when set (so `@` nodes stay plain)."""
    attrs = {k: True for k, v in (("transpose_a", ta), ("transpose_b", tb)) if v}
    return e.op("matmul", a, b, **attrs)


def _matmul_adjoint(e, n, cts):
    """dA = ct @ op(B)^T and dB = op(A)^T @ ct, as matmuls with transpose flags.

    Vectors are reshaped (an alias, no copy) to 1 x K / K x 1 matrices and
    the cotangent to M x N, so the four flag combinations cover every form;
    vector . vector (a scalar cotangent) is a broadcasting product.
    """
    a, b = n.inputs
    ct = cts[0]
    if a.type.rank == 1 and b.type.rank == 1:
        return (e.mul(ct, b), e.mul(ct, a))
    ta, tb = bool(n.attr("transpose_a")), bool(n.attr("transpose_b"))
    m, k, _, nn = matmul_dims(a.type, b.type, ta, tb)
    a2 = a if a.type.rank == 2 else e.reshape(a, (1, k))     # flags are 2-D only
    b2 = b if b.type.rank == 2 else e.reshape(b, (k, 1))
    ct2 = e.reshape(ct, (m, nn))
    da = _mm(e, b2, ct2, tb, True) if ta else _mm(e, ct2, b2, False, not tb)
    db = _mm(e, ct2, a2, True, ta) if tb else _mm(e, a2, ct2, not ta, False)
    return (e.reshape(da, a.type.shape), e.reshape(db, b.type.shape))


MATMUL = OpDef("matmul", _matmul_infer, _matmul_numpy, Kernel("matmul"),
               adjoint=_matmul_adjoint, promote="all",
               doc="matmul(a, b), a @ b: matrix product of 1-D/2-D operands, as NumPy")

DEFS = (DOT, MATMUL)


# ---------------------------------------------------------------- calls

def _outer_call(ctx, args, dtype, span):
    """outer(a, b) = reshape(a, [m, 1]) * b: a broadcast product, no kernel of its own."""
    a, b = args["a"], args["b"]
    sa, sb = ctx.shape_of(a), ctx.shape_of(b)
    if len(sa) != 1 or len(sb) != 1:
        raise GdlTypeError(f"`outer` needs two 1-D tensors, found shapes {list(sa)} and "
                           f"{list(sb)}", span)
    if "bool" in (ctx.kind_of(a), ctx.kind_of(b)):
        raise GdlTypeError("`outer` needs numbers, found bool (use i32(...) or f32(...))", span)
    # Promote first, so a literal meeting an f64 vector is made in f64, not f32.
    target, _ = common_dtype((ctx.dtype_of(x), ctx.kind_of(x)) for x in (a, b))
    if target is not None:
        a, b = (ctx.to_value(x, target, span) for x in (a, b))
    column = ctx.apply("reshape", [a], {"shape": (sa[0], 1)}, span)
    return ctx.apply("mul", [column, b], {}, span)


CALLS = (binary_call("dot"), binary_call("matmul"),
         Call("outer", (("a", REQUIRED), ("b", REQUIRED)), _outer_call))
