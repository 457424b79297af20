"""Weak values: literals and constant expressions whose dtype is not fixed yet.

language.md §3: a literal (or a constant expression of literals, or an
initialiser called without `dtype=`) takes the dtype of the tensor it meets,
exactly: `0.1` meeting an f64 tensor is the f64 nearest 0.1.  So the builder
keeps such a value symbolic, as a `Weak`, until something fixes its dtype,
and only then emits graph nodes for it.

A `Weak` is either a folded constant (`const`: a NumPy array in float64,
int64 or bool, exact) or an op over weak arguments (initialisers, whose
dtype becomes an attribute, and elementwise arithmetic, whose arguments are
emitted at the same dtype).  Emission walks the DAG with an explicit stack.
Imports `ir`, `ops`, `dtype`, `errors`.
"""
from __future__ import annotations

from types import MappingProxyType

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dtype import DEFAULT_FOR_KIND, F64, I32, BOOL, DType, TensorType
from .ir import Value
from .ops.base import Emitter

FOLD_LIMIT = 1 << 16      # elements; larger constant results stay symbolic

FOLD_NP = MappingProxyType({"bool": np.bool_, "int": np.int64, "float": np.float64})


@dataclass(frozen=True, eq=False)
class Weak:
    """A value of weak `kind` ("bool", "int", "float") and static `shape`.

    Exactly one of `const` (a folded array) and `op` is set.  `init` marks
    an initialiser: its dtype is passed as the `dtype` attribute and its
    arguments (a seed) keep their own dtypes.
    """

    kind: str
    shape: tuple[int, ...]
    const: np.ndarray | None = None
    op: str | None = None
    args: tuple[Any, ...] = ()
    attrs: dict = field(default_factory=dict)
    init: bool = False

    @property
    def default_type(self) -> TensorType:
        return TensorType(DEFAULT_FOR_KIND[self.kind], self.shape)

    def scalar_value(self):
        """The Python scalar of a folded 0-d constant, else None."""
        if self.const is None or self.const.shape != ():
            return None
        return self.const.item()


def constant(value: Any, kind: str) -> Weak:
    """A folded weak constant from a Python value or nested list."""
    arr = np.asarray(value, dtype=FOLD_NP[kind])
    return Weak(kind, tuple(arr.shape), const=arr)


def typed_const(arr: np.ndarray, dtype: DType) -> np.ndarray:
    """`arr` converted to `dtype` (integers wrap to 32 bits)."""
    if dtype == I32:
        return (np.asarray(arr).astype(np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    if dtype == BOOL:
        return np.asarray(arr) != 0
    return np.asarray(arr).astype(dtype.np)


def _arg_dtype(item: Weak, arg: Any, dt: DType) -> DType:
    """The dtype an argument of `item` is emitted at when `item` is emitted at `dt`.

    Arithmetic arguments share the result's dtype; an initialiser's
    arguments (a seed) keep their own.
    """
    if not item.init:
        return dt
    return arg.type.dtype if isinstance(arg, Value) else DEFAULT_FOR_KIND[arg.kind]


def emit(e: Emitter, w: Weak, dtype: DType) -> Value:
    """Graph nodes computing `w` at `dtype`; shared sub-expressions are emitted once.

    A post-order walk with an explicit stack, so long literal chains do not
    recurse.
    """
    done: dict[tuple[int, DType], Value] = {}
    stack: list[tuple[Weak, DType, bool]] = [(w, dtype, False)]
    while stack:
        item, dt, expanded = stack.pop()
        key = (id(item), dt)
        if key in done:
            continue
        if item.const is not None:
            done[key] = e.const(typed_const(item.const, dt), dt)
            continue
        if not expanded:
            stack.append((item, dt, True))
            stack.extend((a, _arg_dtype(item, a, dt), False) for a in item.args
                         if isinstance(a, Weak))
            continue
        inputs = [a if isinstance(a, Value) else done[(id(a), _arg_dtype(item, a, dt))]
                  for a in item.args]
        attrs = dict(item.attrs)
        if item.init:
            attrs["dtype"] = dt
        done[key] = e.op(item.op, *inputs, **attrs)
    return done[(id(w), dtype)]


def fold_dtype(kind: str) -> DType:
    """The representative dtype used to type-check a weak op of `kind`."""
    return DEFAULT_FOR_KIND[kind] if kind != "float" else F64
