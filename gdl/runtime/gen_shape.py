"""Kernels that move elements: `embed` (the adjoint of a view) and `concat`.

`embed` writes the cotangent of a slice or a run-time index into zeros of
the source's shape in one pass: each output element decides, per axis,
whether the view reads it and from where.  `concat` reads each output
element from the operand it lands in.  Both are one work-item per output
element with sizes as arguments (gdl/kernels/gather.cl).
Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`.
"""
from __future__ import annotations

from types import MappingProxyType

from ..dtype import F64, BOOL, TensorType
from ..ir import Node
from .kernel_text import Arg, KernelSpec, c_type, kernel_name, strides, template


def _coords(shape: tuple[int, ...], params: list[str], args: list[Arg]) -> list[str]:
    """Statements splitting `gid` into coordinates c0.. of `shape` (dims as arguments)."""
    lines = ["    uint rest = gid;"]
    for d in reversed(range(len(shape))):
        params.append(f"const uint d{d}")
        args.append(Arg("u32", shape[d]))
        if d:
            lines.append(f"    const int c{d} = (int)(rest % d{d}); rest /= d{d};")
        else:
            lines.append("    const int c0 = (int)rest;")
    return lines


def _spec(name: str, body: list[str], params: list[str], args: list[Arg], out: TensorType,
          fp64: bool) -> KernelSpec:
    size = TensorType(BOOL, out.shape).size
    text = template("gather.cl").substitute(NAME="$NAME", PARAMS=",\n        ".join(params),
                                            BODY="\n".join(body))
    kname = kernel_name(name, text)
    return KernelSpec(kname, text.replace("$NAME", kname), tuple(args), size, fp64)


def embed(node: Node) -> list[KernelSpec]:
    """Zeros of the source's shape, with the cotangent where the view reads (slice or index)."""
    ct = node.inputs[0]
    out = node.out.type
    t = c_type(out.dtype)
    params = [f"__global const {t} *ct", f"__global {t} *out", "const uint n"]
    args = [Arg("in", ct), Arg("out", node.out), Arg("u32", out.size)]
    if node.op == "embed_slice":
        spec = node.attr("spec")
    else:                                   # embed_index: one run-time index on `axis`
        axis = node.attr("axis")
        spec = tuple(("dyn",) if e == axis else ("s", 0, 1, d) for e, d in enumerate(out.shape))
    body = _coords(out.shape, params, args)
    ct_strides = strides(ct.type.shape)
    cond, index, k = [], [], 0
    for e, s in enumerate(spec):
        if s[0] == "i":
            cond.append(f"c{e} == {s[1]}")
        elif s[0] == "dyn":
            params.append("const int at")
            args.append(Arg("host", node.inputs[1], node.inputs[1].type.dtype))
            cond.append(f"c{e} == (at < 0 ? at + (int)d{e} : at)")
        else:
            _, start, step, count = s
            params += [f"const int a{e}", f"const int p{e}", f"const int q{e}",
                       f"const int t{e}"]
            args += [Arg("i32", start), Arg("i32", step), Arg("i32", count),
                     Arg("i32", ct_strides[k])]
            body.append(f"    const int u{e} = (c{e} - a{e}) / p{e};")
            cond.append(f"(c{e} - a{e}) % p{e} == 0 && u{e} >= 0 && u{e} < q{e}")
            index.append(f"u{e} * t{e}")
            k += 1
    test = " && ".join(cond) or "1"
    body.append(f"    out[gid] = ({test}) ? ct[{' + '.join(index) or '0'}] : ({t})0;")
    return [_spec("gdl_embed", body, params, args, out, out.dtype == F64)]


def concat(node: Node) -> list[KernelSpec]:
    """Each output element read from the operand it lands in, along `axis`."""
    out = node.out.type
    axis = node.attr("axis")
    t = c_type(out.dtype)
    params, args = [], []
    for j, x in enumerate(node.inputs):
        params.append(f"__global const {t} *in{j}")
        args.append(Arg("in", x))
    params += [f"__global {t} *out", "const uint n"]
    args += [Arg("out", node.out), Arg("u32", out.size)]
    body = _coords(out.shape, params, args)
    at = 0
    for j, x in enumerate(node.inputs):
        width = x.type.shape[axis]
        st = strides(x.type.shape)
        terms = [f"(c{d} - {at if d == axis else 0}) * {st[d]}" if d == axis
                 else f"c{d} * {st[d]}" for d in range(len(out.shape))]
        keyword = "if" if j == 0 else "else if"
        if j == len(node.inputs) - 1:
            body.append(f"    else out[gid] = in{j}[{' + '.join(terms)}];" if j else
                        f"    out[gid] = in{j}[{' + '.join(terms)}];")
        else:
            body.append(f"    {keyword} (c{axis} < {at + width}) "
                        f"out[gid] = in{j}[{' + '.join(terms)}];")
        at += width
    return [_spec("gdl_concat", body, params, args, out, out.dtype == F64)]


def tape_kernels(node: Node) -> list[KernelSpec]:
    """The kernels of cotangent-tape arithmetic: add into one slot, add two tapes."""
    if node.op not in ("stack_add_at", "stack_add"):
        return []
    t = c_type(node.out.type.elem.dtype)
    fp64 = node.out.type.elem.dtype == F64
    if node.op == "stack_add_at":
        text = (f"__kernel void $NAME(__global {t} *tape, const uint at, "
                f"__global const {t} *v, const uint n)\n{{\n"
                "    const uint gid = get_global_id(0);\n"
                "    if (gid < n)\n        tape[at + gid] += v[gid];\n}\n")
    else:
        text = (f"__kernel void $NAME(__global {t} *out, __global const {t} *a, "
                f"__global const {t} *b, const uint n)\n{{\n"
                "    const uint gid = get_global_id(0);\n"
                "    if (gid < n)\n        out[gid] = a[gid] + b[gid];\n}\n")
    name = kernel_name("gdl_tape", text)
    return [KernelSpec(name, text.replace("$NAME", name), (), 0, fp64)]


GENERATORS = MappingProxyType({"embed": embed, "concat": concat})
