"""The semantics of the math built-ins end to end, from source text.

language.md §3 and §5 and the conformance readings: `//` and `%` as in
Python on floats and i32 (and NumPy's answers where Python raises), `%`
passing no gradient to its divisor, log1p's accuracy near 0, clip's
closed interval, the subgradients at kinks (relu, abs, norm at 0; ties of
maximum/minimum split evenly), NaN through maximum/minimum/sign, saturating
i32 casts, sqrt'(0) = inf, and second derivatives that stay finite where the
forward value is finite.  Each check runs on the reference interpreter
(`gdl.interp.evaluate`) and, where marked, on OpenCL (`Program.run`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import gdl
from gdl.autodiff import grad_graph
from gdl.dtype import F64, TensorType
from gdl.errors import GdlTypeError
from gdl.interp import evaluate
from gdl.verify import verify

from helpers import cl_device, make_graph, need_fp64, run_interp, run_opencl


@pytest.fixture(scope="module")
def device():
    return cl_device()


def outputs_both(src: str, device, inputs=None) -> list[dict]:
    """The outputs of `src` on the interpreter and on OpenCL."""
    prog = gdl.compile(src)
    return [evaluate(prog.graph, inputs)["outputs"],
            prog.run(inputs=inputs, device=device).outputs]


def grads_both(src: str, wrt: list[str], device, of: str | None = None) -> list[dict]:
    """The gradients of `src`'s output on the interpreter and on OpenCL."""
    prog = gdl.compile(src)
    return [evaluate(prog.gradient_graph(wrt, of))["grads"],
            prog.run(grad=wrt, of=of, device=device).grads]


def same(got, want, dtype=None) -> None:
    """Equal values (NaN equal to NaN) and, if given, exactly this dtype."""
    got = np.asarray(got)
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), got.dtype
    np.testing.assert_array_equal(got, np.asarray(want, got.dtype))


# ====================================================================== // and %

