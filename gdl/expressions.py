"""Expressions -> graph values: promotion, weak literals, built-in calls.

Owns how one expression becomes graph nodes (or stays a weak constant): the
operators and their ops, dtype promotion with weak literals (language.md
§3), constant folding of literal arithmetic, constant arguments of
built-ins, and the expression walk itself, which uses an explicit stack so
a 3,000-term sum or 300 nested parentheses never recurse.  `build.py` adds
names, statements and control flow on top (its GraphBuilder inherits this).
Imports `syntax`, `ir`, `ops`, `builtins`, `weak`, `dtype`, `errors`.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from . import syntax as ast
from .builtins import BUILTINS, LANGUAGE_BUILTINS, bind
from .dtype import (DEFAULT_FOR_KIND, DTYPES, F32, I32, DType, TensorType, common_dtype,
                    rank_problem)
from .errors import GdlTypeError, Span
from .ir import Value
from .ops import OPS, emitter
from .weak import FOLD_LIMIT, FOLD_NP, Weak, constant, emit as emit_weak, fold_dtype

KEYWORDS = frozenset("var input out while if else fn return assert print true false "
                     "and or not".split())
BINARY_OPS = MappingProxyType({"+": "add", "-": "sub", "*": "mul", "/": "div",
                               "//": "floordiv", "%": "mod", "@": "matmul",
                               "and": "and", "or": "or"})
COMPARE_OPS = MappingProxyType({"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq",
                                "!=": "ne"})
AUG_OPS = MappingProxyType({"+=": "+", "-=": "-", "*=": "*", "/=": "/"})
# Elementwise ops on symbolic weak values that keep the result weak.
WEAK_PRESERVING = frozenset("add sub mul div neg pow exp log log1p sqrt sin cos tanh sigmoid "
                            "abs relu maximum minimum".split())

Operand = Any   # Value | Weak


@dataclass(frozen=True, eq=False)
class TensorList:
    """A list literal of computed values: an argument of concat/stack, else their stack."""

    items: tuple
    span: Span


class NotYet(GdlTypeError):
    """A form of the language that this version parses but does not implement yet."""


def not_yet(what: str, span: Span | None) -> NotYet:
    """The error for syntax the grammar accepts and a later version gives meaning to."""
    return NotYet(f"{what} is not supported yet in this version of gdl", span)


def type_of(operand: Operand) -> str:
    """How an operand's type reads in messages (literals say so)."""
    if isinstance(operand, Weak):
        return str(operand.default_type) + " (a literal)"
    return str(operand.type)


