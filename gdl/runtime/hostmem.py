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
import weakref

import numpy as np

PAGE = 4096


class HostPool:
    """Page-aligned host blocks by size; a block is reused once no array uses it."""

    def __init__(self):
        self.free: dict[int, list[np.ndarray]] = {}

    def _take(self, nbytes: int) -> np.ndarray:
        blocks = self.free.get(nbytes)
        if blocks:
            return blocks.pop()
        raw = np.empty(nbytes + PAGE, np.uint8)
        start = (-raw.ctypes.data) % PAGE
        return raw[start:start + nbytes]

    def _give(self, block: np.ndarray) -> None:
        self.free.setdefault(block.nbytes, []).append(block)

    def array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised array on a page boundary, its memory back in the pool after it."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        block = self._take(max(nbytes, 1))
        holder = (ctypes.c_char * block.nbytes).from_buffer(block)
        weakref.finalize(holder, self._give, block)
        return np.frombuffer(holder, dtype, count=nbytes // np.dtype(dtype).itemsize
                             ).reshape(shape)
