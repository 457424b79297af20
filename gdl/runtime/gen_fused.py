"""Fused kernels: an elementwise chain, the full reductions it feeds, what follows them.

A `FusedGroup` (made by the planner) is one iteration space: elementwise
nodes whose loads go through index maps (broadcasts, slices, transposes:
strides, never copies), full reductions over the space (sum, norm, dot),
and an epilogue of scalar nodes that use the reductions' results.  Forward
and adjoint nodes fuse alike, so `sum(tanh(x*w + b)**2)` and its three
gradients are one pass over memory.  Where every op and load allows it the
kernel walks the space in float8 (double4) vectors, which PoCL does not do
by itself for `exp`/`tanh`; reductions keep Kahan-compensated
accumulators per lane (CHAINS of them in turn, so the additions overlap
instead of each waiting for the last) and combine them, then work-items, in
a fixed order.  A group with `carried` values is a counted loop's body: the
kernel repeats it per element in registers, one launch for the whole loop.
A group with a `check_slot` (a checked plan) also tests every float value it
computes for NaN/Inf (`gen_check`).
Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`, `runtime.gen_check`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from ..dtype import BOOL, F32, F64, I32, DType, TensorType
from ..ir import Node, Value
from ..ops import OPS
from ..ops.base import Elementwise, Reduce
from ..ops.init import c_literal
from . import gen_check
from .kernel_text import (Arg, KernelSpec, StridedView, c_type, kernel_name,
                          local_value_names, template)

# Float ops whose C expression means the same on vectors (no ternaries, no casts).
VECTOR_OPS = frozenset("add sub mul div neg exp log log1p sqrt sin cos tanh pow broadcast_to "
                       "fill const".split())
LANES = MappingProxyType({F32.name: 8, F64.name: 4})
SINGLE_ITEM = 4096            # spaces this small reduce in one work-item, one launch
MAX_ITEMS = 1024              # partial results per reduction in larger spaces
CHAINS = 4                    # vector accumulators per reduction, used in turn


@dataclass
class FusedGroup:
    """What one fused kernel computes (see the module docstring)."""

    shape: tuple[int, ...]
    nodes: list[Node]
    inputs: list[tuple[Value, str, StridedView | None]]
    outputs: list[Value]
    reductions: list[Node] = field(default_factory=list)
    epilogue: list[Node] = field(default_factory=list)
    epilogue_inputs: list[tuple[Value, str, StridedView | None]] = field(default_factory=list)
    finals: list[Value] = field(default_factory=list)
    # (param, result, out): repeat `nodes` `reps` times (a kernel argument),
    # each param taking its result's value, and store the last values as outs.
    carried: list[tuple[Value, Value, Value]] = field(default_factory=list)
    # A checked plan's first flag slot for the group's checked values (-1: no checks).
    check_slot: int = -1

    @property
    def size(self) -> int:
        return TensorType(BOOL, self.shape).size


def fusable_reduction(node: Node) -> bool:
    """Full float or integer sums (sum, norm, dot) fuse into their producer's kernel."""
    lower = OPS[node.op].lower
    if not isinstance(lower, Reduce) or lower.combine != "add":
        return False
    if node.op == "sum" and node.attr("axis") is not None and \
            len(node.attr("axis")) != node.inputs[0].type.rank:
        return False
    return node.out.type.shape == () and node.out.type.dtype in (F32, F64, I32)


def _vector_dtype(group: FusedGroup) -> DType | None:
    """The float dtype the group vectorises in, or None (scalar code)."""
    values = [o for n in group.nodes for o in n.outputs] + [v for v, _, _ in group.inputs]
    values += [r.out for r in group.reductions]
    dts = {v.type.dtype for v in values}
    if len(dts) != 1 or not next(iter(dts)).is_float or group.size < 2 * LANES[
            next(iter(dts)).name]:
        return None
    if any(n.op not in VECTOR_OPS for n in group.nodes):
        return None
    for v, mode, view in group.inputs:
        if mode == "buf" and not (view.shape == group.shape and view.contiguous) and \
                TensorType(BOOL, view.shape).size != 1:
            return None
    return dts.pop()


