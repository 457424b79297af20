"""Reduction kernels: deterministic, two-stage when few outputs fold long rows.

Owns the lowering of every `Reduce` op (gdl/kernels/reduce.cl and
reduce_finish.cl): which input element feeds which output (merged axes),
how values fold (the op's `combine`, Kahan-compensated for float sums), and
how many ordered partials each output gets (a function of the shape only,
so results are bitwise repeatable).  Imports `ir`, `ops`, `dtype`,
`runtime.kernel_text`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..dtype import F64, I32, DType
from ..ir import Node
from ..ops import OPS
from ..ops.base import Reduce
from .kernel_text import Arg, KernelSpec, c_type, kernel_name, strides, template


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
    name = kernel_name("gdl_red", first)
    out_arg = Arg("partial" if p > 1 else "out", node.out)
    base_args = tuple(args) + (out_arg, Arg("u32", m), Arg("u32", k), Arg("u32", p),
                               Arg("u32", -(-k // p))) + tuple(size_args)
    specs = [KernelSpec(name, first.replace("$NAME", name), base_args, m * p, fp64)]
    if p > 1:
        second = template("reduce_finish.cl").substitute(NAME="$NAME", POST=post, **common)
        fname = kernel_name("gdl_redfin", second)
        specs.append(KernelSpec(fname, second.replace("$NAME", fname),
                                (Arg("partial", node.out), Arg("out", node.out), Arg("u32", m),
                                 Arg("u32", p), Arg("u32", k)), m, fp64))
    return specs


GENERATORS = MappingProxyType({})     # reductions dispatch on `Reduce`, not by name
