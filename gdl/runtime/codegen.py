"""OpenCL source for fused elementwise groups and reductions, from gdl/kernels/.

Owns the text of every kernel gdl runs.  The op table supplies each op's C
expression (`Elementwise`) or reduction recipe (`Reduce`); this module
stitches them into the templates: loads through index maps (a broadcast is
a stride of 0, never a copy), the inlined expressions, the stores.  Sizes
and strides are kernel arguments, so a kernel's text depends on structure
only and a new shape reuses the build.  Kernel names are hashes of their
text, so one program can hold every kernel of a plan without clashes.
Imports `ir`, `ops`, `dtype`, `runtime.device`.
"""
from __future__ import annotations

from types import MappingProxyType

import hashlib
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from ..dtype import BOOL, F64, I32, DType, TensorType
from ..ir import Node, Value
from ..ops import OPS
from ..ops.base import Elementwise, Reduce
from ..ops.init import c_literal

FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable"


def template(name: str) -> Template:
    """A kernel template from the package's kernels/ folder, its header comment dropped.

    The comment documents the template's placeholders; generated programs
    need it once, not once per kernel.
    """
    text = (resources.files("gdl") / "kernels" / name).read_text()
    if text.startswith("/*"):
        text = text[text.index("*/") + 2:].lstrip("\n")
    return Template(text)


def c_type(dt: DType) -> str:
    return dt.c_name


def strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides of a contiguous tensor."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return tuple(reversed(out))


