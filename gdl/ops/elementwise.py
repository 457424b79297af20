"""Elementwise ops: arithmetic, floor division and modulo, maximum/minimum, comparisons,
logic, exp/log, where, casts.

Each op is one `OpDef` block: type rule, NumPy reference, adjoint (built
from other ops, so it can be differentiated again) and the C expression the
fuser inlines.  Integer arithmetic wraps (two's complement): the C forms go
through unsigned ints because signed overflow is undefined in OpenCL C.
Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

import numpy as np

from ..dtype import BOOL, F32, F64, I32, DType, TensorType
from ..errors import GdlTypeError
from .base import (REQUIRED, Call, Elementwise, OpDef, binary_call, binary_infer,
                   broadcast_types, require_bool, same_dtype, tensor, unary_call,
                   unary_float_infer)


def _numeric_infer(name: str):
    """Binary arithmetic: one numeric dtype (bools must be cast first)."""
    base = binary_infer(name)

    def infer(ts, attrs, span):
        (t,) = base(ts, attrs, span)
        if t.dtype == BOOL:
            raise GdlTypeError(
                f"`{name}` needs numbers, found bool operands (use i32(...) or f32(...))", span)
        return (t,)
    return infer


def _arith(c_op: str):
    """C form of + - *: wrapping through uint for i32, plain for floats."""
    def expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
        if out == I32:
            return f"as_int(as_uint({{0}}) {c_op} as_uint({{1}}))"
        return f"({{0}} {c_op} {{1}})"
    return Elementwise(expr)


def _float_expr(text: str):
    return Elementwise(lambda ins, out, attrs: text)


# ---------------------------------------------------------------- + - * /

ADD = OpDef(
    "add", _numeric_infer("+"), lambda a, b: np.add(a, b), _arith("+"),
    adjoint=lambda e, n, cts: (cts[0], cts[0]),
    promote="all", doc="a + b")

SUB = OpDef(
    "sub", _numeric_infer("-"), lambda a, b: np.subtract(a, b), _arith("-"),
    adjoint=lambda e, n, cts: (cts[0], e.neg(cts[0])),
    promote="all", doc="a - b")

MUL = OpDef(
    "mul", _numeric_infer("*"), lambda a, b: np.multiply(a, b), _arith("*"),
    adjoint=lambda e, n, cts: (e.mul(cts[0], n.inputs[1]), e.mul(cts[0], n.inputs[0])),
    promote="all", doc="a * b")


def _div_infer(ts, attrs, span):
    (t,) = binary_infer("/")(ts, attrs, span)
    if not t.dtype.is_float:
        raise GdlTypeError(f"`/` needs float operands, found {t.dtype}", span)
    return (t,)


def _div_adjoint(e, n, cts):
    """d(a/b) = ct/b and -ct * (a/b) / b."""
    ct = cts[0]
    a_ct = e.div(ct, n.inputs[1])
    b_ct = e.neg(e.div(e.mul(ct, n.out), n.inputs[1]))
    return (a_ct, b_ct)


DIV = OpDef(
    "div", _div_infer, lambda a, b: np.divide(a, b), _float_expr("({0} / {1})"),
    adjoint=_div_adjoint, promote="float", doc="a / b (integers divide to f32)")


def _neg_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of unary `-`", span)
    if t.dtype == BOOL:
        raise GdlTypeError("unary `-` needs a number, found bool (use `not` for logic)", span)
    return (t,)


NEG = OpDef(
    "neg", _neg_infer, lambda a: np.negative(a),
    Elementwise(lambda ins, out, attrs: "as_int(0u - as_uint({0}))" if out == I32 else "(-{0})"),
    adjoint=lambda e, n, cts: (e.neg(cts[0]),), promote="none", doc="-a")


# ---------------------------------------------------------------- // and %

def _fmod_sign_fix(a: str, b: str) -> tuple[str, str]:
    """C's fmod(a, b) and the test that it must move by one `b` to take b's sign."""
    m = f"fmod({a}, {b})"
    return m, f"({m} != 0 && ({b} < 0) != ({m} < 0))"


def _floordiv_expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
    """Python's floor division, step for step as NumPy's npy_divmod.

    Floats: (a - fmod(a, b)) / b, one less where fmod had the wrong sign,
    snapped to the nearest integer; b == 0 gives a / b (inf or NaN); a zero
    quotient takes the sign of a / b.  i32: C's truncating division adjusted
    down; b == 0 gives 0 and INT_MIN // -1 wraps (both as NumPy, and neither
    reaches C's `/`, where they are undefined).
    """
    if out == I32:
        return ("({1} == 0 ? 0 : ({1} == -1 ? as_int(0u - as_uint({0})) : "
                "{0} / {1} - (({0} % {1} != 0 && ({0} < 0) != ({1} < 0)) ? 1 : 0)))")
    t = out.c_name
    m, fix = _fmod_sign_fix("{0}", "{1}")
    div = f"(({{0}} - {m}) / {{1}} - ({fix} ? ({t})1 : ({t})0))"
    snapped = f"(floor({div}) + ({div} - floor({div}) > 0.5f ? ({t})1 : ({t})0))"
    return (f"({{1}} == 0 ? {{0}} / {{1}} : ({div} != 0 ? {snapped} : "
            f"copysign(({t})0, {{0}} / {{1}})))")


def _mod_expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
    """Python's modulo (the sign of the divisor), as NumPy's npy_remainder.

    Floats: fmod moved by one b where its sign differs from b's; a zero
    result takes b's sign; b == 0 gives NaN.  i32: b == 0 gives 0 (NumPy),
    and b == -1 gives 0 without C's undefined INT_MIN % -1.
    """
    if out == I32:
        return ("(({1} == 0 || {1} == -1) ? 0 : "
                "(({0} % {1} != 0 && ({0} % {1} < 0) != ({1} < 0)) ? {0} % {1} + {1} : "
                "{0} % {1}))")
    t = out.c_name
    m, fix = _fmod_sign_fix("{0}", "{1}")
    return (f"({{1}} == 0 ? {m} : ({fix} ? {m} + {{1}} : "
            f"({m} != 0 ? {m} : copysign(({t})0, {{1}}))))")


def _quiet(fn):
    """A NumPy reference that divides by zero on purpose: no warnings (results as NumPy's)."""
    def ref(a, b):
        with np.errstate(all="ignore"):
            return fn(a, b)
    return ref


FLOORDIV = OpDef(
    "floordiv", _numeric_infer("//"), _quiet(np.floor_divide), Elementwise(_floordiv_expr),
    differentiable=False, promote="all",
    doc="a // b: floor division as Python (7.5 // -2 == -4); i32 // 0 is 0; zero gradient")

MOD = OpDef(
    "mod", _numeric_infer("%"), _quiet(np.remainder), Elementwise(_mod_expr),
    adjoint=lambda e, n, cts: (cts[0], None), promote="all",
    doc="a % b: modulo with the sign of b, as Python (-7.5 % 2 == 0.5); i32 % 0 is 0; "
        "the gradient is 1 for a and 0 for b (language.md §5)")


# ---------------------------------------------------------------- maximum, minimum

def _extremum_expr(c_op: str):
    """`a` if it wins or is NaN, else `b`: NaN in either operand gives NaN, as NumPy."""
    def expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
        if out.is_float:
            return f"((({{0}} {c_op} {{1}}) || isnan({{0}})) ? {{0}} : {{1}})"
        return f"({{0}} {c_op} {{1}} ? {{0}} : {{1}})"
    return Elementwise(expr)


def _extremum_adjoint(wins: str):
    """The cotangent goes to the winner; ties split it evenly (0.5 each); NaN passes none."""
    def adjoint(e, n, cts):
        ct = cts[0]
        a, b = n.inputs
        zero = e.scalar_like(0, ct)
        tie = e.where(e.op("eq", a, b), e.mul(ct, e.scalar_like(0.5, ct)), zero)
        return (e.where(e.op(wins, a, b), ct, tie), e.where(e.op(wins, b, a), ct, tie))
    return adjoint


MAXIMUM = OpDef(
    "maximum", _numeric_infer("maximum"), np.maximum, _extremum_expr(">"),
    adjoint=_extremum_adjoint("gt"), promote="all",
    doc="maximum(a, b): elementwise larger, NaN propagating; ties split the gradient")

MINIMUM = OpDef(
    "minimum", _numeric_infer("minimum"), np.minimum, _extremum_expr("<"),
    adjoint=_extremum_adjoint("lt"), promote="all",
    doc="minimum(a, b): elementwise smaller, NaN propagating; ties split the gradient")


# ---------------------------------------------------------------- power

def _int_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """i32 ** i32 with wrapping; a negative exponent truncates 1/a^k toward zero."""
    a, b = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
    out = np.ones(a.shape, np.int64)
    base = a.copy()
    e = np.where(b < 0, 0, b)
    while np.any(e > 0):
        odd = (e & 1) == 1
        out = np.where(odd, (out * base) & 0xFFFFFFFF, out)
        base = (base * base) & 0xFFFFFFFF
        e >>= 1
    out = out.astype(np.uint32).astype(np.int32)
    neg = b < 0
    recip = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0))
    return np.where(neg, recip, out).astype(np.int32)


