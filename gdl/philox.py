"""GDL's random streams, exactly: Philox4x32-10 and the rand/randn rules.

Owns: `philox4x32_10` (Random123's counter-based generator, vectorised over
counters), and `uniform` / `normal`, the reference semantics of GDL's
`rand(shape, seed=s)` and `randn(shape, seed=s)` (language.md section 3.1).
Element k (row-major flat index) uses key (s mod 2^32, 0) and counter
(k mod 2^32, k div 2^32, 0, 0); from its output words (w0, w1, w2, w3):

- uniform f32 = (w0 >> 8) * 2^-24, f64 = ((w0 >> 5) * 2^26 + (w1 >> 6)) * 2^-53;
- normal = sqrt(-2 ln u1) * cos(2 pi u2), u1 = ((w0 >> 8) + 1) * 2^-24,
  u2 = (w1 >> 8) * 2^-24, computed in the result's dtype.

The OpenCL twin is gdl/kernels/philox.cl; uniform values agree bit for bit,
normal values to within the transcendental functions' error.
Imports only numpy (no pyopencl), so the reference interpreter can use it.
"""
from __future__ import annotations

from types import MappingProxyType

import operator

import numpy as np

_MASK32 = 0xFFFFFFFF
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_ROUNDS = 10
_TWO_PI = MappingProxyType({
    np.dtype(np.float32): np.float32(2.0 * np.pi),
    np.dtype(np.float64): np.float64(2.0 * np.pi),
})


def _mulhilo(m: np.uint64, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The high and low words of the exact 64-bit product of u32s."""
    prod = x.astype(np.uint64) * m
    return (prod >> np.uint64(32)).astype(np.uint32), prod.astype(np.uint32)


def philox4x32_10(counters, key) -> np.ndarray:
    """Random123's Philox4x32-10 applied to every counter in `counters`.

    `counters` is a uint32 array (or array-like) of shape [..., 4]; `key` is
    the pair (k0, k1), each taken mod 2^32.  Returns uint32 [..., 4].
    """
    ctr = np.asarray(counters)
    if ctr.ndim == 0 or ctr.shape[-1] != 4:
        raise ValueError(f"counters must have shape [..., 4], got {ctr.shape}")
    c0, c1, c2, c3 = (ctr[..., i].astype(np.uint32) for i in range(4))
    k0, k1 = int(key[0]) & _MASK32, int(key[1]) & _MASK32
    for r in range(_ROUNDS):
        if r:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = (hi1 ^ c1 ^ np.uint32(k0), lo1,
                          hi0 ^ c3 ^ np.uint32(k1), lo0)
    return np.stack([c0, c1, c2, c3], axis=-1)


def _words_at(k, seed: int) -> np.ndarray:
    """The four output words for flat indices `k` (uint64) under `seed`."""
    k = np.asarray(k, dtype=np.uint64)
    counters = np.zeros(k.shape + (4,), dtype=np.uint32)
    counters[..., 0] = (k & np.uint64(_MASK32)).astype(np.uint32)
    counters[..., 1] = (k >> np.uint64(32)).astype(np.uint32)
    return philox4x32_10(counters, (operator.index(seed) & _MASK32, 0))


def _setup(shape, dtype) -> tuple[tuple[int, ...], np.dtype]:
    """Normalise and check a shape and a float dtype."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(operator.index(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    dt = np.dtype(dtype)
    if dt not in _TWO_PI:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return shape, dt


def _words(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Words for every element of `shape`, in row-major order."""
    n = int(np.prod(shape, dtype=np.int64))
    return _words_at(np.arange(n, dtype=np.uint64), seed).reshape(shape + (4,))


def uniform(shape, seed: int, dtype=np.float32) -> np.ndarray:
    """GDL's `rand`: exactly representable values in [0, 1) from Philox."""
    shape, dt = _setup(shape, dtype)
    w = _words(shape, seed)
    if dt == np.float32:
        return (w[..., 0] >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
    bits = ((w[..., 0] >> np.uint32(5)).astype(np.uint64) << np.uint64(26)) | (
        w[..., 1] >> np.uint32(6)).astype(np.uint64)
    return bits.astype(np.float64) * np.float64(2.0**-53)


def normal(shape, seed: int, dtype=np.float32) -> np.ndarray:
    """GDL's `randn`: Box-Muller in the result's dtype, as a device computes it."""
    shape, dt = _setup(shape, dtype)
    w = _words(shape, seed)
    scale = dt.type(2.0**-24)
    u1 = ((w[..., 0] >> np.uint32(8)) + np.uint32(1)).astype(dt) * scale
    u2 = (w[..., 1] >> np.uint32(8)).astype(dt) * scale
    r = np.sqrt(dt.type(-2.0) * np.log(u1))
    return r * np.cos(_TWO_PI[dt] * u2)
