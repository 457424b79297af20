"""Register tiles of the matmul kernels, chosen per device, with a short auto-tune.

A `Tile` fixes what one work-item of a matmul kernel computes (gen_linalg).
The best one depends on the device: on a CPU (PoCL) a work-item should hold
as many accumulators as the vector registers allow and walk k in blocks so
operands are reused from cache; on a GPU small tiles keep many work-items in
flight and neighbouring work-items on neighbouring vectors (coalesced
loads).  `candidates` lists a few per device kind and scheme, the kind's
default first (measured on the reference machine: 2-core AVX-512 Xeon, PoCL
3).  `tile_for(device, ...)` times them once per device, driver, dtype and
scheme, keeps the winner in the disk cache (`cachefiles`, kind "tuning")
and from then on reads it back, never re-timing, so every process makes the
same choice.  Within one scheme and device kind every candidate sums each
output in the same order (gen_linalg), so tuning changes speed, never bits.
GDL_GEMM_TUNE=0 skips the timing (a cached choice, else the default); with
the disk cache off there is no timing either, as it would repeat in every
process.
The timing itself is gen_linalg's (it makes the kernels); this module only
lists, remembers and reads back.
Imports `cachefiles`, `dtype`.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Callable

from .. import cachefiles
from ..dtype import F64, DType

TUNE_ENV = "GDL_GEMM_TUNE"
ROWS, DOT = "rows", "dot"       # the two kernel schemes (gen_linalg)
WIN = 0.97                      # a later candidate must be 3% faster: noise never flips a tie


@dataclass(frozen=True)
class Tile:
    """What one work-item computes.

    Scheme "rows": `rows` x `cols` outputs, `cols` a multiple of `lanes`
    (vectors along the output dimension the operand is contiguous in); up
    to `group` x `group` such tiles per work-item, k walked in blocks of
    `kblock` (0: one pass).  Scheme "dot": `rows` x 4 outputs, each summed
    as `lanes`-wide vectors along k (`cols` is 4; group and kblock unused).
    """

    rows: int
    cols: int
    lanes: int
    group: int = 1
    kblock: int = 0

    def describe(self) -> str:
        return (f"{self.rows}x{self.cols}/{self.lanes}"
                + (f"g{self.group}" if self.group > 1 else "")
                + (f"k{self.kblock}" if self.kblock else ""))


# timer(device, scheme, dtype, candidates) -> the fastest candidate
Timer = Callable[[object, str, DType, "tuple[Tile, ...]"], "Tile"]


def candidates(kind: str, scheme: str) -> tuple[Tile, ...]:
    """The tiles worth timing on a device of `kind` ("cpu", else GPU-like), default first.

    CPU: 8-lane vectors for every dtype (the most architecture.md allows;
    double8 fills AVX-512 registers and measured faster than double4).  The
    rows default groups 4 x 4 tiles of 8 x 16 per work-item with k in blocks
    of 128: on the reference machine (f32, best of repeats) that took W2's
    X^T @ dZ (512 x 512, K = 2048) from ~67 to ~110 GFLOP/s and its tt form
    from ~75 to ~125, for at most a few percent on nn products (~190 either
    way), so every candidate blocks k.  GPU-like: 4-lane vectors, small
    tiles, no grouping (private arrays would spill), untested on hardware.
    """
    if kind != "cpu":
        return ((Tile(4, 4, 4), Tile(2, 8, 4), Tile(4, 8, 4)) if scheme == ROWS
                else (Tile(2, 4, 4), Tile(1, 4, 4)))
    if scheme == ROWS:
        return (Tile(8, 16, 8, 4, 128), Tile(8, 16, 8, 8, 128), Tile(8, 16, 8, 4, 64))
    return (Tile(4, 4, 8), Tile(6, 4, 8), Tile(2, 4, 8))


def tile_for(device, scheme: str, dt: DType, timer: Timer | None) -> Tile:
    """The tile for `scheme` products of `dt` on `device` (None: the CPU default).

    The cached choice if there is one; else, with no `timer`, the default;
    else `timer` picks one now (the
    kernel generator's `fastest`: one to two seconds with cold compiler caches,
    once per device, dtype and scheme) and the winner is cached; with
    GDL_GEMM_TUNE=0 or the disk cache off, the default.
    """
    options = candidates("cpu" if device is None else device.kind, scheme)
    if device is None or len(options) == 1 or (dt == F64 and not device.has_fp64):
        return options[0]
    name = _cache_name(device, scheme, dt)
    cached = _read(name, options)
    if cached is not None:
        return cached
    if timer is None or os.environ.get(TUNE_ENV, "1").strip() == "0" or \
            cachefiles.directory() is None:
        return options[0]
    best = timer(device, scheme, dt, options)
    cachefiles.write("tuning", name, json.dumps(asdict(best)).encode())
    return best


def _cache_name(device, scheme: str, dt: DType) -> str:
    d = device.cl_device
    return cachefiles.key("gdl-gemm-tile-v1", scheme, dt.name, d.platform.name,
                          d.platform.version, d.name, d.vendor, d.version, d.driver_version)


def _read(name: str, options: tuple[Tile, ...]) -> Tile | None:
    """A cached tile, if it is one of today's candidates (an old or corrupt entry is not)."""
    data = cachefiles.read("tuning", name)
    if not data:
        return None
    try:
        tile = Tile(**{k: int(v) for k, v in json.loads(data).items()})
    except (ValueError, TypeError, AttributeError):
        return None
    return tile if tile in options else None
