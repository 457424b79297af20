"""Cases of the math ops (gdl/ops/math.py): log1p, sqrt, sin, cos, tanh, sigmoid,
relu, abs, sign, floor, clip.

Random operands on a few shapes and dtypes, plus one instance per op and
float dtype on special values (NaN, infinities, signed zeros, the edges of
each domain), so the device's C forms are checked where OpenCL's builtins
and NumPy part ways.
"""
from __future__ import annotations

import numpy as np

from gdl.dtype import BOOL, F64, I32, DType

from .base import FLOATS, F, GradCase, Inst, T, values

ULPS = {"log1p": 2, "sqrt": 3, "sin": 4, "cos": 4, "tanh": 5, "sigmoid": 8}
FLOAT_UNARY = {            # op: domain of its random operands
    "log1p": "log1p", "sqrt": "sqrt", "sin": "normal", "cos": "normal", "tanh": "normal",
    "sigmoid": "sigmoid", "floor": "normal",
}
NUMERIC_UNARY = {"relu": "normal", "abs": "normal", "sign": "normal"}
SPECIAL = (np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-5, -1e-5, 0.5, -0.5, 2.5, -2.5, -1.0,
           -2.0, 30.0, -30.0, 1e6)
INT_SPECIAL = (-2**31, 2**31 - 1, -1, 0, 1, -7, 7)
# Piecewise linear ops: finite differences are exact but for rounding, so a larger
# step (still far from every kink) keeps that rounding below the tolerance.
PIECEWISE = {"eps": 1e-5, "rtol": 5e-7}
CLIP_SHAPES = {            # label: shapes of x, lo, hi; strided broadcast?
    "same": (((3, 4), (3, 4), (3, 4)), False),
    "row": (((3, 4), (4,), ()), True),
    "outer": (((3, 1), (1, 4), (3, 4)), True),
    "scalar": (((), (5,), (5,)), False),
}


def draw(kind: str, shape: tuple, dt: DType, rng) -> np.ndarray:
    """Operands of the domains this family adds, else the shared ones (base.values)."""
    if dt.is_float:
        local = {
            "log1p": lambda: np.where(rng.random(shape) < 0.3, rng.uniform(-1e-4, 1e-4, shape),
                                      rng.uniform(-0.99, 20.0, shape)),
            "log1p_grad": lambda: rng.uniform(-0.5, 3.0, shape),
            "sqrt": lambda: np.where(rng.random(shape) < 0.1, 0.0, np.exp(rng.uniform(-8, 8,
                                                                                      shape))),
            "sigmoid": lambda: rng.uniform(-80.0, 80.0, shape),
            "lo": lambda: rng.uniform(-3.0, -0.5, shape),
            "hi": lambda: rng.uniform(0.5, 3.0, shape),
        }
        if kind in local:
            return np.asarray(local[kind](), dt.np)
    return values(kind, shape, dt, rng)


def forward(rng) -> list[Inst]:
    out: list[Inst] = []
    for op, kind in FLOAT_UNARY.items():
        for dt in FLOATS:
            for shape in ((), (7,), (3, 4)):
                out.append(Inst(op, f"{dt}-{list(shape)}", (T(dt, *shape),), {},
                                (draw(kind, shape, dt, rng),), f"unary-{dt}",
                                ULPS.get(op, 0.5)))
    for op, kind in NUMERIC_UNARY.items():
        for dt in FLOATS + (I32,):
            for shape in ((), (7,), (3, 4)):
                x = draw("wrap" if dt == I32 else kind, shape, dt, rng)
                if shape == (7,):
                    x[:3] = 0                       # the kink
                out.append(Inst(op, f"{dt}-{list(shape)}", (T(dt, *shape),), {}, (x,),
                                f"unary-{dt}"))
    # Special values: NaN, infinities, signed zeros, domain edges.
    for op in list(FLOAT_UNARY) + list(NUMERIC_UNARY):
        for dt in FLOATS:
            x = np.array(SPECIAL, dt.np)
            out.append(Inst(op, f"{dt}-special", (T(dt, len(SPECIAL)),), {}, (x,),
                            f"unary-{dt}", ULPS.get(op, 0.5)))
    for op in NUMERIC_UNARY:
        x = np.array(INT_SPECIAL, np.int32)
        out.append(Inst(op, "i32-special", (T(I32, len(INT_SPECIAL)),), {}, (x,), "unary-i32"))
    # clip: three operands broadcasting, on floats and i32.
    for dt in FLOATS + (I32,):
        for label, (shapes, _) in CLIP_SHAPES.items():
            if dt == I32:
                ins = (values("", shapes[0], I32, rng),
                       rng.integers(-600, 0, shapes[1]).astype(np.int32),
                       rng.integers(0, 600, shapes[2]).astype(np.int32))
            else:
                ins = (draw("normal", shapes[0], dt, rng), draw("lo", shapes[1], dt, rng),
                       draw("hi", shapes[2], dt, rng))
            out.append(Inst("clip", f"{dt}-{label}", tuple(T(dt, *s) for s in shapes), {}, ins,
                            f"binary-{dt}-{label if label != 'outer' else 'row'}"))
    for dt in FLOATS:
        # NaN x, x at the bounds, lo > hi (gives hi), NaN bounds.
        x = np.array([np.nan, -1.0, 1.0, 0.5, 5.0, -5.0, 0.5, 0.5], dt.np)
        lo = np.array([0.0, -1.0, -1.0, 2.0, 2.0, 2.0, np.nan, 0.0], dt.np)
        hi = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan], dt.np)
        out.append(Inst("clip", f"{dt}-special", (T(dt, 8),) * 3, {}, (x, lo, hi),
                        f"binary-{dt}-same"))
    return out


def grads(rng) -> list[GradCase]:
    out = []
    f = lambda kind, s: draw(kind, s, F64, rng)  # noqa: E731
    doms = {"log1p": "log1p_grad", "sqrt": "pos", "sin": "normal", "cos": "normal",
            "tanh": "normal", "sigmoid": "normal", "relu": "nonzero", "abs": "nonzero"}
    for op, kind in doms.items():
        for shape in ((), (3, 4)):
            linear = op in ("relu", "abs")       # piecewise linear: see clip below
            out.append(GradCase(op, str(list(shape)), (T(F64, *shape),), {},
                                (f(kind, shape),), (0,), **(PIECEWISE if linear else {})))
    for label, (shapes, strided) in CLIP_SHAPES.items():
        ins = (f("normal", shapes[0]), f("lo", shapes[1]), f("hi", shapes[2]))
        out.append(GradCase("clip", label, tuple(T(F64, *s) for s in shapes), {}, ins,
                            (0, 1, 2), strided=strided, **PIECEWISE))
    return out


ERRORS = {
    **{op: [([T(I32, 3)], {}, [op, "i32[3]"]), ([T(BOOL, 2)], {}, [op, "bool[2]"])]
       for op in FLOAT_UNARY},
    **{op: [([T(BOOL, 3)], {}, [op, "bool[3]"])] for op in NUMERIC_UNARY},
    "clip": [([F(3), F(4), F()], {}, ["clip", "f32[3]", "f32[4]"]),
             ([F(3), T(F64, 3), F(3)], {}, ["clip", "f32[3]", "f64[3]"]),
             ([T(BOOL, 2), T(BOOL, 2), T(BOOL, 2)], {}, ["clip", "bool"])],
}