def broadcast_strides(shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """Strides reading `shape` as if broadcast to `target` (0 on stretched axes)."""
    lead = len(target) - len(shape)
    own = strides(shape)
    return tuple(0 if i < lead or shape[i - lead] == 1 else own[i - lead]
                 for i in range(len(target)))


def _kernel_name(prefix: str, text: str) -> str:
    return f"{prefix}_{hashlib.sha1(text.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Arg:
    """One kernel argument: `kind` is "in", "host", "out" or "u32" (a size)."""

    kind: str
    value: Any          # a Value for in/host/out, an int for u32
    dtype: DType | None = None


@dataclass(frozen=True)
class KernelSpec:
    """A generated kernel: its name, full source text, arguments, work size."""

    name: str
    source: str
    args: tuple[Arg, ...]
    global_size: int
    uses_fp64: bool
    uses_random: tuple[str, ...] = ()


# ---------------------------------------------------------------- elementwise

def elementwise(shape: tuple[int, ...], nodes: list[Node], inputs: list[tuple[Value, str]],
                outputs: list[Value]) -> KernelSpec:
    """One kernel computing `nodes` over `shape`, storing `outputs`.

    `inputs` are (value, mode) with mode "buf" (a device buffer read through
    its broadcast map), "host" (a scalar kernel argument) or "const" (a
    literal scalar inlined into the source).
    """
    size = TensorType(BOOL, shape).size
    reg: dict[Value, str] = {}
    params: list[str] = []
    args: list[Arg] = []
    loads: list[str] = []
    index_lines: list[str] = []
    mapped = False
    dims_args: list[Arg] = []
    stride_args: list[Arg] = []
    stride_params: list[str] = []   # after the dims, in the order of stride_args
    fp64 = False
    random: set[str] = set()

    for j, (v, mode) in enumerate(inputs):
        t = v.type
        ct = c_type(t.dtype)
        fp64 |= t.dtype == F64
        name = f"v{v.id}"
        reg[v] = name
        if mode == "buf":
            params.append(f"__global const {ct} *in{j}")
            args.append(Arg("in", v))
            if t.shape == shape:
                loads.append(f"    const {ct} {name} = in{j}[gid];")
            elif t.size == 1:
                loads.append(f"    const {ct} {name} = in{j}[0];")
            else:
                mapped = True
                st = broadcast_strides(t.shape, shape)
                terms = []
                for d, s in enumerate(st):
                    if s:
                        terms.append(f"c{d} * s{j}_{d}")
                        stride_params.append(f"const uint s{j}_{d}")
                        stride_args.append(Arg("u32", s))
                loads.append(f"    const {ct} {name} = in{j}[{' + '.join(terms) or '0'}];")
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
        params.extend(stride_params)
        index_lines.append("    uint rest = gid;")
        for d in reversed(range(rank)):
            if d:
                index_lines.append(f"    const uint c{d} = rest % d{d};")
                index_lines.append(f"    rest /= d{d};")
            else:
                index_lines.append("    const uint c0 = rest;")
    code = "\n".join(loads + body + outs)
    text = template("elementwise.cl").substitute(
        NAME="$NAME", PARAMS=",\n        ".join(params), IDX="uint",
        INDEX="\n".join(index_lines), BODY=code)
    name = _kernel_name("gdl_ew", text)
    return KernelSpec(name, text.replace("$NAME", name), tuple(args + dims_args + stride_args),
                      size, fp64, tuple(sorted(random)))


# ---------------------------------------------------------------- reductions

def partials_for(m: int, k: int) -> int:
    """How many partial results each output gets: a function of the shape only.

    Few outputs over long rows split each row into ordered chunks so more
    work-items run; the order of the sum depends on (m, k) and nothing else.
    """
    if m >= 256 or k <= 4096:
        return 1
    return min(-(-k // 4096), 1024)


IDENTITY = MappingProxyType({"add": "0", "mul": "1"})


def _combine(kind: str, dt: DType) -> str:
    if kind == "add" and dt.is_float:
        # Kahan compensation: deterministic and far tighter than a plain loop.
        return "{ const ACC y = v - comp; const ACC t = acc + y; comp = (t - acc) - y; acc = t; }"
    if kind == "add":
        return "acc += v;"
    if kind == "mul":
        return "acc *= v;"
    raise AssertionError(kind)


def _merge_dims(shape: tuple[int, ...], axes: tuple[int, ...]) -> list[tuple[int, bool]]:
    """Adjacent axes of the same class (reduced or kept) merged into one."""
    merged: list[tuple[int, bool]] = []
    for i, d in enumerate(shape):
        red = i in axes
        if d == 1:
            continue
        if merged and merged[-1][1] == red:
            merged[-1] = (merged[-1][0] * d, red)
        else:
            merged.append((d, red))
    return merged


def reduction(node: Node) -> list[KernelSpec]:
    """The kernels of one reduction node: one stage, or two with partials."""
    lower = OPS[node.op].lower
    assert isinstance(lower, Reduce)
    src_t = node.inputs[0].type
    out_t = node.out.type
    dt = out_t.dtype
    axes = tuple(node.attr("axis")) if node.attr("axis") is not None else tuple(range(src_t.rank))
    if node.op in ("norm", "dot"):
        axes = tuple(range(src_t.rank))
    m = out_t.size
    k = src_t.size // max(m, 1)
    p = partials_for(m, k)
    acc = "uint" if dt == I32 else c_type(dt)
    merged = _merge_dims(src_t.shape, axes)
    classes = [red for _, red in merged]
    size_params, size_args = "", []
    if not any(not r for r in classes):
        mbase, kindex = "    const uint base = 0;", "        const uint idx = k;"
    elif classes == [False, True]:
        mbase, kindex = "    const uint base = m * K;", "        const uint idx = base + k;"
    elif classes == [True, False]:
        mbase, kindex = "    const uint base = m;", "        const uint idx = base + k * M;"
    else:
        mbase_lines, k_lines = ["    uint mr = m, base = 0;"], ["        uint kr = k, idx = base;"]
        st = strides(tuple(d for d, _ in merged))
        for i in reversed(range(len(merged))):
            d, red = merged[i]
            size_params += f", const uint md{i}, const uint ms{i}"
            size_args += [Arg("u32", d), Arg("u32", st[i])]
            if red:
                k_lines.append(f"        idx += (kr % md{i}) * ms{i}; kr /= md{i};")
            else:
                mbase_lines.append(f"    base += (mr % md{i}) * ms{i}; mr /= md{i};")
        mbase, kindex = "\n".join(mbase_lines), "\n".join(k_lines)
    ins, loads, args = [], [], []
    for j, v in enumerate(node.inputs):
        ct = c_type(v.type.dtype)
        ins.append(f"__global const {ct} *in{j},")
        args.append(Arg("in", v))
        load_t = "uint" if dt == I32 else ct
        loads.append(f"        const {load_t} a{j} = ({load_t})in{j}[idx];")
    pre = lower.pre.format(*[f"a{j}" for j in range(len(node.inputs))])
    post_acc = "as_int(acc)" if dt == I32 else "acc"
    post = lower.post.format(post_acc, n=k)
    combine = _combine(lower.combine, dt).replace("ACC", acc)
    fp64 = dt == F64 or any(v.type.dtype == F64 for v in node.inputs)
    common = dict(ACC=acc, IDENTITY=IDENTITY[lower.combine], COMBINE=combine, T=c_type(dt))
    first = template("reduce.cl").substitute(
        NAME="$NAME", INPUTS=" ".join(ins), OUT_T=acc if p > 1 else c_type(dt),
        SIZES=size_params, MBASE=mbase, KINDEX=kindex, LOADS="\n".join(loads), PRE=pre,
        RESULT="acc" if p > 1 else post, **common)
    name = _kernel_name("gdl_red", first)
    out_arg = Arg("partial" if p > 1 else "out", node.out)
    base_args = tuple(args) + (out_arg, Arg("u32", m), Arg("u32", k), Arg("u32", p),
                               Arg("u32", -(-k // p))) + tuple(size_args)
    specs = [KernelSpec(name, first.replace("$NAME", name), base_args, m * p, fp64)]
    if p > 1:
        second = template("reduce_finish.cl").substitute(NAME="$NAME", POST=post, **common)
        fname = _kernel_name("gdl_redfin", second)
        specs.append(KernelSpec(fname, second.replace("$NAME", fname),
                                (Arg("partial", node.out), Arg("out", node.out), Arg("u32", m),
                                 Arg("u32", p), Arg("u32", k)), m, fp64))
    return specs


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