def _pow_numpy(a, b):
    if np.asarray(a).dtype.kind in "iu":
        return _int_pow(a, b)
    return np.power(a, b)


def _pow_adjoint(e, n, cts):
    """d(a**b): ct * b * a**(b-1) (0 where b == 0); ct * log(a) * a**b (0 where a == 0)."""
    ct = cts[0]
    a, b = n.inputs
    zero = e.scalar_like(0, ct)
    one = e.scalar_like(1, ct)
    da = e.mul(b, e.op("pow", a, e.sub(b, one)))
    da = e.where(e.op("eq", b, zero), e.broadcast_to(zero, da.type.shape), da)
    safe_a = e.where(e.op("eq", a, zero), e.broadcast_to(one, a.type.shape), a)
    db = e.mul(e.op("log", safe_a), n.out)
    db = e.where(e.op("eq", a, zero), e.broadcast_to(zero, db.type.shape), db)
    return (e.mul(ct, da), e.mul(ct, db))


POW = OpDef(
    "pow", _numeric_infer("**"), _pow_numpy,
    Elementwise(lambda ins, out, attrs: "gdl_ipow({0}, {1})" if out == I32 else "pow({0}, {1})"),
    adjoint=_pow_adjoint, promote="all", doc="a ** b")


# ---------------------------------------------------------------- exp, log

