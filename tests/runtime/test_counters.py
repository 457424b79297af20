"""The runtime's counters on the seed programs: reads, launches and builds as promised.

- one blocking read per loop or branch decision on a device value, plus one
  wait for all outputs and gradients read back together: the reverse loop
  reads nothing;
- the same launches whether one gradient or three are asked;
- no kernel build when only a loop's trip count changes.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gdl

pytestmark = pytest.mark.opencl
ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "programs" / "seed"


def trips(a: float) -> int:
    """Iterations of the seed loop `b = 2a; while |b| < 1000 { b *= 2 }` in f32."""
    b, n = np.float32(a) * 2, 0
    while abs(b) < 1000:
        b, n = b * 2, n + 1
    return n


@pytest.mark.parametrize("a", [0.3, -0.7, -750.0])
def test_one_read_per_decision_plus_results(a):
    prog = gdl.load(SEED / "control_flow.gdl")
    prog.run(inputs={"a": a}, grad=["a"])          # builds; counters of the second run
    res = prog.run(inputs={"a": a}, grad=["a"])
    n = trips(a)
    loop_decisions, if_decisions, results = n + 1, 1, 1     # c and dc/da, read together
    assert res.stats["blocking_reads"] == loop_decisions + if_decisions + results
    assert res.stats["kernel_builds"] == 0


def test_forward_only_reads_decisions_and_outputs():
    prog = gdl.load(SEED / "control_flow.gdl")
    res = prog.run(inputs={"a": 0.3})
    assert res.stats["blocking_reads"] == (trips(0.3) + 1) + 1 + 1


def test_no_build_when_only_the_trip_count_changes():
    prog = gdl.load(SEED / "control_flow.gdl")
    first = prog.run(inputs={"a": 0.3}, grad=["a"])
    assert first.stats["kernel_builds"] <= 1        # one program per plan
    for a in (0.001, -3.0, 12.0, -750.0):
        res = prog.run(inputs={"a": a}, grad=["a"])
        assert res.stats["kernel_builds"] == 0, a


THREE_VARS = """
var x = [1.0, 2.0, 3.0]
var w = [0.5, -1.0, 2.0]
var b = [0.1, 0.2, 0.3]
y = sum(exp(x * w + b) * x)
out y
"""


def test_launches_do_not_depend_on_how_many_gradients():
    prog = gdl.compile(THREE_VARS)
    one = prog.run(grad=["x"])
    three = prog.run(grad=["x", "w", "b"])
    one_again = prog.run(grad=["w"])
    assert one.stats["launches"] == three.stats["launches"] == one_again.stats["launches"]
    assert three.stats["blocking_reads"] == one.stats["blocking_reads"] == 1   # one wait
    assert set(three.grads) == {"x", "w", "b"}
    x, w, b = (np.array(v, np.float64) for v in ([1, 2, 3], [.5, -1, 2], [.1, .2, .3]))
    e = np.exp(x * w + b)
    np.testing.assert_allclose(three.grads["x"], e * (w * x + 1), rtol=1e-5)
    np.testing.assert_allclose(three.grads["w"], e * x * x, rtol=1e-5)
    np.testing.assert_allclose(three.grads["b"], e * x, rtol=1e-5)


def test_results_are_bitwise_repeatable():
    prog = gdl.compile("""
var x = randn([3000], seed=11)
y = sum(exp(x) * x) + norm(x)
out y
""")
    a = prog.run(grad=["x"])
    b = prog.run(grad=["x"])
    assert a.outputs["y"].tobytes() == b.outputs["y"].tobytes()
    assert a.grads["x"].tobytes() == b.grads["x"].tobytes()


def test_zero_iteration_loop_gives_zero_gradients_of_the_right_shape():
    prog = gdl.compile("""
