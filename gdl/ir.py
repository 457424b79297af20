"""The graph IR every stage shares: values, nodes, regions and graphs.

Owns the data structure of architecture.md's "The IR": immutable `Node`s with
a tuple of outputs, closed `Region`s (a region refers only to its own params
and the values it defines), and a `Graph` that names the leaves (`var`,
`input`) and the outputs.  Also the `Builder` that passes use to make nodes
with fresh value ids, and traversal helpers.  Imports `dtype` and `errors`.

Value ids come from an `IdSource` owned by whoever builds a graph and carried
in the graph (`Graph.next_id`), so a later pass continues the numbering and
printed graphs stay stable; there is no global counter.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Hashable, Iterator

from .dtype import Type
from .errors import Span


class Value:
    """An SSA value: defined once, by a node output or a region parameter.

    Equality is identity; `name` is for printing and messages only.
    """

    __slots__ = ("id", "type", "name")

    def __init__(self, id: int, type: Type, name: str | None = None):
        self.id = id
        self.type = type
        self.name = name

    def __repr__(self) -> str:
        return f"%{self.id}"


Attrs = tuple[tuple[str, Hashable], ...]


@dataclass(frozen=True, eq=False)
class Node:
    """One operation: `outputs = op(inputs; attrs) { regions }` from `span`."""

    op: str
    inputs: tuple[Value, ...]
    attrs: Attrs
    outputs: tuple[Value, ...]
    regions: tuple["Region", ...] = ()
    span: Span | None = None
    role: str = ""          # "" forward, "adjoint" (made by reverse mode), "tape" (recording)

    def attr(self, key: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def attr_dict(self) -> dict[str, Any]:
        return dict(self.attrs)

    @property
    def out(self) -> Value:
        """The only output of a single-output node."""
        assert len(self.outputs) == 1, self.op
        return self.outputs[0]


@dataclass(frozen=True, eq=False)
class Region:
    """A closed block: `params` in, `nodes` in order, `results` out."""

    params: tuple[Value, ...]
    nodes: tuple[Node, ...]
    results: tuple[Value, ...]


@dataclass(frozen=True, eq=False)
class Leaf:
    """A `var` or `input` declaration: a parameter of the graph body.

    `init` is a region without params computing the initial value of a var
    or the default of an input (None for an input without default); it runs
    on the device unless the caller supplies the value.
    """

    name: str
    kind: str                # "var" or "input"
    value: Value             # the body parameter it feeds
    init: Region | None
    span: Span | None


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole program: the body region over the leaves and the outputs.

    `body.params` are the leaves' values in declaration order, followed by
    the seed cotangent after autodiff of a seeded run.  `body.results` are
    the outputs (`outputs` names them) followed by the gradients of the vars
    named in `grads`.
    """

    body: Region
    leaves: tuple[Leaf, ...]
    outputs: tuple[str, ...]
    next_id: int
    grads: tuple[str, ...] = ()
    of: str | None = None
    seed: Value | None = None
    effects: tuple[str, ...] = field(default=())

    def leaf(self, name: str) -> Leaf | None:
        for lf in self.leaves:
            if lf.name == name:
                return lf
        return None

    def output_value(self, name: str) -> Value:
        return self.body.results[self.outputs.index(name)]

    def with_body(self, body: Region, next_id: int, **changes: Any) -> "Graph":
        return replace(self, body=body, next_id=next_id, **changes)


class IdSource:
    """Hands out fresh value ids; one per pass run, seeded from a graph."""

    def __init__(self, start: int = 0):
        self.next = start

    def take(self) -> int:
        self.next += 1
        return self.next - 1


class Builder:
    """Collects nodes for one region in order, making fresh output values.

    `role` is stamped on the nodes it makes, so printed graphs can tell the
    adjoint nodes reverse mode appends from the program's own.
    """

    def __init__(self, ids: IdSource, role: str = ""):
        self.ids = ids
        self.role = role
        self.nodes: list[Node] = []

    def fresh(self, type: Type, name: str | None = None) -> Value:
        return Value(self.ids.take(), type, name)

    def add(self, op: str, inputs: tuple[Value, ...], attrs: dict[str, Hashable] | Attrs,
            out_types: tuple[Type, ...], regions: tuple[Region, ...] = (),
            span: Span | None = None) -> Node:
        """Append a node with fresh outputs of `out_types` and return it."""
        if isinstance(attrs, dict):
            attrs = tuple(sorted(attrs.items()))
        node = Node(op, tuple(inputs), attrs, tuple(self.fresh(t) for t in out_types),
                    tuple(regions), span, self.role)
        self.nodes.append(node)
        return node

    def add_defining(self, op: str, inputs: tuple[Value, ...], attrs: dict[str, Hashable] | Attrs,
                     outputs: tuple[Value, ...], regions: tuple[Region, ...] = (),
                     span: Span | None = None) -> Node:
        """Append a node that defines the given existing `outputs` (passes that
        replace a node keep its output values, so later users stay valid)."""
        if isinstance(attrs, dict):
            attrs = tuple(sorted(attrs.items()))
        node = Node(op, tuple(inputs), attrs, tuple(outputs), tuple(regions), span, self.role)
        self.nodes.append(node)
        return node

    def append(self, node: Node) -> None:
        """Append an existing node unchanged (passes that copy a region)."""
        self.nodes.append(node)

    def region(self, params: tuple[Value, ...], results: tuple[Value, ...]) -> Region:
        return Region(tuple(params), tuple(self.nodes), tuple(results))