class ExpressionBuilder:
    """Evaluates expressions in the current block (`self.block`, from GraphBuilder)."""

    # ------------------------------------------------------------ operands

    def e(self, span: Span | None):
        return emitter(self.block.b, span)

    def to_value(self, operand: Operand, dtype: DType | None, span: Span | None) -> Value:
        """A graph value of `operand`, at `dtype` if given (weak: exact; strong: cast)."""
        if isinstance(operand, Weak):
            self.no_empty(operand, span)
            if dtype is None:
                dtype = DEFAULT_FOR_KIND[operand.kind]
            return emit_weak(self.e(span), operand, dtype)
        if isinstance(operand, TensorList):
            return self.to_value(self.tensor(operand, span), dtype, span)
        if dtype is not None and operand.type.dtype != dtype:
            return self.e(span).cast(operand, dtype)
        return operand

    def apply(self, opname: str, operands: list, attrs: dict, span: Span | None) -> Operand:
        """Apply an op with promotion and weak-literal rules, folding constants."""
        op = OPS[opname]
        mode = op.promote
        idx = {"all": range(len(operands)), "float": range(len(operands)),
               "tail": range(1, len(operands)), "tail_float": range(1, len(operands))}.get(
                   mode, range(0))
        operands = [self.tensor(o, span) for o in operands]
        target, kind = common_dtype(
            (None, o.kind) if isinstance(o, Weak) else (o.type.dtype, o.type.dtype.kind)
            for i, o in enumerate(operands) if i in idx)
        if mode.endswith("float"):
            if target is not None and not target.is_float:
                target = F32
            kind = "float"
        if operands and all(isinstance(o, Weak) for o in operands) and op.foldable:
            return self.weak_apply(opname, operands, attrs, span, kind if idx else None)
        if target is None and len(idx):
            target = DEFAULT_FOR_KIND[kind]
        inputs = [self.to_value(o, target if i in idx else None, span)
                  for i, o in enumerate(operands)]
        return self.e(span).op(opname, *inputs, **attrs)

    @staticmethod
    def no_empty(w: Weak, span) -> None:
        """`[]` is a scalar's shape, never a tensor: every dimension is at least 1."""
        if 0 in w.shape:
            raise GdlTypeError("an empty list is not a tensor (every dimension is at least 1); "
                               "`[]` can only be a shape, e.g. zeros([])", span)

    def weak_apply(self, opname: str, operands: list[Weak], attrs: dict, span, kind) -> Operand:
        """An op on weak values only: fold constants, keep arithmetic symbolic."""
        for o in operands:
            self.no_empty(o, span)
        op = OPS[opname]
        rep = [TensorType(fold_dtype(kind) if kind else fold_dtype(o.kind), o.shape)
               for o in operands]
        (out_t,) = op.infer(tuple(rep), attrs, span)         # shape and type errors
        out_kind = out_t.dtype.kind
        consts = [o.const for o in operands]
        if all(c is not None for c in consts) and out_t.size <= FOLD_LIMIT and op.numpy:
            args = [c.astype(FOLD_NP[kind]) if kind else c for c in consts]
            with np.errstate(all="ignore"):
                value = np.asarray(op.numpy(*args, **attrs))
            return Weak(out_kind, out_t.shape, const=value.astype(FOLD_NP[out_kind]))
        if opname in WEAK_PRESERVING and out_kind == kind:
            return Weak(out_kind, out_t.shape, op=opname, args=tuple(operands), attrs=attrs)
        inputs = [self.to_value(o, DEFAULT_FOR_KIND[kind] if kind else None, span)
                  for o in operands]
        return self.e(span).op(opname, *inputs, **attrs)

    def init(self, opname, kind, shape, args, attrs, dtype, span) -> Operand:
        """An initialiser: weak without `dtype=`, else a strong node at that dtype."""
        for d in shape:
            if d < 1:
                raise GdlTypeError(f"shape {list(shape)} has a dimension below 1; every "
                                   "dimension is at least 1", span)
        w = Weak(kind, tuple(shape), op=opname, args=tuple(args), attrs=attrs, init=True)
        return w if dtype is None else self.to_value(w, dtype, span)

    # what built-in calls may ask of an operand -------------------------

    @staticmethod
    def shape_of(operand: Operand) -> tuple[int, ...]:
        return operand.shape if isinstance(operand, Weak) else operand.type.shape

    @staticmethod
    def dtype_of(operand: Operand) -> DType | None:
        """The dtype of a strong value; None for a weak literal (not fixed yet)."""
        return None if isinstance(operand, Weak) else operand.type.dtype

    @staticmethod
    def kind_of(operand: Operand) -> str:
        """"bool", "int" or "float", weak or strong."""
        return operand.kind if isinstance(operand, Weak) else operand.type.dtype.kind

    @staticmethod
    def literal(operand: Operand):
        """The Python scalar of a constant scalar literal, else None."""
        return operand.scalar_value() if isinstance(operand, Weak) else None

    # constant arguments of built-ins ------------------------------------

    def const_scalar(self, operand, what: str, span):
        if isinstance(operand, Weak) and operand.scalar_value() is not None:
            v = operand.scalar_value()
            return float(v) if operand.kind == "float" else int(v)
        raise GdlTypeError(f"{what} must be a constant number, found {type_of(operand)}", span)

    def const_shape(self, operand, span, allow_minus_one: bool = False) -> tuple[int, ...]:
        """A compile-time shape: an int or a list of ints, each at least 1 (or one -1)."""
        if isinstance(operand, tuple):
            return operand
        if isinstance(operand, Weak) and operand.const is not None and operand.const.ndim <= 1 \
                and (operand.kind == "int" or operand.const.size == 0):
            dims = tuple(int(d) for d in np.atleast_1d(operand.const))
            for d in dims:
                if d < 1 and not (allow_minus_one and d == -1):
                    raise GdlTypeError(f"shape {list(dims)} has a dimension below 1; every "
                                       "dimension is at least 1", span)
            problem = rank_problem(dims)
            if problem:
                raise GdlTypeError(f"the shape has {problem}", span)
            return dims
        raise GdlTypeError(f"a shape must be an integer or a list of integers, found "
                           f"{type_of(operand)}", span)

    def const_axes(self, operand, span):
        if isinstance(operand, Weak) and operand.const is not None and operand.const.ndim <= 1 \
                and (operand.kind == "int" or operand.const.size == 0):
            return int(operand.const) if operand.const.ndim == 0 else tuple(
                int(a) for a in operand.const)
        raise GdlTypeError(f"`axis` must be an integer or a list of integers, found "
                           f"{type_of(operand)}", span)

    def const_bool(self, operand, what, span) -> bool:
        if isinstance(operand, Weak) and operand.kind == "bool" and operand.scalar_value() \
                is not None:
            return bool(operand.scalar_value())
        raise GdlTypeError(f"`{what}` must be true or false, found {type_of(operand)}", span)

    # ------------------------------------------------------------ expressions

    def expr(self, root: ast.Expr) -> Operand:
        """Evaluate an expression tree with an explicit stack (no recursion)."""
        results: list[Operand] = []
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                kids = self.children(node)
                stack.append((node, True))
                stack.extend((k, False) for k in reversed(kids))
                continue
            n = len(self.children(node))
            args = results[len(results) - n:] if n else []
            del results[len(results) - n:]
            results.append(self.combine(node, args))
        assert len(results) == 1
        return results[0]

    @staticmethod
    def children(node) -> list:
        if isinstance(node, ast.ListLit):
            return list(node.items)
        if isinstance(node, ast.Unary):
            return [node.operand]
        if isinstance(node, ast.BinChain):
            return list(node.operands)
        if isinstance(node, (ast.Compare,)):
            return [node.left, node.right]
        if isinstance(node, ast.Power):
            return [node.base, node.exponent]
        if isinstance(node, ast.Call):
            return list(node.args) + [k.value for k in node.kwargs if k.name != "dtype"]
        if isinstance(node, ast.Index):
            kids = [node.target]
            for sub in node.subscripts:
                if isinstance(sub, ast.Slice):
                    kids.extend(p for p in (sub.start, sub.stop, sub.step) if p is not None)
                else:
                    kids.append(sub)
            return kids
        return []

    def combine(self, node, args: list) -> Operand:
        if isinstance(node, ast.Num):
            if not node.is_float and not -2**63 <= node.value < 2**63:
                raise GdlTypeError(f"the integer literal {node.value} is too large (integers are "
                                   "32-bit; write it as a float, e.g. 1e20)", node.span)
            return constant(node.value, "float" if node.is_float else "int")
        if isinstance(node, ast.Bool):
            return constant(node.value, "bool")
        if isinstance(node, ast.Str):
            raise GdlTypeError("a string can only be the message of an `assert`", node.span)
        if isinstance(node, ast.Name):
            return self.name(node.name, node.span)
        if isinstance(node, ast.ListLit):
            return self.list_literal(node, args)
        if isinstance(node, ast.Unary):
            return self.apply("neg" if node.op == "-" else "not", args, {}, node.span)
        if isinstance(node, ast.BinChain):
            acc = args[0]
            for i, (op, op_span) in enumerate(zip(node.ops, node.op_spans)):
                if BINARY_OPS[op] not in OPS:
                    raise not_yet(f"the operator `{op}`", op_span)
                span = node.operands[0].span.to(node.operands[i + 1].span)
                acc = self.apply(BINARY_OPS[op], [acc, args[i + 1]], {}, span)
            return acc
        if isinstance(node, ast.Compare):
            return self.apply(COMPARE_OPS[node.op], args, {}, node.span)
        if isinstance(node, ast.Power):
            return self.apply("pow", args, {}, node.span)
        if isinstance(node, ast.Call):
            return self.call(node, args)
        if isinstance(node, ast.Index):
            return self.index(node, args[0], iter(args[1:]))
        raise AssertionError(f"unknown expression {type(node).__name__}")

    def list_literal(self, node: ast.ListLit, items: list) -> Operand:
        if not items:
            return Weak("float", (0,), const=np.zeros((0,)))
        if not all(isinstance(i, Weak) and i.const is not None for i in items):
            return TensorList(tuple(items), node.span)
        shape = items[0].shape
        for k, item in enumerate(items[1:], start=1):
            if item.shape != shape:
                raise GdlTypeError(
                    f"ragged list: item {k + 1} has shape {list(item.shape)} but item 1 has "
                    f"{list(shape)}; list literals must be rectangular", node.items[k].span)
        problem = rank_problem((len(items),) + shape)
        if problem:
            raise GdlTypeError(f"list literal nested too deep: {problem}", node.span)
        kind = items[0].kind
        for item in items[1:]:
            kind = common_dtype([(None, kind), (None, item.kind)])[1]
        return constant(np.stack([i.const.astype(FOLD_NP[kind]) for i in items]), kind)

    def index(self, node: ast.Index, target: Operand, parts) -> Operand:
        """x[...]: compile-time subscripts make one strided view, run-time ones `index` ops."""
        target = self.tensor(target, node.span)
        shape = self.shape_of(target)
        if len(node.subscripts) > len(shape):
            raise GdlTypeError(f"too many indices: the value has rank {len(shape)} "
                               f"({type_of(target)}) but {len(node.subscripts)} are given",
                               node.span)
        spec, dynamic = [], []
        for axis, sub in enumerate(node.subscripts):
            n = shape[axis]
            if isinstance(sub, ast.Slice):
                bounds = [None if p is None else self.const_int(next(parts), "a slice bound",
                                                                p.span)
                          for p in (sub.start, sub.stop, sub.step)]
                if bounds[2] == 0:
                    raise GdlTypeError("a slice step cannot be 0", sub.span)
                start, stop, step = slice(*bounds).indices(n)
                count = len(range(start, stop, step))
                if count == 0:
                    raise GdlTypeError(f"the slice selects nothing from an axis of length {n}; "
                                       "every dimension is at least 1", sub.span)
                spec.append(("s", start, step, count))
                continue
            value = next(parts)
            k = self.literal(value) if isinstance(value, Weak) else None
            if isinstance(k, int) and not isinstance(k, bool) and value.kind == "int":
                if not -n <= k < n:
                    raise GdlTypeError(f"index {k} is out of range for axis {axis} of length "
                                       f"{n} (expected {-n} to {n - 1})", sub.span)
                spec.append(("i", k % n))
                continue
            if isinstance(value, Value) and value.type == TensorType(I32, ()):
                spec.append(("s", 0, 1, n))
                dynamic.append((len([s for s in spec if s[0] == "s"]) - 1, value, sub.span))
                continue
            raise GdlTypeError(f"an index must be an integer: a literal or an i32 scalar, found "
                               f"{type_of(value)}", sub.span)
        spec.extend(("s", 0, 1, n) for n in shape[len(node.subscripts):])
        result = target
        if any(s != ("s", 0, 1, n) for s, n in zip(spec, shape)):
            result = self.apply("slice", [result], {"spec": tuple(spec)}, node.span)
        for position, value, span in reversed(dynamic):
            result = self.apply("index", [result, value], {"axis": position}, node.span)
        return result

    def const_int(self, operand, what: str, span) -> int:
        value = self.literal(operand)
        if not isinstance(value, int) or isinstance(value, bool) or self.kind_of(operand) != "int":
            raise GdlTypeError(f"{what} must be a constant integer, found {type_of(operand)}",
                               span)
        return value

    def tensor(self, operand: Operand, span) -> Operand:
        """A tensor operand: a list of computed values becomes their stack (as NumPy's array)."""
        if isinstance(operand, TensorList):
            return self.call_named("stack", [operand], span)
        return operand

    def items(self, operand: Operand, what: str, span) -> list:
        """The operands of a list argument (`concat([a, b])`, `stack([...])`)."""
        if isinstance(operand, TensorList):
            items = [self.tensor(i, span) for i in operand.items]
        elif isinstance(operand, Weak) and operand.const is not None and operand.const.ndim >= 1:
            items = [Weak(operand.kind, operand.shape[1:], const=row) for row in operand.const]
        else:
            raise GdlTypeError(f"`{what}` takes a list of tensors, e.g. {what}([a, b]); found "
                               f"{type_of(operand)}", span)
        if not items:
            raise GdlTypeError(f"`{what}` needs at least one tensor", span)
        return items

    def call_named(self, name: str, args: list, span) -> Operand:
        """Call built-in `name` from another call or rule (positional arguments only)."""
        fn = BUILTINS[name]
        return fn.handler(self, bind(fn, args, {}, span), None, span)

    def name(self, name: str, span: Span) -> Operand:
        binding = self.block.lookup(name)
        if binding is not None:
            return binding.operand
        if self.block.isolated and self.top.lookup(name) is not None:
            raise GdlTypeError(f"{self.block.isolated} may use only literals and initialisers, "
                               f"not `{name}`", span)
        where = self.block.tombstone(name)
        if where:
            raise GdlTypeError(f"`{name}` is local to {where}; bind it before that block to "
                               "carry its value out", span)
        if name in LANGUAGE_BUILTINS or name in self.functions:
            raise GdlTypeError(f"`{name}` is a function; call it as {name}(...)", span)
        raise GdlTypeError(f"unknown name `{name}`: it is not bound at this point"
                           + did_you_mean(name, self.block.visible()), span)

    def check_keywords(self, node: ast.Call) -> None:
        """Each keyword argument of a call at most once (the parser accepts repeats)."""
        seen: set[str] = set()
        for kw in node.kwargs:
            if kw.name in seen:
                raise GdlTypeError(f"`{node.func}` got the keyword argument `{kw.name}=` twice; "
                                   "expected each keyword at most once", kw.span)
            seen.add(kw.name)

    def call(self, node: ast.Call, args: list) -> Operand:
        self.check_keywords(node)
        if node.func == "grad":
            return self.grad_call(node, args)
        user_fn = self.functions.get(node.func)
        if user_fn is not None:
            return self.inline_call(user_fn, node, args)
        fn = BUILTINS.get(node.func)
        if fn is None:
            if node.func in LANGUAGE_BUILTINS:
                raise not_yet(f"`{node.func}`", node.func_span)
            known = set(LANGUAGE_BUILTINS) | set(self.functions)
            raise GdlTypeError(f"unknown function `{node.func}`: it is neither a built-in nor an "
                               "`fn` defined above" + did_you_mean(node.func, known),
                               node.func_span)
        npos = len(node.args)
        kwargs, dtype = {}, None
        values = iter(args[npos:])
        for kw in node.kwargs:
            if kw.name == "dtype":
                if not fn.takes_dtype:
                    raise GdlTypeError(f"`{node.func}` takes no `dtype=`", kw.span)
                dtype = self.dtype_arg(kw)
                continue
            kwargs[kw.name] = (next(values), kw.span)
        bound = bind(fn, args[:npos], kwargs, node.span)
        return fn.handler(self, bound, dtype, node.span)

    @staticmethod
    def dtype_arg(kw: ast.Keyword) -> DType:
        if isinstance(kw.value, ast.Name) and kw.value.name in DTYPES:
            return DTYPES[kw.value.name]
        found = f"`{kw.value.name}`" if isinstance(kw.value, ast.Name) else "an expression"
        raise GdlTypeError(f"`dtype=` takes one of f32, f64, i32, bool; found {found}",
                           kw.value.span)


def did_you_mean(name: str, known) -> str:
    """'; did you mean `x`?' for the nearest of `known` to a misspelt name, else ''.

    Near means one typo (a letter added, dropped, changed, or two swapped),
    two in names longer than four letters, none in names of one or two
    letters (every other short name is a typo away): further off, a guess misleads.
    """
    limit = 0 if len(name) <= 2 else 1 if len(name) <= 4 else 2
    scored = sorted((typos(name, k), k) for k in known if k != name)
    return f"; did you mean `{scored[0][1]}`?" if scored and scored[0][0] <= limit else ""


def typos(a: str, b: str) -> int:
    """The optimal-string-alignment distance: edits, counting a swap of neighbours as one."""
    prev2, prev = [], list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb)))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]