var x = [1.0, 2.0]
var w = [3.0, 4.0, 5.0]
i = 0
while i < 0 {
    x = x * sum(w)
    i += 1
}
out x
""")
    res = prog.run(grad=["x", "w"], seed=np.ones(2, np.float32))
    np.testing.assert_array_equal(res.grads["x"], [1.0, 1.0])
    np.testing.assert_array_equal(res.grads["w"], [0.0, 0.0, 0.0])
    assert res.grads["w"].shape == (3,)


def test_no_opencl_device_is_a_clear_error(tmp_path):
    """With no OpenCL driver visible, a run fails clearly; there is no NumPy fallback."""
    empty = tmp_path / "vendors"
    empty.mkdir()
    env = dict(os.environ, OCL_ICD_VENDORS=str(empty), OPENCL_VENDOR_PATH=str(empty))
    code = ("import gdl\n"
            "try:\n"
            "    gdl.compile('var x = 1.0\\nout x').run()\n"
            "except gdl.GdlRuntimeError as e:\n"
            "    print('CLEAR:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert "CLEAR:" in out.stdout, out.stdout + out.stderr
    assert "no OpenCL device" in out.stdout
    assert "Traceback" not in out.stderr


def test_f64_on_a_device_without_double_precision_is_a_clear_error(monkeypatch):
    from gdl.runtime import device as devices
    dev = devices.select()
    monkeypatch.setattr(devices.Device, "has_fp64", property(lambda self: False))
    prog = gdl.compile("var x: f64[2] = [0.1, 0.2]\ny = sum(x * x)\nout y")
    with pytest.raises(gdl.GdlRuntimeError, match="f64") as info:
        prog.run(device=dev)
    assert "cl_khr_fp64" in str(info.value)
    assert gdl.compile("var x = [0.1, 0.2]\ny = sum(x * x)\nout y").run(device=dev).outputs


PEAK = """
var x = zeros(N)
y = exp(x) * 2
z = sum(y * y)
out z
"""


@pytest.mark.parametrize("n", [1 << 12, 1 << 18])
def test_peak_device_memory_covers_the_results_and_does_not_grow(n):
    """The peak counts at least the bytes handed back, and repeat runs hold no more."""
    prog = gdl.compile(PEAK.replace("N", str(n)))
    x = np.linspace(-1, 1, n, dtype=np.float32)
    first = prog.run(inputs={"x": x}, grad=["x"])
    assert first.stats["peak_device_bytes"] >= first.grads["x"].nbytes
    del first
    peaks = [prog.run(inputs={"x": x}, grad=["x"]).stats["peak_device_bytes"]
             for _ in range(3)]
    assert len(set(peaks)) == 1, peaks
    assert peaks[0] < 8 * x.nbytes + (1 << 16), "liveness: a handful of vectors, not one per node"


def test_peak_device_memory_of_a_loop_includes_its_tape():
    """A loop's tape lives on the device: the peak grows with the trip count."""
    src = """
var x = zeros(4096)
input k: i32
i = 0
y = x
while i < k {
    y = sin(y)
    i = i + 1
}
s = sum(y)
out s
"""
    prog = gdl.compile(src)
    x = np.ones(4096, np.float32)
    short = prog.run(inputs={"x": x, "k": 2}, grad=["x"]).stats["peak_device_bytes"]
    long = prog.run(inputs={"x": x, "k": 40}, grad=["x"]).stats["peak_device_bytes"]
    assert long >= short + 30 * x.nbytes


def test_buffers_die_after_their_last_use():
    """A chain of unfusable steps holds a few vectors at once, not one per step."""
    steps = 12
    body = "\n".join("y = cumsum(y) * 0.5" for _ in range(steps))
    prog = gdl.compile(f"var x = ones(65536)\ny = x\n{body}\nout s = sum(y)\n"
                       .replace("out s = sum(y)", "s = sum(y)\nout s"))
    prog.run()
    peak = prog.run().stats["peak_device_bytes"]
    vector = 65536 * 4
    assert peak <= 4 * vector, (peak, vector)


def test_alike_kernels_are_one_kernel():
    """Branches that compute the same thing on different values share one kernel
    (value registers are numbered per kernel), so PoCL compiles it once."""
    from gdl.runtime.plan import plan
    ifs = "\n".join(f"if x > {k}.0 {{ x = x + 1.0 }} else {{ x = x * 1.5 }}" for k in range(20))
    prog = gdl.compile(f"var x = 1.0\n{ifs}\nout x\n")
    names = [spec.name for spec in plan(prog.gradient_graph(["x"])).specs]
    assert len(names) >= 3 * 20         # condition, two branches and adjoints, per `if`
    assert len(set(names)) <= 20 + 10   # one condition kernel per literal, the rest shared
    result = prog.run(grad=["x"])
    assert float(result.outputs["x"]) == 21.0 and float(result.grads["x"]) == 1.0
