"""Readable pictures of a Graph at any stage: rich trees, a plan outline, Graphviz DOT.

Owns what `gdl graph` shows beyond the stable text form of `printer`: a rich
tree of a graph (leaves, then nodes with their output names, op, operands,
compact attrs, types and source lines, adjoint and tape nodes marked,
`while`/`if`/`grad` regions nested), the list of named stages a program goes
through (`stages`), an outline of the runtime plan (kernels and host steps),
and `to_dot`, a deterministic Graphviz rendering.  It holds no stage logic:
`stages` runs api's own compile pipeline (`api.compile_stages`: build,
expand_grads, simplify), then autodiff and simplify for gradients, and asks
a `Program` to check the gradient request, so its errors are the API's.
Views print on any console: where its encoding cannot write the symbols
(· ∇ τ …), `encodable_view` spells them in ASCII as `report` does.
Imports `api`, `report`, `autodiff`, `optimize`, `printer`, `ir`, `dtype`,
`runtime.plan` and rich; it sits after `api` and `report` in the layout.
"""
from __future__ import annotations

import io
from types import MappingProxyType
from typing import Iterable, Sequence

import numpy as np
from rich.console import Console, RenderableType
from rich.text import Text
from rich.tree import Tree

from . import optimize, report
from .api import COMPILE_STAGES, Program, compile_stages
from .autodiff import grad_graph
from .dtype import DType
from .ir import Graph, Leaf, Node, Region, Value, walk
from .printer import REGION_NAMES, attr_text
from .runtime.plan import HostStep, IfStep, Launch, Plan, RegionPlan, WhileStep
from .runtime.plan import plan as make_plan

# The named pipeline (style.md habit 5): api's compile stages, in order, then the
# two a gradient request adds on top.
GRAD_STAGES = ("autodiff", "autodiff+simplify")
PLAN_STAGE = "plan"         # not a graph: the runtime schedule of the last graph stage
ALL_STAGES = COMPILE_STAGES + GRAD_STAGES + (PLAN_STAGE,)

# role -> (badge, style); forward nodes ("") have neither.
ROLES = MappingProxyType({"adjoint": ("∇ ", "magenta"), "tape": ("τ ", "yellow")})
HOST_STEPS = MappingProxyType({"const": "host constant", "host": "host scalar op",
                               "alias": "alias (no copy)", "tape": "tape op",
                               "effect": "effect"})
SNIPPET_CHARS = 48          # of a source line shown beside its first node

# ---------------------------------------------------------------- stages

def stage_names(grad: bool) -> tuple[str, ...]:
    """The stages a program goes through: the compile, and with gradients autodiff too."""
    return COMPILE_STAGES + (GRAD_STAGES if grad else ()) + (PLAN_STAGE,)


def stages(source_or_program: str | Program, grad: Iterable[str] | None = None,
           of: str | None = None, seeded: bool = False) -> list[tuple[str, Graph]]:
    """The graph after each named pass, computed by the passes the API itself runs.

    With `grad`, the gradient request is checked by `Program.gradient_graph`
    (unknown names, inputs, several outputs without `of`, integer outputs)
    and the stages `autodiff` and `autodiff+simplify` follow.  A non-scalar
    output is differentiated with a seed parameter, as `gdl run` needs one.
    """
    if isinstance(source_or_program, Program):
        prog = source_or_program
        result = list(compile_stages(prog.source))
    else:       # what api.compile makes, without running the pipeline twice
        result = list(compile_stages(source_or_program))
        prog = Program(source_or_program, result[-1][1])
    graph = result[-1][1]
    wrt = tuple(dict.fromkeys(grad or ()))
    if wrt:
        target = of if of is not None else (prog.outputs[0] if len(prog.outputs) == 1 else None)
        if target in prog.outputs and prog.graph.output_value(target).type.shape != ():
            seeded = True
        checked = prog.gradient_graph(wrt, of, seeded)
        graph = grad_graph(graph, wrt, checked.of, seeded)
        result.append(("autodiff", graph))
        result.append(("autodiff+simplify", optimize.simplify(graph)))
    return result


