"""The IR checker: SSA, definition before use, every type rule re-run, region signatures.

Tests run it after every pass (style.md habit 4) so a broken pass is caught
where it breaks.  A failure is an internal bug, so it raises `IRError`
(an AssertionError), never a GdlError.  Imports `ir`, `ops`, `dtype`.
"""
from __future__ import annotations

from .dtype import BOOL, TensorType
from .ir import Graph, Region, Value
from .ops import OPS


class IRError(AssertionError):
    """The graph breaks an IR invariant (a gdl bug)."""


def _check_region(region: Region, where: str, pending: list) -> None:
    defined: set[Value] = set()
    for p in region.params:
        if p in defined:
            raise IRError(f"{where}: param %{p.id} listed twice")
        defined.add(p)
    for i, node in enumerate(region.nodes):
        here = f"{where}, node {i} ({node.op})"
        if node.op not in OPS:
            raise IRError(f"{here}: unknown op")
        for v in node.inputs:
            if v not in defined:
                raise IRError(f"{here}: input %{v.id} is not defined before use in this region")
        op = OPS[node.op]
        in_types = tuple(v.type for v in node.inputs)
        attrs = node.attr_dict
        want = op.infer(in_types, attrs, node.span, node.regions) if node.regions \
            else op.infer(in_types, attrs, node.span)
        got = tuple(o.type for o in node.outputs)
        extra = got[len(want):]
        if got[:len(want)] != tuple(want) or (extra and node.op not in ("while", "if")):
            raise IRError(f"{here}: outputs {[str(t) for t in got]}, type rule says "
                          f"{[str(t) for t in want]}")
        for o in node.outputs:
            if o in defined:
                raise IRError(f"{here}: %{o.id} defined twice")
            defined.add(o)
        _check_signature(node, here)
        for j, sub in enumerate(node.regions):
            pending.append((sub, f"{here} region {j}"))
    for r in region.results:
        if r not in defined:
            raise IRError(f"{where}: result %{r.id} is not defined in the region")


def _types(vs) -> list[str]:
    return [str(v.type) for v in vs]


def _check_signature(node, here: str) -> None:
    if node.op == "while":
        k = node.attr("n_carried")
        cond, body = node.regions
        ins = _types(node.inputs)
        for name, r in (("cond", cond), ("body", body)):
            if _types(r.params) != ins:
                raise IRError(f"{here}: {name} params {_types(r.params)} != inputs {ins}")
        if len(cond.results) != 1 or cond.results[0].type != TensorType(BOOL, ()):
            raise IRError(f"{here}: cond must yield one bool scalar")
        if _types(body.results) != ins[:k] or _types(node.outputs) != ins[:k]:
            raise IRError(f"{here}: body results / outputs must match the carried values")
    elif node.op == "if":
        ops = _types(node.inputs[1:])
        for name, r in zip(("then", "else"), node.regions):
            if _types(r.params) != ops:
                raise IRError(f"{here}: {name} params {_types(r.params)} != operands {ops}")
            if _types(r.results) != _types(node.outputs):
                raise IRError(f"{here}: {name} results {_types(r.results)} != outputs")


def verify(graph: Graph) -> Graph:
    """Check `graph`; return it unchanged, or raise IRError naming the broken spot."""
    pending: list[tuple[Region, str]] = []
    for leaf in graph.leaves:
        if leaf.init is not None:
            pending.append((leaf.init, f"initialiser of {leaf.name}"))
            if leaf.init.params or len(leaf.init.results) != 1:
                raise IRError(f"initialiser of {leaf.name} must take nothing, yield one value")
            if leaf.init.results[0].type != leaf.value.type:
                raise IRError(f"initialiser of {leaf.name} yields {leaf.init.results[0].type}, "
                              f"the leaf is {leaf.value.type}")
    pending.append((graph.body, "body"))
    leaf_values = tuple(lf.value for lf in graph.leaves)
    if graph.body.params[:len(leaf_values)] != leaf_values:
        raise IRError("body params must start with the leaves in order")
    expected = len(graph.outputs) + len(graph.grads)
    if len(graph.body.results) != expected:
        raise IRError(f"body yields {len(graph.body.results)} values, outputs + grads = "
                      f"{expected}")
    while pending:
        region, where = pending.pop()
        _check_region(region, where, pending)
    return graph
