"""Graph -> Graph clean-ups: constant folding, common subexpressions, dead code.

Each pass is a pure function of a graph.  `fold` evaluates small constant
expressions with the ops' own NumPy references and applies identities the
adjoint rules leave behind (`where` on a known condition, `x ** 1`,
`x ** 2` as `x * x`, products with 1), so the kernels that remain are
simpler and vectorise.  CSE merges nodes with the same op, inputs and
attributes within a region (regions are closed, so each has its own table);
DCE drops nodes nothing needs, in every region.  Effects (print, assert)
and the tape ops are never merged or dropped.  Imports `ir`, `ops`, numpy.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .ir import Builder, Graph, IdSource, Node, Region, Value, prune
from .ops import OPS, must_run
from .ops.base import Elementwise

FOLD_LIMIT = 64          # elements of a constant worth computing at compile time

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
    """Drop nodes whose values nothing uses (but not effects or program loops)."""
    return graph.with_body(_map_regions(graph.body, lambda r: prune(r, must_run)),
                           graph.next_id)


def _const_node(out: Value, array: np.ndarray, like: Node) -> Node:
    """A const node defining `out` with `array`'s values (in `out`'s dtype)."""
    arr = np.asarray(array).astype(out.type.dtype.np).reshape(out.type.shape)
    attrs = (("dtype", out.type.dtype), ("shape", out.type.shape),
             ("value", tuple(arr.reshape(-1).tolist())))
    return Node("const", (), attrs, (out,), (), like.span, like.role)


class _Folder:
    """Folds one region: known values by value, renamed values by their stand-ins."""

    def __init__(self, ids: IdSource):
        self.ids = ids

    def __call__(self, region: Region) -> Region:
        b = Builder(self.ids)
        known: dict[Value, np.ndarray] = {}
        rename: dict[Value, Value] = {}
        changed = False
        for node in region.nodes:
            inputs = tuple(rename.get(v, v) for v in node.inputs)
            if inputs != node.inputs:
                node = replace(node, inputs=inputs)
                changed = True
            new = self.fold(node, known, rename, b)
            if new is not node:
                changed = True
            if new is not None:
                b.nodes.append(new)
                if new.op == "const" and new.out.type.size <= FOLD_LIMIT:
                    known[new.out] = OPS["const"].numpy(**new.attr_dict)
        if not changed:
            return region
        return Region(region.params, tuple(b.nodes), tuple(rename.get(r, r)
                                                           for r in region.results))

    def fold(self, node: Node, known, rename, b: Builder) -> Node | None:
        """The node to keep in place of `node` (None: its value is renamed away)."""
        op = OPS[node.op]
        if node.regions or len(node.outputs) != 1 or op.effect:
            return node
        out = node.out
        if node.op == "fill" and out.type.size <= FOLD_LIMIT:
            return _const_node(out, np.full(out.type.shape, node.attr("value")), node)
        if (op.foldable and op.numpy is not None and node.inputs and out.type.size <= FOLD_LIMIT
                and all(v in known for v in node.inputs)):
            with np.errstate(all="ignore"):
                value = op.numpy(*[known[v] for v in node.inputs], **node.attr_dict)
            return _const_node(out, value, node)
        scalar = {v: known[v].reshape(-1)[0] for v in node.inputs
                  if v in known and np.unique(known[v]).size == 1}
        if node.op == "where" and node.inputs[0] in scalar:
            pick = node.inputs[1] if scalar[node.inputs[0]] else node.inputs[2]
            return self.stand_in(node, pick, rename)
        if node.op == "pow" and node.inputs[1] in scalar and isinstance(op.lower, Elementwise):
            exponent = scalar[node.inputs[1]]
            base = node.inputs[0]
            if exponent == 1:
                return self.stand_in(node, base, rename)
            if exponent == 2 and base.type == out.type:
                return Node("mul", (base, base), (), (out,), (), node.span, node.role)
        if node.op == "mul":
            for one, other in (node.inputs, node.inputs[::-1]):
                if one in scalar and scalar[one] == 1:
                    return self.stand_in(node, other, rename)
        return node

    @staticmethod
    def stand_in(node: Node, value: Value, rename) -> Node | None:
        """Use `value` for the node's output when it has the same type, else keep the node."""
        if value.type != node.out.type:
            return node
        rename[node.out] = value
        return None


def fold(graph: Graph) -> Graph:
    """Evaluate small constant expressions and drop identities, in every region."""
    ids = IdSource(graph.next_id)
    body = _map_regions(graph.body, _Folder(ids))
    return graph.with_body(body, ids.next)


def simplify(graph: Graph) -> Graph:
    return dce(cse(fold(graph)))
