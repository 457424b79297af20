"""Graph -> Graph clean-ups: common subexpressions and dead code.

Each pass is a pure function of a graph.  CSE merges nodes with the same op,
inputs and attributes within a region (regions are closed, so each has its
own table); DCE drops nodes nothing needs, in every region.  Effects
(print, assert) and the tape ops are never merged or dropped by CSE.
Imports `ir`, `ops`.
"""
from __future__ import annotations

from dataclasses import replace

from .ir import Graph, Node, Region, Value, prune
from .ops import OPS, has_effect

NO_CSE = frozenset({"stack_new", "push", "get", "while", "if"})


def _map_regions(region: Region, fn) -> Region:
    """Apply `fn` to `region` and, first, to every region nested in it."""
    nodes = []
    changed = False
    for node in region.nodes:
        if node.regions:
            subs = tuple(_map_regions(r, fn) for r in node.regions)
            if any(a is not b for a, b in zip(subs, node.regions)):
                node = replace(node, regions=subs)
                changed = True
        nodes.append(node)
    if changed:
        region = Region(region.params, tuple(nodes), region.results)
    return fn(region)


def _cse_region(region: Region) -> Region:
    seen: dict[tuple, Node] = {}
    rename: dict[Value, Value] = {}
    nodes = []
    for node in region.nodes:
        inputs = tuple(rename.get(v, v) for v in node.inputs)
        if inputs != node.inputs:
            node = replace(node, inputs=inputs)
        if node.op in NO_CSE or OPS[node.op].effect:
            nodes.append(node)
            continue
        # repr, not ==: 0.0 and -0.0 are different literals.
        key = (node.op, tuple(id(v) for v in inputs), repr(node.attrs))
        prior = seen.get(key)
        if prior is None:
            seen[key] = node
            nodes.append(node)
        else:
            for a, b in zip(node.outputs, prior.outputs):
                rename[a] = b
    results = tuple(rename.get(v, v) for v in region.results)
    return Region(region.params, tuple(nodes), results)


def cse(graph: Graph) -> Graph:
    """Merge repeated computations (the adjoint pass makes many equal constants)."""
    return graph.with_body(_map_regions(graph.body, _cse_region), graph.next_id)


def dce(graph: Graph) -> Graph:
    """Drop nodes whose values nothing uses."""
    return graph.with_body(_map_regions(graph.body, lambda r: prune(r, has_effect)),
                           graph.next_id)


def simplify(graph: Graph) -> Graph:
    return dce(cse(graph))
