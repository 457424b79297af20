"""Cases of the reductions beyond sum: max, min, prod, argmax, argmin, cumsum.

Forward cases run in one batch per (dtype, family) and cover the two-stage
path (few outputs over long rows: (9000,), (3, 5000)) with NaNs and ties
placed in later chunks; gradient cases avoid ties (tests/test_reductions.py
has the dedicated tie, NaN and zero tests).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from gdl.dtype import BOOL, F64, I32

from .base import FLOATS, F, GradCase, Inst, T, values

# (shape, axis, keepdims) of max/min/prod; the last three take the two-stage path.
REDUCTIONS = (((7,), None, False), ((3, 4), (0,), False), ((3, 4), (-1,), True),
              ((3, 4), None, True), ((2, 3, 4), (0, 2), False), ((2, 3, 4), (1,), True),
              ((2, 3, 4, 5), (1, 3), False), ((), None, False), ((9000,), None, False),
              ((3, 5000), (1,), False), ((5000, 3), (0,), False))
# (shape, axis, keepdims) of argmax/argmin (one axis or None).
ARG_AXES = (((7,), None, False), ((3, 4), None, False), ((3, 4), 0, False), ((3, 4), -1, True),
            ((2, 3, 4), 1, False), ((2, 3, 4), None, True), ((), None, False),
            ((9000,), None, False), ((3, 5000), 1, False), ((5000, 3), 0, False))
# (shape, axis, reverse) of cumsum.
SCANS = (((7,), 0, False), ((7,), 0, True), ((3, 4), 0, False), ((3, 4), 1, True),
         ((2, 3, 4), 1, False), ((2, 3, 4), -1, False), ((2, 3, 4), 0, True), ((1,), 0, False))
LONG_SCANS = (((9000,), 0, False), ((3, 2000), 1, True), ((300, 3), 0, False))


def _label(shape, axis, keep) -> str:
    ax = "none" if axis is None else list(axis) if isinstance(axis, tuple) else axis
    return f"{list(shape)}-axis{ax}{'-keep' if keep else ''}"


def _prod_values(shape, dt, rng) -> np.ndarray:
    """Factors whose products neither overflow nor underflow, even over 9000 of them."""
    if dt == I32:       # odd factors: long products wrap but never reach 0
        return rng.choice(np.array([-3, -1, 1, 3], np.int32), shape)
    n = int(np.prod(shape))
    spread = 0.01 if n > 100 else 0.5
    return (rng.choice([-1.0, 1.0], shape) * np.exp(rng.uniform(-spread, spread, shape))
            ).astype(dt.np)


def _exact_cumsum(x, axis, reverse=False) -> np.ndarray:
    """Running sums computed exactly (rationals), rounded once to float64."""
    lines = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    out = np.empty(lines.shape)
    for idx in np.ndindex(lines.shape[:-1]):
        row = lines[idx]
        order = range(len(row) - 1, -1, -1) if reverse else range(len(row))
        acc = Fraction(0)
        for j in order:
            acc += Fraction(float(row[j]))
            out[idx + (j,)] = float(acc)
    return np.moveaxis(out, -1, axis)


def _plant(x: np.ndarray, where: list[tuple[int, float]]) -> np.ndarray:
    x = x.copy()
    for i, v in where:
        x.reshape(-1)[i] = v
    return x


def forward(rng) -> list[Inst]:
    out: list[Inst] = []
    for dt in FLOATS + (I32,):
        kind = "wrap" if dt == I32 else "normal"
        for op in ("max", "min"):
            for shape, axis, keep in REDUCTIONS:
                x = values(kind, shape, dt, rng)
                out.append(Inst(op, f"{dt}-{_label(shape, axis, keep)}", (T(dt, *shape),),
                                {"axis": axis, "keepdims": keep}, (x,), f"reduce-more-{dt}"))
            # Ties and (floats) NaNs in short rows; NaNs and ties in a later chunk of long ones.
            x = values("ties", (6, 4), dt, rng)
            out.append(Inst(op, f"{dt}-ties-axis1", (T(dt, 6, 4),), {"axis": (1,),
                            "keepdims": False}, (x,), f"reduce-more-{dt}"))
            if dt.is_float:
                x = _plant(values("normal", (9000,), dt, rng), [(6100, np.nan)])
                out.append(Inst(op, f"{dt}-nan-late-chunk", (T(dt, 9000),),
                                {"axis": None, "keepdims": False}, (x,), f"reduce-more-{dt}"))
                x = _plant(values("normal", (3, 5000), dt, rng), [(5000 + 4999, np.nan)])
                out.append(Inst(op, f"{dt}-nan-row-end", (T(dt, 3, 5000),),
                                {"axis": (1,), "keepdims": True}, (x,), f"reduce-more-{dt}"))
        for shape, axis, keep in REDUCTIONS:
            x = _prod_values(shape, dt, rng)
            n = max(1, x.size // np.sum(x, axis=axis).size)      # factors per product
            out.append(Inst("prod", f"{dt}-{_label(shape, axis, keep)}", (T(dt, *shape),),
                            {"axis": axis, "keepdims": keep}, (x,), f"reduce-more-{dt}",
                            ulps=float(n + 1)))
        if dt == I32:
            x = values("wrap", (4, 6), dt, rng)
            out.append(Inst("prod", "i32-wrap", (T(dt, 4, 6),), {"axis": (1,),
                            "keepdims": False}, (x,), "reduce-more-i32"))
        x = _plant(_prod_values((3, 5), dt, rng), [(1, 0), (7, 0), (8, 0)])
        out.append(Inst("prod", f"{dt}-zeros", (T(dt, 3, 5),), {"axis": (1,), "keepdims": False},
                        (x,), f"reduce-more-{dt}", ulps=6.0))
    # argmax / argmin: ties (and NaNs for floats) everywhere; bools too.
    for dt in FLOATS + (I32, BOOL):
        for op in ("argmax", "argmin"):
            for shape, axis, keep in ARG_AXES:
                if dt == BOOL and len(shape) > 0 and np.prod(shape) > 100:
                    continue
                x = values("ties" if dt != BOOL else "", shape, dt, rng)
                if dt.is_float and np.prod(shape) > 100:
                    x = values("normal", shape, dt, rng)
                out.append(Inst(op, f"{dt}-{_label(shape, axis, keep)}", (T(dt, *shape),),
                                {"axis": axis, "keepdims": keep}, (x,), f"arg-{dt}"))
        if dt == BOOL:
            continue
        # Two-stage: the extreme tied in chunks 1 and 2 (the earlier wins); a NaN late.
        x = values("normal", (9000,), dt, rng) if dt.is_float else \
            rng.integers(-1000, 1000, (9000,)).astype(np.int32)
        for op, v in (("argmax", 5000), ("argmin", -5000)):
            tie = _plant(x, [(7000, v), (4500, v), (8999, v)])
            out.append(Inst(op, f"{dt}-tie-across-chunks", (T(dt, 9000),),
                            {"axis": None, "keepdims": False}, (tie,), f"arg-{dt}"))
            if dt.is_float:
                nan = _plant(x, [(8000, np.nan), (8500, np.nan), (100, v)])
                out.append(Inst(op, f"{dt}-nan-late", (T(dt, 9000),),
                                {"axis": None, "keepdims": False}, (nan,), f"arg-{dt}"))
    # cumsum: positive floats (no cancellation: the compensated scan is within 2 ulp of
    # the exact running sums), wrapping i32.
    for dt in FLOATS + (I32,):
        scans = SCANS + (LONG_SCANS if dt != F64 else LONG_SCANS[1:])
        for shape, axis, rev in scans:
            x = values("wrap" if dt == I32 else "pos", shape, dt, rng)
            out.append(Inst("cumsum", f"{dt}-{list(shape)}-axis{axis}{'-rev' if rev else ''}",
                            (T(dt, *shape),), {"axis": axis, "reverse": rev}, (x,),
                            f"scan-{dt}", ulps=2.0,
                            oracle=None if dt == I32 else
                            (lambda a, _axis=axis, _rev=rev: _exact_cumsum(a, _axis, _rev))))
    return out


def grads(rng) -> list[GradCase]:
    out: list[GradCase] = []
    f = lambda kind, s: values(kind, s, F64, rng)  # noqa: E731
    for op, shapes in (("max", (((7,), None, False), ((3, 4), (0,), True),
                                ((2, 3, 4), (0, 2), False))),
                       ("min", (((3, 4), (1,), False), ((), None, False)))):
        for shape, axis, keep in shapes:
            out.append(GradCase(op, _label(shape, axis, keep), (T(F64, *shape),),
                                {"axis": axis, "keepdims": keep}, (f("normal", shape),), (0,),
                                strided=axis is not None))
    for shape, axis, keep in (((5,), None, False), ((3, 4), (0,), True),
                              ((2, 3, 4), (0, 2), False)):
        out.append(GradCase("prod", _label(shape, axis, keep), (T(F64, *shape),),
                            {"axis": axis, "keepdims": keep}, (f("nonzero", shape),), (0,),
                            strided=axis is not None))
    # prod is multilinear, so finite differences hold at zeros too: one zero, two zeros.
    for label, zeros in (("one-zero", [(1, 0.0)]),
                         ("zeros-in-rows", [(0, 0.0), (5, 0.0), (6, 0.0)])):
        shape = (3, 4) if label == "zeros-in-rows" else (5,)
        axis = (1,) if label == "zeros-in-rows" else None
        out.append(GradCase("prod", label, (T(F64, *shape),), {"axis": axis, "keepdims": False},
                            (_plant(f("nonzero", shape), zeros),), (0,), strided=axis is not None))
    for shape, axis, rev in (((6,), 0, False), ((3, 4), 1, True), ((2, 3, 4), -2, False)):
        out.append(GradCase("cumsum", f"{list(shape)}-axis{axis}{'-rev' if rev else ''}",
                            (T(F64, *shape),), {"axis": axis, "reverse": rev},
                            (f("normal", shape),), (0,)))
    return out


ERRORS = {
    "max": [([T(BOOL, 3)], {"axis": None, "keepdims": False}, ["max", "bool"]),
            ([F(3, 4)], {"axis": 2, "keepdims": False}, ["max", "axis 2", "rank-2"]),
            ([F(3, 4)], {"axis": (1, -1), "keepdims": False}, ["max", "repeated"])],
    "min": [([F(3, 4)], {"axis": -3, "keepdims": False}, ["min", "axis -3"]),
            ([F()], {"axis": 0, "keepdims": False}, ["min", "scalar"])],
    "prod": [([T(BOOL, 3)], {"axis": None, "keepdims": False}, ["prod", "bool"]),
             ([T(I32, 3)], {"axis": 1, "keepdims": False}, ["prod", "axis 1", "rank-1"])],
    "argmax": [([F(3, 4)], {"axis": (0, 1), "keepdims": False}, ["argmax", "one axis"]),
               ([F(3, 4)], {"axis": 2, "keepdims": False}, ["argmax", "axis 2"])],
    "argmin": [([F()], {"axis": 0, "keepdims": False}, ["argmin", "scalar"])],
    "cumsum": [([T(BOOL, 3)], {"axis": 0, "reverse": False}, ["cumsum", "bool"]),
               ([F(3, 4)], {"axis": None, "reverse": False}, ["cumsum", "one axis"]),
               ([F(3, 4)], {"axis": 3, "reverse": False}, ["cumsum", "axis 3"])],
}