EXP = OpDef(
    "exp", unary_float_infer("exp"), np.exp, _float_expr("exp({0})"),
    adjoint=lambda e, n, cts: (e.mul(cts[0], n.out),), promote="float", doc="e ** x")

LOG = OpDef(
    "log", unary_float_infer("log"), np.log, _float_expr("log({0})"),
    adjoint=lambda e, n, cts: (e.div(cts[0], n.inputs[0]),), promote="float",
    doc="natural logarithm")


# ---------------------------------------------------------------- comparisons

def _compare(name: str, symbol: str, fn) -> OpDef:
    def infer(ts, attrs, span):
        (t,) = binary_infer(symbol)(ts, attrs, span)
        return (TensorType(BOOL, t.shape),)
    return OpDef(name, infer, fn, Elementwise(lambda ins, out, attrs: f"({{0}} {symbol} {{1}})"),
                 differentiable=False, promote="all", doc=f"a {symbol} b (false with NaN, "
                 "except !=)" if symbol != "!=" else "a != b (true with NaN)")


LT = _compare("lt", "<", np.less)
LE = _compare("le", "<=", np.less_equal)
GT = _compare("gt", ">", np.greater)
GE = _compare("ge", ">=", np.greater_equal)
EQ = _compare("eq", "==", np.equal)
NE = _compare("ne", "!=", np.not_equal)


# ---------------------------------------------------------------- logic

def _logic_infer(name: str):
    def infer(ts, attrs, span):
        types = [tensor(t, f"an operand of `{name}`", span) for t in ts]
        for t in types:
            require_bool(t, name, span)
        return (TensorType(BOOL, broadcast_types(types, name, span)),)
    return infer


AND = OpDef("and", _logic_infer("and"), np.logical_and,
            Elementwise(lambda ins, out, attrs: "({0} && {1})"), differentiable=False,
            doc="elementwise and (no short-circuit)")
OR = OpDef("or", _logic_infer("or"), np.logical_or,
           Elementwise(lambda ins, out, attrs: "({0} || {1})"), differentiable=False,
           doc="elementwise or (no short-circuit)")
NOT = OpDef("not", _logic_infer("not"), np.logical_not,
            Elementwise(lambda ins, out, attrs: "(!{0})"), differentiable=False,
            doc="elementwise not")


# ---------------------------------------------------------------- where, cast