def stage_title(stage: str, of: str | None = None, wrt: Sequence[str] = ()) -> str:
    """The heading of a stage's view: which graph, after which pass."""
    if stage in GRAD_STAGES:
        return f"gradients of {of} with respect to {', '.join(wrt)} after {stage}"
    if stage == PLAN_STAGE:
        return "plan of the gradient graph" if wrt else "plan of the program"
    return f"program after {stage}"


# ---------------------------------------------------------------- text pieces

def value_ref(v: Value) -> str:
    """A value as the views write it: its source name (if any) and its id, `b%12`."""
    return f"{v.name}%{v.id}" if v.name else f"%{v.id}"


def scalar_text(x: object, dtype: DType | None = None) -> str:
    """A literal as GDL writes it (`2.0`, `0.1` for an f32 0.1, `7`, `true`)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, DType):
        return x.name
    if isinstance(x, float) and dtype is not None and dtype.is_float:
        v = dtype.np.type(x)        # the shortest text that reads back as this f32/f64
        if v == 0 or 1e-4 <= abs(v) < 1e16:
            return np.format_float_positional(v, unique=True, trim="0")
        return np.format_float_scientific(v, unique=True, trim="-")
    return repr(x)


def literal(node: Node) -> str | None:
    """The literal of a scalar `const` node, which the views write inline; else None."""
    if node.op != "const" or len(node.outputs) != 1:
        return None
    if getattr(node.out.type, "shape", None) != ():
        return None
    value = node.attr("value")
    if isinstance(value, tuple):
        if len(value) != 1:
            return None
        value = value[0]
    return scalar_text(value, getattr(node.out.type, "dtype", None))


def literals(graph: Graph) -> dict[Value, str]:
    """Every scalar constant of the graph (initialisers included) and its literal."""
    found: dict[Value, str] = {}
    regions = [lf.init for lf in graph.leaves if lf.init is not None] + [graph.body]
    for region in regions:
        for node, _ in walk(region):
            text = literal(node)
            if text is not None:
                found[node.out] = text
    return found


def attrs_text(node: Node) -> str:
    """Attributes, compact: none that are None, no dtype or shape the result type repeats."""
    out = node.outputs[0].type if len(node.outputs) == 1 else None
    parts = []
    for key, value in node.attrs:
        if value is None:
            continue
        if key == "dtype" and value == getattr(out, "dtype", None):
            continue
        if key == "shape" and value == getattr(out, "shape", None):
            continue
        parts.append(attr_text(key, value))
    return "{" + ", ".join(parts) + "}" if parts else ""


def types_text(values: Sequence[Value]) -> str:
    """The types of a node's outputs, as the printer writes them."""
    return ", ".join(str(v.type) for v in values)


def source_line(source: str | None, line: int) -> str | None:
    """Line `line` of the source, stripped and shortened, or None."""
    if source is None:
        return None
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1].strip()
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS - 1] + "…"


class Names:
    """How one view writes values: scalar constants inline, others as `name%id`."""

    def __init__(self, graph: Graph, consts: bool):
        self.inline = {} if consts else literals(graph)

    def ref(self, v: Value) -> str:
        """A value where it is used: its literal if it is an inlined constant."""
        text = self.inline.get(v)
        return text if text is not None else value_ref(v)

    def hidden(self, node: Node) -> bool:
        """Whether the view leaves this node out (its literal appears where it is used)."""
        return len(node.outputs) == 1 and node.out in self.inline

    def call(self, node: Node) -> str:
        """`op(operands) {attrs}`, the right-hand side of a node."""
        text = f"{node.op}({', '.join(self.ref(v) for v in node.inputs)})"
        attrs = attrs_text(node)
        return f"{text} {attrs}" if attrs else text


