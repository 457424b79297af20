"""Graph -> Plan: the static schedule of each region, decided before running.

Owns three decisions.  Residency: which values live on the host (i32/bool
scalars computed from constants and counters, and the tapes of such
decisions) and which on the device, so a loop counter or a reverse loop's
index never costs a device read.  Fusion: consecutive elementwise nodes of
one shape become one kernel with several outputs (values used later), and
scalar constants are inlined.  Steps: the ordered launches and host steps
of every region, `while`/`if` as host control over sub-plans.  All kernels
of a plan go into one OpenCL program, built once.  A checked plan
(check_nan) numbers the nodes its kernels test for NaN/Inf (`Plan.checked`,
by flag slot) and adds those tests (`gen_check`); an unchecked plan's
kernels are exactly those of a plan without the option.
Imports `ir`, `ops`, `dtype`, `runtime.codegen`, `runtime.gen_check`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..dtype import BOOL, I32, StackType, Type
from ..ir import Builder, Graph, IdSource, Node, Region, Value, inline
from ..ops import OPS
from ..ops.base import Alias, Elementwise, Kernel, Reduce, View, ViewMap
from . import codegen, gen_check, gen_fused, gen_shape
from .gen_fused import FusedGroup
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
    group: FusedGroup | None = None      # what a fused launch computes


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
    """A loop run by the host: `cond` once on entry, then `body`, which also
    yields the next decision (the condition fused into the body's kernels).

    With `repeat`, the loop is counted on the host: its decisions and host
    values never need the device, and its device values change only in one
    elementwise kernel.  The host steps of `body` run per iteration, then
    `repeat` (that kernel, looping inside) runs once with the trip count.
    """

    node: Node
    cond: "RegionPlan"
    body: "RegionPlan"
    carried: list[str]        # residency of each carried value
    repeat: Launch | None = None


@dataclass
class IfStep:
    node: Node
    then: "RegionPlan"
    other: "RegionPlan"
    outputs: list[str]


@dataclass
class RegionPlan:
    """A region's steps, each with the values that die after it.

    `drops[i]` are the values no later step of the region touches (results
    excepted): the executor lets go of them after step i, so their buffers
    return to the pool and the next allocation of the size reuses them.
    """

    region: Region
    steps: list[Any]
    residency: dict[Value, str]
    drops: list[tuple[Value, ...]] = field(default_factory=list)

    def __post_init__(self):
        if not self.drops:
            self.drops = last_uses(self.steps, self.region.results)

    def of(self, v: Value) -> str:
        return self.residency[v]


@dataclass
class Plan:
    """Everything to run a graph: region plans, leaf initialisers, one program."""

    graph: Graph
    body: RegionPlan
    inits: dict[str, RegionPlan]
    specs: list[codegen.KernelSpec] = field(default_factory=list)
    check: bool = False                 # its kernels test values for NaN/Inf
    checked: list[Node] = field(default_factory=list)     # the nodes tested, by flag slot
    init_slots: dict[str, range] = field(default_factory=dict)   # the slots of each leaf's init

    @property
    def source(self) -> str:
        return codegen.program_source(self.specs)


# ---------------------------------------------------------------- planning

class Planner:
    """Plans regions, collecting every kernel spec into one list.

    `consts` maps each value known to be a literal (a const node's output,
    or a region param fed by one) to its const node, for inlining.
    `checked` (a checked plan) collects the nodes its kernels test, by slot.

    A `sketch` planner only finds where values live (a loop's carried
    residency is a fixed point over its body): it does not plan loops'
    bodies, and `carried` memoises each loop's fixed point for all planners
    of one plan, so nested loops cost linear, not exponential, planning.
    """

    def __init__(self, ids: IdSource, consts: dict[Value, Node] | None = None, device=None,
                 checked: list[Node] | None = None, sketch: bool = False,
                 carried: dict[tuple, tuple[Node, list[str]]] | None = None):
        self.ids = ids                # fresh values for regions the planner rewrites
        self.device = device          # tiles of tuned kernels are chosen for it (None: defaults)
        self.serial = 0
        self.specs: list[codegen.KernelSpec] = []
        self.consts: dict[Value, Node] = consts if consts is not None else {}
        self.checked = checked
        self.sketch = sketch
        self.carried = carried if carried is not None else {}

    def claim(self, nodes) -> int:
        """The first of consecutive flag slots for the nodes a kernel tests (-1: none)."""
        tested = gen_check.checked_nodes(nodes) if self.checked is not None else []
        if not tested:
            return -1
        self.checked.extend(tested)
        return len(self.checked) - len(tested)

    def bind_params(self, region: Region, operands, first: int = 0) -> None:
        """Region params (from index `first`) fed by literals are literals too."""
        for p, v in list(zip(region.params, operands))[first:]:
            if v in self.consts:
                self.consts[p] = self.consts[v]

    def region(self, region: Region, param_res: list[str]) -> RegionPlan:
        res: dict[Value, str] = dict(zip(region.params, param_res, strict=True))
        users = _users(region)
        steps: list[Any] = []
        views: dict[Value, StridedView] = {}    # read in place by the kernels that use them
        groups: dict[tuple, OpenGroup] = {}     # open fusion groups by iteration space

        def owner(v: Value) -> "OpenGroup | None":
            for g in groups.values():
                if v in g.made:
                    return g
            return None

        def flush(g: "OpenGroup") -> None:
            del groups[g.shape]
            steps.append(self.group_launch(g, res, users, region.results, views))

        def flush_owners(values) -> None:
            for g in sorted({owner(v) for v in values} - {None}, key=lambda g: g.serial):
                if g.shape in groups:
                    flush(g)

        def materialize(v: Value) -> None:
            """Copy a view into a buffer of its own, for a consumer that needs one."""
            if v in views:
                group = FusedGroup(v.type.shape, [], [(v, "buf", views.pop(v))], [v])
                specs = gen_fused.fused(group)
                self.specs.extend(specs)
                steps.append(Launch(specs, []))

        for node in region.nodes:
            op = OPS[node.op]
            node = self.folded(node, res)
            kind = self.node_kind(node, res)
            if kind == "group":
                shape = node.out.type.shape
                g = groups.get(shape)
                epilogue = self.epilogue_of(node, res, owner) if shape == () else None
                if epilogue is not None:
                    epilogue.epilogue.append(node)
                    epilogue.made.add(node.out)
                    res[node.out] = DEVICE
                    continue
                flush_owners([v for v in node.inputs
                              if owner(v) is not None and not (owner(v) is g and v in g.elems)])
                g = groups.get(shape) or self.open(groups, shape)
                g.nodes.append(node)
                g.elems.add(node.out)
                g.made.add(node.out)
                res[node.out] = DEVICE
                continue
            if kind == "kernel" and gen_fused.fusable_reduction(node):
                shape = node.inputs[0].type.shape
                g = groups.get(shape)
                flush_owners([v for v in node.inputs
                              if owner(v) is not None and not (owner(v) is g and v in g.elems)])
                g = groups.get(shape) or self.open(groups, shape)
                g.reductions.append(node)
                g.made.add(node.out)
                res[node.out] = DEVICE
                continue
            flush_owners(node.inputs)
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
                materialize(v)          # everything but fused kernels reads whole buffers
            self.plain_step(node, kind, res, steps)
        for g in sorted(groups.values(), key=lambda g: g.serial):
            flush(g)
        for r in region.results:
            materialize(r)
        return RegionPlan(region, steps, res)

    def plain_step(self, node: Node, kind: str, res: dict[Value, str], steps: list) -> None:
        """The step of a node that is not fused: a host step, a kernel, control flow."""
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
            specs = codegen.kernels_for(node, self.device)
            slot = self.claim([node])
            if slot >= 0:           # a node computed alone: one pass over its output
                specs.append(gen_check.scan(node.out, slot))
            self.specs.extend(specs)
            steps.append(Launch(specs, [node]))
            res[node.out] = DEVICE
        elif kind == "while":
            steps.append(self.while_step(node, res))
        elif kind == "if":
            steps.append(self.if_step(node, res))
        else:
            raise AssertionError(f"cannot plan op {node.op}")

    def open(self, groups: dict, shape: tuple) -> "OpenGroup":
        self.serial += 1
        g = groups[shape] = OpenGroup(shape, self.serial)
        return g

    def folded(self, node: Node, res: dict[Value, str]) -> Node:
        """A scalar node computable now (a fill, or an op on literals) as a const node."""
        op = OPS[node.op]
        if node.op == "fill" and node.out.type.shape == ():
            value = node.attr("value")
        elif (isinstance(op.lower, Elementwise) and node.inputs and node.out.type.shape == ()
              and all(res[i] == CONST and i.type.shape == () for i in node.inputs)):
            arrays = [OPS["const"].numpy(**self.consts[i].attr_dict) for i in node.inputs]
            with np.errstate(all="ignore"):
                value = np.asarray(op.numpy(*arrays, **node.attr_dict)).item()
        else:
            return node
        dt = node.out.type.dtype
        return Node("const", (), (("dtype", dt), ("shape", ()), ("value", (value,))),
                    node.outputs, (), node.span, node.role)

    def epilogue_of(self, node: Node, res: dict[Value, str], owner) -> "OpenGroup | None":
        """The open group whose reductions this scalar node can finish with, if any.

        Its operands must be that group's reduction or epilogue results, or
        values already available (literals, host scalars, computed scalars).
        """
        groups = {owner(v) for v in node.inputs} - {None}
        if len(groups) != 1:
            return None
        (g,) = groups
        if not any(v in g.made and v not in g.elems for v in node.inputs):
            return None
        if any(v in g.elems for v in node.inputs):
            return None
        return g

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

    def group_launch(self, g: "OpenGroup", res, users, results, views) -> Launch:
        """The kernels of a fusion group; values used outside it are stored."""
        if self.sketch:         # where the values live is known already; no kernel needed
            return Launch([], g.nodes + g.reductions + g.epilogue)
        inside = set(g.nodes) | set(g.reductions) | set(g.epilogue)
        wanted = lambda v: v in results or any(u not in inside for u in users.get(v, ()))  # noqa: E731

        def external(nodes, made) -> tuple[list, list]:
            inputs, literals, seen = [], [], set()
            for node in nodes:
                for v in node.inputs:
                    if v in made or v in seen:
                        continue
                    seen.add(v)
                    if res[v] == CONST and v.type.size == 1:
                        literals.append(Node("const", (), self.consts[v].attrs, (v,)))
                    elif res[v] == HOST:
                        inputs.append((v, "host", None))
                    else:
                        inputs.append((v, "buf", views.get(v) or plain_view(v)))
            return inputs, literals

        inputs, literals = external(g.nodes + g.reductions, g.elems)
        epi_inputs, epi_literals = external(g.epilogue, g.made)
        group = FusedGroup(g.shape, literals + g.nodes, inputs,
                           [v for v in (n.out for n in g.nodes) if wanted(v)],
                           g.reductions, epi_literals + g.epilogue, epi_inputs,
                           [n.out for n in g.reductions + g.epilogue if wanted(n.out)],
                           check_slot=self.claim(g.nodes + g.reductions + g.epilogue))
        specs = gen_fused.fused(group)
        self.specs.extend(specs)
        return Launch(specs, g.nodes + g.reductions + g.epilogue, group)

    def while_step(self, node: Node, res: dict[Value, str]) -> WhileStep:
        k = node.attr("n_carried")
        cond, body = node.regions
        init = node.inputs[:k]
        inv_res = [res[v] for v in node.inputs[k:]]
        carried = [HOST if host_type(v.type) and res[v] in (HOST, CONST) else DEVICE
                   for v in init]
        self.bind_params(cond, node.inputs, k)    # carried params change; invariants don't
        self.bind_params(body, node.inputs, k)
        carried = self.carried_residency(node, carried, inv_res)
        for o, c in zip(node.outputs, carried):
            res[o] = c
        if self.sketch:
            return WhileStep(node, None, None, carried)
        body_plan = self.region(rotated(body, cond, k, self.ids), carried + inv_res)
        cond_plan = self.region(cond, carried + inv_res)
        return WhileStep(node, cond_plan, body_plan, carried,
                         self.repeated(node, cond_plan, body_plan, carried))

    def carried_residency(self, node: Node, carried: list[str], inv_res: list[str]) -> list[str]:
        """Where a loop's carried values live: host only if they stay host every iteration."""
        key = (id(node), tuple(carried), tuple(inv_res))
        known = self.carried.get(key)
        if known is not None and known[0] is node:
            return list(known[1])
        body = node.regions[1]
        start = carried
        while True:
            sketch = Planner(self.ids, dict(self.consts), sketch=True, carried=self.carried)
            body_plan = sketch.region(body, carried + inv_res)
            new = [HOST if c == HOST and body_plan.of(r) in (HOST, CONST) else DEVICE
                   for c, r in zip(carried, body.results)]
            if new == carried:
                break
            carried = new
        self.carried[(id(node), tuple(start), tuple(inv_res))] = (node, list(carried))
        return carried

    def repeated(self, node: Node, cond: RegionPlan, body: RegionPlan,
                 carried: list[str]) -> Launch | None:
        """The body's kernel looping inside itself, where the loop allows it.

        It does when every decision and every host step is on host values
        (a counter, a recorded trip count), and the device values change in
        one elementwise kernel reading nothing that changes per iteration but
        them: the reverse loop of a body linear in its carried values, a
        `for`-style loop of elementwise updates.  The kernel replaces the one
        in `body`, whose host steps the executor runs alone.
        """
        k = node.attr("n_carried")
        on_host = (HOST, CONST)
        launches = [s for s in body.steps if isinstance(s, Launch)]
        if len(launches) != 1 or any(
                not isinstance(s, HostStep) or s.kind not in ("host", "const")
                for s in cond.steps + [s for s in body.steps if s is not launches[0]]):
            return None
        if cond.of(cond.region.results[0]) not in on_host or \
                body.of(body.region.results[k]) not in on_host:
            return None
        (launch,) = launches
        g = launch.group
        if g is None or g.reductions or g.epilogue or len(launch.specs) != 1:
            return None
        params, results = body.region.params, body.region.results
        loaded = {v for v, _, _ in g.inputs}
        made = {n.out for n in g.nodes}
        pairs = []
        for p, r, o, where in zip(params[:k], results[:k], node.outputs, carried):
            if where == DEVICE and r is not p:
                if p.type != r.type or p.type.shape != g.shape or \
                        not (r in made or (r in loaded and body.of(r) == DEVICE)):
                    return None
                pairs.append((p, r, o))
        if not pairs:
            return None
        steady = set(params[k:]) | {p for p, where in zip(params, carried) if where == DEVICE}
        for v, mode, view in g.inputs:
            if not (v in steady or body.of(v) == CONST):
                return None         # a value the body's host steps change
            if view is not None and view.dynamic:
                return None
            if any(v is p for p, _, _ in pairs) and not (
                    view is not None and view.shape == g.shape and view.contiguous and not view.offset):
                return None         # loaded once into a register, element by element
        group = replace(g, outputs=[o for _, _, o in pairs], carried=pairs)
        for spec in launch.specs:
            self.specs.remove(spec)
        specs = gen_fused.fused(group)
        self.specs.extend(specs)
        repeat = Launch(specs, launch.nodes, group)
        body.steps[body.steps.index(launch)] = repeat
        body.drops = last_uses(body.steps, body.region.results)
        return repeat

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


def rotated(body: Region, cond: Region, k: int, ids: IdSource) -> Region:
    """The body followed by the condition on its results: one region, one fusion.

    Results: the next carried values, then the decision on them, so the
    kernel that computes `b = b * 2` also computes `norm(b) < 1e6` for the
    next iteration instead of a separate launch reading `b` again.
    """
    b = Builder(ids)
    b.nodes.extend(body.nodes)
    invariants = body.params[k:]
    # Roles kept: a NaN found in a reverse loop's condition is in an adjoint node.
    (pred,) = inline(b, cond, tuple(body.results) + tuple(invariants), keep_roles=True)
    return Region(body.params, tuple(b.nodes), tuple(body.results) + (pred,))


def touched(step) -> set[Value]:
    """The values of its region's environment that a step reads or makes."""
    if isinstance(step, Launch):
        found: set[Value] = set()
        for spec in step.specs:
            for a in spec.args:
                if a.kind in ("in", "host", "out"):
                    found.add(a.value)
                elif a.kind == "offset":
                    found.update(d.value for d in a.value.dynamic)
        return found
    return set(step.node.inputs) | set(step.node.outputs)


def last_uses(steps: list, results) -> list[tuple[Value, ...]]:
    """For each step, the values it touches last (never a region result)."""
    keep = set(results)
    last: dict[Value, int] = {}
    for i, step in enumerate(steps):
        for v in touched(step):
            last[v] = i
    drops: list[list[Value]] = [[] for _ in steps]
    for v, i in last.items():
        if v not in keep:
            drops[i].append(v)
    return [tuple(d) for d in drops]


def compose(view: StridedView, m: ViewMap, node: Node) -> StridedView:
    """The view `m` of `node` applied on top of `view`: one offset, one set of strides."""
    s = view.strides
    out_strides = tuple(step * s[e] if e is not None else 0 for e, step in m.out_dims)
    offset = view.offset + sum(o * s[e] for e, o in enumerate(m.offsets))
    src_shape = view.shape
    dynamic = view.dynamic + tuple(DynOffset(node.inputs[k], s[e], src_shape[e], node.span)
                                   for k, e in m.dynamic)
    return StridedView(view.base, node.out.type.shape, out_strides, offset, dynamic)


def _users(region: Region) -> dict[Value, list[Node]]:
    """For each value, the nodes of this region that read it."""
    found: dict[Value, list[Node]] = {}
    for node in region.nodes:
        for v in node.inputs:
            found.setdefault(v, []).append(node)
    return found


@dataclass(eq=False)
class OpenGroup:
    """A fusion group being collected: one iteration space, in creation order `serial`."""

    shape: tuple
    serial: int
    nodes: list = field(default_factory=list)        # elementwise nodes over `shape`
    reductions: list = field(default_factory=list)   # full reductions of the space
    epilogue: list = field(default_factory=list)     # scalar nodes after the reductions
    elems: set = field(default_factory=set)          # values of `nodes`
    made: set = field(default_factory=set)           # every value the group makes


def plan(graph: Graph, device=None, check_nan: bool = False) -> Plan:
    """The static plan of a graph: leaf initialisers, body, one list of kernels.

    With a `device`, tuned kernels (matmul) use its tiles; without, the
    portable defaults (for showing a plan, which needs no device).  With
    `check_nan`, kernels also test every float value they compute.
    """
    checked: list[Node] | None = [] if check_nan else None
    planner = Planner(IdSource(graph.next_id), device=device, checked=checked)
    inits, init_slots = {}, {}
    for leaf in graph.leaves:
        if leaf.init is not None:
            first = len(checked or ())
            inits[leaf.name] = planner.region(leaf.init, [])
            init_slots[leaf.name] = range(first, len(checked or ()))
    # Integer and bool scalars fed by the caller are known on the host: loops
    # and branches deciding on them (`while i < k`) never read the device.
    params = [HOST if host_type(p.type) else DEVICE for p in graph.body.params]
    body = planner.region(graph.body, params)
    return Plan(graph, body, inits, planner.specs, check_nan, checked or [], init_slots)