def _schedule(n: int, reducing: bool, lanes: int) -> tuple[int, int]:
    """(chunk, work-items): a function of the size only, so sums are repeatable."""
    if not reducing:
        chunk = lanes
    elif n <= SINGLE_ITEM:
        chunk = n
    else:
        chunk = -(-max(-(-n // MAX_ITEMS), 512) // lanes) * lanes
    return chunk, -(-n // chunk)


class _Writer:
    """Accumulates a kernel's parameters, arguments and code lines."""

    def __init__(self, group: FusedGroup, vdt: DType | None):
        self.g = group
        self.vdt = vdt
        self.lanes = LANES[vdt.name] if vdt else 1
        self.params: list[str] = []
        self.args: list[Arg] = []
        self.late: list[tuple[str, Arg]] = []      # offsets and strides, after the sizes
        self.fp64 = False
        self.random: set[str] = set()
        self.mapped = False
        slots = {}          # a checked group's values, by index from its first slot
        if group.check_slot >= 0:
            nodes = group.nodes + group.reductions + group.epilogue
            slots = {n.out: k for k, n in enumerate(gen_check.checked_nodes(nodes))}
        unsigned = f"{'ulong' if vdt == F64 else 'uint'}{self.lanes}" if vdt else None
        self.check = gen_check.Checks(slots, group.check_slot, unsigned)

    def vtype(self, dt: DType) -> str:
        return f"{c_type(dt)}{self.lanes}"

    # -- loads
    def input_loads(self, inputs, vector: bool, prefix: str = "in") -> list[str]:
        lines = []
        mutable = {p for p, _, _ in self.g.carried}
        for j, (v, mode, view) in enumerate(inputs):
            ct = c_type(v.type.dtype)
            self.fp64 |= v.type.dtype == F64
            name = f"{'w' if vector else 'v'}{v.id}"
            if v in mutable:            # a repeated kernel's carried value: a register
                name = "c" + name
            if mode == "host":
                if not vector:
                    self.params.append(f"const {ct} h{prefix}{j}")
                    self.args.append(Arg("host", v, v.type.dtype))
                value = f"h{prefix}{j}"
                lines.append(f"        const {self.vtype(v.type.dtype) if vector else ct} {name} = "
                             + (f"({self.vtype(v.type.dtype)})({value});" if vector
                                else f"{value};"))
                continue
            if not vector:
                self.params.append(f"__global const {ct} *{prefix}{j}")
                self.args.append(Arg("in", view.base))
                if view.offset or view.dynamic:
                    self.late.append((f"const int o{prefix}{j}", Arg("offset", view)))
            off = f"o{prefix}{j} + " if (view.offset or view.dynamic) else ""
            line = self.load_line(j, view, ct, name, off, vector, prefix)
            lines.append(line.replace("const ", "", 1) if v in mutable else line)
        return lines

    def load_line(self, j, view, ct, name, off, vector, prefix) -> str:
        size = TensorType(BOOL, view.shape).size
        if vector:
            vt = f"{ct}{self.lanes}"
            if size == 1:
                return f"        const {vt} {name} = ({vt})({prefix}{j}[{off}0]);"
            return f"        const {vt} {name} = vload{self.lanes}(0, {prefix}{j} + {off}gid);"
        if size == 1:
            return f"        const {ct} {name} = {prefix}{j}[{off}0];"
        if view.shape == self.g.shape and view.contiguous:
            return f"        const {ct} {name} = {prefix}{j}[{off}gid];"
        self.mapped = True
        lead = len(self.g.shape) - len(view.shape)
        terms = []
        for d in range(len(self.g.shape)):
            e = d - lead
            if e < 0 or (view.shape[e] == 1 and self.g.shape[d] != 1) or view.strides[e] == 0:
                continue
            terms.append(f"(int)c{d} * s{prefix}{j}_{d}")
            self.late.append((f"const int s{prefix}{j}_{d}", Arg("i32", view.strides[e])))
        return f"        const {ct} {name} = {prefix}{j}[{off}{' + '.join(terms) or '0'}];"

    def check_params(self) -> list[str]:
        """The NaN/Inf checks' parameters (where the kernel tests anything), and their
        register declarations."""
        names, args = self.check.params()
        self.params += names
        self.args += args
        return self.check.declarations()

    # -- node bodies
    def body(self, nodes, vector: bool, reg: dict[Value, str], idx: str = "gid",
             looping: bool = True) -> list[str]:
        lines = []
        for node in nodes:
            (o,) = node.outputs
            dt = o.type.dtype
            self.fp64 |= dt == F64
            t = self.vtype(dt) if vector else c_type(dt)
            name = f"{'w' if vector else 'v'}{o.id}"
            if node.op == "const":
                lit = c_literal(node.attr("value")[0], dt)
                lines.append(f"        const {t} {name} = " +
                             (f"({t})({lit});" if vector else f"{lit};"))
            else:
                lower = OPS[node.op].lower
                assert isinstance(lower, Elementwise), node.op
                if node.op in ("rand", "randn"):
                    self.random.add(dt.c_name)
                expr = lower.expr(tuple(i.type.dtype for i in node.inputs), dt, node.attr_dict)
                expr = expr.format(*[reg[i] for i in node.inputs], idx=idx, T=c_type(dt))
                if vector and not node.inputs:
                    expr = f"({t})({expr})"          # a fill: splat the literal
                lines.append(f"        const {t} {name} = {expr};")
                lines += self.check.test(o, name, t, vector, looping)
            reg[o] = name
        return lines


def _acc_type(node: Node) -> str:
    return "uint" if node.out.type.dtype == I32 else c_type(node.out.type.dtype)


def _kahan(acc: str, comp: str, value: str, ctype: str, vector: bool, integer: bool) -> str:
    """Fold `value` into `acc` (compensated for floats; reset once not finite)."""
    if integer:
        return f"{acc} += {value};"
    if vector:
        keep = f"select(({ctype})0, (t - {acc}) - y, isfinite(t))"
    else:
        keep = f"isfinite(t) ? (t - {acc}) - y : ({ctype})0"
    return (f"{{ const {ctype} y = {value} - {comp}; const {ctype} t = {acc} + y; "
            f"{comp} = {keep}; {acc} = t; }}")


def fused(group: FusedGroup) -> list[KernelSpec]:
    """The kernels of a fusion group: one, or a main kernel and a finishing one."""
    vdt = _vector_dtype(group)
    w = _Writer(group, vdt)
    n = group.size
    chunk, items = _schedule(n, bool(group.reductions), w.lanes)
    single = items == 1

    # Parameters: inputs, outputs, partials or finals; then sizes; then offsets/strides.
    reg: dict[Value, str] = {}
    scalar_loads = w.input_loads(group.inputs, vector=False)
    for v, _, _ in group.inputs:
        reg[v] = f"v{v.id}"
    for j, v in enumerate(group.outputs):
        ct = c_type(v.type.dtype)
        w.params.append(f"__global {ct} *out{j}")
        w.args.append(Arg("out", v))
    for r, node in enumerate(group.reductions):
        if not single:
            w.params.append(f"__global {_acc_type(node)} *part{r}")
            w.args.append(Arg("scratch", (f"part{r}", items * 8)))
    epi_loads = w.input_loads(group.epilogue_inputs, vector=False, prefix="ep")
    if single:
        final_params(w, group)
    w.params += ["const uint n", "const uint chunk", "const uint P"]
    w.args += [Arg("u32", n), Arg("u32", chunk), Arg("u32", items)]

    if group.carried:
        w.params.append("const uint reps")
        w.args.append(Arg("reps", None))

    # The scalar body (every element the vector loop does not take).
    scalar_body = scalar_loads + repeated_body(w, False, reg)
    scalar = scalar_body + [f"        out{j}[gid] = ({c_type(v.type.dtype)}){reg[v]};"
                            for j, v in enumerate(group.outputs)]
    decls, combine = [], []
    for r, node in enumerate(group.reductions):
        at = _acc_type(node)
        integer = at == "uint"
        decls.append(f"    {at} a{r} = 0;" + ("" if integer else f" {at} k{r} = 0;"))
        pre = OPS[node.op].lower.pre.format(*[f"(({at}){reg[i]})" if integer else reg[i]
                                               for i in node.inputs])
        scalar.append("        " + _kahan(f"a{r}", f"k{r}", pre, at, False, integer))

    # The vector loop.
    vector_loop = ""
    vector_body: list[str] = []
    if vdt is not None:
        vreg: dict[Value, str] = {}
        vlines = w.input_loads(group.inputs, vector=True)
        for v, _, _ in group.inputs:
            vreg[v] = f"w{v.id}"
        vlines += repeated_body(w, True, vreg)
        vector_body = list(vlines)
        vlines += [f"        vstore{w.lanes}({vreg[v]}, 0, out{j} + gid);"
                   for j, v in enumerate(group.outputs)]
        vt = w.vtype(vdt)
        ways = CHAINS if group.reductions else 1
        folds: list[list[str]] = [[] for _ in range(ways)]
        for r, node in enumerate(group.reductions):
            pre = OPS[node.op].lower.pre.format(*[vreg[i] for i in node.inputs])
            for u in range(ways):
                decls.append(f"    {vt} va{r}_{u} = 0; {vt} vk{r}_{u} = 0;")
                folds[u].append("        " + _kahan(f"va{r}_{u}", f"vk{r}_{u}", pre, vt, True,
                                                   False))
            for u in range(ways):
                lanes = ", ".join(f"va{r}_{u}.s{k:x}" for k in range(w.lanes))
                combine.append(f"    {{ const {c_type(vdt)} lanes[{w.lanes}] = {{{lanes}}};")
                combine.append(f"      for (int q = 0; q < {w.lanes}; ++q) "
                               + _kahan(f"a{r}", f"k{r}", "lanes[q]", c_type(vdt), False, False)
                               + " }")
        if ways > 1:        # independent accumulator chains, so additions overlap
            steps = []
            for u in range(ways):
                steps += (["        {"] + ["    " + line for line in vlines + folds[u]]
                          + ["        }", f"        gid += {w.lanes};"])
            vector_loop = (f"    for (; gid + {ways * w.lanes} <= stop; ) {{\n"
                           + "\n".join(steps) + "\n    }\n")
        vector_loop += (f"    for (; gid + {w.lanes} <= stop; gid += {w.lanes}) {{\n"
                        + "\n".join(vlines + folds[0]) + "\n    }")

    index = coords(group.shape, w) if w.mapped else ""
    if single:
        end = epilogue_lines(w, group, epi_loads, [f"a{r}" for r in range(len(group.reductions))])
    else:
        end = [f"    part{r}[p] = a{r};" for r in range(len(group.reductions))]
    w.params.extend(p for p, _ in w.late)
    w.args.extend(a for _, a in w.late)
    decls += w.check_params()
    end += w.check.end(vector_body, scalar_body, index, w.lanes)
    text = template("fused.cl").substitute(
        NAME="$NAME", PARAMS=",\n        ".join(w.params), DECLS="\n".join(decls),
        VECTOR_LOOP=vector_loop, SCALAR_BODY="\n".join(scalar), INDEX=index,
        COMBINE="\n".join(combine), END="\n".join(end))
    text = local_value_names(text)
    name = kernel_name("gdl_fused", text)
    specs = [KernelSpec(name, text.replace("$NAME", name), tuple(w.args), items, w.fp64,
                        tuple(sorted(w.random)), bool(w.check.tested))]
    if not single and group.reductions:
        specs.append(finish(group, items))
    return specs


def repeated_body(w: _Writer, vector: bool, reg: dict[Value, str]) -> list[str]:
    """The nodes' code, inside a `reps`-times loop for a group with carried values.

    The loop's values stay in registers: one load and one store per element
    for the whole loop, where a launch per iteration would move both every time.
    """
    carried = w.g.carried
    if not carried:
        return w.body(w.g.nodes, vector, reg)
    pre = "w" if vector else "v"
    ctype = (lambda v: w.vtype(v.type.dtype)) if vector else (lambda v: c_type(v.type.dtype))
    inner = [f"        const {ctype(p)} {pre}{p.id} = c{pre}{p.id};" for p, _, _ in carried]
    for p, _, _ in carried:
        reg[p] = f"{pre}{p.id}"
    w.check.it = "it"           # a value's NaN/Inf test records the iteration's step
    inner += w.body(w.g.nodes, vector, reg)
    w.check.it = "0u"
    inner += [f"        const {ctype(p)} n{pre}{p.id} = {reg[r]};" for p, r, _ in carried]
    inner += [f"        c{pre}{p.id} = n{pre}{p.id};" for p, _, _ in carried]
    for p, _, o in carried:
        reg[o] = f"c{pre}{p.id}"
    return (["        for (uint it = 0; it < reps; ++it) {"] + ["    " + line for line in inner]
            + ["        }"])


def coords(shape: tuple[int, ...], w: _Writer) -> str:
    """Statements splitting `gid` into coordinates c0.. (dims passed as arguments)."""
    lines = ["        uint rest = gid;"]
    for d in reversed(range(len(shape))):
        w.params.append(f"const uint d{d}")
        w.args.append(Arg("u32", shape[d]))
        lines.append(f"        const uint c{d} = rest % d{d}; rest /= d{d};" if d
                     else "        const uint c0 = rest;")
    return "\n".join(lines)


def final_params(w: _Writer, group: FusedGroup) -> None:
    """Buffers for the values stored after the reductions (one element each)."""
    for j, v in enumerate(group.finals):
        w.params.append(f"__global {c_type(v.type.dtype)} *fin{j}")
        w.args.append(Arg("out", v))


def epilogue_lines(w: _Writer, group: FusedGroup, loads: list[str], accs: list[str]) -> list[str]:
    """Finish each reduction (its `post`), run the scalar epilogue, store the finals."""
    reg: dict[Value, str] = {}
    lines = [line.replace("        ", "    ", 1) for line in loads]
    for v, _, _ in group.epilogue_inputs:
        reg[v] = f"v{v.id}"
    for r, node in enumerate(group.reductions):
        dt = node.out.type.dtype
        acc = f"as_int({accs[r]})" if dt == I32 else accs[r]
        post = OPS[node.op].lower.post.format(acc, n=group.size)
        lines.append(f"    const {c_type(dt)} v{node.out.id} = {post};")
        lines += [t.replace("        ", "    ", 1)
                  for t in w.check.test(node.out, f"v{node.out.id}", c_type(dt), False, False)]
        reg[node.out] = f"v{node.out.id}"
    lines += [line.replace("        ", "    ", 1)
              for line in w.body(group.epilogue, False, reg, idx="0", looping=False)]
    lines += [f"    fin{j}[0] = ({c_type(v.type.dtype)}){reg[v]};"
              for j, v in enumerate(group.finals)]
    return lines


def finish(group: FusedGroup, items: int) -> KernelSpec:
    """One work-item folding each reduction's partials in order, then the epilogue."""
    w = _Writer(group, None)
    decls, folds = [], []
    for r, node in enumerate(group.reductions):
        at = _acc_type(node)
        integer = at == "uint"
        w.params.append(f"__global const {at} *part{r}")
        w.args.append(Arg("scratch", (f"part{r}", items * 8)))
        decls.append(f"    {at} a{r} = 0;" + ("" if integer else f" {at} k{r} = 0;"))
        folds.append("    for (uint q = 0; q < P; ++q) "
                     + _kahan(f"a{r}", f"k{r}", f"part{r}[q]", at, False, integer))
        w.fp64 |= node.out.type.dtype == F64
    loads = w.input_loads(group.epilogue_inputs, vector=False, prefix="ep")
    final_params(w, group)
    w.params.append("const uint P")
    w.args.append(Arg("u32", items))
    body = decls + folds + epilogue_lines(w, group, loads,
                                          [f"a{r}" for r in range(len(group.reductions))])
    w.params.extend(p for p, _ in w.late)
    w.args.extend(a for _, a in w.late)
    body = w.check_params() + body + w.check.end([], [], "", 1)
    text = (f"__kernel void $NAME({', '.join(w.params)})\n{{\n"
            + "    if (get_global_id(0) != 0)\n        return;\n" + "\n".join(body) + "\n}\n")
    text = local_value_names(text)
    name = kernel_name("gdl_fused_finish", text)
    return KernelSpec(name, text.replace("$NAME", name), tuple(w.args), 1, w.fp64,
                      tuple(sorted(w.random)), bool(w.check.tested))
