"""Host memory for results a CPU device writes in place, recycled without page faults.

A run's results on a CPU device land directly in NumPy arrays (the device
uses their memory).  Fresh large arrays cost a page fault per 4 KiB page the
first time they are written — more than the computation for a fused
kernel — so their memory is pooled: each array handed out is a view of a
pooled block, and the block returns to the pool when the last view of it is
collected.  Owned by a runtime `Device`.  Imports numpy, ctypes.
"""
from __future__ import annotations

import ctypes
import math
import weakref

import numpy as np

PAGE = 4096


class HostPool:
    """Page-aligned host blocks by size, each with the device buffer over it.

    A block (and its buffer, whose creation costs as much as a small kernel)
    is reused once no array handed out on it is alive.
    """

    def __init__(self, wrap, noted=lambda: None):
        self.wrap = wrap                                   # block -> device buffer over it
        self.noted = noted                                 # told after each hand-out
        self.free: dict[int, list[tuple[np.ndarray, object]]] = {}
        self.live_bytes = 0                                # blocks with an array alive

    def _take(self, nbytes: int) -> tuple[np.ndarray, object]:
        blocks = self.free.get(nbytes)
        if blocks:
            return blocks.pop()
        raw = np.empty(nbytes + PAGE, np.uint8)
        start = (-raw.ctypes.data) % PAGE
        block = raw[start:start + nbytes]
        return block, self.wrap(block)

    def _give(self, entry: tuple[np.ndarray, object]) -> None:
        self.live_bytes -= entry[0].nbytes
        self.free.setdefault(entry[0].nbytes, []).append(entry)

    def landing(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[object, np.ndarray]:
        """A device buffer and the array over the same memory, which returns to the pool."""
        itemsize = np.dtype(dtype).itemsize
        count = math.prod(shape)
        entry = self._take(max(count * itemsize, PAGE))
        block, buf = entry
        self.live_bytes += block.nbytes
        self.noted()
        holder = (ctypes.c_char * block.nbytes).from_buffer(block)
        weakref.finalize(holder, self._give, entry)
        return buf, np.frombuffer(holder, dtype, count=count).reshape(shape)
