"""Kernel generators for `Kernel(name)` lowerings of the scan ops (see codegen.kernels_for).

Owns `Kernel("scan")` (gdl/kernels/scan.cl), the kernel of `cumsum`: the
operand is seen as (outer, N, inner) around the scanned axis and one
work-item scans each of the outer * inner lines serially, so the order of
every sum is a function of the shape only (bitwise repeatable).  Float scans
are Kahan-compensated exactly as the op's NumPy reference is; i32 scans wrap
(through uint).  Sizes are kernel arguments: the text depends on the dtype
and the direction only.  Imports `ir`, `dtype`, `runtime.kernel_text`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..dtype import F64, I32
from ..ir import Node
from .kernel_text import Arg, KernelSpec, c_type, kernel_name, template


def scan(node: Node) -> list[KernelSpec]:
    """One kernel: each work-item scans one line along the node's axis."""
    x = node.inputs[0]
    t = x.type
    dt = t.dtype
    axis = node.attr("axis") % t.rank
    n = t.shape[axis]
    inner = 1
    for d in t.shape[axis + 1:]:
        inner *= d
    lines = t.size // n
    acc = "uint" if dt == I32 else c_type(dt)
    if dt.is_float:
        combine = ("{ const ACC y = v - comp; const ACC t = acc + y; "
                   "comp = isfinite(t) ? (t - acc) - y : (ACC)0; acc = t; }").replace("ACC", acc)
    else:
        combine = "acc += v;"
    text = template("scan.cl").substitute(
        NAME="$NAME", T=c_type(dt), ACC=acc, POS="N - 1u - j" if node.attr("reverse") else "j",
        COMBINE=combine, STORE="as_int(acc)" if dt == I32 else "acc")
    name = kernel_name("gdl_scan", text)
    return [KernelSpec(name, text.replace("$NAME", name),
                       (Arg("in", x), Arg("out", node.out), Arg("u32", lines), Arg("u32", n),
                        Arg("u32", inner)), lines, dt == F64)]


# name -> function(node) -> list[KernelSpec]
GENERATORS = MappingProxyType({"scan": scan})
