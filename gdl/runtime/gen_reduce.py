"""Reduction kernels: deterministic, two-stage when few outputs fold long rows.

Owns the lowering of every `Reduce` op (gdl/kernels/reduce.cl and
reduce_finish.cl) and of `Kernel("argreduce")` (argreduce.cl and
argreduce_finish.cl): which input element feeds which output (merged axes),
how values fold (the op's `combine`: Kahan-compensated for float sums;
max/min propagate NaN explicitly, since fmax ignores it), and how many
ordered partials each output gets (a function of the shape only, so results
are bitwise repeatable).  argmax/argmin keep the first index on ties and
the first NaN.  Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`.
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
    work-items run; the order of the fold depends on (m, k) and nothing else.
    """
    if m >= 256 or k <= 4096:
        return 1
    return min(-(-k // 4096), 1024)


def _acc_type(kind: str, dt: DType) -> str:
    """The accumulator's C type: i32 sums and products fold as uint, so they wrap."""
    if dt == I32 and kind in ("add", "mul"):
        return "uint"
    return c_type(dt)


def _identity(kind: str, dt: DType) -> str:
    if kind == "add":
        return "0"
    if kind == "mul":
        return "1"
    if dt.is_float:
        return "-INFINITY" if kind == "max" else "INFINITY"
    return "INT_MIN" if kind == "max" else "INT_MAX"


def _combine(kind: str, dt: DType) -> str:
    """C statements folding `v` into `acc` (`comp`: the Kahan compensation)."""
    if kind == "add" and dt.is_float:
        # Kahan compensation: deterministic and far tighter than a plain loop.  Once the sum
        # is infinite or NaN the compensation is 0, so inf stays inf (inf - inf is NaN).
        return ("{ const ACC y = v - comp; const ACC t = acc + y; "
                "comp = isfinite(t) ? (t - acc) - y : (ACC)0; acc = t; }")
    if kind == "add":
        return "acc += v;"
    if kind == "mul":
        return "acc *= v;"
    if dt.is_float:
        # A NaN replaces the accumulator and nothing replaces a NaN (v > NaN is false).
        cmp = ">" if kind == "max" else "<"
        return f"acc = (v {cmp} acc || isnan(v)) ? v : acc;"
    return f"acc = {kind}(acc, v);"


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


def _index_map(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[str, str, str, list]:
    """C statements for `base` (where output m starts) and `idx` (its element k).

    Returns (MBASE, KINDEX, size parameters, their arguments); common layouts
    (all reduced, rows, columns) need no extra sizes.
    """
    merged = _merge_dims(shape, axes)
    classes = [red for _, red in merged]
    size_params, size_args = "", []
    if not any(not r for r in classes):
        return "    const uint base = 0;", "        const uint idx = k;", "", []
    if classes == [False, True]:
        return "    const uint base = m * K;", "        const uint idx = base + k;", "", []
    if classes == [True, False]:
        return "    const uint base = m;", "        const uint idx = base + k * M;", "", []
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
    return "\n".join(mbase_lines), "\n".join(k_lines), size_params, size_args


def _reduced_axes(node: Node) -> tuple[int, ...]:
    src_t = node.inputs[0].type
    axis = node.attr("axis")
    if node.op in ("norm", "dot") or axis is None:
        return tuple(range(src_t.rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % src_t.rank for a in axes))


def reduction(node: Node) -> list[KernelSpec]:
    """The kernels of one reduction node: one stage, or two with partials."""
    lower = OPS[node.op].lower
    assert isinstance(lower, Reduce)
    src_t = node.inputs[0].type
    out_t = node.out.type
    dt = out_t.dtype
    axes = _reduced_axes(node)
    m = out_t.size
    k = src_t.size // max(m, 1)
    p = partials_for(m, k)
    acc = _acc_type(lower.combine, dt)
    mbase, kindex, size_params, size_args = _index_map(src_t.shape, axes)
    ins, loads, args = [], [], []
    for j, v in enumerate(node.inputs):
        ct = c_type(v.type.dtype)
        ins.append(f"__global const {ct} *in{j},")
        args.append(Arg("in", v))
        load_t = acc if dt == I32 else ct
        loads.append(f"        const {load_t} a{j} = ({load_t})in{j}[idx];")
    pre = lower.pre.format(*[f"a{j}" for j in range(len(node.inputs))])
    post_acc = "as_int(acc)" if acc == "uint" else "acc"
    post = lower.post.format(post_acc, n=k)
    combine = _combine(lower.combine, dt).replace("ACC", acc)
    fp64 = dt == F64 or any(v.type.dtype == F64 for v in node.inputs)
    common = dict(ACC=acc, IDENTITY=_identity(lower.combine, dt), COMBINE=combine, T=c_type(dt))
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


def _better(op: str, dt: DType) -> str:
    """C condition: `v` beats the best so far `bv` (strictly, so the first tie stays).

    A NaN beats any number and nothing beats a NaN, as np.argmax/np.argmin.
    """
    cmp = ">" if op == "argmax" else "<"
    if dt.is_float:
        return f"(v {cmp} bv || (isnan(v) && !isnan(bv)))"
    return f"(v {cmp} bv)"


def argreduce(node: Node) -> list[KernelSpec]:
    """argmax/argmin: each (output, chunk) keeps its best k; stage two picks among chunks.

    With partials, stage one writes the chunk's best k and its input index
    (two uints per work-item, in the launch's 8-byte-per-item scratch);
    stage two re-reads the values and keeps the earliest best chunk.
    """
    x = node.inputs[0]
    src_t = x.type
    m = node.out.type.size
    k = src_t.size // max(m, 1)
    p = partials_for(m, k)
    t = c_type(src_t.dtype)
    axis = node.attr("axis")
    axes = tuple(range(src_t.rank)) if axis is None else _reduced_axes(node)
    mbase, kindex, size_params, size_args = _index_map(src_t.shape, axes)
    better = _better(node.op, src_t.dtype)
    store = ("    out[gid] = best;\n    out[M * P + gid] = best_idx;" if p > 1 else
             "    out[gid] = (int)best;")
    first = template("argreduce.cl").substitute(
        NAME="$NAME", T=t, OUT_T="uint" if p > 1 else "int", SIZES=size_params, MBASE=mbase,
        KINDEX=kindex, BETTER=better, STORE=store)
    name = kernel_name("gdl_arg", first)
    fp64 = src_t.dtype == F64
    out_arg = Arg("partial" if p > 1 else "out", node.out)
    specs = [KernelSpec(name, first.replace("$NAME", name),
                        (Arg("in", x), out_arg, Arg("u32", m), Arg("u32", k), Arg("u32", p),
                         Arg("u32", -(-k // p))) + tuple(size_args), m * p, fp64)]
    if p > 1:
        second = template("argreduce_finish.cl").substitute(NAME="$NAME", T=t, BETTER=better)
        fname = kernel_name("gdl_argfin", second)
        specs.append(KernelSpec(fname, second.replace("$NAME", fname),
                                (Arg("in", x), Arg("partial", node.out), Arg("out", node.out),
                                 Arg("u32", m), Arg("u32", p)), m, fp64))
    return specs


# Generators of `Kernel(name)` lowerings (reductions themselves dispatch on `Reduce`).
GENERATORS = MappingProxyType({"argreduce": argreduce})