@pytest.mark.opencl
@pytest.mark.parametrize("dt", ["f32", "f64", "i32"])
def test_floordiv_and_mod_follow_python(dt, device):
    """7.5 // -2 == -4, -7.5 % 2 == 0.5, -7 % -2 == -1: floor, sign of the divisor."""
    if dt == "f64":
        need_fp64(device)
    a = [7, -7, 7, -7, 6, -6, 0] if dt == "i32" else [7.5, -7.5, 7.5, -7.5, -7.0, 6.0, 0.0]
    b = [2, 2, -2, -2, 3, 3, 5] if dt == "i32" else [-2.0, 2.0, 2.0, -2.0, -2.0, 3.0, -5.0]
    src = f"input a: {dt}[7] = {a}\ninput b: {dt}[7] = {b}\nq = a // b\nr = a % b\nout q, r"
    for out in outputs_both(src, device):
        for name, fn in (("q", lambda x, y: x // y), ("r", lambda x, y: x % y)):
            want = [fn(x, y) for x, y in zip(a, b)]        # Python's own operators
            same(out[name], want, {"f32": np.float32, "f64": np.float64, "i32": np.int32}[dt])
    if dt != "i32":
        for out in outputs_both(src, device):
            assert np.signbit(out["r"][-1])        # 0 % -5 is -0.0: the divisor's sign
    assert gdl.compile("y = 7.5 // -2\nz = -7.5 % 2\nout y, z").run().outputs == {
        "y": -4.0, "z": 0.5}


@pytest.mark.opencl
def test_i32_floordiv_and_mod_corner_cases_are_numpy_s(device):
    """i32 // 0 and % 0 give 0 (NumPy), INT_MIN // -1 wraps, INT_MIN % -1 is 0."""
    a = np.array([5, -5, 0, -2**31, -2**31, 2**31 - 1], np.int32)
    b = np.array([0, 0, 0, -1, 1, -1], np.int32)
    src = "input a: i32[6]\ninput b: i32[6]\nq = a // b\nr = a % b\nout q, r"
    for out in outputs_both(src, device, {"a": a, "b": b}):
        same(out["q"], [0, 0, 0, -2**31, -2**31, -2**31 + 1], np.int32)
        same(out["r"], [0, 0, 0, 0, 0, 0], np.int32)


@pytest.mark.opencl
def test_float_floordiv_and_mod_by_zero_and_infinity_are_numpy_s(device):
    a = np.array([1.0, -1.0, 0.0, 5.0, -5.0, np.inf, 1.0], np.float32)
    b = np.array([0.0, 0.0, 0.0, np.inf, np.inf, 2.0, np.nan], np.float32)
    src = "input a: f32[7]\ninput b: f32[7]\nq = a // b\nr = a % b\nout q, r"
    with np.errstate(all="ignore"):
        want_q, want_r = np.floor_divide(a, b), np.remainder(a, b)
    for out in outputs_both(src, device, {"a": a, "b": b}):
        same(out["q"], want_q, np.float32)      # [inf, -inf, nan, 0, -1, nan, nan]
        same(out["r"], want_r, np.float32)      # [nan, nan, nan, 5, inf, nan, nan]


@pytest.mark.opencl
def test_mod_passes_its_divisor_no_gradient_and_floordiv_none_at_all(device):
    src = """
var x = [7.5, -7.5, 7.5, -7.5]
var d = [2.0, 2.0, -2.0, -2.0]
y = sum((x % d) * [1.0, 2.0, 3.0, 4.0]) + sum((x // d) * [5.0, 6.0, 7.0, 8.0])
out y
"""
    for g in grads_both(src, ["x", "d"], device):
        same(g["x"], [1.0, 2.0, 3.0, 4.0], np.float32)
        same(g["d"], [0.0, 0.0, 0.0, 0.0], np.float32)


# ====================================================================== accuracy, values

@pytest.mark.opencl
def test_log1p_is_accurate_near_zero(device):
    """At 1e-5, log(1 + x) in f32 is off by ~1e-3 relative; log1p is within an ulp or two."""
    src = "var x = [1e-5, -1e-5, 1e-7, 3e-3]\na = log1p(x)\nb = log(1.0 + x)\nout a, b"
    x = np.array([1e-5, -1e-5, 1e-7, 3e-3], np.float32)
    exact = np.log1p(x.astype(np.float64))
    for out in outputs_both(src, device):
        assert out["a"].dtype == np.float32
        np.testing.assert_allclose(out["a"], exact, rtol=3e-7)
        assert np.max(np.abs(out["b"] / exact - 1)) > 1e-4      # the naive form is not


@pytest.mark.opencl
def test_sigmoid_is_stable_for_large_inputs(device):
    src = ("var x: f32[5] = [-1000.0, -100.0, 0.0, 100.0, 1000.0]\ny = sigmoid(x)\n"
           "s = sum(y)\nout s, y")
    for out in outputs_both(src, device):
        np.testing.assert_allclose(out["y"], [0.0, 3.7e-44, 0.5, 1.0, 1.0], atol=1e-38)
    for g in grads_both(src, ["x"], device, of="s"):
        np.testing.assert_allclose(g["x"], [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-38)
        assert np.isfinite(g["x"]).all()


@pytest.mark.opencl
def test_nan_propagates_through_maximum_minimum_sign_relu_clip(device):
    """NaN in either operand of maximum/minimum gives NaN (OpenCL's fmax would not)."""
    src = """
input a: f32[4] = [1.0, 2.0, -3.0, 0.0]
input b: f32[4] = [0.0, 5.0, 1.0, -0.0]
x = where(a > 1.5, 0.0 / 0.0, a)
mx = maximum(x, b)
mn = minimum(b, x)
mx2 = maximum(b, x)
sg = sign(x)
r = relu(x)
c = clip(x, -1.0, 1.0)
ab = abs(x)
out mx, mn, mx2, sg, r, c, ab
"""
    nan = np.nan
    want = {"mx": [1.0, nan, 1.0, 0.0], "mn": [0.0, nan, -3.0, 0.0], "mx2": [1.0, nan, 1.0, 0.0],
            "sg": [1.0, nan, -1.0, 0.0], "r": [1.0, nan, 0.0, 0.0], "c": [1.0, nan, -1.0, 0.0],
            "ab": [1.0, nan, 3.0, 0.0]}
    for out in outputs_both(src, device):
        for name, w in want.items():
            same(out[name], w, np.float32)
        assert not np.signbit(out["sg"][3])       # sign(0.0) is +0.0


@pytest.mark.opencl
def test_i32_abs_sign_relu_and_clip(device):
    src = """
input a: i32[5] = [-2147483648, -7, 0, 7, 2147483647]
ab = abs(a)
sg = sign(a)
r = relu(a)
c = clip(a, -5, 5)
m = maximum(a, 0)
out ab, sg, r, c, m
"""
    want = {"ab": [-2**31, 7, 0, 7, 2**31 - 1], "sg": [-1, -1, 0, 1, 1],
            "r": [0, 0, 0, 7, 2**31 - 1], "c": [-5, -5, 0, 5, 5], "m": [0, 0, 0, 7, 2**31 - 1]}
    for out in outputs_both(src, device):
        for name, w in want.items():
            same(out[name], w, np.int32)


# ====================================================================== casts

@pytest.mark.opencl
def test_i32_cast_truncates_and_saturates_nan_is_zero(device):
    src = """
input v: f32[6] = [1e10, -1e10, 2.7, -2.7, -0.5, 0.0]
k = i32(v)
n = i32(0.0 / 0.0)
big = i32(1e10)
neg = i32(-2.7)
w = i32([1e10, -3.5])
out k, n, big, neg, w
"""
    for out in outputs_both(src, device):
        same(out["k"], [2**31 - 1, -2**31, 2, -2, 0, 0], np.int32)
        same(out["n"], 0, np.int32)
        same(out["big"], 2**31 - 1, np.int32)
        same(out["neg"], -2, np.int32)
        same(out["w"], [2**31 - 1, -3], np.int32)
    v = np.array([np.nan, 3e9], np.float32)
    for out in outputs_both("input v: f32[2]\nk = i32(v)\nout k", device, {"v": v}):
        same(out["k"], [0, 2**31 - 1], np.int32)


@pytest.mark.opencl
def test_casting_a_literal_gives_the_literal_at_that_dtype(device):
    """f64(0.1) is the f64 nearest 0.1, not the f32 0.1 widened."""
    need_fp64(device)
    src = ("a = f64(0.1)\nb = f32(0.1)\nc = f64(3)\nd = bool(0.5)\ne = bool(0)\n"
           "f = f32(true)\ng = i32(false)\nh = f64(f32(0.1))\nout a, b, c, d, e, f, g, h")
    for out in outputs_both(src, device):
        same(out["a"], np.float64(0.1), np.float64)
        same(out["b"], np.float32(0.1), np.float32)
        same(out["c"], 3.0, np.float64)
        same(out["d"], True, np.bool_)
        same(out["e"], False, np.bool_)
        same(out["f"], 1.0, np.float32)
        same(out["g"], 0, np.int32)
        same(out["h"], np.float64(np.float32(0.1)), np.float64)


@pytest.mark.opencl
def test_casts_of_values(device):
    src = """
input x: f32[4] = [0.0, -0.5, 2.5, 1e10]
b = bool(x)
i = i32(x)
d = f64(x)
back = f32(i)
out b, i, d, back
"""
    need_fp64(device)
    for out in outputs_both(src, device):
        same(out["b"], [False, True, True, True], np.bool_)
        same(out["i"], [0, 0, 2, 2**31 - 1], np.int32)
        same(out["d"], np.array([0.0, -0.5, 2.5, 1e10], np.float32).astype(np.float64),
             np.float64)
        same(out["back"], [0.0, 0.0, 2.0, 2.0**31], np.float32)


def test_casts_to_floats_pass_gradients_and_to_integers_none():
    prog = gdl.compile("var x: f64[3] = [1.5, -2.5, 3.0]\n"
                       "y = sum(f32(x) * 2.0) + sum(f64(i32(x)) * x)\nout y")
    g = evaluate(prog.gradient_graph(["x"]))["grads"]["x"]
    same(g, [2.0 + 1.0, 2.0 - 2.0, 2.0 + 3.0], np.float64)


# ====================================================================== calls and promotion

def test_where_pow_maximum_minimum_calls_broadcast_and_promote():
    src = """
var x: f64[2, 3] = [[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]]
c = where(x > 0.0, x, 0)
p = pow(x, 2)
q = x ** 2
m = maximum(x, [0.0, 1.0, 2.0])
n = minimum(0, x)
out c, p, q, m, n
"""
    out = evaluate(gdl.compile(src).graph)["outputs"]
    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    same(out["c"], np.where(x > 0, x, 0), np.float64)
    same(out["p"], x ** 2, np.float64)
    same(out["q"], x ** 2, np.float64)
    same(out["m"], np.maximum(x, [0.0, 1.0, 2.0]), np.float64)
    same(out["n"], np.minimum(0, x), np.float64)


@pytest.mark.parametrize("expr,dtype", [
    ("sqrt(arange(3))", np.float32), ("floor(arange(3))", np.float32),
    ("sigmoid(1)", np.float32), ("abs(arange(3) - 1)", np.int32),
    ("relu(arange(3) - 1)", np.int32), ("sign(-3)", np.int32),
    ("maximum(arange(3), 1)", np.int32), ("maximum(arange(3), 0.5)", np.float32),
    ("clip(arange(4), 1, 2)", np.int32), ("clip(arange(4), 0.5, 2)", np.float32),
    ("arange(5) // 2", np.int32), ("arange(5) % 2.0", np.float32),
    ("ones([2], dtype=f64) % 2", np.float64),
])
def test_result_dtypes(expr, dtype):
    out = evaluate(gdl.compile(f"y = {expr}\nout y").graph)["outputs"]["y"]
    assert out.dtype == np.dtype(dtype), (expr, out.dtype)


def test_literal_only_expressions_fold_with_the_same_semantics():
    src = ("a = -7 % -2\nb = 7.5 // -2\nc = abs(-3)\nd = clip(5.0, 0.0, 2.0)\n"
           "e = maximum(1, 2.5)\nf = sign(-0.0)\ng = 7 // 0\nout a, b, c, d, e, f, g")
    out = evaluate(gdl.compile(src).graph)["outputs"]
    want = {"a": (-1, np.int32), "b": (-4.0, np.float32), "c": (3, np.int32),
            "d": (2.0, np.float32), "e": (2.5, np.float32), "f": (0.0, np.float32),
            "g": (0, np.int32)}
    for name, (w, dt) in want.items():
        same(out[name], w, dt)


@pytest.mark.parametrize("src,line,fragments", [
    ("y = abs(true)\nout y", 1, ["abs", "bool"]),
    ("var x = ones([3])\n\ny = clip(x, zeros([2]), 1.0)\nout y", 3,
     ["clip", "f32[3]", "f32[2]"]),
    ("y = true // false\nout y", 1, ["//", "bool"]),
    ("var a = ones([2])\ny = a % ones([3])\nout y", 2, ["%", "f32[2]", "f32[3]"]),
    ("var a = ones([2])\ny = maximum(a, ones([3]))\nout y", 2, ["maximum", "f32[2]", "f32[3]"]),
    ("y = where(1.0, 2.0, 3.0)\nout y", 1, ["where", "bool"]),
    ("y = clip(1.0, 2.0)\nout y", 1, ["clip", "hi"]),
    ("y = i32(1.0, 2.0)\nout y", 1, ["i32"]),
])
def test_bad_calls_name_the_function_and_line(src, line, fragments):
    with pytest.raises(GdlTypeError) as info:
        gdl.compile(src)
    assert info.value.line == line, info.value
    for frag in fragments:
        assert frag in info.value.message, (frag, info.value.message)


# ====================================================================== subgradients

@pytest.mark.opencl
def test_clip_gradient_passes_on_the_closed_interval(device):
    """x == lo and x == hi get the gradient (PyTorch's clamp); below goes to lo, above to hi."""
    src = """
var x = [-2.0, -1.0, 0.5, 1.0, 3.0, 0.0, 5.0]
var lo = [-1.0, -1.0, -1.0, -1.0, -1.0, 2.0, 2.0]
var hi = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
y = sum(clip(x, lo, hi) * [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
out y
"""
    for g in grads_both(src, ["x", "lo", "hi"], device):
        same(g["x"], [0, 2, 3, 4, 0, 0, 0], np.float32)
        same(g["lo"], [1, 0, 0, 0, 0, 0, 0], np.float32)
        same(g["hi"], [0, 0, 0, 0, 5, 6, 7], np.float32)     # lo > hi: the output is hi


@pytest.mark.opencl
def test_relu_abs_norm_gradients_at_zero_are_zero(device):
    src = ("var x = [-1.0, 0.0, 2.0, -0.0]\nvar z = zeros([3])\n"
           "y = sum(relu(x) * 3.0) + sum(abs(x)) + norm(z)\nout y")
    for g in grads_both(src, ["x", "z"], device):
        same(g["x"], [-1.0, 0.0, 4.0, 0.0], np.float32)
        same(g["z"], [0.0, 0.0, 0.0], np.float32)


@pytest.mark.opencl
def test_maximum_minimum_ties_split_evenly(device):
    src = """
var a = [1.0, 2.0, 3.0, 4.0]
var b = [1.0, 5.0, 3.0, 0.0]
y = sum(maximum(a, b)) + sum(minimum(a, b) * [1.0, 1.0, 2.0, 3.0])
out y
"""
    for g in grads_both(src, ["a", "b"], device):
        same(g["a"], [0.5 + 0.5, 0.0 + 1.0, 0.5 + 1.0, 1.0 + 0.0], np.float32)
        same(g["b"], [0.5 + 0.5, 1.0 + 0.0, 0.5 + 1.0, 0.0 + 3.0], np.float32)


@pytest.mark.opencl
def test_maximum_with_a_broadcast_scalar_sums_its_share(device):
    src = "var a = [1.0, 2.0, 3.0]\nvar s = 2.0\ny = sum(maximum(a, s))\nout y"
    for g in grads_both(src, ["a", "s"], device):
        same(g["a"], [0.0, 0.5, 1.0], np.float32)
        same(g["s"], 1.5, np.float32)


@pytest.mark.opencl
def test_sqrt_derivative_at_zero_is_inf_and_nan_free_when_not_chosen(device):
    """sqrt'(0) = inf (as PyTorch); a zero cotangent at 0 gives 0, not 0 * inf = NaN."""
    src = "var x = [0.0, 4.0]\ny = sum(sqrt(x))\nout y"
    for g in grads_both(src, ["x"], device):
        same(g["x"], [np.inf, 0.25], np.float32)
    src = "var x = [0.0, 4.0]\ny = sum(where(x > 0.0, sqrt(x), 0.0))\nout y"
    for g in grads_both(src, ["x"], device):
        same(g["x"], [0.0, 0.25], np.float32)


@pytest.mark.opencl
def test_zero_gradient_ops(device):
    """sign, floor and // are piecewise constant: zero gradient, no error."""
    src = "var x = [-1.5, 0.5, 2.5]\ny = sum(sign(x) + floor(x) + x // 2.0 + x)\nout y"
    for g in grads_both(src, ["x"], device):
        same(g["x"], [1.0, 1.0, 1.0], np.float32)


# ====================================================================== second derivatives

def hvp_graphs(build, n: int):
    """(gradient graph, Hessian-vector graph) of y = sum(w * f(x)) over an f64[n] var x.

    The first gradient becomes an output `gx` of an ordinary graph, which
    is differentiated again: d<gx, v>/dx = H v, with v the seed.
    """
    w = np.linspace(0.5, 1.5, n)
    g = make_graph({"x": TensorType(F64, (n,))}, lambda e, p: {
        "y": e.sum(e.mul(build(e, p["x"]), e.const(w, F64)), (0,))})
    g1 = verify(grad_graph(g, ["x"], "y", seeded=False))
    g1 = replace(g1, outputs=("y", "gx"), grads=(), of=None, seed=None)
    return g1, verify(grad_graph(g1, ["x"], "gx", seeded=True))


def _c(e, values):
    return e.const(np.asarray(values, np.float64), F64)


SECOND = {      # name: (f(e, x) over x: f64[4], generic points, special points)
    "log1p": (lambda e, x: e.op("log1p", x), [-0.5, 0.1, 1.0, 3.0], [0.0, -0.9, 1e-8, 50.0]),
    "sqrt": (lambda e, x: e.op("sqrt", x), [0.3, 1.0, 2.0, 9.0], [1e-8, 1e-30, 1.0, 4.0]),
    "sin": (lambda e, x: e.op("sin", x), [-2.0, 0.1, 1.0, 3.0], [0.0, np.pi, 1e3, -1e3]),
    "cos": (lambda e, x: e.op("cos", x), [-2.0, 0.1, 1.0, 3.0], [0.0, np.pi, 1e3, -1e3]),
    "tanh": (lambda e, x: e.op("tanh", x), [-2.0, 0.1, 1.0, 3.0], [0.0, 40.0, -400.0, 1e5]),
    "sigmoid": (lambda e, x: e.op("sigmoid", x), [-2.0, 0.1, 1.0, 3.0],
                [0.0, 800.0, -800.0, 40.0]),
    "relu": (lambda e, x: e.op("relu", x), [-2.0, 0.1, 1.0, -3.0], [0.0, -0.0, 1.0, -1.0]),
    "abs": (lambda e, x: e.op("abs", x), [-2.0, 0.1, 1.0, -3.0], [0.0, -0.0, 1.0, -1.0]),
    "maximum": (lambda e, x: e.op("maximum", x, _c(e, [0.0, 1.0, 1.0, 2.0])),
                [-2.0, 0.1, 1.5, 3.0], [0.0, 1.0, 1.0, 2.0]),
    "minimum": (lambda e, x: e.op("minimum", _c(e, [0.0, 1.0, 1.0, 2.0]), x),
                [-2.0, 0.1, 1.5, 3.0], [0.0, 1.0, 1.0, 2.0]),
    "clip-x": (lambda e, x: e.op("clip", x, _c(e, -1.0), _c(e, 1.0)),
               [-2.0, 0.1, 0.5, 3.0], [-1.0, 1.0, 0.0, 5.0]),
    "clip-bounds": (lambda e, x: e.op("clip", _c(e, 0.5), x, e.op("add", x, _c(e, 1.0))),
                    [-2.0, 0.1, 1.0, 3.0], [0.5, -0.5, 0.0, 1.0]),
    "mod": (lambda e, x: e.op("mod", x, _c(e, [2.0, -2.0, 3.0, 0.5])),
            [-2.5, 0.1, 1.0, 3.3], [0.0, 2.0, -3.0, 1e-9]),
    "mod-divisor": (lambda e, x: e.op("mod", _c(e, [2.0, -2.0, 3.0, 0.5]), x),
                    [-2.5, 0.3, 1.1, 3.3], [1.0, -1.0, 3.0, 0.5]),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives_match_finite_differences_of_the_gradient(name):
    build, generic, _ = SECOND[name]
    g1, g2 = hvp_graphs(build, 4)
    x = np.array(generic)
    v = np.array([0.3, -1.1, 0.7, 0.9])
    hv = run_interp(g2, {"x": x}, seed=v)["grads"]["x"]
    eps = 1e-6
    plus = run_interp(g1, {"x": x + eps * v})["outputs"]["gx"]
    minus = run_interp(g1, {"x": x - eps * v})["outputs"]["gx"]
    np.testing.assert_allclose(hv, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives_are_finite_where_the_forward_is(name):
    """At kinks, ties, bounds, large inputs and near (not at) poles: no NaN, no inf."""
    build, _, special = SECOND[name]
    g1, g2 = hvp_graphs(build, 4)
    x = np.array(special)
    res = run_interp(g2, {"x": x}, seed=np.ones(4))
    assert np.isfinite(res["outputs"]["y"]).all()
    assert np.isfinite(res["outputs"]["gx"]).all(), res["outputs"]["gx"]
    assert np.isfinite(res["grads"]["x"]).all(), res["grads"]["x"]


@pytest.mark.opencl
def test_second_derivatives_on_opencl_agree(device):
    need_fp64(device)
    for name in ("sigmoid", "tanh", "log1p", "sqrt", "maximum", "clip-bounds", "abs"):
        build, generic, special = SECOND[name]
        _, g2 = hvp_graphs(build, 4)
        for x in (generic, special):
            v = np.array([0.3, -1.1, 0.7, 0.9])
            want = run_interp(g2, {"x": np.array(x)}, seed=v)["grads"]["x"]
            got = run_opencl(g2, {"x": np.array(x)}, device, seed=v)["grads"]["x"]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, err_msg=name)
