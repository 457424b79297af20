"""The abstract syntax tree: plain frozen records, every one with a `Span`.

Owns the shape of a parsed program; no semantics live here (names, types and
scopes are `build.py`'s business).  Imports only `errors`.

Records compare and hash by identity (`eq=False`): a 3,000-term expression is
a flat chain, but structural equality on deep trees would recurse, and no
pass needs it.  Operator chains stay flat as the grammar writes them
(`BinChain`), so builders fold them left in a loop instead of recursing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .errors import Span


# ---------------------------------------------------------------- expressions

@dataclass(frozen=True, eq=False)
class Num:
    """An integer or float literal; `is_float` tells `3` from `3.0`."""

    span: Span
    value: Union[int, float]
    is_float: bool


@dataclass(frozen=True, eq=False)
class Bool:
    span: Span
    value: bool


@dataclass(frozen=True, eq=False)
class Str:
    """A string literal; only `assert` messages use one."""

    span: Span
    value: str


@dataclass(frozen=True, eq=False)
class ListLit:
    """`[a, b, ...]`; nesting gives higher ranks."""

    span: Span
    items: tuple["Expr", ...]


@dataclass(frozen=True, eq=False)
class Name:
    span: Span
    name: str


@dataclass(frozen=True, eq=False)
class Unary:
    """`-x` or `not x`."""

    span: Span
    op: str
    operand: "Expr"


@dataclass(frozen=True, eq=False)
class BinChain:
    """A left-associative chain `e0 op1 e1 op2 e2 ...` of one precedence level.

    `ops[i]` joins `operands[i]` and `operands[i + 1]`; `op_spans[i]` is where
    that operator token sits.  Levels: `or`, `and`, `+ -`, `* / // % @`.
    """

    span: Span
    operands: tuple["Expr", ...]
    ops: tuple[str, ...]
    op_spans: tuple[Span, ...]


@dataclass(frozen=True, eq=False)
class Compare:
    """One comparison `left op right` (comparisons do not chain)."""

    span: Span
    op: str
    left: "Expr"
    right: "Expr"
    op_span: Span


@dataclass(frozen=True, eq=False)
class Power:
    """`base ** exponent` (right associative: the exponent may be a Power)."""

    span: Span
    base: "Expr"
    exponent: "Expr"
    op_span: Span


@dataclass(frozen=True, eq=False)
class Keyword:
    """`name=value` inside a call."""

    span: Span
    name: str
    value: "Expr"


@dataclass(frozen=True, eq=False)
class Call:
    """`func(args..., kw=value...)`; `func` is always a bare name."""

    span: Span
    func: str
    func_span: Span
    args: tuple["Expr", ...]
    kwargs: tuple[Keyword, ...]


@dataclass(frozen=True, eq=False)
class Slice:
    """`start:stop:step` inside brackets; each part may be None."""

    span: Span
    start: "Expr | None"
    stop: "Expr | None"
    step: "Expr | None"


@dataclass(frozen=True, eq=False)
class Index:
    """`target[s0, s1, ...]` where each subscript is an Expr or a Slice."""

    span: Span
    target: "Expr"
    subscripts: tuple[Union["Expr", Slice], ...]


Expr = Union[Num, Bool, Str, ListLit, Name, Unary, BinChain, Compare, Power, Call, Index]


# ---------------------------------------------------------------- statements

@dataclass(frozen=True, eq=False)
class TypeExpr:
    """`f32`, `f32[]`, `f64[3, 2]`: a dtype name and a shape (() for scalars)."""

    span: Span
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class VarDecl:
    span: Span
    name: str
    name_span: Span
    type: TypeExpr | None
    value: Expr


@dataclass(frozen=True, eq=False)
class InputDecl:
    span: Span
    name: str
    name_span: Span
    type: TypeExpr
    default: Expr | None


@dataclass(frozen=True, eq=False)
class Assign:
    """`name = value`, or an augmented form (`op` is "=", "+=", "-=", "*=" or "/=")."""

    span: Span
    name: str
    name_span: Span
    op: str
    value: Expr


@dataclass(frozen=True, eq=False)
class Out:
    span: Span
    names: tuple[tuple[str, Span], ...]


@dataclass(frozen=True, eq=False)
class While:
    span: Span
    cond: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True, eq=False)
class If:
    """`if c0 {..} else if c1 {..} ... [else {..}]`, flattened.

    `branches[i]` is `(condition, body, span of that `if` keyword onwards)`;
    `orelse` is None when there is no final `else`.
    """

    span: Span
    branches: tuple[tuple[Expr, tuple["Stmt", ...], Span], ...]
    orelse: tuple["Stmt", ...] | None


@dataclass(frozen=True, eq=False)
class FnDef:
    span: Span
    name: str
    name_span: Span
    params: tuple[tuple[str, Span], ...]
    body: tuple["Stmt", ...]


@dataclass(frozen=True, eq=False)
class Return:
    span: Span
    value: Expr


@dataclass(frozen=True, eq=False)
class Assert:
    span: Span
    cond: Expr
    message: str | None


@dataclass(frozen=True, eq=False)
class Print:
    span: Span
    args: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class ExprStmt:
    """A bare expression (the REPL prints it; a program rejects it)."""

    span: Span
    expr: Expr


Stmt = Union[VarDecl, InputDecl, Assign, Out, While, If, FnDef, Return, Assert, Print, ExprStmt]


@dataclass(frozen=True, eq=False)
class Program:
    stmts: tuple[Stmt, ...]
