"""Kernel generators for `Kernel(name)` lowerings of the linalg ops (see codegen.kernels_for).

Owns the lowering of `matmul` (gdl/kernels/matmul.cl): operands are read
as M x K and K x N matrices through index maps (a vector is a 1 x K or
K x 1 matrix, a `transpose_*` flag swaps the operand's strides), so no
operand is ever copied.  Each work-item accumulates a block of 4 output
columns of one row over k in order, so the summation order is a function
of the shape only.  The kernel text depends on the dtype and the flags;
M, N and K are arguments.  A vector . vector product is the `dot`
reduction (compensated, split into ordered partials when long).
Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`, `runtime.gen_reduce`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..dtype import F64, I32
from ..ir import Node
from ..ops.linalg import matmul_dims
from . import gen_reduce
from .kernel_text import Arg, KernelSpec, c_type, kernel_name, template

BLOCK = 4      # output columns per work-item (the template's accumulators)


def matmul(node: Node) -> list[KernelSpec]:
    """The kernel of one matmul node."""
    a, b = node.inputs
    if a.type.rank == 1 and b.type.rank == 1:
        # Vector . vector is a dot product: use its (compensated) reduction.
        return gen_reduce.reduction(Node("dot", node.inputs, (), node.outputs, (), node.span))
    ta, tb = bool(node.attr("transpose_a")), bool(node.attr("transpose_b"))
    m, k, _, n = matmul_dims(a.type, b.type, ta, tb)
    dt = node.out.type.dtype
    t = c_type(dt)
    acc = "uint" if dt == I32 else t
    # A(i, k) and B(k, j): row-major reads of the stored operand, swapped when transposed.
    a_at = "a[k * M + i]" if ta else "a[i * K + k]"
    b_at = (lambda j: f"b[{j} * K + k]") if tb else (lambda j: f"b[k * N + {j}]")
    result = (lambda r: f"as_int({r})") if dt == I32 else (lambda r: r)
    subs = {f"B_AT{c}": b_at(f"j{c}") for c in range(BLOCK)}
    subs.update({f"RESULT{c}": result(f"acc{c}") for c in range(BLOCK)})
    text = template("matmul.cl").substitute(NAME="$NAME", T=t, ACC=acc, A_AT=a_at, **subs)
    name = kernel_name("gdl_mm", text)
    args = (Arg("in", a), Arg("in", b), Arg("out", node.out),
            Arg("u32", m), Arg("u32", n), Arg("u32", k))
    blocks = -(-n // BLOCK)
    return [KernelSpec(name, text.replace("$NAME", name), args, m * blocks, dt == F64)]


# name -> function(node) -> list[KernelSpec]
GENERATORS = MappingProxyType({"matmul": matmul})
