"""Graphviz DOT for a graph: what `gdl graph --dot FILE` writes.

Nodes show op, type and source line; data flows along edges; each region
of a `while`/`if`/`grad` is a cluster; adjoint and tape nodes are styled
apart.  The text depends only on the graph.  Imports `graphview` (value
names and literals), `ir`.
"""
from __future__ import annotations

from types import MappingProxyType

from .graphview import Names, attrs_text, counts, types_text, value_ref
from .ir import Graph, Region, Value
from .printer import REGION_NAMES

# role -> (fill, border, line style) of a node's box.
DOT_ROLES = MappingProxyType({"": ("white", "black", "solid"),
                              "adjoint": ("#f4e1f7", "#8e24aa", "solid"),
                              "tape": ("#fff4c2", "#b08800", "dashed")})


def dot_string(text: str) -> str:
    """A DOT quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot_attrs(**attrs: str) -> str:
    """A DOT attribute list, every value quoted, in the order given (deterministic)."""
    return "[" + ", ".join(f"{k}={dot_string(v)}" for k, v in attrs.items()) + "]"


def to_dot(graph: Graph, title: str = "gdl", consts: bool = False) -> str:
    """Graphviz DOT of a graph: nodes (op, type, line), data-flow edges, a cluster per region.

    Adjoint nodes are filled purple, tape nodes dashed yellow; scalar
    constants are written inside their users' labels (`mul(•, 2.0)`, where
    `•` is an incoming edge) unless `consts`.  A region op has dashed edges
    into its regions' params and back from their yields.  The text depends
    only on the graph.
    """
    return "\n".join(DotWriter(graph, title, consts).lines()) + "\n"


class DotWriter:
    """The state of one DOT rendering: ids handed out in visiting order, edges collected."""

    def __init__(self, graph: Graph, title: str, consts: bool):
        self.graph = graph
        self.title = title
        self.names = Names(graph, consts)
        self.where: dict[Value, tuple[str, int, int]] = {}   # value -> (id, index, outputs)
        self.edges: list[str] = []
        self.count = 0
        self.last = ""

    def new_id(self, prefix: str) -> str:
        """A DOT id unique in this rendering, numbered in visiting order."""
        self.count += 1
        return f"{prefix}{self.count}"

    def define(self, v: Value, nid: str, index: int = 0, n: int = 1) -> None:
        """Record that `v` is output `index` of the `n` outputs of DOT node `nid`."""
        self.where[v] = (nid, index, n)

    def flow(self, v: Value, target: str) -> None:
        """A data-flow edge from the definition of `v` (none for an inlined literal)."""
        if v in self.names.inline:
            return
        source, index, n = self.where[v]
        extra = f" {dot_attrs(label=str(index))}" if n > 1 else ""
        self.edges.append(f"  {source} -> {target}{extra};")

    def end(self, prefix: str, label: str, fill: str = "#e3f2e1") -> str:
        """Declare a fresh ellipse (a leaf, the seed, an output, a gradient); `last` is its id."""
        self.last = self.new_id(prefix)
        return f"  {self.last} " + dot_attrs(shape="ellipse", fillcolor=fill, label=label) + ";"

    def lines(self) -> list[str]:
        """The whole DOT text: header, leaves, nested clusters of nodes, ends, then edges."""
        graph = self.graph
        heading = dot_attrs(rankdir="TB", fontname="Helvetica", labelloc="t",
                            label=f"{self.title} · {counts(graph)}")
        boxes = dot_attrs(shape="box", style="rounded,filled", fillcolor="white",
                          fontname="Helvetica", fontsize="10")
        out = [f"digraph {dot_string(self.title)} {{", f"  graph {heading};",
               f"  node {boxes};", f"  edge {dot_attrs(color='#555555', fontsize='8')};"]
        for leaf in graph.leaves:
            out.append(self.end("leaf", f"{leaf.kind} {leaf.name}\n{leaf.value.type}"))
            self.define(leaf.value, self.last)
        for p in graph.body.params[len(graph.leaves):]:
            out.append(self.end("seed", f"seed {value_ref(p)}\n{p.type}"))
            self.define(p, self.last)
        stack = [self.region_lines(graph.body, "  ")]
        while stack:      # nested regions are nested generators: no recursion
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, str):
                out.append(item)
            else:
                stack.append(item)
        for name, v in zip(graph.outputs, graph.body.results):
            shown = f" = {self.names.ref(v)}" if v in self.names.inline else ""
            out.append(self.end("out", f"out {name}{shown}"))
            self.flow(v, self.last)
        for name, v in zip(graph.grads, graph.body.results[len(graph.outputs):]):
            out.append(self.end("grad", f"grad {name}\nd{graph.of}/d{name}",
                                DOT_ROLES["adjoint"][0]))
            self.flow(v, self.last)
        return out + self.edges + ["}"]

    def region_lines(self, region: Region, indent: str):
        """Yield a region's DOT lines, and a generator for each nested region's body."""
        for node in region.nodes:
            if self.names.hidden(node):
                continue
            nid = self.new_id("n")
            for i, v in enumerate(node.outputs):
                self.define(v, nid, i, len(node.outputs))
            fill, colour, style = DOT_ROLES.get(node.role, DOT_ROLES[""])
            head = ", ".join(value_ref(o) for o in node.outputs)
            args = ", ".join(self.names.inline.get(v, "•") for v in node.inputs)
            attrs = attrs_text(node)
            label = (f"{head} = " if head else "") + f"{node.op}({args})"
            label += f" {attrs}" if attrs else ""
            detail = types_text(node.outputs)
            if node.span is not None:
                detail += f"  @{node.span.line}"
            if node.role:
                detail += f"  [{node.role}]"
            yield f"{indent}{nid} " + dot_attrs(label=f"{label}\n{detail}".strip(),
                                                fillcolor=fill, color=colour,
                                                style=f"rounded,filled,{style}") + ";"
            for v in node.inputs:
                self.flow(v, nid)
            labels = REGION_NAMES.get(node.op, ())
            line = f" @{node.span.line}" if node.span is not None else ""
            for i, sub in enumerate(node.regions):
                name = labels[i] if i < len(labels) else f"region{i}"
                yield f"{indent}subgraph {self.new_id('cluster_')} {{"
                yield (f"{indent}  graph " + dot_attrs(label=f"{node.op}{line}: {name}",
                                                       style="dashed", color="#888888") + ";")
                for p in sub.params:
                    pid = self.new_id("p")
                    self.define(p, pid)
                    yield f"{indent}  {pid} " + dot_attrs(shape="plaintext", style="",
                                                          label=f"{value_ref(p)}: {p.type}") + ";"
                    self.edges.append(f"  {nid} -> {pid} [style=dashed];")
                yield self.region_lines(sub, indent + "  ")
                yid = self.new_id("y")
                yield f"{indent}  {yid} " + dot_attrs(shape="plaintext", style="",
                                                      label="yield") + ";"
                for r in sub.results:
                    self.flow(r, yid)
                self.edges.append(f"  {yid} -> {nid} [style=dashed, constraint=false];")
                yield f"{indent}}}"

