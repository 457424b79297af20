"""AST -> Graph: names, scopes, SSA, loop-carried values, types and errors.

Owns the meaning of a program's text (language.md §1-§4): which name means
which value at each point (SSA renaming: re-binding makes a new value),
which names a `while` carries, which names an `if` joins, block-local
names, weak literals, and every compile-time error with its span.  The
result is a closed, fully typed `Graph`; `var` initialisers and `input`
defaults become regions the device evaluates unless a value is supplied.
Imports `syntax`, `expressions`, `ir`, `ops`, `builtins`, `weak`, `dtype`, `errors`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import syntax as ast
from .builtins import LANGUAGE_BUILTINS
from .dtype import (BOOL, DEFAULT_FOR_KIND, DTYPES, TensorType, common_dtype, meet_weak,
                    rank_problem)
from .errors import GdlError, GdlTypeError, Span
from .expressions import AUG_OPS, BINARY_OPS, KEYWORDS, ExpressionBuilder, Operand, type_of
from .ir import Builder, Graph, IdSource, Leaf, Region, Value, inline
from .scopes import Binding, Block, FnBlock, assigned_names
from .ops import OPS, emitter
from .weak import Weak, emit as emit_weak

MAX_CALL_NOTES = 4          # an error deep in nested calls names the innermost few


@dataclass(frozen=True)
class Function:
    """An `fn` definition: inlined at each call, seeing the names bound before it."""

    name: str
    params: tuple[tuple[str, Span], ...]
    body: tuple
    result: ast.Expr
    snapshot: dict
    span: Span


class GraphBuilder(ExpressionBuilder):
    """Builds one program's Graph; `build()` is the entry point."""

    def __init__(self, program: ast.Program, allow_bare_expressions: bool = False,
                 source: str | None = None):
        self.program = program
        self.ids = IdSource(0)
        self.top = Block(self.ids, None)
        self.block = self.top
        self.leaves: list[Leaf] = []
        self.outs: dict[str, Span] = {}
        self.allow_bare = allow_bare_expressions
        self.bare_values: list[tuple[Value, Span]] = []
        self.functions: dict[str, Function] = {}
        self.calling: list[str] = []          # the fns being inlined, outermost first
        self.source = source

    # ------------------------------------------------------------ statements

    def check_bindable(self, name: str, span: Span) -> None:
        if name in self.functions:
            raise GdlTypeError(f"`{name}` is an `fn` and cannot be re-bound", span)
        if name in KEYWORDS:
            raise GdlTypeError(f"`{name}` is a keyword and cannot be bound", span)
        if name in LANGUAGE_BUILTINS:
            raise GdlTypeError(f"`{name}` is a built-in name and cannot be re-bound; "
                               "choose another name", span)

    def stmts(self, stmts: tuple) -> None:
        for stmt in stmts:
            self.stmt(stmt)

    def stmt(self, s) -> None:
        top_only = (ast.VarDecl, ast.InputDecl, ast.Out, ast.FnDef)
        if isinstance(s, top_only) and self.block is not self.top:
            word = {ast.VarDecl: "var", ast.InputDecl: "input", ast.Out: "out",
                    ast.FnDef: "fn"}[type(s)]
            raise GdlTypeError(f"`{word}` belongs at the top level of a program, not inside "
                               "a block", s.span)
        if isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.VarDecl):
            self.declare(s.name, s.name_span, "var", s.type, s.value, s.span)
        elif isinstance(s, ast.InputDecl):
            self.declare(s.name, s.name_span, "input", s.type, s.default, s.span)
        elif isinstance(s, ast.Out):
            self.out(s)
        elif isinstance(s, ast.While):
            self.while_loop(s)
        elif isinstance(s, ast.If):
            self.if_chain(s)
        elif isinstance(s, ast.ExprStmt):
            if not self.allow_bare:
                raise GdlTypeError("this expression's value is not used; bind it to a name "
                                   "(`y = ...`)", s.span)
            self.bare_values.append((self.to_value(self.expr(s.expr), None, s.span), s.span))
        elif isinstance(s, ast.FnDef):
            self.define(s)
        elif isinstance(s, ast.Return):
            where = "at the end of an `fn` body" if self.calling else "inside an `fn` body"
            raise GdlTypeError(f"`return` belongs {where}", s.span)
        elif isinstance(s, ast.Assert):
            cond = self.condition(s.cond, "an `assert`")
            self.e(s.span).node("assert", cond, message=s.message)
        elif isinstance(s, ast.Print):
            values = [self.to_value(self.expr(a), None, a.span) for a in s.args]
            labels = tuple(self.text_of(a.span) for a in s.args)
            self.e(s.span).node("print", *values, labels=labels)
        else:
            raise AssertionError(f"unknown statement {type(s).__name__}")

    def text_of(self, span: Span) -> str:
        """The source text of a one-line span (print labels), or a placeholder."""
        if self.source is None or span.end_line != span.line:
            return "..."
        line = self.source.splitlines()[span.line - 1]
        return line[span.column - 1:span.end_column - 1]

    # ------------------------------------------------------------ functions

    def define(self, s: ast.FnDef) -> None:
        """Record an `fn`; its body is built at each call, with the names bound now."""
        self.check_bindable(s.name, s.name_span)
        if s.name in self.functions or self.top.lookup(s.name) is not None:
            raise GdlTypeError(f"`{s.name}` is already defined; an `fn` needs a new name",
                               s.name_span)
        seen: set[str] = set()
        for p, pspan in s.params:
            self.check_bindable(p, pspan)
            if p in self.functions:
                raise GdlTypeError(f"`{p}` is an `fn` and cannot be a parameter name", pspan)
            if p in seen:
                raise GdlTypeError(f"parameter `{p}` is listed twice", pspan)
            seen.add(p)
        if not s.body or not isinstance(s.body[-1], ast.Return):
            raise GdlTypeError(f"`fn {s.name}` must end with `return EXPR`", s.span)
        self.functions[s.name] = Function(s.name, s.params, s.body[:-1], s.body[-1].value,
                                          dict(self.top.names), s.span)

    def inline_call(self, fn: Function, node: ast.Call, args: list) -> Operand:
        """The value of a call: the body built in the caller's region, fresh names."""
        if fn.name in self.calling:
            cycle = " -> ".join(self.calling[self.calling.index(fn.name):] + [fn.name])
            raise GdlTypeError(f"recursive call to `{fn.name}` ({cycle}); functions are "
                               "inlined, so recursion is not allowed", node.span)
        if node.kwargs:
            raise GdlTypeError(f"`{fn.name}` takes positional arguments only, found "
                               f"`{node.kwargs[0].name}=`", node.kwargs[0].span)
        if len(args) != len(fn.params):
            names = ", ".join(p for p, _ in fn.params)
            raise GdlTypeError(f"`{fn.name}` takes {len(fn.params)} argument(s) ({names}), "
                               f"found {len(args)}", node.span)
        blk = FnBlock(self.block, self.top, fn.snapshot)
        for (p, pspan), a in zip(fn.params, args):
            blk.names[p] = Binding(self.tensor(a, node.span), pspan, "let")
        outer, self.block = self.block, blk
        self.calling.append(fn.name)
        try:
            self.stmts(fn.body)
            return self.expr(fn.result)
        except GdlError as err:     # the body's line is not enough: say which call failed
            if err.span is not None and len(err.notes) < MAX_CALL_NOTES:
                types = ", ".join(type_of(a) for a in args)
                err.notes += (f"in `{fn.name}({types})`, called at line {node.span.line}, "
                              f"column {node.span.column}",)
            raise
        finally:
            self.calling.pop()
            self.block = outer

    # ------------------------------------------------------------ grad()

    def grad_call(self, node: ast.Call, args: list) -> Operand:
        """grad(y, x[, seed]): a `grad` node over the nodes of this block from x to y.

        Only the dependence inside the innermost block counts: values the
        block reads from outside (carried in from earlier iterations, too)
        are constants of the node's region.  The autodiff pass expands it.
        """
        if node.kwargs:
            kw = node.kwargs[0]
            raise GdlTypeError(f"`grad` takes no keyword arguments, found `{kw.name}=`; "
                               "expected grad(y, x) or grad(y, x, seed)", kw.span)
        if not 2 <= len(node.args) <= 3:
            raise GdlTypeError(f"`grad` takes 2 or 3 arguments, grad(y, x) or grad(y, x, seed); "
                               f"found {len(node.args)}", node.span)
        target = node.args[1]
        if not isinstance(target, ast.Name):
            raise GdlTypeError("the second argument of `grad` must be a name (the value to "
                               "differentiate with respect to)", target.span)
        binding = self.block.lookup(target.name)
        if binding.kind == "input":
            raise GdlTypeError(f"`{target.name}` is an input, which has no gradient; declare it "
                               f"with `var {target.name} ...` to differentiate", target.span)
        x = args[1]
        if not isinstance(x, Value) or not x.type.dtype.is_float:
            raise GdlTypeError(f"cannot differentiate with respect to `{target.name}` of type "
                               f"{type_of(x)}: it must be a float tensor value (a literal has "
                               "no dtype yet; e.g. f32(0.5) has one)", target.span)
        y = self.tensor(args[0], node.span)
        if isinstance(y, Weak) or not y.type.dtype.is_float:
            if not isinstance(y, Weak):
                raise GdlTypeError(f"`grad` needs a float value to differentiate, found "
                                   f"{y.type}", node.args[0].span)
            return self.e(node.span).zeros(x.type)           # a constant: zero gradient
        seed = None
        if len(args) == 3:
            seed = self.to_value(args[2], y.type.dtype, node.args[2].span)
            if seed.type != y.type:
                raise GdlTypeError(f"the seed of `grad` must have the shape of y, {y.type}; found "
                                   f"{seed.type}", node.args[2].span)
        elif y.type.shape:
            raise GdlTypeError(f"`grad` of a non-scalar ({y.type}) needs a seed: grad(y, x, "
                               "seed) with seed of y's shape, or take grad(sum(y), x)", node.span)
        region, constants = self.cone(x, y)
        inputs = (x,) + constants + ((seed,) if seed is not None else ())
        return self.e(node.span).node("grad", *inputs, regions=(region,),
                                      seeded=seed is not None).out

    def cone(self, x: Value, y: Value) -> tuple[Region, tuple[Value, ...]]:
        """The nodes of this block on a path from x to y, as a region over (x, constants)."""
        nodes = self.block.b.nodes
        reach, downstream = {x}, set()     # values and nodes that depend on x
        for n in nodes:
            if any(i in reach for i in n.inputs):
                reach.update(n.outputs)
                downstream.add(n)
        need, cone = {y}, []
        for n in reversed(nodes):
            if n in downstream and any(o in need for o in n.outputs):
                cone.append(n)
                need.update(n.inputs)
        cone.reverse()
        made = {o for n in cone for o in n.outputs}
        constants = tuple(dict.fromkeys(v for n in cone for v in n.inputs
                                        if v not in made and v is not x))
        if y not in made and y is not x and y not in constants:
            constants += (y,)
        params = tuple(self.block.b.fresh(v.type, v.name) for v in (x,) + constants)
        b = Builder(self.ids)
        (result,) = inline(b, Region((x,) + constants, tuple(without_effects(cone)), (y,)),
                           params)
        return b.region(params, (result,)), constants

    def assign(self, s: ast.Assign) -> None:
        self.check_bindable(s.name, s.name_span)
        if s.op == "=":
            value = self.expr(s.value)
        else:
            current = self.name(s.name, s.name_span)
            value = self.apply(BINARY_OPS[AUG_OPS[s.op]], [current, self.expr(s.value)], {},
                               s.span)
        if not isinstance(value, (Weak, Value)):
            value = self.to_value(value, None, s.span)
        self.block.bind(s.name, value, s.name_span)

    def declare(self, name, name_span, kind, declared, value_expr, span) -> None:
        """A `var` or `input`: a graph leaf with its initialiser as a region."""
        self.check_bindable(name, name_span)
        if any(lf.name == name for lf in self.leaves):
            raise GdlTypeError(f"`{name}` is declared twice", name_span)
        if self.top.lookup(name) is not None:
            raise GdlTypeError(f"`{name}` is already bound; a {kind} needs a new name",
                               name_span)
        want = self.declared_type(declared) if declared is not None else None
        init = None
        if value_expr is not None:
            init, got = self.initialiser(name, kind, want, value_expr)
            want = want or got
        if kind == "var" and not want.dtype.is_float:
            raise GdlTypeError(f"var `{name}` must be a float tensor (f32 or f64), found {want}; "
                               "use `input` for integer or bool data", name_span)
        param = self.top.b.fresh(want, name)
        self.leaves.append(Leaf(name, kind, param, init, span))
        self.top.bind(name, param, name_span, kind)

    def declared_type(self, t: ast.TypeExpr) -> TensorType:
        if t.dtype not in DTYPES:
            raise GdlTypeError(f"unknown dtype `{t.dtype}`; expected one of f32, f64, i32, bool",
                               t.span)
        for d in t.shape:
            if d < 1:
                raise GdlTypeError(f"type {t.dtype}{list(t.shape)} has a dimension below 1; "
                                   "every dimension is at least 1", t.span)
        problem = rank_problem(tuple(t.shape))
        if problem:
            raise GdlTypeError(f"type {t.dtype}[...] has {problem}", t.span)
        return TensorType(DTYPES[t.dtype], tuple(t.shape))

    def initialiser(self, name, kind, want, value_expr) -> tuple[Region, TensorType]:
        """The region computing a var's initial value or an input's default."""
        what = f"the initial value of var `{name}`" if kind == "var" else \
            f"the default of input `{name}`"
        outer, self.block = self.block, Block(self.ids, self.top, isolated=what)
        try:
            operand = self.expr(value_expr)
            span = value_expr.span
            if want is None:
                value = self.to_value(operand, None, span)
            else:
                value = self.coerce(operand, want, span,
                                    f"{kind} `{name}` is declared {want}")
            region = self.block.b.region((), (value,))
        finally:
            self.block = outer
        return region, value.type

    def coerce(self, operand: Operand, want: TensorType, span, context: str) -> Value:
        """`operand` as exactly `want`: weak values take its dtype, strong must match."""
        if isinstance(operand, Weak):
            ok = meet_weak(want.dtype, operand.kind) == want.dtype and operand.shape == want.shape
            if ok:
                return self.to_value(operand, want.dtype, span)
        elif isinstance(operand, Value) and operand.type == want:
            return operand
        raise GdlTypeError(f"{context} but its value is {type_of(operand)}", span)

    def out(self, s: ast.Out) -> None:
        for name, span in s.names:
            if name in self.outs:
                raise GdlTypeError(f"`{name}` is already an output", span)
            if self.top.lookup(name) is None:
                self.name(name, span)       # raises the unknown-name error
            self.outs[name] = span

    # ------------------------------------------------------------ control flow

    def strong(self, operand: Operand, span) -> Value:
        return self.to_value(operand, None, span)

    def condition(self, expr: ast.Expr, what: str) -> Value:
        value = self.strong(self.expr(expr), expr.span)
        if value.type != TensorType(BOOL, ()):
            raise GdlTypeError(f"{what} condition must be a bool scalar, found {value.type} "
                               "(compare explicitly, e.g. `x > 0`)", expr.span)
        return value

    def child(self, body: tuple, params: dict[str, Value]) -> Block:
        """Build `body` in a new child block whose given names start as params."""
        outer = self.block
        blk = Block(self.ids, outer)
        for name, p in params.items():
            blk.names[name] = Binding(p, outer.lookup(name).span, "let")
        self.block = blk
        try:
            self.stmts(body)
        finally:
            self.block = outer
        return blk

    def while_loop(self, s: ast.While) -> None:
        outer = self.block
        names = [n for n in assigned_names(s.body) if outer.lookup(n) is not None]
        init = {n: self.strong(outer.lookup(n).operand, s.span) for n in names}
        # Cond and body each get their own params for the carried values.
        cond_params = {n: outer.b.fresh(v.type, n) for n, v in init.items()}
        body_params = {n: outer.b.fresh(v.type, n) for n, v in init.items()}
        cond_blk = Block(self.ids, outer)
        for n, p in cond_params.items():
            cond_blk.names[n] = Binding(p, s.span, "let")
        self.block = cond_blk
        try:
            pred = self.condition(s.cond, "a `while`")
        finally:
            self.block = outer
        body_blk = self.child(s.body, body_params)
        results = []
        for n in names:
            v = body_blk.lookup(n).operand
            want = init[n].type
            if isinstance(v, Weak) and meet_weak(want.dtype, v.kind) == want.dtype \
                    and v.shape == want.shape:
                v = emit_weak(emitter(body_blk.b, s.span), v, want.dtype)
            if not isinstance(v, Value) or v.type != want:
                raise GdlTypeError(
                    f"the loop changes the type of `{n}`: it is {want} before the loop and "
                    f"{type_of(v)} after the body; a loop-carried value keeps its dtype and "
                    "shape", s.span)
            results.append(v)
        self.mark_locals(body_blk, names, "the while body", s.span)
        invariants = list(dict.fromkeys(list(cond_blk.captured) + list(body_blk.captured)))
        cond_r = self.region(cond_blk, list(cond_params.values()), invariants, [pred])
        body_r = self.region(body_blk, list(body_params.values()), invariants, results)
        node = self.e(s.span).node("while", *init.values(), *invariants,
                                   regions=(cond_r, body_r), n_carried=len(names))
        for n, out in zip(names, node.outputs):
            outer.bind(n, out, outer.lookup(n).span)

    def region(self, blk: Block, params: list[Value], invariants: list[Value],
               results: list[Value]) -> Region:
        """Close `blk` over `params` then one param per invariant operand."""
        inv = [blk.captured.get(v) or blk.b.fresh(v.type, v.name) for v in invariants]
        return blk.b.region(tuple(params) + tuple(inv), tuple(results))

    def mark_locals(self, blk: Block, carried, where: str, span: Span) -> None:
        for n in blk.assigned:
            if n not in carried:
                self.block.tombstones[n] = f"{where} (bound at line {blk.assigned[n].line})" \
                    if blk.assigned[n] else where

    def if_chain(self, s: ast.If) -> None:
        cond, body, head = s.branches[0]
        pred = self.condition(cond, "an `if`")
        then_blk = self.child(body, {})
        rest = s.orelse
        if len(s.branches) > 1:
            rest = (ast.If(s.branches[1][2], s.branches[1:], s.orelse),)
        else_blk = self.child(rest or (), {})
        outer = self.block
        joined = []
        for n in list(dict.fromkeys(list(then_blk.assigned) + list(else_blk.assigned))):
            both = n in then_blk.assigned and n in else_blk.assigned
            if both or outer.lookup(n) is not None:
                joined.append(n)
        values = [self.join(n, then_blk, else_blk, head) for n in joined]
        for blk in (then_blk, else_blk):
            self.mark_locals(blk, joined, "the if branch", head)
        operands = list(dict.fromkeys(list(then_blk.captured) + list(else_blk.captured)))
        then_r = self.region(then_blk, [], operands, [v[0] for v in values])
        else_r = self.region(else_blk, [], operands, [v[1] for v in values])
        node = self.e(head).node("if", pred, *operands, regions=(then_r, else_r))
        for n, out in zip(joined, node.outputs):
            prior = outer.lookup(n)
            outer.bind(n, out, prior.span if prior else head)

    def join(self, name: str, then_blk: Block, else_blk: Block, span: Span) -> tuple[Value, Value]:
        """The two branch values of a joined name, at one strong type (or an error)."""
        a, b = then_blk.lookup(name).operand, else_blk.lookup(name).operand
        strong = [o.type for o in (a, b) if isinstance(o, Value)]
        if strong:
            want = strong[0]
        else:
            kind = common_dtype([(None, a.kind), (None, b.kind)])[1]
            want = TensorType(DEFAULT_FOR_KIND[kind], a.shape)
        out = []
        for blk, o in ((then_blk, a), (else_blk, b)):
            if isinstance(o, Weak) and meet_weak(want.dtype, o.kind) == want.dtype \
                    and o.shape == want.shape:
                o = emit_weak(emitter(blk.b, span), o, want.dtype)
            out.append(o)
        if any(not isinstance(o, Value) or o.type != want for o in out):
            raise GdlTypeError(
                f"`{name}` has type {type_of(a)} in the then-branch but {type_of(b)} in the "
                "else-branch; a name joined after an `if` needs one type in every branch", span)
        return out[0], out[1]

    # ------------------------------------------------------------ the graph

    def build(self) -> Graph:
        self.stmts(self.program.stmts)
        if not self.program.stmts and not self.allow_bare:
            raise GdlTypeError("the program is empty (blank lines and comments only); expected "
                               "statements and an `out NAME` naming its outputs")
        if not self.outs and not self.allow_bare:
            raise GdlTypeError("the program has no `out` statement; add `out NAME` naming its "
                               "outputs")
        results = []
        for name, span in self.outs.items():
            operand = self.top.lookup(name).operand
            results.append(self.to_value(operand, None, span))
        params = tuple(lf.value for lf in self.leaves)
        body = self.top.b.region(params, tuple(results))
        return Graph(body, tuple(self.leaves), tuple(self.outs), self.ids.next)


def without_effects(nodes) -> list:
    """Nodes with print/assert removed, nested regions too: they ran where they stand."""
    out = []
    for n in nodes:
        if OPS[n.op].effect:
            continue
        if n.regions:
            subs = tuple(Region(r.params, tuple(without_effects(r.nodes)), r.results)
                         for r in n.regions)
            n = replace(n, regions=subs)
        out.append(n)
    return out


def build(program: ast.Program, source: str | None = None) -> Graph:
    """The typed Graph of a parsed program, or a GdlError at the offending span.

    `source`, the program text, gives `print` its labels.
    """
    return GraphBuilder(program, source=source).build()
