"""Graph -> Plan: the static schedule of each region, decided before running.

Owns three decisions.  Residency: which values live on the host (i32/bool
scalars computed from constants and counters, and the tapes of such
decisions) and which on the device, so a loop counter or a reverse loop's
index never costs a device read.  Fusion: consecutive elementwise nodes of
one shape become one kernel with several outputs (values used later), and
scalar constants are inlined.  Steps: the ordered launches and host steps
of every region, `while`/`if` as host control over sub-plans.  All kernels
of a plan go into one OpenCL program, built once.
Imports `ir`, `ops`, `dtype`, `runtime.codegen`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dtype import BOOL, I32, StackType, Type
from ..ir import Graph, Node, Region, Value
from ..ops import OPS
from ..ops.base import Alias, Elementwise, Kernel, Reduce, View, ViewMap
from . import codegen, gen_shape
from .kernel_text import DynOffset, StridedView, plain_view, strides

HOST, DEVICE, CONST = "host", "device", "const"

# Scalar i32/bool ops the host evaluates when their inputs are host values.
HOST_OPS = frozenset("add sub mul neg lt le gt ge eq ne and or not cast".split())
TAPE_OPS = frozenset("stack_new push get stack_zeros stack_add_at stack_add".split())


def host_type(t: Type) -> bool:
    """Types that may live on the host: i32/bool scalars and tapes of them."""
    if isinstance(t, StackType):
        return host_type(t.elem)
    return t.shape == () and t.dtype in (I32, BOOL)


# ---------------------------------------------------------------- steps

@dataclass
class Launch:
    """Kernels run back to back for one group or reduction."""

    specs: list[codegen.KernelSpec]
    nodes: list[Node]


@dataclass
class HostStep:
    """A node the executor does itself: const, host scalar op, alias, tape op, effect.

    `specs` are the small kernels a tape op on device tensors launches.
    """

    node: Node
    kind: str          # "const", "host", "alias", "tape", "effect"
    specs: list = field(default_factory=list)


@dataclass
class WhileStep:
    node: Node
    cond: "RegionPlan"
    body: "RegionPlan"
    carried: list[str]        # residency of each carried value


@dataclass
class IfStep:
    node: Node
    then: "RegionPlan"
    other: "RegionPlan"
    outputs: list[str]


@dataclass
class RegionPlan:
    region: Region
    steps: list[Any]
    residency: dict[Value, str]

    def of(self, v: Value) -> str:
        return self.residency[v]


@dataclass
class Plan:
    """Everything to run a graph: region plans, leaf initialisers, one program."""

    graph: Graph
    body: RegionPlan
    inits: dict[str, RegionPlan]
    specs: list[codegen.KernelSpec] = field(default_factory=list)

    @property
    def source(self) -> str:
        return codegen.program_source(self.specs)


# ---------------------------------------------------------------- planning

class Planner:
    """Plans regions, collecting every kernel spec into one list.

    `consts` maps each value known to be a literal (a const node's output,
    or a region param fed by one) to its const node, for inlining.
    """

    def __init__(self, consts: dict[Value, Node] | None = None):
        self.specs: list[codegen.KernelSpec] = []
        self.consts: dict[Value, Node] = consts if consts is not None else {}

    def bind_params(self, region: Region, operands, first: int = 0) -> None:
        """Region params (from index `first`) fed by literals are literals too."""
        for p, v in list(zip(region.params, operands))[first:]:
            if v in self.consts:
                self.consts[p] = self.consts[v]

    def region(self, region: Region, param_res: list[str]) -> RegionPlan:
        res: dict[Value, str] = dict(zip(region.params, param_res, strict=True))
        later_uses = _last_use(region)
        steps: list[Any] = []
        views: dict[Value, StridedView] = {}    # read in place by the kernels that use them
        group: list[Node] = []
        group_values: set[Value] = set()
        group_shape: tuple | None = None

        def flush(index: int) -> None:
            nonlocal group, group_values, group_shape
            if group:
                steps.append(self.group_launch(group, group_values, res, later_uses, index,
                                               views))
            group, group_values, group_shape = [], set(), None

        def materialize(v: Value) -> None:
            """Copy a view into a buffer of its own, for a consumer that needs one."""
            if v in views:
                spec = codegen.elementwise(v.type.shape, [], [(v, "buf", views.pop(v))], [v])
                self.specs.append(spec)
                steps.append(Launch([spec], []))

        for index, node in enumerate(region.nodes):
            op = OPS[node.op]
            kind = self.node_kind(node, res)
            if kind == "group":
                shape = node.out.type.shape
                if group and shape != group_shape:
                    flush(index)
                if not group:
                    group_shape = shape
                group.append(node)
                group_values.add(node.out)
                res[node.out] = DEVICE
                continue
            if any(i in group_values for i in node.inputs):
                flush(index)
            if kind == "view":
                src = node.inputs[0]
                ts = tuple(v.type for v in node.inputs)
                views[node.out] = compose(views.get(src) or plain_view(src),
                                          op.lower.map(ts, node.attr_dict), node)
                res[node.out] = DEVICE
                continue
            if kind == "alias" and node.inputs[0] in views:
                view = views[node.inputs[0]]
                if node.op == "stop_grad" or view.contiguous:
                    views[node.out] = StridedView(view.base, node.out.type.shape,
                                                  strides(node.out.type.shape), view.offset,
                                                  view.dynamic)
                    res[node.out] = DEVICE
                    continue
            for v in node.inputs:
                materialize(v)          # everything but elementwise kernels reads whole buffers
            if kind == "const":
                res[node.out] = CONST
                self.consts[node.out] = node
                steps.append(HostStep(node, "const"))
            elif kind == "host":
                res[node.out] = HOST
                steps.append(HostStep(node, "host"))
            elif kind == "alias":
                src = res[node.inputs[0]]
                res[node.out] = HOST if src == HOST and host_type(node.out.type) else DEVICE
                steps.append(HostStep(node, "alias"))
            elif kind == "effect":
                steps.append(HostStep(node, "effect"))
            elif kind == "tape":
                res[node.out] = HOST if host_type(node.out.type) else DEVICE
                specs = gen_shape.tape_kernels(node)
                self.specs.extend(specs)
                steps.append(HostStep(node, "tape", specs))
            elif kind == "kernel":
                specs = codegen.kernels_for(node)
                self.specs.extend(specs)
                steps.append(Launch(specs, [node]))
                res[node.out] = DEVICE
            elif kind == "while":
                steps.append(self.while_step(node, res))
            elif kind == "if":
                steps.append(self.if_step(node, res))
            else:
                raise AssertionError(f"cannot plan op {node.op} ({op.lower})")
        flush(len(region.nodes))
        for r in region.results:
            materialize(r)
        return RegionPlan(region, steps, res)

    def node_kind(self, node: Node, res: dict[Value, str]) -> str:
        op = OPS[node.op]
        if node.op == "const":
            return "const"
        if node.op in ("while", "if"):
            return node.op
        if node.op in TAPE_OPS:
            return "tape"
        if op.effect:
            return "effect"
        if isinstance(op.lower, Alias):
            return "alias"
        if isinstance(op.lower, View):
            return "view"
        if isinstance(op.lower, (Reduce, Kernel)):
            return "kernel"
        if isinstance(op.lower, Elementwise):
            if node.op in HOST_OPS and host_type(node.out.type) and all(
                    res[i] == HOST or (res[i] == CONST and host_type(i.type)) for i in node.inputs):
                return "host"
            return "group"
        raise AssertionError(f"op {node.op} has no lowering")

    def group_launch(self, nodes: list[Node], values: set[Value], res, later_uses, end: int,
                     views: dict[Value, StridedView]) -> Launch:
        """One fused kernel for `nodes`; outputs are values used after the group."""
        inputs: list[tuple[Value, str, StridedView | None]] = []
        seen: set[Value] = set()
        for node in nodes:
            for v in node.inputs:
                if v in values or v in seen:
                    continue
                seen.add(v)
                if res[v] == CONST and v.type.shape == ():
                    continue
                if res[v] == HOST:
                    inputs.append((v, "host", None))
                else:
                    inputs.append((v, "buf", views.get(v) or plain_view(v)))
        outputs = [n.out for n in nodes if later_uses.get(n.out, -1) >= end]
        # A literal param keeps its own value's name in the kernel.
        literal_nodes = [Node("const", (), c.attrs, (v,)) for v, c in
                         ((v, self.consts[v]) for v in seen if res[v] == CONST
                          and v.type.shape == ())]
        spec = codegen.elementwise(nodes[0].out.type.shape, literal_nodes + nodes, inputs,
                                   outputs)
        self.specs.append(spec)
        return Launch([spec], nodes)

    def while_step(self, node: Node, res: dict[Value, str]) -> WhileStep:
        k = node.attr("n_carried")
        cond, body = node.regions
        init = node.inputs[:k]
        inv_res = [res[v] for v in node.inputs[k:]]
        carried = [HOST if host_type(v.type) and res[v] in (HOST, CONST) else DEVICE
                   for v in init]
        self.bind_params(cond, node.inputs, k)    # carried params change; invariants don't
        self.bind_params(body, node.inputs, k)
        while True:
            body_plan = Planner(dict(self.consts)).region(body, carried + inv_res)
            new = [HOST if c == HOST and body_plan.of(r) in (HOST, CONST) else DEVICE
                   for c, r in zip(carried, body.results)]
            if new == carried:
                break
            carried = new
        body_plan = self.region(body, carried + inv_res)
        cond_plan = self.region(cond, carried + inv_res)
        for o, c in zip(node.outputs, carried):
            res[o] = c
        return WhileStep(node, cond_plan, body_plan, carried)

    def if_step(self, node: Node, res: dict[Value, str]) -> IfStep:
        then, other = node.regions
        op_res = [res[v] for v in node.inputs[1:]]
        self.bind_params(then, node.inputs[1:])
        self.bind_params(other, node.inputs[1:])
        then_plan = self.region(then, op_res)
        other_plan = self.region(other, op_res)
        outs = []
        for o, a, b in zip(node.outputs, then.results, other.results):
            both_host = then_plan.of(a) in (HOST, CONST) and other_plan.of(b) in (HOST, CONST)
            outs.append(HOST if host_type(o.type) and both_host else DEVICE)
            res[o] = outs[-1]
        return IfStep(node, then_plan, other_plan, outs)


def compose(view: StridedView, m: ViewMap, node: Node) -> StridedView:
    """The view `m` of `node` applied on top of `view`: one offset, one set of strides."""
    s = view.strides
    out_strides = tuple(step * s[e] if e is not None else 0 for e, step in m.out_dims)
    offset = view.offset + sum(o * s[e] for e, o in enumerate(m.offsets))
    src_shape = view.shape
    dynamic = view.dynamic + tuple(DynOffset(node.inputs[k], s[e], src_shape[e], node.span)
                                   for k, e in m.dynamic)
    return StridedView(view.base, node.out.type.shape, out_strides, offset, dynamic)


def _last_use(region: Region) -> dict[Value, int]:
    """For each value, the index of the last node that reads it (results: len)."""
    last: dict[Value, int] = {}
    for i, node in enumerate(region.nodes):
        for v in node.inputs:
            last[v] = i
    for r in region.results:
        last[r] = len(region.nodes)
    return last


def plan(graph: Graph) -> Plan:
    """The static plan of a graph: leaf initialisers, body, one list of kernels."""
    planner = Planner()
    inits = {}
    for leaf in graph.leaves:
        if leaf.init is not None:
            inits[leaf.name] = planner.region(leaf.init, [])
    params = [DEVICE] * len(graph.body.params)
    body = planner.region(graph.body, params)
    return Plan(graph, body, inits, planner.specs)