def _where_infer(ts, attrs, span):
    c, a, b = (tensor(t, "an operand of `where`", span) for t in ts)
    if c.dtype != BOOL:
        raise GdlTypeError(f"`where` needs a bool condition, found {c}", span)
    dt = same_dtype((a, b), "where", span)
    return (TensorType(dt, broadcast_types((c, a, b), "where", span)),)


def _where_adjoint(e, n, cts):
    """The cotangent goes to whichever operand was chosen."""
    ct = cts[0]
    zero = e.broadcast_to(e.scalar_like(0, ct), ct.type.shape)
    c = n.inputs[0]
    return (None, e.where(c, ct, zero), e.where(c, zero, ct))


WHERE = OpDef(
    "where", _where_infer, np.where, Elementwise(lambda ins, out, attrs: "({0} ? {1} : {2})"),
    adjoint=_where_adjoint, promote="tail", doc="where(c, a, b): a where c holds, else b")


def _cast_infer(ts, attrs, span):
    t = tensor(ts[0], "the operand of a cast", span)
    return (TensorType(attrs["dtype"], t.shape),)


def _cast_numpy(x, dtype):
    x = np.asarray(x)
    if dtype == I32 and x.dtype.kind == "f":
        # Truncate toward zero and saturate; NaN gives 0 (language.md §3).
        with np.errstate(invalid="ignore"):
            # In float64: 2**31 - 1 is not a float32, so clipping in f32 would wrap.
            t = np.trunc(np.where(np.isnan(x), 0, x).astype(np.float64))
            return np.clip(t, -2147483648.0, 2147483647.0).astype(np.int32)
    if dtype == BOOL:
        return x != 0
    return x.astype(dtype.np)


def _cast_expr(ins: tuple[DType, ...], out: DType, attrs=None) -> str:
    src = ins[0]
    if out == BOOL:
        return "({0} != 0)"
    if out == I32 and src.is_float:
        # Saturating, toward zero; NaN is 0 (devices disagree on NaN otherwise).
        return "(isnan({0}) ? 0 : convert_int_sat_rtz({0}))"
    return f"convert_{out.c_name}({{0}})"


def _cast_adjoint(e, n, cts):
    """A float-to-float cast passes the cotangent back in the source dtype."""
    src = n.inputs[0].type.dtype
    if not (src.is_float and n.out.type.dtype.is_float):
        return (None,)
    return (e.cast(cts[0], src),)


CAST = OpDef(
    "cast", _cast_infer, _cast_numpy, Elementwise(_cast_expr), adjoint=_cast_adjoint,
    doc="convert to another dtype (i32 truncates toward zero and saturates)")


DEFS = (ADD, SUB, MUL, DIV, NEG, FLOORDIV, MOD, MAXIMUM, MINIMUM, POW, EXP, LOG,
        LT, LE, GT, GE, EQ, NE, AND, OR, NOT, WHERE, CAST)


def _where_call(ctx, a, dtype, span):
    return ctx.apply("where", [a["c"], a["a"], a["b"]], {}, span)


def _cast_call(name: str, to: DType) -> Call:
    """`f32(x)`, `f64(x)`, `i32(x)`, `bool(x)`: the `cast` op, or a literal at that dtype.

    A weak literal becomes the literal at `to`, exactly (`f64(0.1)` is the
    f64 nearest 0.1), as `to_value` emits it.  Where a literal's kind cannot
    hold its value (a float literal to i32, a number to bool), the cast's
    own rule applies first, folded at compile time for constants, so
    `i32(1e10)` saturates and `i32(0.0 / 0.0)` is 0 instead of wrapping.
    """
    def handler(ctx, a, dtype, span):
        x = a["x"]
        kind = ctx.kind_of(x)
        inexact = kind != to.kind and (to == BOOL or (to == I32 and kind == "float"))
        if ctx.dtype_of(x) is None and inexact:
            x = ctx.apply("cast", [x], {"dtype": to}, span)
        return ctx.to_value(x, to, span)
    return Call(name, (("x", REQUIRED),), handler)


CALLS = (unary_call("exp"), unary_call("log"), binary_call("pow"), binary_call("maximum"),
         binary_call("minimum"),
         Call("where", (("c", REQUIRED), ("a", REQUIRED), ("b", REQUIRED)), _where_call),
         _cast_call("f32", F32), _cast_call("f64", F64), _cast_call("i32", I32),
         _cast_call("bool", BOOL))
