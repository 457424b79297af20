"""Kernels for a plan: fused elementwise groups here, other ops by their generator.

Owns the text of elementwise kernels: the op table supplies each op's C
expression (`Elementwise`); this module stitches them into
gdl/kernels/elementwise.cl with loads through index maps (a broadcast is a
stride of 0, never a copy) and the stores.  Sizes and strides are kernel
arguments, so a kernel's text depends on structure only and a new shape
reuses the build.  `kernels_for(node)` dispatches every other lowering to
its generator module (`Reduce` to gen_reduce, `Kernel(name)` to the module
that registers `name`), and `program_source` joins a plan's kernels into
one program.  Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`,
`runtime.gen_*`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..dtype import BOOL, F64, TensorType
from ..ir import Node, Value
from ..ops import OPS
from ..ops.base import Elementwise, Kernel, Reduce
from ..ops.init import c_literal
from . import gen_linalg, gen_reduce, gen_scan, gen_shape
from .kernel_text import (FP64_PRAGMA, Arg, KernelSpec, StridedView, c_type, kernel_name,
                          template)

# Generators of `Kernel(name)` lowerings: name -> function(node) -> [KernelSpec].
GENERATORS = MappingProxyType({**gen_reduce.GENERATORS, **gen_scan.GENERATORS,
                               **gen_linalg.GENERATORS, **gen_shape.GENERATORS})


# ---------------------------------------------------------------- elementwise

def _load(j: int, view: StridedView, shape: tuple[int, ...], ct: str, name: str,
          params: list[str], args: list[Arg], late: list[tuple[str, Arg]]) -> tuple[str, bool]:
    """The load of input j through its view, and whether it needs coordinates."""
    params.append(f"__global const {ct} *in{j}")
    args.append(Arg("in", view.base))
    offset = ""
    if view.offset or view.dynamic:
        late.append((f"const int o{j}", Arg("offset", view)))
        offset = f"o{j} + "
    size = TensorType(BOOL, view.shape).size
    if size == 1:
        return f"    const {ct} {name} = in{j}[{offset}0];", False
    if view.shape == shape and view.contiguous:
        return f"    const {ct} {name} = in{j}[{offset}gid];", False
    lead = len(shape) - len(view.shape)
    terms = []
    for d in range(len(shape)):
        e = d - lead
        if e < 0 or (view.shape[e] == 1 and shape[d] != 1) or view.strides[e] == 0:
            continue
        terms.append(f"(int)c{d} * s{j}_{d}")
        late.append((f"const int s{j}_{d}", Arg("i32", view.strides[e])))
    return f"    const {ct} {name} = in{j}[{offset}{' + '.join(terms) or '0'}];", True


def elementwise(shape: tuple[int, ...], nodes: list[Node],
                inputs: list[tuple[Value, str, StridedView | None]],
                outputs: list[Value]) -> KernelSpec:
    """One kernel computing `nodes` over `shape`, storing `outputs`.

    `inputs` are (value, mode, view): mode "buf" reads the device buffer of
    `view.base` through the view (a plain buffer, a broadcast, a slice, a
    transpose, a run-time index: all are offsets and strides), "host" passes
    a host scalar as a kernel argument.
    """
    size = TensorType(BOOL, shape).size
    reg: dict[Value, str] = {}
    params: list[str] = []
    args: list[Arg] = []
    loads: list[str] = []
    index_lines: list[str] = []
    mapped = False
    dims_args: list[Arg] = []
    late: list[tuple[str, Arg]] = []     # offsets and strides, after the dims
    fp64 = False
    random: set[str] = set()

    for j, (v, mode, view) in enumerate(inputs):
        t = v.type
        ct = c_type(t.dtype)
        fp64 |= t.dtype == F64
        name = f"v{v.id}"
        reg[v] = name
        if mode == "buf":
            line, coords = _load(j, view, shape, ct, name, params, args, late)
            loads.append(line)
            mapped |= coords
        elif mode == "host":
            params.append(f"const {ct} h{j}")
            args.append(Arg("host", v, t.dtype))
            loads.append(f"    const {ct} {name} = h{j};")
        else:
            raise AssertionError(f"bad input mode {mode}")

    body: list[str] = []
    for node in nodes:
        if node.op == "const":
            (o,) = node.outputs
            fp64 |= o.type.dtype == F64
            value = node.attr("value")[0]
            body.append(f"    const {c_type(o.type.dtype)} v{o.id} = {c_literal(value, o.type.dtype)};")
            reg[o] = f"v{o.id}"
            continue
        lower = OPS[node.op].lower
        assert isinstance(lower, Elementwise), node.op
        (o,) = node.outputs
        dt = o.type.dtype
        fp64 |= dt == F64
        if node.op in ("rand", "randn"):
            random.add(dt.c_name)
        expr = lower.expr(tuple(i.type.dtype for i in node.inputs), dt, node.attr_dict)
        expr = expr.format(*[reg[i] for i in node.inputs], idx="gid", T=c_type(dt))
        body.append(f"    const {c_type(dt)} v{o.id} = {expr};")
        reg[o] = f"v{o.id}"

    outs = []
    for j, v in enumerate(outputs):
        ct = c_type(v.type.dtype)
        params.append(f"__global {ct} *out{j}")
        args.append(Arg("out", v))
        outs.append(f"    out{j}[gid] = ({ct}){reg[v]};")

    params.append("const uint n")
    args.append(Arg("u32", size))
    if mapped:
        rank = len(shape)
        for d in range(rank):
            params.append(f"const uint d{d}")
            dims_args.append(Arg("u32", shape[d]))
        index_lines.append("    uint rest = gid;")
        for d in reversed(range(rank)):
            if d:
                index_lines.append(f"    const uint c{d} = rest % d{d};")
                index_lines.append(f"    rest /= d{d};")
            else:
                index_lines.append("    const uint c0 = rest;")
    params.extend(p for p, _ in late)
    code = "\n".join(loads + body + outs)
    text = template("elementwise.cl").substitute(
        NAME="$NAME", PARAMS=",\n        ".join(params), IDX="uint",
        INDEX="\n".join(index_lines), BODY=code)
    name = kernel_name("gdl_ew", text)
    return KernelSpec(name, text.replace("$NAME", name),
                      tuple(args + dims_args + [a for _, a in late]), size, fp64,
                      tuple(sorted(random)))


def kernels_for(node: Node) -> list[KernelSpec]:
    """The kernels of one non-elementwise node, from its lowering's generator."""
    lower = OPS[node.op].lower
    if isinstance(lower, Reduce):
        return gen_reduce.reduction(node)
    if isinstance(lower, Kernel):
        return GENERATORS[lower.template](node)
    raise AssertionError(f"{node.op}: no kernel generator for {lower!r}")


def program_source(specs: list[KernelSpec]) -> str:
    """One program holding every kernel of a plan, with the shared prelude."""
    fp64 = any(s.uses_fp64 for s in specs)
    parts = [template("prelude.cl").substitute(FP64=FP64_PRAGMA if fp64 else "")]
    for t in sorted({t for s in specs for t in s.uses_random}):
        parts.append(template("philox.cl").substitute(
            T=t, FP64_PRAGMA=FP64_PRAGMA if t == "double" else ""))
    seen = set()
    for s in specs:
        if s.name not in seen:
            seen.add(s.name)
            parts.append(s.source)
    return "\n".join(parts)
