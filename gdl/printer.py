"""The stable text form of a Graph: what `gdl graph` and the REPL print.

One line per node, `%out = op(%in, ...) {attrs} : types  @line`, regions
indented under their node.  The text depends only on the graph, so golden
files can pin it.  Imports `ir`, `dtype`.
"""
from __future__ import annotations

from types import MappingProxyType

from typing import Any

from .dtype import DType
from .ir import Graph, Node, Region, Value

CONST_SHOWN = 8     # elements of a literal tensor shown before "..."


def value_text(v: Value) -> str:
    return f"%{v.id}"


def attr_text(key: str, value: Any) -> str:
    if isinstance(value, DType):
        return f"{key}={value.name}"
    if isinstance(value, tuple):
        items = [attr_text("", x)[1:] if not isinstance(x, str) else x for x in value]
        if key == "value" and len(items) > CONST_SHOWN:
            items = items[:CONST_SHOWN] + ["..."]
        return f"{key}=[{', '.join(items)}]"
    if isinstance(value, float):
        return f"{key}={value!r}"
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    return f"{key}={value}"


def node_text(node: Node) -> str:
    outs = ", ".join(value_text(o) for o in node.outputs)
    args = ", ".join(value_text(i) for i in node.inputs)
    attrs = ", ".join(attr_text(k, v) for k, v in node.attrs if v is not None)
    types = ", ".join(str(o.type) for o in node.outputs)
    text = f"{outs} = {node.op}({args})"
    if attrs:
        text += f" {{{attrs}}}"
    text += f" : {types}"
    if node.span is not None:
        text += f"  @{node.span.line}"
    if node.role:
        text += f"  [{node.role}]"
    return text


def params_text(params: tuple[Value, ...]) -> str:
    return ", ".join(f"{value_text(p)}: {p.type}" + (f" ({p.name})" if p.name else "")
                     for p in params)


REGION_NAMES = MappingProxyType({"while": ("cond", "body"), "if": ("then", "else"),
                                 "grad": ("of",)})


def region_lines(region: Region, indent: str, label: str) -> list[str]:
    """Lines of a region and its nested regions; an explicit stack, not recursion."""
    lines: list[str] = []
    stack = [_region_events(region, indent, label)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, str):
            lines.append(item)
        else:
            stack.append(_region_events(*item))
    return lines


def _region_events(region: Region, indent: str, label: str):
    """Yield a region's lines, and (region, indent, label) for each nested region."""
    yield f"{indent}{label}({params_text(region.params)}) {{"
    for node in region.nodes:
        yield indent + "  " + node_text(node)
        names = REGION_NAMES.get(node.op, ())
        for i, sub in enumerate(node.regions):
            yield (sub, indent + "    ", names[i] if i < len(names) else f"region{i}")
    yield f"{indent}  yield {', '.join(value_text(r) for r in region.results)}"
    yield f"{indent}}}"


def graph_text(graph: Graph, title: str | None = None) -> str:
    """The whole graph: leaves with their initialisers, body, outputs and gradients."""
    out = [f"# {title}"] if title else []
    for leaf in graph.leaves:
        head = f"{leaf.kind} {leaf.name}: {leaf.value.type} = {value_text(leaf.value)}"
        if leaf.init is None:
            out.append(head)
        else:
            out.extend(region_lines(leaf.init, "", head + " init "))
    out.extend(region_lines(graph.body, "", "body "))
    for name, v in zip(graph.outputs, graph.body.results):
        out.append(f"out {name} = {value_text(v)}")
    rest = graph.body.results[len(graph.outputs):]
    for name, v in zip(graph.grads, rest):
        out.append(f"grad {name} = {value_text(v)}")
    if graph.seed is not None:
        out.append(f"seed = {value_text(graph.seed)}")
    return "\n".join(out) + "\n"
