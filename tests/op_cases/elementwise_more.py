"""Cases of floor division, modulo, maximum and minimum (gdl/ops/elementwise.py).

Random operands with NumPy broadcasting on f32, f64 and i32, plus special
values: zero, infinite and NaN divisors, signed zeros, the i32 corner cases
(division by zero gives 0, INT_MIN // -1 wraps), NaN in maximum/minimum.
"""
from __future__ import annotations

import numpy as np

from gdl.dtype import BOOL, F64, I32

from .base import FLOATS, F, GradCase, Inst, T, values
from .core import BINARY_SHAPES

FAMILY = ("floordiv", "mod", "maximum", "minimum")
DOMAINS = {"floordiv": ("normal", "nonzero"), "mod": ("normal", "nonzero"),
           "maximum": ("ties", "ties"), "minimum": ("ties", "ties")}
# a, b pairs where C's fmod, truncating division or fmax/fmin differ from Python/NumPy.
FLOAT_A = (7.5, -7.5, 7.5, -7.5, 0.0, -0.0, 1.0, -1.0, 0.0, 5.0, -5.0, np.inf, np.nan, 3.0,
           6.0, -6.0, 1e-30, -1e-30, 4.0)
FLOAT_B = (2.0, 2.0, -2.0, -2.0, 3.0, 3.0, 0.0, -0.0, 0.0, np.inf, np.inf, 2.0, 2.0, np.nan,
           3.0, 3.0, 3.0, 3.0, -np.inf)
INT_A = (7, -7, 7, -7, 5, -2**31, -2**31, 2**31 - 1, 0, -1, 6, -6)
INT_B = (2, 2, -2, -2, 0, -1, 1, -1, 0, 2**31 - 1, -3, 3)


def forward(rng) -> list[Inst]:
    out: list[Inst] = []
    for op in FAMILY:
        for dt in FLOATS + (I32,):
            for label, (shapes, _) in BINARY_SHAPES.items():
                if dt == F64 and label in ("outer", "scalar2"):
                    continue
                if dt == I32 and op in ("floordiv", "mod"):
                    a = values("", shapes[0], I32, rng)
                    b = rng.integers(-9, 10, shapes[1]).astype(np.int32)   # zeros included
                    ins = (a, b)
                else:
                    ins = tuple(values(k, s, dt, rng) for k, s in zip(DOMAINS[op], shapes))
                out.append(Inst(op, f"{dt}-{label}", tuple(T(dt, *s) for s in shapes), {}, ins,
                                f"binary-{dt}-{label}"))
        for dt in FLOATS:
            a, b = np.array(FLOAT_A, dt.np), np.array(FLOAT_B, dt.np)
            out.append(Inst(op, f"{dt}-special", (T(dt, len(a)),) * 2, {}, (a, b),
                            f"binary-{dt}-same"))
        a, b = np.array(INT_A, np.int32), np.array(INT_B, np.int32)
        out.append(Inst(op, "i32-special", (T(I32, len(a)),) * 2, {}, (a, b),
                        "binary-i32-same"))
    return out


def grads(rng) -> list[GradCase]:
    """maximum/minimum off ties; mod with respect to its left operand only.

    The divisor of `%` gets no gradient by definition (language.md §5), so
    finite differences along it would disagree; tests/test_math_semantics.py
    checks that it is zero.
    """
    out = []
    f = lambda kind, s: values(kind, s, F64, rng)  # noqa: E731
    for op, wrt in (("maximum", (0, 1)), ("minimum", (0, 1)), ("mod", (0,))):
        doms = ("normal", "nonzero") if op == "mod" else ("normal", "normal")
        for label, (shapes, strided) in BINARY_SHAPES.items():
            ins = tuple(f(k, s) for k, s in zip(doms, shapes))
            # Piecewise linear: finite differences are exact but for rounding, so a
            # larger step (still far from any tie or jump) keeps that rounding small.
            out.append(GradCase(op, label, tuple(T(F64, *s) for s in shapes), {}, ins, wrt,
                                eps=1e-5, rtol=5e-7, strided=strided))
    return out


ERRORS = {
    op: [([F(5), F(7)], {}, [sym, "f32[5]", "f32[7]"]),
         ([T(BOOL, 2), T(BOOL, 2)], {}, [sym, "bool"]),
         ([F(2), T(F64, 2)], {}, [sym, "f32[2]", "f64[2]"]),
         ([T(I32, 2), F(2)], {}, [sym, "i32[2]", "f32[2]"])]
    for op, sym in (("floordiv", "//"), ("mod", "%"), ("maximum", "maximum"),
                    ("minimum", "minimum"))
}