# ---------------------------------------------------------------- traversal

def walk(region: Region) -> Iterator[tuple[Node, int]]:
    """Every node of a region and its nested regions, with its nesting depth.

    Iterative, so deep nesting cannot overflow Python's stack.
    """
    stack: list[tuple[Iterator[Node], int]] = [(iter(region.nodes), 0)]
    while stack:
        it, depth = stack[-1]
        node = next(it, None)
        if node is None:
            stack.pop()
            continue
        yield node, depth
        for r in reversed(node.regions):
            stack.append((iter(r.nodes), depth + 1))


def users(region: Region) -> dict[Value, list[Node]]:
    """For each value of this region (not nested ones), the nodes that read it."""
    result: dict[Value, list[Node]] = {}
    for node in region.nodes:
        for v in node.inputs:
            result.setdefault(v, []).append(node)
    return result


def prune(region: Region, keep: Callable[[Node], bool] = lambda n: False) -> Region:
    """Drop nodes whose outputs nothing needs; `keep` marks nodes with effects.

    Works on this region only; nested regions are left as they are.
    """
    live: set[Value] = set(region.results)
    kept: list[Node] = []
    for node in reversed(region.nodes):
        if keep(node) or any(o in live for o in node.outputs):
            kept.append(node)
            live.update(node.inputs)
    kept.reverse()
    if len(kept) == len(region.nodes):
        return region
    return Region(region.params, tuple(kept), region.results)


def used_params(region: Region) -> set[Value]:
    """The params of `region` that some node input or result reads."""
    seen = set(region.results)
    for node in region.nodes:
        seen.update(node.inputs)
    return {p for p in region.params if p in seen}


def inline(b: Builder, region: Region, args: tuple[Value | None, ...],
           keep_roles: bool = False,
           reuse: Callable[[Region], bool] | None = None) -> tuple[Value, ...]:
    """Copy `region`'s nodes into `b` with params bound to `args`; return its results.

    Values are renamed to fresh ids (nested regions included, but for those
    `reuse` takes as they are; see `fresh_copy`), so a region can be inlined
    many times.  A param bound to None must be unused.  The copies take
    `b`'s role, or keep their own with `keep_roles`.
    """
    env: dict[Value, Value] = {}
    for p, a in zip(region.params, args, strict=True):
        if a is not None:
            env[p] = a
    for node in region.nodes:
        new_inputs = tuple(env[v] for v in node.inputs)
        copy = b.add(node.op, new_inputs, node.attrs, tuple(o.type for o in node.outputs),
                     tuple(r if reuse is not None and reuse(r) else fresh_copy(r, b.ids, reuse)
                           for r in node.regions), node.span)
        if keep_roles and copy.role != node.role:
            copy = b.nodes[-1] = replace(copy, role=node.role)
        for old, new in zip(node.outputs, copy.outputs):
            env[old] = new
            new.name = old.name
    return tuple(env[r] for r in region.results)


def fresh_copy(region: Region, ids: IdSource,
               reuse: Callable[[Region], bool] | None = None) -> Region:
    """A deep copy of `region` with fresh value ids everywhere, nested regions too.

    Passes that place a transformed copy of a region next to the original
    use it, so no value id is defined twice in one graph.  A nested region
    for which `reuse` says yes is taken as it is: regions are closed (they
    see only their params), so one whose ids are already its own needs no
    renaming, and deep nests are not copied once per level.
    """
    env: dict[Value, Value] = {}

    def new(v: Value) -> Value:
        if v not in env:
            env[v] = Value(ids.take(), v.type, v.name)
        return env[v]

    def copy(r: Region) -> Region:
        params = tuple(new(p) for p in r.params)
        nodes = tuple(Node(n.op, tuple(env[i] for i in n.inputs), n.attrs,
                           tuple(new(o) for o in n.outputs),
                           tuple(sub if reuse is not None and reuse(sub) else copy(sub)
                                 for sub in n.regions), n.span, n.role)
                      for n in r.nodes)
        return Region(params, nodes, tuple(env[x] for x in r.results))

    return copy(region)
