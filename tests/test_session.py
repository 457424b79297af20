"""The Session: vars and gradients kept on the device, PyTorch's accumulation rules.

- the seed notebook's numbers: backward accumulates into `s.grad` until
  `zero_grad` (dot, sum, a non-scalar output with a seed, detach with `of`);
- a training loop of zero_grad / backward / sgd converges and moves no
  parameter between host and device (the device counters say so);
- reads and writes of vars and inputs are checked as `Program.run` checks;
- save / load round trip; rich, HTML and repr show the names.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import gdl
from gdl import GdlError, GdlRuntimeError

pytestmark = pytest.mark.opencl
SEED = Path(__file__).resolve().parent.parent / "programs" / "seed"

LEAST_SQUARES = """
input A : f32[6, 3] = [[0.56, 0.56, -0.62], [-0.01, 0.0, 0.06], [2.18, -0.28, -0.29],
                       [-0.46, 1.04, -0.41], [-0.09, 0.88, 0.76], [-0.97, 1.81, 0.28]]
input b : f32[6] = [-0.06, 1.25, 1.99, -0.05, -0.24, 1.06]
var w = zeros([3])
var c = 0.0
loss = sum((A @ w + c - b) ** 2)
out loss
"""

TWO_VARS = """
var x = [1.0, 2.0, 3.0]
var unused = 5.0
input k : f32 = 2.0
y = k * sum(x * x)
z = x + 1.0
out y, z
"""


def seed_session(name: str, **kw) -> gdl.Session:
    return gdl.load(SEED / name).session(**kw)


def traffic(s: gdl.Session, before: dict) -> dict:
    """The counters that matter for parameter traffic, since `before`."""
    now = s.device.counters.since(before)
    return {k: now[k] for k in ("bytes_to_device", "bytes_from_device", "blocking_reads")}


# -- the seed notebook's numbers ----------------------------------------------

def test_dot_backward_accumulates_until_zero_grad():
    s = seed_session("dot.gdl")
    np.testing.assert_array_equal(s.grad["x"], [0, 0, 0, 0])      # zeros before any backward
    out = s.backward()
    assert float(out["y"]) == 28.0
    np.testing.assert_array_equal(s.grad["x"], [0, 4, 8, 12])
    s.backward()
    np.testing.assert_array_equal(s.grad["x"], [0, 8, 16, 24])
    s.zero_grad()
    np.testing.assert_array_equal(s.grad["x"], [0, 0, 0, 0])
    s.backward()
    np.testing.assert_array_equal(s.grad["x"], [0, 4, 8, 12])
    assert s.grad["x"].dtype == np.float32


def test_sum_accumulates_ones():
    s = seed_session("sum.gdl")
    for n in range(1, 4):
        s.backward()
        np.testing.assert_array_equal(s.grad["x"], np.full(4, n, np.float32))


def test_nonscalar_needs_a_seed_and_accumulates_with_it():
    s = seed_session("nonscalar.gdl")
    with pytest.raises(GdlError, match="seed"):
        s.backward()
    out = s.backward(seed=np.ones(4))
    np.testing.assert_array_equal(out["y"], [0, 1, 4, 9])
    np.testing.assert_array_equal(s.grad["x"], [0, 2, 4, 6])
    s.backward(seed=[1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(s.grad["x"], [0, 2 + 4, 4 + 12, 6 + 24])
    with pytest.raises(GdlError, match="shape"):
        s.backward(seed=np.ones(3))


def test_the_same_seed_is_uploaded_once():
    s = seed_session("nonscalar.gdl")
    s.backward(seed=np.ones(4))
    before = s.device.counters.snapshot()
    s.backward(seed=np.ones(4))
    assert traffic(s, before)["bytes_to_device"] == 0
    s.backward(seed=np.full(4, 2.0))
    assert traffic(s, before)["bytes_to_device"] == 16


def test_detach_with_of_and_several_outputs():
    s = seed_session("detach.gdl")
    with pytest.raises(GdlError, match="several outputs"):
        s.backward()
    out = s.backward(of="s")
    assert set(out) == {"s", "u"}
    assert float(out["s"]) == 36.0
    np.testing.assert_array_equal(out["u"], [0, 1, 4, 9])
    np.testing.assert_array_equal(s.grad["x"], [0, 1, 4, 9])
    with pytest.raises(GdlError, match="`nope` is not an output"):
        s.backward(of="nope")


def test_control_flow_gradient_matches_run():
    prog = gdl.load(SEED / "control_flow.gdl")
    res = prog.run(grad=["a"])
    s = prog.session()
    out = s.backward()
    np.testing.assert_array_equal(out["c"], res.outputs["c"])
    np.testing.assert_array_equal(s.grad["a"], res.grads["a"])


# -- forward, outputs, vars that do not matter ------------------------------------

def test_forward_uses_the_current_vars_and_inputs():
    prog = gdl.compile(TWO_VARS)
    s = prog.session()
    out = s.forward()
    assert float(out["y"]) == 2 * 14
    np.testing.assert_array_equal(out["z"], [2, 3, 4])
    s["x"] = [0.0, 1.0, 2.0]
    assert float(s.forward()["y"]) == 2 * 5
    assert float(out["y"]) == 28             # an earlier run's outputs do not change
    s.inputs["k"] = 3
    assert float(s.forward()["y"]) == 3 * 5
    assert s.outputs is not None and float(s.outputs["y"]) == 15


def test_outputs_are_read_only_when_asked():
    s = seed_session("dot.gdl")
    s.forward()
    before = s.device.counters.snapshot()
    out = s.forward()
    assert traffic(s, before)["blocking_reads"] == 0
    assert float(out["y"]) == 28 and float(out["y"]) == 28
    assert traffic(s, before) == {"bytes_to_device": 0, "bytes_from_device": 4,
                                  "blocking_reads": 1}
    with pytest.raises(GdlError, match="`q` is not an output"):
        out["q"]


def test_a_var_the_output_ignores_keeps_zero_gradient_and_its_value():
    s = gdl.compile(TWO_VARS).session()
    s.backward(of="y")
    s.backward(of="y")
    np.testing.assert_array_equal(s.grad["x"], [8, 16, 24])       # 2 * 2k x, k = 2
    np.testing.assert_array_equal(s.grad["unused"], 0.0)
    s.sgd(0.5)
    assert float(s["unused"]) == 5.0
    np.testing.assert_array_equal(s["x"], np.float32([1, 2, 3]) - np.float32(0.5) *
                                  np.float32([8, 16, 24]))


def test_sgd_rounds_like_numpy():
    s = seed_session("dot.gdl")
    x = np.arange(4, dtype=np.float32)
    for _ in range(3):
        s.zero_grad()
        s.backward()
        s.sgd(0.1)
        x = x - np.float32(0.1) * (4 * x)          # FP_CONTRACT OFF: no fused multiply-add
        np.testing.assert_array_equal(s["x"], x)
    np.testing.assert_array_equal(s.forward()["y"], 2 * np.dot(x, x))


def test_sgd_without_a_gradient_changes_nothing():
    s = seed_session("dot.gdl")
    s.sgd(0.1)
    np.testing.assert_array_equal(s["x"], [0, 1, 2, 3])
    with pytest.raises(GdlError, match="learning rate"):
        s.sgd("fast")


def test_f64_vars():
    s = gdl.compile("var x: f64[2] = [1.0, 2.0]\ny = sum(x * x)\nout y").session()
    if not s.device.has_fp64:
        pytest.skip("the device has no fp64")
    s.backward()
    s.sgd(0.25)
    assert s["x"].dtype == np.float64
    np.testing.assert_array_equal(s["x"], [0.5, 1.0])


# -- a training loop moves no parameter ----------------------------------------

def test_training_loop_converges_without_parameter_traffic():
    prog = gdl.compile(LEAST_SQUARES)
    s = prog.session()
    s.zero_grad()
    s.backward()                     # builds the gradient program
    s.sgd(0.05)                      # builds the sgd kernels
    before = s.device.counters.snapshot()
    for _ in range(100):
        s.zero_grad()
        s.backward()
        s.sgd(0.05)
    assert traffic(s, before) == {"bytes_to_device": 0, "bytes_from_device": 0,
                                  "blocking_reads": 0}
    assert s.device.counters.since(before)["kernel_builds"] == 0

    losses = []
    before = s.device.counters.snapshot()
    for _ in range(400):
        s.zero_grad()
        losses.append(float(s.backward()["loss"]))       # the loss is the only read
        s.sgd(0.05)
    assert traffic(s, before) == {"bytes_to_device": 0, "bytes_from_device": 400 * 4,
                                  "blocking_reads": 400}

    A = np.array([[0.56, 0.56, -0.62], [-0.01, 0.0, 0.06], [2.18, -0.28, -0.29],
                  [-0.46, 1.04, -0.41], [-0.09, 0.88, 0.76], [-0.97, 1.81, 0.28]])
    b = np.array([-0.06, 1.25, 1.99, -0.05, -0.24, 1.06])
    sol, *_ = np.linalg.lstsq(np.hstack([A, np.ones((6, 1))]), b, rcond=None)
    np.testing.assert_allclose(np.append(s["w"], s["c"]), sol, atol=1e-3)
    assert losses[-1] <= losses[0]
    best = np.sum((np.hstack([A, np.ones((6, 1))]) @ sol - b) ** 2)
    np.testing.assert_allclose(losses[-1], best, rtol=1e-4)


# -- reading and writing vars and inputs ----------------------------------------

def test_starting_values_from_inputs():
    s = gdl.compile(TWO_VARS).session(inputs={"x": [3, 2, 1], "k": 1.0})
    np.testing.assert_array_equal(s["x"], [3, 2, 1])
    assert s["x"].dtype == np.float32
    np.testing.assert_array_equal(s.inputs["k"], 1.0)
    assert float(s.forward()["y"]) == 14
    with pytest.raises(GdlError, match="`nope` is neither an input nor a var"):
        gdl.compile(TWO_VARS).session(inputs={"nope": 1})
    with pytest.raises(GdlError, match=r"shape \[2\]"):
        gdl.compile(TWO_VARS).session(inputs={"x": [1.0, 2.0]})


def test_an_input_without_default_must_be_given():
    prog = gdl.compile("input a: f32[2]\nvar w = 1.0\ny = sum(a * w)\nout y")
    with pytest.raises(GdlRuntimeError, match="input `a` has no default"):
        prog.session()
    s = prog.session(inputs={"a": [1.0, 2.0]})
    s.backward()
    np.testing.assert_array_equal(s.grad["w"], 3.0)


def test_var_reads_and_writes_are_checked():
    s = gdl.compile(TWO_VARS).session()
    value = s["x"]
    value[0] = 99                                       # a copy: the session is unchanged
    np.testing.assert_array_equal(s["x"], [1, 2, 3])
    s["x"] = np.array([4, 5, 6], dtype=np.int64)          # same_kind: ints into f32
    np.testing.assert_array_equal(s["x"], [4, 5, 6])
    s["unused"] = np.float64(1.5)
    assert s["unused"].shape == () and float(s["unused"]) == 1.5
    with pytest.raises(GdlError, match=r"var `x` is declared f32\[3\] .* shape \[2\]"):
        s["x"] = [1.0, 2.0]
    with pytest.raises(GdlError, match="needs numbers"):
        s["x"] = ["a", "b", "c"]
    with pytest.raises(GdlError, match="needs numbers, found complex"):
        s["x"] = np.array([1j, 2j, 3j])
    with pytest.raises(GdlError, match="`nope`"):
        s["nope"]
    with pytest.raises(GdlError, match="`nope`"):
        s["nope"] = 1.0
    with pytest.raises(GdlError, match=r"`k` is an input.*s.inputs\['k'\]"):
        s["k"]
    with pytest.raises(GdlError, match="`k` is an input"):
        s["k"] = 1.0
    with pytest.raises(GdlError, match="`x` is a var"):
        s.inputs["x"] = [1.0, 2.0, 3.0]
    with pytest.raises(GdlError, match="`nope` is not an input"):
        s.inputs["nope"]
    with pytest.raises(GdlError, match="input `k` is declared f32"):
        s.inputs["k"] = [1.0, 2.0]
    np.testing.assert_array_equal(s["x"], [4, 5, 6])      # failed writes changed nothing


def test_grad_is_a_read_only_mapping():
    s = gdl.compile(TWO_VARS).session()
    assert list(s.grad) == ["x", "unused"] and len(s.grad) == 2
    assert "x" in s.grad and "k" not in s.grad
    assert s.grad.get("k") is None
    with pytest.raises(TypeError):
        s.grad["x"] = [1.0, 2.0, 3.0]
    with pytest.raises(GdlError, match="`k` is an input"):
        s.grad["k"]
    assert s.variables == ("x", "unused") and "x" in s and "k" not in s
    assert list(s) == ["x", "unused"] and len(s) == 2


def test_no_var_no_backward():
    s = gdl.compile("input a: f32 = 1.0\ny = a * 2\nout y").session()
    assert float(s.forward()["y"]) == 2
    with pytest.raises(GdlError, match="no `var`"):
        s.backward()


# -- files -------------------------------------------------------------------------

def test_save_and_load_round_trip(tmp_path):
    prog = gdl.compile(TWO_VARS)
    s = prog.session()
    s["x"] = [0.5, -1.25, 7.0]
    s.backward(of="y")
    s.sgd(0.125)
    path = tmp_path / "vars.npz"
    s.save(path)
    with np.load(path) as npz:
        assert sorted(npz.files) == ["unused", "x"]
    t = prog.session().load(path)
    np.testing.assert_array_equal(t["x"], s["x"])
    np.testing.assert_array_equal(t["unused"], s["unused"])
    np.testing.assert_array_equal(t.forward()["y"], s.forward()["y"])


def test_load_checks_the_file(tmp_path):
    prog = gdl.compile(TWO_VARS)
    s = prog.session()
    with pytest.raises(GdlError, match="no such file"):
        s.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(2), unused=0.0)
    with pytest.raises(GdlError, match=r"var `x` in .*bad.npz is declared f32\[3\]"):
        s.load(bad)
    extra = tmp_path / "extra.npz"
    np.savez(extra, x=np.zeros(3), unused=0.0, k=1.0)
    with pytest.raises(GdlError, match="`k`, which is not a var"):
        s.load(extra)
    partial = tmp_path / "partial.npz"
    np.savez(partial, x=np.zeros(3))
    with pytest.raises(GdlError, match="no value for var `unused`"):
        s.load(partial)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(GdlError, match="cannot read vars"):
        s.load(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(GdlError, match="not an .npz file"):
        s.load(single)
    np.testing.assert_array_equal(s["x"], [1, 2, 3])      # failed loads changed nothing


# -- display -------------------------------------------------------------------------

def rendered(obj) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(obj)
    return console.file.getvalue()


def test_session_repr_rich_and_html():
    s = gdl.compile(TWO_VARS).session()
    assert repr(s).startswith("Session(vars=[x, unused], grads=zero, device=")
    s.backward(of="y")
    s.backward(of="y")
    assert "grads=accumulated(2)" in repr(s)
    text = rendered(s)
    assert "x" in text and "unused" in text and "f32[3]" in text and "[8 16 24]" in text
    assert "accumulated over 2 backward calls" in text
    page = s._repr_html_()
    assert page.startswith("<table") and "<b>unused</b>" in page and "[8 16 24]" in page
    assert "Outputs(y=28, z=[2 3 4])" == repr(s.forward())


def test_result_repr_rich_and_html():
    res = gdl.load(SEED / "dot.gdl").run(grad=["x"])
    assert repr(res) == "Result(outputs=[y], grads=[x])"
    text = rendered(res)
    assert "outputs" in text and "gradients" in text and "[0 4 8 12]" in text
    page = res._repr_html_()
    assert "<b>y</b>" in page and "<b>x</b>" in page and "[0 4 8 12]" in page


def test_large_values_are_summarised_and_names_escaped():
    s = gdl.compile("var big = zeros([1000])\ny = sum(big)\nout y").session()
    page = s._repr_html_()
    assert "..." in page and len(page) < 2000
    from gdl.session import html_tables
    assert "&lt;b&gt;" in html_tables([("t", [("<b>", np.zeros(2))])])
