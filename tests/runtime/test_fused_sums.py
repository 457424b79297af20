"""Full sums fused into their producer: accurate and repeatable at every length.

The vector loop keeps several Kahan-compensated accumulators per reduction,
used in turn, then a remainder loop and a scalar tail; these lengths land on
each boundary (one work-item or many, whole and partial rounds).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import gdl

pytestmark = pytest.mark.opencl

LENGTHS = [1, 7, 8, 31, 32, 33, 63, 4096, 4097, 4096 + 31, 65536 + 40, 1 << 20]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_sum_and_dot_match_an_exact_sum(n, dtype):
    prog = gdl.compile(f"var x: {dtype}[{n}] = zeros({n}, dtype={dtype})\n"
                       f"var w: {dtype}[{n}] = zeros({n}, dtype={dtype})\n"
                       "s = sum(exp(x) * w)\nd = dot(x, w)\nout s\nout d\n")
    np_dt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np_dt)
    w = rng.standard_normal(n).astype(np_dt)
    try:
        res = prog.run(inputs={"x": x, "w": w})
    except gdl.GdlError as err:
        pytest.skip(str(err))          # a device without fp64
    exact_s = math.fsum((np.exp(x.astype(np.float64)) * w).tolist())
    exact_d = math.fsum((x.astype(np.float64) * w).tolist())
    eps = np.finfo(np_dt).eps
    scale_s = math.fsum(np.abs(np.exp(x.astype(np.float64)) * w).tolist())
    scale_d = math.fsum(np.abs(x.astype(np.float64) * w).tolist())
    assert abs(float(res.outputs["s"]) - exact_s) <= 8 * eps * scale_s + 1e-30
    assert abs(float(res.outputs["d"]) - exact_d) <= 4 * eps * scale_d + 1e-30
    again = prog.run(inputs={"x": x, "w": w})
    assert again.outputs["s"].tobytes() == res.outputs["s"].tobytes()
