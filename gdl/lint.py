"""Gradient lint: gradients that will be NaN or zero, found at compile time.

Graph in, warnings out (`GdlWarning`s with spans; nothing is changed or
printed).  It reads the *built* graph, before `expand_grads`, so that each
`grad(y, x)` of the program is still a node holding the region from x to y.
Three checks, each over a differentiated region: the cone from the values
differentiated with respect to (`wrt`) to the value differentiated.

- `where-nan`: a `where` whose operand is differentiated passes that operand
  a zero cotangent wherever it chooses the other one, and an adjoint that
  multiplies that zero by an infinite derivative gives NaN (0 * inf): the
  trap of PyTorch, TensorFlow and JAX alike.  Flagged: `log` (1/x at 0),
  `log1p` (at -1), `/` (at a zero divisor) and `**` whose exponent is not a
  constant natural number (at a zero or negative base), each in the cone of a
  differentiated `where` operand, unless its argument is known to be safe
  (gdl/bounds.py lists what is recognised) or has nothing to do with the
  condition (see `where_nan`).  `sqrt` is flagged only where its NaN value (for a negative
  argument) reaches an adjoint that reads it, as in `x * sqrt(x)`: sqrt's own
  adjoint passes 0 for a zero cotangent (ops/math.py), so `where(x > 0,
  sqrt(x), 0)` has a finite gradient in GDL.  `exp` is not flagged: its
  derivative is infinite only past overflow.  `if` is never flagged: only
  the taken branch runs, forward and reverse (ops/control_ad.py: the
  adjoint of an `if` is an `if` on the same predicate), so the untaken
  branch's derivatives are never computed.  Ops inside a loop or branch
  that feeds a `where`, and the cones of `where`s in adjoint nodes GDL
  writes itself, are not examined.
- `disconnected`: a requested gradient that is identically zero because
  the differentiated value does not depend on the var (or depends on it
  only through ops that pass no gradient, which are named).
- `non-differentiable`: an op that passes no gradient (`floor`, `sign`,
  `//`, comparisons, `argmax`/`argmin`, casts to integers, `%`'s divisor)
  whose operand is differentiated and whose result reaches the
  differentiated value as data: through arithmetic (including casts), not
  only as a `where` condition, an `if`/`while` condition or an index.
  `stop_grad` says so explicitly and is never flagged.

Not about gradients, but as cheap to find and as costly to miss:

- `endless-loop`: a `while` whose condition is the literal `true`.  GDL has
  no `break`, so it can only end at the iteration limit, with an error,
  after a million iterations: better said before the run than after it.

Imports `ir`, `ops`, `dtype`, `errors`, `bounds`.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Sequence

from .bounds import NONNEGATIVE, NONZERO, POSITIVE, Bound, Bounds, both
from .dtype import differentiable
from .errors import GdlWarning
from .ir import Graph, Node, Region, Value, walk
from .ops import OPS

WHERE_NAN, DISCONNECTED, NON_DIFFERENTIABLE = "where-nan", "disconnected", "non-differentiable"
ENDLESS = "endless-loop"

# How ops are written in programs, where that differs from the op's name.
SPELLING = MappingProxyType({
    "add": "+", "sub": "-", "mul": "*", "div": "/", "neg": "unary -", "pow": "**",
    "floordiv": "//", "mod": "%", "matmul": "@", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "eq": "==", "ne": "!="})
# Inputs that are control, not data, and `stop_grad`'s, cut on purpose: no gradient
# flows through them, and what feeds only them is not on the differentiated path.
CONTROL_INPUTS = MappingProxyType({"where": (0,), "index": (1,), "embed_index": (1,),
                                   "if": (0,), "stop_grad": (0,)})
# Inputs of differentiable ops that get no gradient (language.md §5: `%`'s divisor).
NO_GRAD_INPUTS = MappingProxyType({"mod": (1,)})
# Adjoints that, given a zero cotangent, give zeros whatever the forward values
# (a NaN operand included): a NaN flowing through them meets no multiplication.
ZERO_SAFE = frozenset({"add", "sub", "neg", "reshape", "broadcast_to", "transpose", "slice",
                       "index", "embed_slice", "embed_index", "concat", "cumsum", "sum", "max",
                       "min", "where", "maximum", "minimum", "clip", "relu", "abs", "cast",
                       "mod", "sqrt"})
# Adjoints that multiply the cotangent by the other operands (0 * NaN there).
SCALES = frozenset({"mul", "dot", "matmul"})


def spelled(op: str) -> str:
    return SPELLING.get(op, op)


# ------------------------------------------------------------------ dataflow

def active_values(region: Region, wrt: set[Value]) -> set[Value]:
    """Values depending differentiably on `wrt`, in `region` and the regions inside it.

    Per output through `if` and `while` (a loop-carried value is active once
    its start or the body's result for it is); a `grad` node's result is
    active when any operand is (autodiff expands it into differentiable ops),
    unless its y does not depend on its x: then it is zeros.
    """
    active = {p for p in wrt if differentiable(p.type)}
    for node in region.nodes:
        skip = NO_GRAD_INPUTS.get(node.op, ())
        ins = [v in active and i not in skip for i, v in enumerate(node.inputs)]
        if not any(ins):
            continue
        if node.op == "if":
            outs = [False] * len(node.outputs)
            for r in node.regions:
                inner = active_values(r, {p for p, a in zip(r.params, ins[1:]) if a})
                active |= inner
                outs = [o or res in inner for o, res in zip(outs, r.results)]
        elif node.op == "while":
            k, body = node.attr("n_carried"), node.regions[1]
            while True:
                inner = active_values(body, {p for p, a in zip(body.params, ins) if a})
                new = [a or (i < k and body.results[i] in inner) for i, a in enumerate(ins)]
                if new == ins:
                    break
                ins = new
            active |= inner
            outs = ins[:k]
        elif node.op == "grad":
            (r,) = node.regions
            outs = [r.results[0] in active_values(r, {r.params[0]})]
        elif OPS[node.op].differentiable:
            outs = [True] * len(node.outputs)
        else:
            continue
        active.update(o for o, a in zip(node.outputs, outs) if a and differentiable(o.type))
    return active


def needed_values(region: Region, results: set[Value], mode: str) -> set[Value]:
    """Values that `results` depend on, by `mode`: "gradient" (a cotangent of them
    reaches the value), "data" (also through ops that pass no gradient) or
    "control" (also as a `where` condition, an `if`/`while` condition or an index).
    """
    control = mode == "control"
    need = set(results)
    for node in reversed(region.nodes):
        outs = [o in need for o in node.outputs]
        if not any(outs):
            continue
        if node.op == "if":
            if control:
                need.add(node.inputs[0])
            for r in node.regions:
                inner = needed_values(r, {x for x, o in zip(r.results, outs) if o}, mode)
                need |= inner
                need.update(v for v, p in zip(node.inputs[1:], r.params) if p in inner)
        elif node.op == "while":
            k, (cond, body) = node.attr("n_carried"), node.regions
            want = outs
            while True:
                inner = needed_values(body, {x for x, w in zip(body.results, want) if w}, mode)
                new = [w or body.params[i] in inner for i, w in enumerate(want)]
                if new == want:
                    break
                want = new
            used = {p for p in body.params if p in inner}
            if control:
                inner |= needed_values(cond, set(cond.results), mode)
                used |= {p for p in cond.params if p in inner}
            need |= inner
            need.update(v for i, v in enumerate(node.inputs)
                        if (i < k and want[i]) or body.params[i] in used
                        or cond.params[i] in used)
        elif mode != "gradient" or passes_gradient(node):
            skip = () if control else CONTROL_INPUTS.get(node.op, ())
            if mode == "gradient":
                skip += NO_GRAD_INPUTS.get(node.op, ())
            need.update(v for i, v in enumerate(node.inputs) if i not in skip)
    return need


def passes_gradient(node: Node) -> bool:
    """Whether a cotangent of `node`'s result can flow back to its operands."""
    if node.op == "cast":
        return differentiable(node.inputs[0].type) and differentiable(node.out.type)
    return node.op == "grad" or OPS[node.op].differentiable


def regions_within(region: Region) -> list[Region]:
    """`region` and the `if` branches and `while` bodies inside it (not `grad`s: each
    is linted as its own differentiation; not loop conditions: they are control)."""
    found, stack = [], [region]
    while stack:
        r = stack.pop()
        found.append(r)
        for node in r.nodes:
            if node.op == "if":
                stack.extend(node.regions)
            elif node.op == "while":
                stack.append(node.regions[1])
    return found


# ------------------------------------------------------------------ where-nan

@dataclass(frozen=True)
class Singular:
    """An op whose derivative is infinite at some argument: which operand, and what
    must be known of it for the derivative to stay finite."""

    operand: int
    safe: Bound           # what the operand must be known to be
    why: str
    fix: str


def singular(node: Node, bounds: Bounds) -> Singular | None:
    """How `node` can be singular, or None where its op cannot (or its exponent keeps it)."""
    op = node.op
    if op == "log":
        return Singular(0, POSITIVE, "log'(x) = 1/x, infinite at x = 0", "log(where(c, {}, 1))")
    if op == "log1p":
        return Singular(0, Bound(-1.0, True), "log1p'(x) = 1/(1 + x), infinite at x = -1",
                        "log1p(where(c, {}, 0))")
    if op == "sqrt":
        return Singular(0, NONNEGATIVE, "", "sqrt(where(c, {}, 1))")
    if op == "div":
        return Singular(1, NONZERO, "the derivative of a / b, infinite at b = 0",
                        "a / where(c, {}, 1)")
    if op == "pow":
        e = bounds.constants(node.inputs[1])
        if e is not None and all(x.is_integer() and x >= 0 for x in e):
            return None
        if e is not None and all(x.is_integer() for x in e):
            need, at = NONZERO, "a = 0"
        elif e is not None and all(x >= 1 for x in e):
            need, at = NONNEGATIVE, "a < 0"
        else:
            need, at = POSITIVE, "a <= 0"
        return Singular(0, need, f"the derivative of a ** b, not finite at {at}",
                        "where(c, {}, 1) ** b")
    return None


def cone(producers: dict[Value, Node], v: Value, active: set[Value]) -> set[Node]:
    """The nodes of a region (`producers`: its values' nodes) through which a
    cotangent of `v` flows back."""
    seen: set[Node] = set()
    stack = [v]
    while stack:
        n = producers.get(stack.pop())
        if n is None or n in seen:
            continue
        seen.add(n)
        skip = CONTROL_INPUTS.get(n.op, ()) + NO_GRAD_INPUTS.get(n.op, ())
        if n.op in ("while", "if", "grad"):
            continue        # not followed inside; see the module docstring
        stack.extend(x for i, x in enumerate(n.inputs) if i not in skip and x in active)
    return seen


def reader_of_nan(start: Node, within: list[Node], active: set[Value]) -> Node | None:
    """The first node of `within` (in order) whose adjoint multiplies a value computed
    from `start`'s output (NaN there) by a cotangent, or None where none does."""
    nan = set(start.outputs)
    for n in within[within.index(start) + 1:]:
        hit = [i for i, x in enumerate(n.inputs) if x in nan]
        if not hit:
            continue
        if n.op in SCALES:
            if any(x in active and any(h != j for h in hit) for j, x in enumerate(n.inputs)):
                return n
        elif n.op == "div":
            if 1 in hit or n.inputs[1] in active:
                return n
        elif n.op not in ZERO_SAFE:
            return n
        nan.update(n.outputs)
    return None


def ancestors(producers: dict[Value, Node], v: Value) -> set[Value]:
    """`v` and every value of the region it is computed from."""
    seen, stack = set(), [v]
    while stack:
        x = stack.pop()
        if x not in seen:
            seen.add(x)
            if x in producers:
                stack.extend(producers[x].inputs)
    return seen


def where_nan(region: Region, active: set[Value], needed: set[Value],
              warned: set[Node]) -> list[GdlWarning]:
    """`where-nan` warnings of one region (nodes already in `warned` are not repeated).

    A singular op counts only where its argument and the `where`'s condition
    are computed from a common value: the condition is what keeps the
    singular point out of the side it chooses (`where(x > 0, log(x), 0)`).
    An argument that has nothing to do with the condition (`x / s` for a
    var `s`) would make the chosen side infinite as well.  Nor does it count
    where the condition keeps the singular point out of the region where
    its side is *not* chosen (`1 / x` in `where(x > 0, 2 * x, 1 / x)`).
    """
    found = []
    bounds = Bounds(region)
    order = {n: i for i, n in enumerate(region.nodes)}
    for w in region.nodes:
        if w.op != "where" or w.role or w.out not in needed:
            continue
        guarded = ancestors(bounds.producers, w.inputs[0])
        for j, side in enumerate(w.inputs[1:]):
            if side not in active:
                continue
            within = sorted(cone(bounds.producers, side, active), key=order.__getitem__)
            for s in within:
                info = None if s.role or s in warned else singular(s, bounds)
                if info is None:
                    continue
                arg = s.inputs[info.operand]
                untaken = both(bounds.of(arg), bounds.guard(w.inputs[0], arg, j == 1))
                if untaken.implies(info.safe) or \
                        guarded.isdisjoint(ancestors(bounds.producers, arg)):
                    continue
                name = arg.name or "x"
                hint = (f"make the argument safe first (the double-where trick): "
                        f"{info.fix.format(name)} with c the condition of the `where` on "
                        f"line {line_of(w)}")
                side_text = f"where the `where` on line {line_of(w)} does not choose this side"
                if info.why:
                    message = (f"NaN gradient through `{spelled(s.op)}`: {side_text}, the zero "
                               f"gradient it passes back meets {info.why} (0 * inf = NaN)")
                else:
                    reader = reader_of_nan(s, within, active)
                    if reader is None:
                        continue
                    message = (f"NaN gradient through `sqrt`: {side_text}, sqrt of a "
                               f"negative argument is NaN, and the adjoint of "
                               f"`{spelled(reader.op)}` on line {line_of(reader)} multiplies "
                               f"it by the zero gradient (0 * NaN = NaN)")
                warned.add(s)
                found.append(GdlWarning(WHERE_NAN, message, s.span, hint))
    return found


def line_of(node: Node) -> str:
    return str(node.span.line) if node.span else "?"


# ------------------------------------------------------------------ zero gradients

def passes_none(node: Node, active: set[Value]) -> str | None:
    """Which op passes no gradient to an active operand (a phrase), or None."""
    op = node.op
    if op in ("stop_grad", "grad") or OPS[op].effect or node.role:
        return None
    if op == "mod":
        return "the divisor of `%`" if node.inputs[1] in active else None
    if not any(v in active for v in node.inputs):
        return None
    if op == "cast" and not differentiable(node.out.type):
        return f"the cast to {node.out.type.dtype}"
    if OPS[op].differentiable:
        return None
    if op in ("lt", "le", "gt", "ge", "eq", "ne"):
        return f"the comparison `{spelled(op)}`"
    return f"`{spelled(op)}`"


def non_differentiable(region: Region, active: set[Value], needed: set[Value],
                       of_text: str) -> list[GdlWarning]:
    """`non-differentiable` warnings: zero-gradient ops whose result is data of `of`."""
    found = []
    for n in region.nodes:
        what = passes_none(n, active)
        if what is None or not any(o in needed for o in n.outputs):
            continue
        why = "by definition, language.md §5" if n.op == "mod" else "it is piecewise constant"
        message = f"{what} passes no gradient ({why}): {of_text} gets nothing back through it"
        hint = ("if that is intended, say so with stop_grad(...) around its operand "
                "(stop_grad is never warned about)")
        found.append(GdlWarning(NON_DIFFERENTIABLE, message, n.span, hint))
    return found


def cut_points(region: Region, active: set[Value], reaching: set[Value]) -> str:
    """The zero-gradient ops through which the differentiated value still depends on
    the var, as `argmax` on line 3, ... (empty when it does not depend on it at all)."""
    shown = []
    for r in regions_within(region):
        for n in r.nodes:
            what = passes_none(n, active)
            if n.op == "stop_grad" and n.inputs[0] in active:
                what = "`stop_grad`"
            if what is not None and any(o in reaching for o in n.outputs):
                shown.append(f"{what} on line {line_of(n)}")
    return ", ".join(dict.fromkeys(shown[:3]))


def differentiated(region: Region, wrt: set[Value], result: Value, of_text: str,
                   warned: set[Node]) -> tuple[set[Value], list[GdlWarning]]:
    """The values active in `region`, and the `where-nan` and `non-differentiable`
    warnings of differentiating `result` with respect to `wrt`."""
    active = active_values(region, wrt)
    found = []
    data, gradient = (needed_values(region, {result}, m) for m in ("data", "gradient"))
    for r in regions_within(region):
        found += where_nan(r, active, gradient, warned)
        found += non_differentiable(r, active, data, of_text)
    return active, found


def quoted(v: Value, fallback: str) -> str:
    return f"`{v.name}`" if v.name else fallback


# ------------------------------------------------------------------ entry

def endless_loops(region: Region) -> list[GdlWarning]:
    """The program's `while true` loops (see the module docstring)."""
    found = []
    for node, _ in walk(region):
        if node.op != "while" or node.role != "":
            continue
        cond = node.regions[0]
        made = next((n for n in cond.nodes if cond.results[0] in n.outputs), None)
        if made is not None and made.op == "const" and all(made.attr("value")):
            found.append(GdlWarning(
                ENDLESS, "this loop's condition is always true and GDL has no `break`: it "
                "runs until the iteration limit and then stops with an error", node.span,
                "make the condition depend on a value the body changes"))
    return found


def lint(graph: Graph, wrt: Sequence[str] = (), of: str | None = None) -> tuple[GdlWarning, ...]:
    """The warnings of the program's own `grad(y, x)` calls and, given `wrt` and `of`,
    of differentiating output `of` with respect to the vars `wrt` (a run's `grad=`).

    `graph` is the built graph (`api.compile_stages`' first stage); warnings
    come in source order, each once.  Endless loops are warned of always.
    """
    found: list[GdlWarning] = endless_loops(graph.body)
    warned: set[Node] = set()
    for node, depth in walk(graph.body):
        if node.op != "grad":
            continue
        region = node.regions[0]
        x, y = region.params[0], region.results[0]
        y_text = quoted(y, "its first argument")
        active, more = differentiated(region, {x}, y, f"the `grad` on line {line_of(node)}",
                                      warned)
        found += more
        if y not in active:
            through = cut_points(region, active, needed_values(region, {y}, "control"))
            why = (f"depends on `{x.name}` only through ops that pass no gradient ({through})"
                   if through else f"does not depend on `{x.name}`")
            block = " in this block (grad differentiates within its own block)" if depth else ""
            found.append(GdlWarning(DISCONNECTED, f"this grad is zero everywhere: {y_text} "
                                    f"{why}{block}", node.span))
    if wrt and of is not None:
        body, out = graph.body, graph.output_value(of)
        leaves = [graph.leaf(name) for name in dict.fromkeys(wrt)]
        _, more = differentiated(body, {lf.value for lf in leaves}, out,
                                 f"the gradient of `{of}`", warned)
        found += more
        reaching = None
        for leaf in leaves:
            active = active_values(body, {leaf.value})
            if out in active:
                continue
            if reaching is None:
                reaching = needed_values(body, {out}, "control")
            through = cut_points(body, active, reaching)
            why = (f"depends on `{leaf.name}` only through ops that pass no gradient "
                   f"({through})" if through else f"does not depend on `{leaf.name}`")
            found.append(GdlWarning(DISCONNECTED, f"`{of}` {why}, so d{of}/d{leaf.name} is "
                                    "zero everywhere", leaf.span))
    return tuple(sorted(dict.fromkeys(found), key=position))


def lint_every_gradient(graph: Graph) -> tuple[GdlWarning, ...]:
    """`lint` as if every var were differentiated, each float output in turn (what
    `gdl check` shows without --grad), without `disconnected`: no gradient was
    asked for.  Each warning once per place, worded for the first output."""
    found = list(lint(graph))
    names = tuple(lf.name for lf in graph.leaves if lf.kind == "var")
    for of in graph.outputs:
        if names and graph.output_value(of).type.dtype.is_float:
            found += (w for w in lint(graph, names, of) if w.code != DISCONNECTED)
    once = {(w.code, w.span): w for w in reversed(found)}
    return tuple(sorted(once.values(), key=lambda w: (position(w), w.code)))


def position(w: GdlWarning) -> tuple[int, int]:
    return (w.span.line, w.span.column) if w.span else (0, 0)
