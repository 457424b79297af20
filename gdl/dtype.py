"""Dtypes, tensor types, promotion and NumPy broadcasting.

Owns the static type of every IR value: `TensorType(dtype, shape)` for
tensors and `StackType(elem)` for the internal tape stacks that reverse-mode
differentiation of `while` loops keeps.  Also owns the promotion lattice
`bool < i32 < f32 < f64` and the weak-literal rule of language.md §3.
Imports only `errors`.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Union

import numpy as np


@dataclass(frozen=True)
class DType:
    """One element type: its GDL name, NumPy dtype, OpenCL C type and kind."""

    name: str
    kind: str          # "bool", "int" or "float": the weak-literal kinds
    rank: int          # position in the promotion lattice
    np_name: str
    c_name: str

    @property
    def np(self) -> np.dtype:
        return np.dtype(self.np_name)

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


BOOL = DType("bool", "bool", 0, "bool", "uchar")
I32 = DType("i32", "int", 1, "int32", "int")
F32 = DType("f32", "float", 2, "float32", "float")
F64 = DType("f64", "float", 3, "float64", "double")

DTYPES = MappingProxyType({d.name: d for d in (BOOL, I32, F32, F64)})
KIND_ORDER = ("bool", "int", "float")
DEFAULT_FOR_KIND = MappingProxyType({"bool": BOOL, "int": I32, "float": F32})


def from_numpy(dt: np.dtype) -> DType | None:
    """The GDL dtype whose NumPy dtype is `dt`, or None."""
    for d in DTYPES.values():
        if d.np == np.dtype(dt):
            return d
    return None


Shape = tuple[int, ...]

# NumPy's ndarray stops at 64 dimensions; kernels index every axis, so GDL
# stops well before that, where a program is surely a mistake.
MAX_RANK = 32


def rank_problem(shape: Shape) -> str | None:
    """Why `shape` is not allowed as a tensor's shape, or None if it is."""
    if len(shape) > MAX_RANK:
        return f"{len(shape)} dimensions, expected at most {MAX_RANK}"
    return None


@dataclass(frozen=True)
class TensorType:
    """A dtype and a static shape; scalars have shape ()."""

    dtype: DType
    shape: Shape

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def with_dtype(self, dtype: DType) -> "TensorType":
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        if not self.shape:
            return self.dtype.name
        return f"{self.dtype.name}[{', '.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class StackType:
    """A tape: a sequence of `elem` values whose length is known only at run time."""

    elem: "Type"

    def __str__(self) -> str:
        return f"stack<{self.elem}>"


Type = Union[TensorType, StackType]


def differentiable(t: "Type") -> bool:
    """Float tensors, and tapes of them, carry cotangents; integers and bools do not."""
    if isinstance(t, StackType):
        return differentiable(t.elem)
    return t.dtype.is_float


def scalar(dtype: DType) -> TensorType:
    return TensorType(dtype, ())


def broadcast_shapes(a: Shape, b: Shape) -> Shape | None:
    """NumPy's broadcast of two shapes, or None when they are incompatible."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            return None
        out.append(max(x, y) if x != 1 and y != 1 else (y if x == 1 else x))
    return tuple(reversed(out))


def broadcast_all(shapes: Iterable[Shape]) -> Shape | None:
    """The common broadcast shape of several shapes, or None."""
    result: Shape = ()
    for s in shapes:
        r = broadcast_shapes(result, s)
        if r is None:
            return None
        result = r
    return result


def promote(a: DType, b: DType) -> DType:
    """The joint dtype of two strong dtypes on the lattice bool < i32 < f32 < f64."""
    return a if a.rank >= b.rank else b


def join_kind(a: str, b: str) -> str:
    """The joint kind of two weak values (bool < int < float)."""
    return a if KIND_ORDER.index(a) >= KIND_ORDER.index(b) else b


def meet_weak(strong: DType, weak_kind: str) -> DType:
    """The dtype a weak value of `weak_kind` takes when it meets a `strong` tensor.

    Weak values adopt the tensor's dtype, except that a float literal meeting
    an integer or bool tensor gives f32 (`arange(3) * 0.5` is f32), and an int
    literal meeting a bool tensor gives i32.
    """
    if KIND_ORDER.index(weak_kind) <= KIND_ORDER.index(strong.kind):
        return strong
    return DEFAULT_FOR_KIND[weak_kind]


def common_dtype(operands: Iterable[tuple[DType | None, str]]) -> tuple[DType | None, str]:
    """Promote a mix of strong dtypes and weak kinds.

    Each operand is `(dtype, kind)` with dtype None for a weak value.  Returns
    `(dtype, kind)`: a strong dtype when any operand is strong, else
    `(None, joined weak kind)`.
    """
    strong: DType | None = None
    weak: str | None = None
    for dt, kind in operands:
        if dt is None:
            weak = kind if weak is None else join_kind(weak, kind)
        else:
            strong = dt if strong is None else promote(strong, dt)
    if strong is None:
        return None, weak or "float"
    if weak is not None:
        strong = meet_weak(strong, weak)
    return strong, strong.kind


def parse_dtype(name: str) -> DType | None:
    return DTYPES.get(name)
