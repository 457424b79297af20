"""Cases of the linear-algebra ops: `matmul` in every shape form and with its
transpose flags (`dot` is in core.py).

Float operands are small multiples of 1/4, so every product and partial sum
is exact and any summation order gives the oracle's value; rounding on
real data is checked in tests/test_linalg.py.  i32 operands span the full
range, so the products and sums wrap.
"""
from __future__ import annotations

import numpy as np

from gdl.dtype import BOOL, F32, F64, I32, DType

from .base import F, GradCase, Inst, T, values

# (label, left shape, right shape, transpose_a, transpose_b): shapes as stored.
FORMS = (
    ("3x5@5x4", (3, 5), (5, 4), False, False),
    ("7x3@3x9", (7, 3), (3, 9), False, False),      # 9 columns: a partial register block
    ("1x6@6x5", (1, 6), (6, 5), False, False),
    ("6x1@1x5", (6, 1), (1, 5), False, False),      # K = 1: an outer product
    ("4x6@6x1", (4, 6), (6, 1), False, False),
    ("1x3@3x1", (1, 3), (3, 1), False, False),
    ("5x3T@5x6", (5, 3), (5, 6), True, False),
    ("3x5@6x5T", (3, 5), (6, 5), False, True),
    ("5x3T@6x5T", (5, 3), (6, 5), True, True),
    ("4x5@5", (4, 5), (5,), False, False),
    ("5x4T@5", (5, 4), (5,), True, False),
    ("5@5x7", (5,), (5, 7), False, False),
    ("5@7x5T", (5,), (7, 5), False, True),
    ("6@6", (6,), (6,), False, False),
    # Past the CPU register tile (8 x 16): a whole tile plus a shifted last one
    # along N (M for tt), clamped rows, every flag pair; N = 1 as nt and tt.
    ("19x9@9x17", (19, 9), (9, 17), False, False),
    ("9x19T@9x17", (9, 19), (9, 17), True, False),
    ("19x9@17x9T", (19, 9), (17, 9), False, True),
    ("9x19T@17x9T", (9, 19), (17, 9), True, True),
    ("21x9@9", (21, 9), (9,), False, False),
    ("9x21T@9", (9, 21), (9,), True, False),
)


def _flags(ta: bool, tb: bool) -> dict:
    return {k: True for k, v in (("transpose_a", ta), ("transpose_b", tb)) if v}


def _operand(shape: tuple, dt: DType, rng) -> np.ndarray:
    if dt == I32:
        return values("wrap", shape, dt, rng)
    return (rng.integers(-12, 13, shape) / 4).astype(dt.np)


def forward(rng) -> list[Inst]:
    out = []
    for dt in (F32, F64, I32):
        for label, sa, sb, ta, tb in FORMS:
            ins = (_operand(sa, dt, rng), _operand(sb, dt, rng))
            out.append(Inst("matmul", f"{dt}-{label}", (T(dt, *sa), T(dt, *sb)), _flags(ta, tb),
                            ins, f"linalg-{dt}"))
    return out


def grads(rng) -> list[GradCase]:
    out = []
    for label, sa, sb, ta, tb in FORMS:
        if label.startswith(("7x3", "1x3")):
            continue
        ins = (values("normal", sa, F64, rng), values("normal", sb, F64, rng))
        out.append(GradCase("matmul", label, (T(F64, *sa), T(F64, *sb)), _flags(ta, tb), ins,
                            (0, 1)))
    return out


ERRORS = {
    "matmul": [
        ([F(2, 3), F(4, 2)], {}, ["f32[2, 3] @ f32[4, 2]", "inner dimensions 3 and 4"]),
        ([F(3), F(4)], {}, ["f32[3] @ f32[4]", "3 and 4"]),
        ([F(2, 3), F(2)], {}, ["f32[2, 3] @ f32[2]", "3 and 2"]),
        ([F(2, 3), F(2, 4)], {"transpose_b": True}, ["f32[2, 4].T", "3 and 4"]),
        ([F(2, 3, 4), F(4)], {}, ["f32[2, 3, 4]", "rank 3", "1-D or 2-D"]),
        ([F(), F(4)], {}, ["1-D or 2-D", "rank 0"]),
        ([T(BOOL, 2, 2), T(BOOL, 2, 2)], {}, ["bool[2, 2]", "numbers"]),
        ([F(2, 2), T(F64, 2, 2)], {}, ["f32[2, 2]", "f64[2, 2]"]),
        ([F(3), F(3, 2)], {"transpose_a": True}, ["transpose_a", "2-D", "f32[3]"]),
    ],
}