def plural(n: int, word: str) -> str:
    """`1 node`, `3 nodes`: counts read as English in headings."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def counts(graph: Graph) -> str:
    """`12 nodes: 8 forward, 1 tape, 3 adjoint; 4 regions`: the size of a graph's body."""
    by_role = {"": 0, "tape": 0, "adjoint": 0}
    regions = 0
    for node, _ in walk(graph.body):
        by_role[node.role] = by_role.get(node.role, 0) + 1
        regions += len(node.regions)
    total = sum(by_role.values())
    parts = [f"{by_role.pop('')} forward"] + [f"{n} {role}" for role, n in by_role.items() if n]
    text = f"{plural(total, 'node')}: {', '.join(parts)}"
    return f"{text}; {plural(regions, 'region')}" if regions else text


# ---------------------------------------------------------------- the tree

def node_label(node: Node, names: Names, snippet: str | None) -> Text:
    """One node: badge, outputs = op(operands) {attrs} : types  @line  # source."""
    badge, style = ROLES.get(node.role, ("", ""))
    label = Text(style=style)
    if badge:
        label.append(badge, style="bold")
    if node.outputs:
        label.append(", ".join(value_ref(o) for o in node.outputs) + " = ")
    label.append(node.op, style="bold")
    label.append(names.call(node)[len(node.op):])        # (operands) {attrs}
    if node.outputs:
        label.append(" : " + types_text(node.outputs), style="cyan")
    if node.span is not None:
        label.append(f"  @{node.span.line}", style="dim")
    if snippet:
        label.append(f"  # {snippet}", style="dim italic")
    return label


def region_label(name: str, region: Region, names: Names) -> Text:
    """A nested region's heading: its role in its op and its params, `body(b%6: f32)`."""
    params = ", ".join(f"{names.ref(p)}: {p.type}" for p in region.params)
    return Text(f"{name}({params})", style="bold blue")


def add_region(parent: Tree, region: Region, names: Names, source: str | None,
               top: bool = False) -> None:
    """Add a region's nodes under `parent`, nested regions as subtrees (a worklist).

    Each region ends with its `yield`, except the `top` one, whose results
    the outputs and gradients name.
    """
    work = [(parent, region)]
    while work:
        tree, reg = work.pop()
        last_line = None
        for node in reg.nodes:
            if names.hidden(node):
                continue
            line = node.span.line if node.span is not None else None
            snippet = source_line(source, line) if line is not None and line != last_line else None
            last_line = line
            branch = tree.add(node_label(node, names, snippet))
            labels = REGION_NAMES.get(node.op, ())
            for i, sub in enumerate(node.regions):
                name = labels[i] if i < len(labels) else f"region{i}"
                work.append((branch.add(region_label(name, sub, names)), sub))
        if not (top and reg is region):
            tree.add(Text("yield " + ", ".join(names.ref(r) for r in reg.results), style="dim"))


def leaf_label(leaf: Leaf, names: Names) -> tuple[Text, bool]:
    """A leaf with its initialiser summarised; True when the initialiser needs a subtree."""
    label = Text()
    label.append(f"{leaf.kind} ", style="green")
    label.append(value_ref(leaf.value), style="bold green")
    label.append(f": {leaf.value.type}", style="cyan")
    expand = False
    if leaf.init is None:
        label.append("  (no default: fed at run time)", style="dim")
    else:
        shown = [n for n in leaf.init.nodes if not names.hidden(n)]
        (result,) = leaf.init.results
        if not shown:
            label.append(" = " + names.ref(result))
        elif len(shown) == 1 and shown[0].outputs == (result,):
            node = shown[0]
            if node.op == "const":      # a literal tensor: its elements, as written
                label.append(" = " + attr_text("value", node.attr("value"))[len("value="):])
            else:
                label.append(" = " + names.call(node))
        else:
            label.append(f" = init ({len(shown)} nodes)")
            expand = True
    if leaf.span is not None:
        label.append(f"  @{leaf.span.line}", style="dim")
    return label, expand


