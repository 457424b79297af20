"""What a case of the op-table test is, and how operands are drawn.

Each module of this package describes the cases of one op family:
`forward(rng) -> list[Inst]`, `grads(rng) -> list[GradCase]`, `ERRORS`
(op -> [(operand types, attrs, message fragments)]) and optionally
`NO_USER_ERRORS` (ops a user cannot give bad operands).  `tests/test_ops.py`
gathers every module, so a family adds its cases in its own file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gdl.dtype import BOOL, F32, F64, I32, DType, TensorType
from gdl.ops import OPS

FLOATS = (F32, F64)
CONTROL_OPS = frozenset({"while", "if", "grad"})     # tested in test_autodiff.py
TAPE_OPS = frozenset({"stack_new", "push", "get", "stack_zeros", "stack_add_at",
                      "stack_add"})                    # internal; tested through loops
EFFECT_OPS = frozenset({"assert", "print"})          # tested in test_statements.py


def T(dt: DType, *shape: int) -> TensorType:
    return TensorType(dt, tuple(shape))


def F(*shape: int) -> TensorType:
    return T(F32, *shape)


def values(kind: str, shape: tuple, dt: DType, rng) -> np.ndarray:
    """Random operand values of a domain `kind`, away from kinks and poles."""
    if dt == BOOL:
        return rng.random(shape) < 0.5
    if dt == I32:
        if kind == "wrap":          # the full range: sums and products wrap
            return rng.integers(-2**31, 2**31, shape, dtype=np.int64).astype(np.int32)
        if kind == "pow_base":
            return rng.integers(-5, 6, shape).astype(np.int32)
        if kind == "pow_exp":
            return rng.integers(-2, 25, shape).astype(np.int32)
        if kind == "ties":
            return rng.integers(-2, 3, shape).astype(np.int32)
        return rng.integers(-1000, 1000, shape).astype(np.int32)
    draw = {
        "normal": lambda: rng.standard_normal(shape) * 3,
        "nonzero": lambda: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 4.0, shape),
        "pos": lambda: rng.uniform(0.2, 4.0, shape),
        "pos_wide": lambda: np.exp(rng.uniform(-8, 8, shape)),
        "pow_base": lambda: rng.uniform(0.3, 3.0, shape),
        "pow_exp": lambda: rng.uniform(-2.5, 2.5, shape),
        "exp": lambda: rng.uniform(-15, 15, shape),
        "ties": lambda: np.where(rng.random(shape) < 0.15, np.nan,
                                 rng.integers(-2, 3, shape).astype(np.float64)),
        "wrap": lambda: rng.standard_normal(shape) * 1e3,
    }[kind]
    return np.asarray(draw(), dtype=dt.np)


@dataclass
class Inst:
    """One op applied to concrete operands, run in batch `batch`."""

    op: str
    label: str
    in_types: tuple
    attrs: dict
    inputs: tuple
    batch: str
    ulps: float = 0.5
    oracle: Callable | None = None       # float64 oracle; default: the reference on f64

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label}"

    @property
    def out_type(self) -> TensorType:
        (t,) = OPS[self.op].infer(self.in_types, self.attrs, None)
        return t


@dataclass
class GradCase:
    """A differentiable op on f64 operands; `wrt` the operands to differentiate."""

    op: str
    label: str
    in_types: tuple
    attrs: dict
    inputs: tuple
    wrt: tuple
    eps: float = 1e-6
    rtol: float = 1e-7
    strided: bool = False

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label}"


