"""The op record and the helpers every op family shares.

Owns `OpDef` (everything about one op in one record: type rule, NumPy
reference, adjoint, OpenCL lowering), the lowering descriptors the code
generator reads, and `Emitter`, through which adjoint rules build their
gradients as graph nodes (so gradients can be differentiated again).
Imports `ir`, `dtype`, `errors`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np

from ..dtype import BOOL, F32, DType, StackType, TensorType, Type, broadcast_all, scalar
from ..errors import GdlTypeError, Span
from ..ir import Builder, Node, Value

Infer = Callable[[tuple[Type, ...], Mapping[str, Any], "Span | None"], tuple[Type, ...]]
Adjoint = Callable[["Emitter", Node, tuple["Value | None", ...]], tuple["Value | None", ...]]


# ---------------------------------------------------------------- lowerings

@dataclass(frozen=True)
class Elementwise:
    """An op the fuser inlines: `expr(in_dtypes, out_dtype, attrs)` gives a C expression.

    The expression refers to its operands as `{0}`, `{1}`, ... (already
    loaded through their broadcast index maps) and to the flat index of the
    output element as `{idx}` (a ulong).
    """

    expr: Callable[[tuple[DType, ...], DType, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Reduce:
    """A reduction over some axes: `combine` is "add", "mul", "max" or "min".

    `pre` maps the loaded operands to the value reduced (default: operand 0)
    and `post` finishes the result (`{0}` the reduced value, `{n}` the count).
    """

    combine: str
    pre: str = "{0}"
    post: str = "{0}"


@dataclass(frozen=True)
class Kernel:
    """An op with its own kernel template in gdl/kernels/ (rand, matmul, ...)."""

    template: str


@dataclass(frozen=True)
class ViewMap:
    """How a view's output coordinates address its input (an affine map).

    `out_dims[d]` is `(input axis, step)` for an output axis that walks input
    axis `axis` `step` elements at a time, or `(None, 0)` for an axis that
    repeats (broadcast).  `offsets[e]` is the fixed starting coordinate on
    input axis e; `dynamic` lists `(operand index, input axis)` pairs whose
    starting coordinate is a run-time i32 scalar operand instead.
    """

    out_dims: tuple[tuple[int | None, int], ...]
    offsets: tuple[int, ...]
    dynamic: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class View:
    """No copy: consumers read the input through `map(in_types, attrs) -> ViewMap`.

    The planner composes chains of views into one strided load in the
    kernels that read them (transpose, slices, indexing).
    """

    map: Callable[[tuple[Type, ...], Mapping[str, Any]], ViewMap]


@dataclass(frozen=True)
class Alias:
    """No kernel: the output is the input buffer seen through another type."""


@dataclass(frozen=True)
class Host:
    """Handled by the plan itself: control flow, stacks, leaves."""


Lowering = Elementwise | Reduce | Kernel | View | Alias | Host


# ---------------------------------------------------------------- the record

@dataclass(frozen=True)
class OpDef:
    """Everything about one op, defined once.

    `promote` says how the builder unifies operand dtypes before `infer`
    sees them: "all" (every operand to the common dtype), "float" (as "all",
    then integers and bools to f32), "tail" / "tail_float" (operand 0 keeps
    its dtype; the rest as "all" / "float"), or "none".
    `adjoint` is None for ops that pass no gradient (`differentiable=False`)
    and for identities whose gradient is cut (`stop_grad`).  Ops holding
    regions (`while`, `if`) take their regions as a fourth argument of
    `infer` and keep their differentiation rules in `ad_rules`.
    """

    name: str
    infer: Infer
    numpy: Callable[..., Any] | None
    lower: Lowering | None
    adjoint: Adjoint | None = None
    differentiable: bool = True
    promote: str = "none"
    foldable: bool = True          # may be evaluated at compile time on constants
    effect: bool = False           # must run even when its outputs are unused
    interpret: Callable[..., Any] | None = None   # region ops: (node, args, ctx)
    ad_rules: Any = None                          # region ops: see ops/control_ad.py
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- calls

REQUIRED = object()      # a call parameter without a default


@dataclass(frozen=True)
class Call:
    """A built-in function of the language: its parameters and how a call becomes ops.

    `params` are (name, default or REQUIRED) in positional order; `handler(ctx,
    args, dtype, span)` gets the bound arguments (operands, or None where a
    default applies), the `dtype=` keyword if `takes_dtype`, and the builder
    context `ctx` (see expressions.ExpressionBuilder: apply, to_value, init,
    const_*, shape_of, kind_of, literal).  It lives next to the op it builds.
    """

    name: str
    params: tuple[tuple[str, Any], ...]
    handler: Callable[..., Any]
    takes_dtype: bool = False


def unary_call(name: str, opname: str | None = None) -> Call:
    """`name(x)`: one op applied to one operand."""
    return Call(name, (("x", REQUIRED),),
                lambda ctx, a, dtype, span: ctx.apply(opname or name, [a["x"]], {}, span))


def binary_call(name: str, opname: str | None = None) -> Call:
    """`name(a, b)`: one op applied to two operands."""
    return Call(name, (("a", REQUIRED), ("b", REQUIRED)),
                lambda ctx, a, dtype, span: ctx.apply(opname or name, [a["a"], a["b"]], {}, span))


# ---------------------------------------------------------------- type helpers

def tensor(t: Type, what: str, span: Span | None) -> TensorType:
    """`t` as a tensor type, or a type error naming `what`."""
    if not isinstance(t, TensorType):
        raise GdlTypeError(f"{what} must be a tensor, found {t}", span)
    return t


def same_dtype(types: Sequence[TensorType], opname: str, span: Span | None) -> DType:
    """The one dtype all operands share (the builder has promoted them)."""
    dts = {t.dtype for t in types}
    if len(dts) != 1:
        found = ", ".join(str(t) for t in types)
        raise GdlTypeError(f"`{opname}` needs operands of one dtype, found {found}", span)
    return dts.pop()


def broadcast_types(types: Sequence[TensorType], opname: str, span: Span | None) -> tuple[int, ...]:
    """The broadcast shape of the operands, or an error showing every shape."""
    shape = broadcast_all(t.shape for t in types)
    if shape is None:
        shown = " with ".join(str(t) for t in types)
        raise GdlTypeError(f"cannot broadcast {shown} in `{opname}`", span)
    return shape


def require_float(t: TensorType, opname: str, span: Span | None) -> None:
    if not t.dtype.is_float:
        raise GdlTypeError(f"`{opname}` needs a float operand, found {t}", span)


def require_bool(t: TensorType, opname: str, span: Span | None) -> None:
    if t.dtype != BOOL:
        raise GdlTypeError(f"`{opname}` needs bool operands, found {t}", span)


def normalize_axes(axis: Any, rank: int, opname: str, span: Span | None) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints (None: all axes)."""
    if axis is None:
        return tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise GdlTypeError(
                f"axis {a} is out of range for `{opname}` of a rank-{rank} tensor "
                f"(expected {-rank} to {rank - 1})" if rank else
                f"axis {a} is out of range for `{opname}` of a scalar (it has no axes)", span)
        a %= rank
        if a in out:
            raise GdlTypeError(f"axis {a} is repeated in `{opname}`, found axis={list(axes)}; "
                               "expected each axis at most once", span)
        out.append(a)
    return tuple(sorted(out))


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def unary_float_infer(name: str) -> Infer:
    """Type rule of a float -> float elementwise function."""
    def infer(ts, attrs, span):
        t = tensor(ts[0], f"the operand of `{name}`", span)
        require_float(t, name, span)
        return (t,)
    return infer