def graph_tree(graph: Graph, title: str = "graph", source: str | None = None,
               consts: bool = False) -> Tree:
    """The readable view of a graph: leaves, body nodes with regions nested, outputs, gradients.

    Scalar constants are written inline where they are used (`mul(a%2, 2.0)`)
    unless `consts`, which keeps big graphs short; `source` adds each
    line's text beside the first node made from it.
    """
    names = Names(graph, consts)
    root = Tree(Text.assemble((title, "bold"), (" · " + counts(graph), "dim")), guide_style="dim")
    for leaf in graph.leaves:
        label, expand = leaf_label(leaf, names)
        branch = root.add(label)
        if expand:
            add_region(branch, leaf.init, names, source)
    for p in graph.body.params[len(graph.leaves):]:
        what = f"the cotangent of {graph.of}" if p is graph.seed else "a parameter"
        root.add(Text.assemble(("param ", "green"), (value_ref(p), "bold green"),
                               (f": {p.type}", "cyan"), (f"  ({what}, fed at run time)", "dim")))
    add_region(root, graph.body, names, source, top=True)
    for name, v in zip(graph.outputs, graph.body.results):
        root.add(Text.assemble(("out ", "green"), (name, "bold green"), f" = {names.ref(v)}"))
    rest = graph.body.results[len(graph.outputs):]
    for name, v in zip(graph.grads, rest):
        root.add(Text.assemble(("grad ", "magenta"), (name, "bold magenta"),
                               (f" (d{graph.of}/d{name})", "dim"), f" = {names.ref(v)}"))
    return root


def legend(consts: bool = False) -> Text:
    """What the marks in a tree mean (two short lines)."""
    text = Text()
    text.append("∇ adjoint node", style="magenta")
    text.append(" (reverse mode)   ", style="dim")
    text.append("τ tape node", style="yellow")
    text.append(" (records for the reverse pass)   unmarked: forward\n"
                "b%4: value %4, named b in the source   @N: source line   # ...: its text",
                style="dim")
    if not consts:
        text.append("   2.0: a constant", style="dim")
    return text


# ---------------------------------------------------------------- the plan

def plan_tree(p: Plan, title: str = "plan", consts: bool = False) -> Tree:
    """The runtime schedule: kernel launches and host steps per region, while/if on the host."""
    launches = sum(1 for _ in _steps(p, Launch))
    root = Tree(Text.assemble((title, "bold"),
                              (f" · {plural(len(p.specs), 'kernel')}, "
                               f"{plural(launches, 'launch step')}", "dim")),
                guide_style="dim")
    names = Names(p.graph, consts)
    work = [(root.add(Text(f"init {name}", style="green")), rp) for name, rp in p.inits.items()]
    work.append((root, p.body))
    work.reverse()
    while work:
        tree, rp = work.pop()
        shown = [step for step in rp.steps if not _hidden_step(step, consts)]
        if not shown and tree is not root:
            tree.add(Text("(constants only)" if rp.steps else "(nothing to run)", style="dim"))
        for step in shown:
            branch = tree.add(step_label(step, names))
            if isinstance(step, Launch):
                for node in step.nodes:
                    branch.add(node_label(node, names, None))
            for name, sub in step_regions(step):
                work.append((branch.add(Text(name, style="bold blue")), sub))
    return root


def _hidden_step(step: object, consts: bool) -> bool:
    """Constants the plan keeps on the host are left out unless asked for."""
    return isinstance(step, HostStep) and step.kind == "const" and not consts


def _steps(p: Plan, kind: type) -> Iterable:
    """Every step of a kind in a plan, nested region plans included."""
    work = list(p.inits.values()) + [p.body]
    while work:
        rp = work.pop()
        for step in rp.steps:
            if isinstance(step, kind):
                yield step
            work.extend(sub for _, sub in step_regions(step))


