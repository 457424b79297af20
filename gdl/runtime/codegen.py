"""Kernels for a plan: the dispatch to generators, and one program for all of them.

Fusion groups come from `gen_fused`; `kernels_for(node)` dispatches every
other lowering to its generator module (`Reduce` to gen_reduce,
`Kernel(name)` to the module that registers `name`); `program_source`
joins a plan's kernels, with the shared prelude, into one program.  Sizes
and strides are kernel arguments, so a kernel's text depends on structure
only and a new shape reuses the build.  Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`,
`runtime.gen_*`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..ir import Node
from ..ops import OPS
from ..ops.base import Kernel, Reduce
from . import gen_linalg, gen_reduce, gen_scan, gen_shape
from .kernel_text import FP64_PRAGMA, KernelSpec, template

# Generators of `Kernel(name)` lowerings: name -> function(node) -> [KernelSpec].
GENERATORS = MappingProxyType({**gen_reduce.GENERATORS, **gen_scan.GENERATORS,
                               **gen_linalg.GENERATORS, **gen_shape.GENERATORS})


# Generators whose kernels are tuned per device (they take it as a second argument).
TUNED = frozenset({"matmul"})


def kernels_for(node: Node, device=None) -> list[KernelSpec]:
    """The kernels of one non-elementwise node, from its lowering's generator.

    `device` (a runtime Device, or None for the portable defaults) lets tuned
    generators pick their tiles for it.
    """
    lower = OPS[node.op].lower
    if isinstance(lower, Reduce):
        return gen_reduce.reduction(node)
    if isinstance(lower, Kernel):
        if lower.template in TUNED:
            return GENERATORS[lower.template](node, device)
        return GENERATORS[lower.template](node)
    raise AssertionError(f"{node.op}: no kernel generator for {lower!r}")


def program_source(specs: list[KernelSpec]) -> str:
    """One program holding every kernel of a plan, with the shared prelude
    (and the NaN/Inf check macros where a kernel checks)."""
    fp64 = any(s.uses_fp64 for s in specs)
    parts = [template("prelude.cl").substitute(FP64=FP64_PRAGMA if fp64 else "")]
    for t in sorted({t for s in specs for t in s.uses_random}):
        parts.append(template("philox.cl").substitute(
            T=t, FP64_PRAGMA=FP64_PRAGMA if t == "double" else ""))
    if any(s.checks for s in specs):
        parts.append(template("nonfinite.cl").substitute())
    seen = set()
    for s in specs:
        if s.name not in seen:
            seen.add(s.name)
            parts.append(s.source)
    return "\n".join(parts)
