"""How the bench times things, and the machine's limits it measures alongside.

Why interleaved: on a shared 2-core machine the background load drifts over
seconds, so timing one peer after another would hand whole drifts to one
peer.  `measure` instead runs one batch of every peer per repetition, in an
order rotated each repetition, and reports medians after warm-up (compiles,
jit traces, kernel builds and first-touch allocations happen there).  A batch
repeats a fast call until it lasts `min_batch_s`, so microsecond calls are
not drowned in timer noise.  Before each batch the process is left to go
idle (`settle`), so threads a peer left spinning do not slow the next one.
The garbage collector is off inside a batch, as timeit does; its young
generations are collected between batches.
"""
from __future__ import annotations

import gc
import math
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

MAX_BATCH = 10_000


@dataclass
class Timing:
    """One peer's per-call times (seconds), one per repetition."""

    samples: list[float] = field(default_factory=list)
    batch: int = 1                # calls per timed batch
    last: Any = None              # what the last call returned

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Half the interquartile range over the median: the ± the report prints."""
        if len(self.samples) < 2:
            return 0.0
        q = np.percentile(self.samples, [25, 75])
        return float((q[1] - q[0]) / 2 / self.median)


def settle(slice_s: float = 0.02, max_s: float = 0.5) -> float:
    """Wait until this process is idle; the seconds waited.

    Why: some peers leave threads spinning after a call returns (OpenBLAS's
    workers spin about 0.1 s after each NumPy matmul), which would take a
    core from whichever peer is timed next.  Idle means the whole process
    used under a tenth of a slice of CPU time during one slice.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_s:
        cpu = time.process_time()
        time.sleep(slice_s)
        if time.process_time() - cpu < 0.1 * slice_s:
            break
    return time.perf_counter() - start


def _batch(call: Callable[[], Any], k: int) -> tuple[float, Any]:
    """Seconds per call over `k` calls with the collector off, and the last call's value."""
    gc.collect(1)              # the young generations: cheap, and a batch starts clean
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(k):
            out = call()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    return seconds / k, out