def step_regions(step: object) -> list[tuple[str, RegionPlan]]:
    """The sub-plans of a host `while`/`if` step, named as in the graph."""
    if isinstance(step, WhileStep):
        return [("cond", step.cond), ("body", step.body)]
    if isinstance(step, IfStep):
        return [("then", step.then), ("else", step.other)]
    return []


def step_label(step: object, names: Names) -> Text:
    """One plan step: which kernels, which nodes they compute, where decisions are made."""
    if isinstance(step, Launch):
        kernels = ", ".join(f"{k.name} ({plural(k.global_size, 'work-item')})"
                            for k in step.specs)
        return Text.assemble(("launch ", "bold"), kernels,
                             (f" · {plural(len(step.nodes), 'node')}", "dim"))
    if isinstance(step, HostStep):
        kernels = f" with {plural(len(step.specs), 'kernel')}" if step.specs else ""
        what = HOST_STEPS.get(step.kind, step.kind)
        return Text(f"{what}{kernels}: " + node_label(step.node, names, None).plain)
    if isinstance(step, WhileStep):
        counted = (", counted: its kernel loops inside, launched once"
                   if step.repeat is not None else "")
        return Text(f"while on the host, carried values on: {', '.join(step.carried)}"
                    f"{counted}  @{_line(step.node)}")
    if isinstance(step, IfStep):
        return Text(f"if on the host, outputs on: {', '.join(step.outputs)}"
                    f"  @{_line(step.node)}")
    return Text(type(step).__name__)


def _line(node: Node) -> str:
    """A node's source line for a heading (`?` for nodes made without one)."""
    return str(node.span.line) if node.span is not None else "?"


def plan_of(graph: Graph) -> Plan:
    """The runtime plan of a graph (no device needed: planning is static)."""
    return make_plan(graph)


# ---------------------------------------------------------------- rendering

class TextBuffer(io.StringIO):
    """A string buffer that names the encoding its text is for, as a stream does.

    rich reads a file's `encoding` to decide whether it may draw box lines.
    """

    def __init__(self, encoding: str):
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:        # type: ignore[override]
        return self._encoding


def render(renderable: RenderableType, width: int = 100, color: bool = False,
           encoding: str = "utf-8") -> str:
    """A rich renderable as text of a fixed width (no colour unless asked): for tests and files.

    Text for a stream of another `encoding` (ASCII, say) has its symbols and
    tree guides spelled so that stream can write them.
    """
    buf = TextBuffer(encoding)
    console = Console(file=buf, width=width, color_system="standard" if color else None,
                      force_terminal=color, highlight=False, emoji=False)
    console.print(encodable_view(console, renderable))
    return buf.getvalue()


def encodable_view(console: Console, view: RenderableType) -> RenderableType:
    """`view`, or a copy with its symbols (· ∇ τ …) in ASCII where `console` can't encode them.

    Each label goes through `report.encodable`, as a report's text does (so
    it loses its styles there); rich itself draws a tree's guides in ASCII
    on such a console.  A new tree is returned: the view is left as it was.
    """
    if isinstance(view, Text):
        return report.encodable(console, view)
    if not isinstance(view, Tree):
        return view

    def relabelled(tree: Tree) -> Tree:
        label = report.encodable(console, tree.label) if isinstance(tree.label, Text) \
            else tree.label
        return Tree(label, style=tree.style, guide_style=tree.guide_style,
                    expanded=tree.expanded, highlight=tree.highlight, hide_root=tree.hide_root)

    root = relabelled(view)
    work = [(view, root)]
    while work:         # a worklist: trees of deep programs are deep
        old, new = work.pop()
        for child in old.children:
            copy = relabelled(child)
            new.children.append(copy)
            work.append((child, copy))
    return root
