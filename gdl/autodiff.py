"""Reverse-mode differentiation as a pass: Graph -> Graph.

Walks a region backwards and appends adjoint nodes to it (architecture.md,
"Autodiff as a pass").  Each op's adjoint rule comes from the op table and
builds its cotangents with other ops, so the result is an ordinary graph
that this pass can differentiate again.  Broadcasting is undone in one place
(`Emitter.unbroadcast`) for every edge whose shape differs.

Region ops (`while`, `if`) carry `ad_rules` (ops/control_ad.py) that get
this pass's region-level machinery: `differentiate` a region, `record` the
control decisions a region makes, `replay` a region with recorded
decisions.  Recompute-and-replay is the strategy: a reverse loop re-runs the
forward body from the taped carried state, with every decision (`if`
predicate, inner trip count) taken from a tape instead of read back from
the device.  Imports `ir`, `ops`, `dtype`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator, Sequence

from .dtype import BOOL, StackType, TensorType, Type, differentiable
from .ir import Builder, Graph, IdSource, Region, Value, fresh_copy, inline, prune
from .ops import OPS, emitter, must_run
from .ops.base import Emitter


def _memo(table: dict, region: Region, make):
    """`table`'s entry for `region`, made by `make()` the first time.  Keyed by
    id(region), the entry holds the region, so the id stays its own."""
    hit = table.get(id(region))
    if hit is None:
        hit = table[id(region)] = (region, make())
    return hit[1]


class Pass:
    """One run of reverse mode: the id source and the region-level machinery."""

    def __init__(self, ids: IdSource):
        self.ids = ids
        # Nested ifs and whiles ask for the same inner region's replay and
        # decision types at every enclosing level (`_memo`).
        self._replays: dict[int, tuple[Region, Region]] = {}
        self._decision_types: dict[int, tuple[Region, tuple[Type, ...]]] = {}
        self._placed: dict[int, Region] = {}     # fresh copies not yet reused (see `copy`)

    # ------------------------------------------------------------ activity

    def activity(self, region: Region, active_params: set[Value]) -> set[Value]:
        """Values of `region` that depend differentiably on the active params."""
        active = {p for p in active_params if differentiable(p.type)}
        for node in region.nodes:
            op = OPS[node.op]
            if op.differentiable and any(i in active for i in node.inputs):
                active.update(o for o in node.outputs if differentiable(o.type))
        return active

    # ------------------------------------------------------------ differentiate

    def differentiate(self, region: Region, active_params: Sequence[bool],
                      seeds: Sequence[str | None], keep_primal: bool = False) -> Region:
        """The adjoint of `region`.

        `active_params[i]`: whether param i wants a cotangent.  `seeds[j]` for
        result j: None (no cotangent flows in), "param" (a new trailing param
        carries it) or "ones" (it is 1).  The new region has params
        `region.params + seed params` and results `region.results` (only if
        `keep_primal`) followed by one cotangent per active param (zeros
        where nothing flows).
        """
        b = Builder(self.ids, "adjoint")
        e = emitter(b)
        wanted = {p for p, a in zip(region.params, active_params, strict=True) if a}
        assert all(differentiable(p.type) for p in wanted), "only floats are active"
        active = self.activity(region, wanted)

        residuals = {}
        for node in region.nodes:
            rules = OPS[node.op].ad_rules
            if rules is not None and any(i in active for i in node.inputs):
                b.role = "tape"         # the forward node, now recording what reverse needs
                residuals[node] = rules.forward(self, e.at(node.span), node, active)
                b.role = "adjoint"
            else:
                b.append(node)

        cts: dict[Value, Value] = {}
        seed_params = []
        for r, mode in zip(region.results, seeds, strict=True):
            if mode == "param":
                seed = b.fresh(r.type, "seed")
                seed_params.append(seed)
            elif mode == "ones":
                seed = e.ones(r.type)
            else:
                continue
            self.accumulate(e, cts, r, seed)

        for node in reversed(region.nodes):
            out_cts = tuple(cts.get(o) for o in node.outputs)
            if all(c is None for c in out_cts) or not any(i in active for i in node.inputs):
                continue
            op = OPS[node.op]
            ea = e.at(node.span)
            if op.ad_rules is not None:
                in_cts = op.ad_rules.adjoint(self, ea, node, out_cts, active, residuals[node])
            elif op.adjoint is None or not op.differentiable:
                continue
            else:
                out_cts = tuple(c if c is not None else ea.zeros(o.type)
                                for c, o in zip(out_cts, node.outputs))
                in_cts = op.adjoint(ea, node, out_cts)
            for inp, c in zip(node.inputs, in_cts, strict=True):
                if c is not None and inp in active:
                    shape = inp.type.shape if isinstance(inp.type, TensorType) else None
                    self.accumulate(ea, cts, inp, ea.unbroadcast(c, shape))

        grads = tuple(cts.get(p) or e.zeros_like(p)
                      for p, a in zip(region.params, active_params) if a)
        results = (tuple(region.results) if keep_primal else ()) + grads
        out = b.region(tuple(region.params) + tuple(seed_params), results)
        return prune(out, keep=must_run)

    @staticmethod
    def accumulate(e: Emitter, cts: dict[Value, Value], v: Value, c: Value) -> None:
        assert c.type == v.type, (c.type, v.type)
        cts[v] = c if v not in cts else e.add_cotangents(cts[v], c)

    # ------------------------------------------------------------ decisions

    def decision_types(self, region: Region) -> tuple[Type, ...]:
        """The types of the decisions `record(region)` yields, in order."""
        return _memo(self._decision_types, region, lambda: tuple(
            t for node in region.nodes if OPS[node.op].ad_rules is not None
            for t in OPS[node.op].ad_rules.decision_types(self, node)))

    def record(self, region: Region) -> Region:
        """`region` with its control decisions appended to its results.

        Every `if` yields its predicate and its branches' decisions; every
        `while` its trip count and tapes of its body's decisions.  Host-side
        scalars and tapes only: recording costs no device work.
        """
        b = Builder(self.ids, "tape")
        e = emitter(b)
        decisions: list[Value] = []
        for node in region.nodes:
            rules = OPS[node.op].ad_rules
            if rules is None:
                b.append(node)
            else:
                decisions.extend(rules.record(self, e.at(node.span), node))
        return b.region(region.params, tuple(region.results) + tuple(decisions))

    def replay(self, region: Region) -> Region:
        """`region` taking its decisions as trailing params instead of making them.

        `if`s branch on the recorded predicate and `while`s run their recorded
        trip count, so a replay reads nothing back from the device; effects
        (print, assert) are dropped, they ran in the forward pass.  Like the
        region itself, the replay must be copied (`copy`, `inline`) before it
        is placed in a graph, so one replay serves every caller.
        """
        return _memo(self._replays, region, lambda: self._replay(region))

    def _replay(self, region: Region) -> Region:
        b = Builder(self.ids, "adjoint")
        e = emitter(b)
        dparams = tuple(b.fresh(t, "decision") for t in self.decision_types(region))
        it: Iterator[Value] = iter(dparams)
        for node in region.nodes:
            op = OPS[node.op]
            if op.effect:
                continue
            if op.ad_rules is None:
                b.append(node)
            else:
                op.ad_rules.replay(self, e.at(node.span), node, it)
        assert next(it, None) is None
        return b.region(tuple(region.params) + dparams, region.results)

    def default(self, e: Emitter, t: Type) -> Value:
        """A placeholder decision for the branch not taken."""
        if isinstance(t, StackType):
            return e.op("stack_new", elem=t.elem)
        return e.const(False if t.dtype == BOOL else 0, t.dtype)

    def copy(self, region: Region) -> Region:
        """`region` with fresh ids, for placing in the graph.

        A copy made here is placed once, under one adjoint node; when an
        enclosing level copies its own region, those nested copies are taken
        as they are (each once: `_placed` forgets it on reuse), so an n-deep
        nest costs O(n^2), not O(n^3).
        """
        return self.place(fresh_copy(region, self.ids, self.reuse))

    def place(self, region: Region) -> Region:
        """Note `region` (fresh ids, about to sit under one node) as reusable once."""
        self._placed[id(region)] = region
        return region

    def reuse(self, region: Region) -> bool:
        """Whether a copy may take `region` as it is: placed, and not yet reused."""
        if self._placed.get(id(region)) is region:
            del self._placed[id(region)]
            return True
        return False


    # ------------------------------------------------------------ grad() in programs

    def expand(self, region: Region) -> Region:
        """`region` with every `grad` node replaced by its adjoint nodes, innermost first."""
        b = Builder(self.ids, "adjoint")
        rename: dict[Value, Value] = {}
        changed = False
        for node in region.nodes:
            inputs = tuple(rename.get(v, v) for v in node.inputs)
            regions = tuple(self.expand(r) for r in node.regions)
            if node.op == "grad":
                (of,) = regions
                seeds = ["param" if node.attr("seeded") else "ones"]
                adjoint = self.differentiate(of, [True] + [False] * (len(of.params) - 1), seeds)
                (out,) = inline(b, adjoint, inputs)
                if all(out is not v for v in inputs):     # made here: named as in the source
                    out.name = node.out.name
                rename[node.out] = out
                changed = True
                continue
            if inputs != node.inputs or any(a is not r for a, r in zip(regions, node.regions)):
                node = replace(node, inputs=inputs, regions=regions)
                changed = True
            b.append(node)
        if not changed:
            return region
        return b.region(region.params, tuple(rename.get(r, r) for r in region.results))


def expand_grads(graph: Graph) -> Graph:
    """The graph with each `grad(y, x)` of the program expanded into adjoint nodes.

    A `grad` node holds a region computing y from x (and the constants it
    reads); it is replaced by that region differentiated with respect to x
    and inlined, so its result is an ordinary value that later passes (and
    nested `grad`s) differentiate again.
    """
    ad = Pass(IdSource(graph.next_id))
    body = ad.expand(graph.body)
    if body is graph.body:
        return graph
    return graph.with_body(body, ad.ids.next)


def grad_graph(graph: Graph, wrt: Sequence[str], of: str, seeded: bool) -> Graph:
    """`graph` with the gradients of output `of` w.r.t. the vars `wrt` appended.

    One reverse pass gives every gradient.  With `seeded`, a new trailing
    body param is the output's cotangent; without, the output is a scalar
    and its cotangent is 1.
    """
    ad = Pass(IdSource(graph.next_id))
    names = [lf.name for lf in graph.leaves]
    active = [lf.name in wrt for lf in graph.leaves]
    index = graph.outputs.index(of)
    seeds = [None] * len(graph.outputs)
    seeds[index] = "param" if seeded else "ones"
    body = ad.differentiate(graph.body, active, seeds, keep_primal=True)
    order = [n for n in names if n in wrt]
    seed = body.params[len(graph.leaves)] if seeded else None
    return graph.with_body(body, ad.ids.next, grads=tuple(order), of=of, seed=seed)