def measure(calls: dict[str, Callable[[], Any]], warmup: int = 2, min_reps: int = 5,
            max_reps: int = 50, budget_s: float = 20.0, min_batch_s: float = 0.02,
            on_error: Callable[[str, BaseException], None] | None = None
            ) -> dict[str, Timing]:
    """Interleaved per-call times of each named call (see the module docstring).

    Stops after `min_reps` repetitions once `budget_s` has passed, or after
    `max_reps`.  A call that raises is dropped (reported via `on_error`) and
    the others go on; its name is absent from the result.
    """
    timings: dict[str, Timing] = {}
    live = dict(calls)

    def attempt(name: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - a failing peer must not stop the bench
            live.pop(name, None)
            timings.pop(name, None)
            if on_error:
                on_error(name, err)
            return None

    for name, call in list(live.items()):
        timings[name] = Timing()
        for _ in range(warmup):
            if name not in live:
                break
            attempt(name, call)
        if name in live:
            settle()
            out = attempt(name, lambda: _batch(call, 1))
            if out is not None:
                per_call = max(out[0], 1e-9)
                timings[name].batch = int(min(MAX_BATCH, max(1, math.ceil(min_batch_s
                                                                          / per_call))))
    start = time.perf_counter()
    rep = 0
    while live and rep < max_reps:
        names = list(live)
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            if name not in live:
                continue
            t = timings[name]
            settle()
            out = attempt(name, lambda: _batch(live[name], t.batch))
            if out is not None:
                t.samples.append(out[0])
                t.last = out[1]
        rep += 1
        if rep >= min_reps and time.perf_counter() - start >= budget_s:
            break
    return timings


# -- the machine's limits ----------------------------------------------------------
# Each limit is a call like a peer's, timed interleaved with the peers of its
# workload: the load that slows a peer slows its limit alike, so "% of the
# limit" compares medians taken under the same conditions.

COPY_KERNEL = """
__kernel void copy8(__global const float8 *src, __global float8 *dst) {
    size_t i = get_global_id(0);
    dst[i] = src[i];
}
"""


class CopyLimit:
    """A float8 copy kernel on the device GDL picks: the memory bandwidth W1 is held to.

    Buffers of `n_floats` (2^25: well beyond the caches); `bytes` counts read
    plus write.  The work-group size is the fastest of a few, tried once when
    made, since a limit is the best the device can do.
    """

    label = "device copy (limit)"

    def __init__(self, n_floats: int = 1 << 25,
                 local_sizes: Sequence[int | None] = (None, 16, 64, 256), tries: int = 3):
        import pyopencl as cl

        from gdl.runtime import device as devices

        dev = devices.select()
        self.device = dev.describe()
        self._cl, self._queue = cl, dev.queue
        self.n = n_floats // 8 * 8
        self.bytes = 8.0 * self.n
        mf = cl.mem_flags
        self._src = cl.Buffer(dev.context, mf.READ_ONLY, self.n * 4)
        self._dst = cl.Buffer(dev.context, mf.WRITE_ONLY, self.n * 4)
        cl.enqueue_copy(self._queue, self._src, np.ones(self.n, np.float32))
        self._kernel = cl.Program(dev.context, COPY_KERNEL).build().copy8
        limit = dev.cl_device.max_work_group_size
        best = None
        for local in local_sizes:
            if local is not None and local > limit:
                continue
            self.local_size = local
            self.call()                                 # warm-up
            seconds = min(_batch(self.call, 1)[0] for _ in range(tries))
            if best is None or seconds < best[0]:
                best = (seconds, local)
        self.local_size = best[1]
        self.check()

    def call(self) -> None:
        local = None if self.local_size is None else (self.local_size,)
        self._kernel(self._queue, (self.n // 8,), local, self._src, self._dst)
        self._queue.finish()

    def check(self) -> None:
        """Why: a copy kernel that copies nothing would make every % look poor."""
        out = np.empty(self.n, np.float32)
        self._cl.enqueue_copy(self._queue, out, self._dst)
        if not np.all(out == 1):
            raise RuntimeError("the copy kernel did not copy")

    def describe(self) -> str:
        return (f"float8 copy of 2^{self.n.bit_length() - 1} floats on the device GDL "
                f"picks, read + write counted, work-group "
                f"{self.local_size or 'chosen by the driver'}")


class GemmLimit:
    """NumPy's (BLAS's) float32 matmuls at W2's five shapes: the rate W2 is held to."""

    label = "NumPy GEMM (limit)"

    def __init__(self, B: int, D: int, O: int, flops: float):
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((B, D), dtype=np.float32)
        self.W1 = rng.standard_normal((D, D), dtype=np.float32)
        self.W2 = rng.standard_normal((D, O), dtype=np.float32)
        self.dP = rng.standard_normal((B, O), dtype=np.float32)
        self.flops = flops
        self.shapes = f"B={B}, D={D}, O={O}"

    def call(self) -> None:
        """X@W1, H@W2, then dW2 = H.T@dP, dH = dP@W2.T, dW1 = X.T@dH (as W2's FLOPs count)."""
        H = self.X @ self.W1
        H @ self.W2
        H.T @ self.dP
        dH = self.dP @ self.W2.T
        self.X.T @ dH

    def describe(self) -> str:
        return (f"W2's five f32 matmuls at {self.shapes}, "
                f"{self.flops / 1e9:.2f} GFLOP, NumPy's BLAS")


def process_seconds(argv: Sequence[str], reps: int = 5, cwd: str | None = None,
                    check: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Wall time of `argv` as a fresh process: one warm-up run, then the median of `reps`.

    The warm-up fills the OS file cache and any on-disk caches, which is what
    "warm caches" means in issue 5.  `check(stdout)` must hold for every run.
    """
    times = []
    for i in range(reps + 1):
        start = time.perf_counter()
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                              timeout=120, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0 or (check is not None and not check(proc.stdout)):
            raise RuntimeError(f"`{' '.join(argv)}` exited {proc.returncode}: "
                               f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        if i:
            times.append(seconds)
    return {"median": statistics.median(times), "samples": times}
