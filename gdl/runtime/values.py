"""The run-time values an executor keeps for IR values.

`DevTensor` (a device buffer, with a host copy once read), `ConstTensor`
(a literal, uploaded at most once), `HostTape` (a list of host decisions)
and `DevTape` (a growable device buffer of tensors).  Host scalars are
plain 0-d NumPy arrays.  Imports `dtype`, numpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dtype import TensorType


@dataclass
class DevTensor:
    """A tensor in a device buffer; `host` caches it once it has been read."""

    buf: Any
    type: TensorType
    host: np.ndarray | None = None
    shared: bool = False        # kept by the executor across runs (an initial value)
    landing: np.ndarray | None = None    # the host array a CPU device writes it into


@dataclass
class ConstTensor:
    """A literal: known on the host; uploaded at most once per plan when a buffer is needed."""

    array: np.ndarray
    buf: Any = None


@dataclass
class HostTape:
    """A tape of host values; versions share the list (linear use)."""

    items: list
    length: int

    def push(self, v, i: int) -> "HostTape":
        assert i == self.length == len(self.items), "tapes are used linearly"
        self.items.append(v)
        return HostTape(self.items, self.length + 1)

    def get(self, i: int):
        assert 0 <= i < self.length, (i, self.length)
        return self.items[i]


@dataclass
class DevTape:
    """A tape of device tensors: slot i of `store[0]` (a buffer of `store[1]` slots)."""

    elem: TensorType
    store: list = field(default_factory=lambda: [None, 0])
    length: int = 0
    filled: list = field(default_factory=lambda: [0])

    @property
    def nbytes(self) -> int:
        return self.elem.nbytes