def binary_infer(name: str, result: DType | None = None) -> Infer:
    """Type rule of a broadcasting binary op (result dtype: operands' or `result`)."""
    def infer(ts, attrs, span):
        a, b = (tensor(t, f"an operand of `{name}`", span) for t in ts)
        dt = same_dtype((a, b), name, span)
        return (TensorType(result or dt, broadcast_types((a, b), name, span)),)
    return infer


# ---------------------------------------------------------------- emitter

class Emitter:
    """Builds op nodes by name through the op table: what adjoint rules write with.

    `e.op("mul", a, b)` infers the output type with the op's own rule, so an
    adjoint that builds an ill-typed gradient fails where it is built.
    """

    def __init__(self, builder: Builder, table: Mapping[str, OpDef], span: Span | None = None):
        self.b = builder
        self.table = table
        self.span = span

    def at(self, span: Span | None) -> "Emitter":
        """The same builder, stamping new nodes with `span`."""
        return Emitter(self.b, self.table, span)

    def node(self, opname: str, *inputs: Value, regions: tuple = (), **attrs: Hashable) -> Node:
        op = self.table[opname]
        in_types = tuple(v.type for v in inputs)
        if regions:
            out_types = op.infer(in_types, attrs, self.span, regions)
        else:
            out_types = op.infer(in_types, attrs, self.span)
        return self.b.add(opname, inputs, attrs, out_types, regions, self.span)

    def op(self, opname: str, *inputs: Value, **attrs: Hashable) -> Value:
        return self.node(opname, *inputs, **attrs).out

    # Conveniences for the adjoint rules; each is one op of the table.
    def const(self, value: Any, dtype: DType = F32) -> Value:
        arr = np.asarray(value, dtype=dtype.np)
        return self.op("const", value=tuple(arr.reshape(-1).tolist()), dtype=dtype,
                       shape=tuple(arr.shape))

    def zeros(self, t: TensorType) -> Value:
        return self.op("fill", value=0, dtype=t.dtype, shape=t.shape)

    def zeros_like(self, v: Value) -> Value:
        """Zeros of v's type; a tape's zeros need v itself (its length is a run-time value)."""
        if isinstance(v.type, StackType):
            return self.op("stack_zeros", v)
        return self.zeros(v.type)

    def add_cotangents(self, a: Value, b: Value) -> Value:
        return self.op("stack_add", a, b) if isinstance(a.type, StackType) else self.add(a, b)

    def ones(self, t: TensorType) -> Value:
        return self.op("fill", value=1, dtype=t.dtype, shape=t.shape)

    def scalar_like(self, value: float, v: Value) -> Value:
        return self.const(value, v.type.dtype)

    def add(self, a: Value, b: Value) -> Value:
        return self.op("add", a, b)

    def sub(self, a: Value, b: Value) -> Value:
        return self.op("sub", a, b)

    def mul(self, a: Value, b: Value) -> Value:
        return self.op("mul", a, b)

    def div(self, a: Value, b: Value) -> Value:
        return self.op("div", a, b)

    def neg(self, a: Value) -> Value:
        return self.op("neg", a)

    def where(self, c: Value, a: Value, b: Value) -> Value:
        return self.op("where", c, a, b)

    def broadcast_to(self, v: Value, shape: tuple[int, ...]) -> Value:
        if v.type.shape == tuple(shape):
            return v
        return self.op("broadcast_to", v, shape=tuple(shape))

    def reshape(self, v: Value, shape: tuple[int, ...]) -> Value:
        if v.type.shape == tuple(shape):
            return v
        return self.op("reshape", v, shape=tuple(shape))

    def sum(self, v: Value, axes: tuple[int, ...], keepdims: bool = False) -> Value:
        return self.op("sum", v, axis=tuple(axes), keepdims=keepdims)

    def cast(self, v: Value, dtype: DType) -> Value:
        if v.type.dtype == dtype:
            return v
        return self.op("cast", v, dtype=dtype)

    def unbroadcast(self, ct: Value, shape: tuple[int, ...] | None) -> Value:
        """Sum a cotangent over the axes that broadcasting added or stretched."""
        if shape is None or ct.type.shape == tuple(shape):
            return ct
        lead = len(ct.type.shape) - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, d in enumerate(shape) if d == 1 and ct.type.shape[lead + i] != 1)
        summed = self.sum(ct, axes, keepdims=False) if axes else ct
        return self.reshape(summed, tuple(shape))


def bool_scalar() -> TensorType:
    return scalar(BOOL)
