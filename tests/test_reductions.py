"""Reductions end to end (language.md §3, §5): programs run on OpenCL and on the
reference interpreter.

- NaN propagates through max/min (whole, along an axis, over long rows that
  take the two-stage path); an infinite sum stays infinite (Kahan);
- max/min gradients split the cotangent evenly among ties (and among NaNs
  when the result is NaN);
- argmax/argmin: i32, the first index on ties and the first NaN, the flat
  index without `axis`, across chunks of a long row too;
- cumsum along an axis, flattened without one, its gradient (the reversed
  scan), i32 wrapping;
- logsumexp, softmax, log_softmax finite for logits of +-1000 and where
  softmax underflows; their gradients;
- prod with 0, 1, 2, 3 zeros: the first derivative exactly, the second
  derivative finite and equal to the Hessian (gradient of the gradient);
- float reductions and scans are bitwise repeatable; i32 sums/products wrap.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import gdl
from gdl.autodiff import grad_graph
from gdl.dtype import F64
from gdl.errors import GdlTypeError
from gdl.interp import evaluate
from gdl.ir import Builder, Graph, IdSource
from gdl.ops import emitter

from helpers import cl_device, make_graph, need_fp64, run_interp, run_opencl
from op_cases.base import T


@pytest.fixture(scope="module")
def device():
    return cl_device()


def both(src: str, device, inputs=None, grad=None, of=None) -> list[dict]:
    """[interpreter result, OpenCL result] of a program, as {"outputs", "grads"} dicts."""
    prog = gdl.compile(src)
    graph = prog.gradient_graph(grad, of) if grad else prog.graph
    ref = evaluate(graph, {k: np.asarray(v) for k, v in (inputs or {}).items()})
    res = prog.run(inputs=inputs, grad=grad, of=of, device=device)
    return [ref, {"outputs": res.outputs, "grads": res.grads}]


def i32(values) -> np.ndarray:
    """Python ints wrapped to int32 (two's complement)."""
    return np.array(values, np.int64).astype(np.uint32).view(np.int32)


# ====================================================================== NaN, inf

@pytest.mark.opencl
@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_nan_propagates_through_max_and_min(dt, device):
    if dt == "f64":
        need_fp64(device)
    rng = np.random.default_rng(1)
    a = np.array([1.0, np.nan, -2.0, 3.0])
    long = rng.standard_normal(9000)
    long[6500] = np.nan                       # in the last chunk of the two-stage path
    rows = rng.standard_normal((3, 5000))
    rows[1, 4999] = np.nan
    M = np.array([[1.0, np.nan, 0.5], [2.0, 5.0, -1.0]])
    src = f"""
input a: {dt}[4]
input long: {dt}[9000]
input rows: {dt}[3, 5000]
input M: {dt}[2, 3]
hi = max(a)
lo = min(a)
lhi = max(long)
llo = min(long)
rhi = max(rows, axis=1)
rlo = min(rows, axis=-1, keepdims=true)
chi = max(M, axis=0)
clo = min(M, axis=1)
out hi, lo, lhi, llo, rhi, rlo, chi, clo
"""
    inputs = {"a": a, "long": long, "rows": rows, "M": M}
    want = {"hi": np.max(a), "lo": np.min(a), "lhi": np.max(long), "llo": np.min(long),
            "rhi": np.max(rows, axis=1), "rlo": np.min(rows, axis=-1, keepdims=True),
            "chi": np.max(M, axis=0), "clo": np.min(M, axis=1)}
    npdt = np.float32 if dt == "f32" else np.float64
    for res in both(src, device, inputs):
        for name, w in want.items():
            got = res["outputs"][name]
            assert got.dtype == npdt
            np.testing.assert_array_equal(got, np.asarray(w, npdt), err_msg=name)


@pytest.mark.opencl
def test_infinite_sums_stay_infinite(device):
    """Kahan compensation must not turn inf into NaN (inf - inf) in sums and scans."""
    src = """
input x: f32[4]
input y: f32[9000]
input z: f32[3]
s = sum(x)
c = cumsum(x)
t = sum(y)
m = mean(y)
n = sum(z)
out s, c, t, m, n
"""
    x = np.array([1.0, np.inf, 2.0, 3.0], np.float32)
    y = np.ones(9000, np.float32)
    y[10] = -np.inf
    z = np.array([np.inf, 1.0, -np.inf], np.float32)
    for res in both(src, device, {"x": x, "y": y, "z": z}):
        out = res["outputs"]
        assert out["s"] == np.inf and out["t"] == -np.inf and out["m"] == -np.inf
        np.testing.assert_array_equal(out["c"], [1.0, np.inf, np.inf, np.inf])
        assert np.isnan(out["n"])                 # inf - inf


# ====================================================================== ties

@pytest.mark.opencl
def test_max_min_gradients_split_evenly_among_ties(device):
    need_fp64(device)
    src = """
var x: f64[6] = [3.0, 1.0, 3.0, 2.0, 3.0, 0.0]
var M: f64[2, 3] = [[1.0, 1.0, 1.0], [4.0, 0.5, 0.5]]
var n: f64[4] = [1.0, 2.0, 3.0, 0.0]
y = max(x) + sum(min(M, axis=1) * [1.0, 2.0]) + sum(max(M, axis=0, keepdims=true))
z = max(n * [1.0, 1.0, 1.0, 0.0] / [1.0, 1.0, 1.0, 0.0])
out y, z
"""
    third = 1.0 / 3.0
    want_x = [third, 0.0, third, 0.0, third, 0.0]
    want_m = [[third, 1.0 + third, 1.0 + third], [1.0, 1.0, 1.0]]
    for res in both(src, device, grad=["x", "M"], of="y"):
        assert res["outputs"]["y"] == 3.0 + 1.0 + 1.0 + 4.0 + 1.0 + 1.0
        np.testing.assert_allclose(res["grads"]["x"], want_x, rtol=1e-15)
        np.testing.assert_allclose(res["grads"]["M"], want_m, rtol=1e-15)
    # A NaN result (0/0 at the last element): its gradient goes to the NaN, finite elsewhere.
    for res in both(src, device, grad=["n"], of="z"):
        assert np.isnan(res["outputs"]["z"])
        g = res["grads"]["n"]
        np.testing.assert_array_equal(g[:3], [0.0, 0.0, 0.0])


# ====================================================================== argmax, argmin

@pytest.mark.opencl
def test_argmax_argmin_first_tie_flat_index_and_nan(device):
    rng = np.random.default_rng(2)
    M = np.array([[1.0, 4.0, 4.0], [0.0, -2.0, -2.0]], np.float32)
    L = rng.standard_normal(9000).astype(np.float32)
    L[[4500, 7000]] = 9.0                     # tied maximum in two chunks: the first wins
    L[[4600, 8000]] = -9.0
    N = L.copy()
    N[[8200, 8500]] = np.nan                  # the first NaN wins both
    R = rng.integers(-3, 4, (3, 5000)).astype(np.int32)
    B = np.array([[False, True, True], [False, False, False]])
    src = """
input M: f32[2, 3]
input L: f32[9000]
input N: f32[9000]
input R: i32[3, 5000]
input B: bool[2, 3]
k = argmax(M)
l = argmin(M)
k0 = argmax(M, axis=0)
l1 = argmin(M, axis=-1, keepdims=true)
lk = argmax(L)
ll = argmin(L)
nk = argmax(N)
nl = argmin(N)
rk = argmax(R, axis=1)
rl = argmin(R, axis=1)
bk = argmax(B, axis=1)
bl = argmin(B)
out k, l, k0, l1, lk, ll, nk, nl, rk, rl, bk, bl
"""
    want = {"k": np.argmax(M), "l": np.argmin(M), "k0": np.argmax(M, axis=0),
            "l1": np.argmin(M, axis=-1, keepdims=True), "lk": 4500, "ll": 4600,
            "nk": 8200, "nl": 8200, "rk": np.argmax(R, axis=1), "rl": np.argmin(R, axis=1),
            "bk": np.argmax(B, axis=1), "bl": np.argmin(B)}
    assert want["k"] == 1 and want["l"] == 4 and np.argmax(N) == 8200
    inputs = {"M": M, "L": L, "N": N, "R": R, "B": B}
    for res in both(src, device, inputs):
        for name, w in want.items():
            got = res["outputs"][name]
            assert got.dtype == np.int32, name
            np.testing.assert_array_equal(got, np.asarray(w, np.int32), err_msg=name)


def test_argmax_passes_no_gradient():
    prog = gdl.compile("var x = [0.5, 3.0, -1.0]\ny = sum(x * x) * f32(argmax(x) + 1)\nout y")
    g = evaluate(prog.gradient_graph(["x"]))["grads"]["x"]
    np.testing.assert_allclose(g, 2 * np.array([0.5, 3.0, -1.0]) * 2)


# ====================================================================== cumsum

@pytest.mark.opencl
def test_cumsum_values_gradient_and_wrap(device):
    need_fp64(device)
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    src = """
var x: f64[2, 3] = [[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]]
input b: bool[4]
input k: i32[3]
c1 = cumsum(x, axis=1)
c0 = cumsum(x, axis=-2)
flat = cumsum(x)
count = cumsum(b)
wrap = cumsum(k)
y = sum(c1 * [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]) + sum(c0 * c0) + sum(flat)
out y, c1, c0, flat, count, wrap
"""
    inputs = {"b": np.array([True, False, True, True]), "k": i32([2**31 - 1, 1, 5])}
    c0 = np.cumsum(x, axis=0)
    rev = lambda a, ax: np.flip(np.cumsum(np.flip(a, ax), ax), ax)  # noqa: E731
    want_grad = rev(w, 1) + rev(2 * c0, 0) + rev(np.ones(6), 0).reshape(2, 3)
    for res in both(src, device, inputs, grad=["x"], of="y"):
        out = res["outputs"]
        np.testing.assert_allclose(out["c1"], np.cumsum(x, axis=1), rtol=1e-15)
        np.testing.assert_allclose(out["c0"], c0, rtol=1e-15)
        assert out["flat"].shape == (6,)
        np.testing.assert_allclose(out["flat"], np.cumsum(x), rtol=1e-15)
        np.testing.assert_array_equal(out["count"], np.array([1, 1, 2, 3], np.int32))
        np.testing.assert_array_equal(out["wrap"], i32([2**31 - 1, 2**31, 2**31 + 5]))
        np.testing.assert_allclose(res["grads"]["x"], want_grad, rtol=1e-15)


def test_cumsum_gradient_differentiates_again():
    """The adjoint is a (reversed) cumsum op, so the gradient graph is differentiable."""
    g = grad_graph(make_graph({"x": T(F64, 5)}, lambda e, p: {
        "y": e.sum(e.op("exp", e.op("cumsum", p["x"], axis=0, reverse=False)), (0,))}),
        ["x"], "y", seeded=False)
    assert any(n.op == "cumsum" and n.attr("reverse") for n in g.body.nodes)
    x = np.linspace(-1, 1, 5)
    want = np.flip(np.cumsum(np.flip(np.exp(np.cumsum(x)))))
    np.testing.assert_allclose(run_interp(g, {"x": x})["grads"]["x"], want, rtol=1e-14)


# ====================================================================== softmax family

@pytest.mark.opencl
def test_softmax_family_is_stable_for_large_logits(device):
    L = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, 0.0]])
    X = np.array([[-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0]], np.float32)
    W = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    src = """
var L = [[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, 0.0]]
input X: f32[2, 3]
ls = log_softmax(L)
sm = softmax(L)
s0 = softmax(L, axis=0)
lse = logsumexp(L, axis=1)
lsek = logsumexp(L, axis=[0, 1], keepdims=true)
lall = logsumexp(L)
lx = logsumexp(X, axis=-1)
y = sum(ls * [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
out y, ls, sm, s0, lse, lsek, lall, lx
"""
    m = L.max(axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(L - m), axis=1, keepdims=True))
    ls = L - lse
    m0 = L.max(axis=0, keepdims=True)
    s0 = np.exp(L - m0) / np.sum(np.exp(L - m0), axis=0, keepdims=True)
    mall = L.max()
    lall = mall + np.log(np.sum(np.exp(L - mall)))
    want = {"ls": ls, "sm": np.exp(ls), "s0": s0, "lse": lse[:, 0], "lsek": [[lall]],
            "lall": lall, "lx": [-np.inf, np.log(1 + np.e)]}
    want_grad = W - np.exp(ls) * W.sum(axis=1, keepdims=True)
    for res in both(src, device, {"X": X}, grad=["L"], of="y"):
        out = res["outputs"]
        for name, wv in want.items():
            got = out[name]
            assert got.dtype == np.float32, name
            assert not np.isnan(got).any(), name
            np.testing.assert_allclose(got, np.asarray(wv, np.float64), rtol=2e-7, atol=1e-30,
                                       err_msg=name)
        assert out["lsek"].shape == (1, 1) and out["lall"].shape == ()
        assert out["sm"][1, 1] == 0.0 or out["sm"][1, 1] < 1e-300     # underflows
        np.testing.assert_allclose(res["grads"]["L"], want_grad, rtol=1e-6, atol=1e-7)


def test_softmax_second_derivative_is_finite():
    """The composites are ordinary differentiable ops: a gradient of a gradient works."""
    prog = gdl.compile("var x: f64[4] = [1000.0, 999.0, -5.0, 0.0]\n"
                       "y = sum(softmax(x) * [1.0, 2.0, 3.0, 4.0])\nout y")
    first = grad_graph(prog.graph, ["x"], "y", seeded=False)
    second = _grad_of_grad(first, "x", np.array([1.0, -1.0, 0.5, 2.0]))
    res = run_interp(second, {})
    assert np.isfinite(res["grads"]["x"]).all()


# ====================================================================== prod

def _grad_of_grad(first: Graph, name: str, w: np.ndarray) -> Graph:
    """From a graph with the gradient g of `name` as its last result, the gradient of
    sum(g * w) with respect to `name`: the Hessian times w."""
    ids = IdSource(first.next_id)
    b = Builder(ids)
    for node in first.body.nodes:
        b.append(node)
    e = emitter(b)
    g = first.body.results[-1]
    s = e.sum(e.mul(g, e.const(w, g.type.dtype)), tuple(range(g.type.rank)))
    body = b.region(first.body.params, tuple(first.body.results) + (s,))
    mid = Graph(body, first.leaves, tuple(first.outputs) + ("g", "s"), ids.next)
    return grad_graph(mid, [name], "s", seeded=False)


def _prod_derivatives(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact gradient and Hessian of prod at x (products of the others)."""
    n = len(x)
    g = np.array([np.prod(np.delete(x, i)) for i in range(n)])
    h = np.zeros((n, n))
    for i, j in itertools.permutations(range(n), 2):
        h[i, j] = np.prod(np.delete(x, [i, j]))
    return g, h


PROD_POINTS = {
    "no-zero": [2.0, -0.5, 3.0, -1.0, 1.5],
    "one-zero": [2.0, 0.0, 3.0, -1.0, 1.5],
    "two-zeros": [2.0, 0.0, 3.0, 0.0, 1.5],
    "three-zeros": [0.0, 0.0, 3.0, 0.0, 1.5],
    "all-zero": [0.0, 0.0, 0.0, 0.0, 0.0],
}


@pytest.mark.parametrize("label", sorted(PROD_POINTS))
def test_prod_first_and_second_derivatives_at_zeros_interpreter(label):
    x = np.array(PROD_POINTS[label])
    w = np.array([1.0, 2.0, 3.0, 4.0, -5.0])
    first = grad_graph(make_graph({"x": T(F64, 5)}, lambda e, p: {"y": e.op("prod", p["x"])}),
                       ["x"], "y", seeded=False)
    res = run_interp(_grad_of_grad(first, "x", w), {"x": x})
    g, h = _prod_derivatives(x)
    np.testing.assert_array_equal(res["outputs"]["g"], g)            # exact
    assert np.isfinite(res["grads"]["x"]).all()
    np.testing.assert_allclose(res["grads"]["x"], h @ w, rtol=1e-15, atol=0)


@pytest.mark.opencl
def test_prod_derivatives_at_zeros_opencl(device):
    """Every zero pattern in one f64 program: rows of a matrix, prod along axis 1."""
    need_fp64(device)
    X = np.array([PROD_POINTS[k] for k in sorted(PROD_POINTS)])
    w = np.array([1.0, 2.0, 3.0, 4.0, -5.0])
    W = np.tile(w, (len(X), 1))
    first = grad_graph(make_graph({"x": T(F64, *X.shape)}, lambda e, p: {
        "y": e.sum(e.op("prod", p["x"], axis=(1,), keepdims=False), (0,))}),
        ["x"], "y", seeded=False)
    gg = _grad_of_grad(first, "x", W)
    cl = run_opencl(gg, {"x": X}, device)
    for row, x in zip(range(len(X)), X):
        g, h = _prod_derivatives(x)
        np.testing.assert_array_equal(cl["outputs"]["g"][row], g)
        np.testing.assert_allclose(cl["grads"]["x"][row], h @ w, rtol=1e-15, atol=0)


def test_prod_adjoint_divides_only_by_nonzero_values():
    """Each `div` in prod's adjoint divides by x with zeros replaced (a `where`) or by P."""
    first = grad_graph(make_graph({"x": T(F64, 4)}, lambda e, p: {"y": e.op("prod", p["x"])}),
                       ["x"], "y", seeded=False)
    producers = {o: n for n in first.body.nodes for o in n.outputs}
    divs = [n for n in first.body.nodes if n.op == "div"]
    assert divs
    for n in divs:
        assert producers[n.inputs[1]].op == "where", producers[n.inputs[1]].op


# ====================================================================== mean, errors

@pytest.mark.opencl
def test_mean_of_integers_is_f32_and_its_gradient_is_one_over_n(device):
    src = """
var x = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]
k = mean(arange(7))
a = mean(x, axis=[0, 1])
b = mean(x, axis=0, keepdims=true)
y = mean(x)
out y, k, a, b
"""
    for res in both(src, device, grad=["x"], of="y"):
        out = res["outputs"]
        assert out["k"].dtype == np.float32 and out["k"] == 3.0
        assert out["b"].shape == (1, 3)
        np.testing.assert_allclose(out["a"], 21.5 / 6, rtol=1e-7)
        np.testing.assert_allclose(res["grads"]["x"], np.full((2, 3), 1 / 6), rtol=1e-7)


@pytest.mark.parametrize("src,fragments", [
    ("var a = [1.0, 2.0]\nvar b = [3.0, 1.0]\ny = max(a, b)\nout y", ["max", "maximum(a, b)"]),
    ("var a = [[1.0, 2.0]]\ny = argmax(a, axis=[0, 1])\nout y", ["argmax", "one axis"]),
    ("var a = [[1.0, 2.0]]\ny = cumsum(a, axis=[0])\nout y", ["cumsum", "one axis"]),
    ("var a = [[1.0, 2.0]]\ny = softmax(a, axis=2)\nout y", ["softmax", "axis 2"]),
    ("var a = [[1.0, 2.0]]\ny = logsumexp(a, axis=[1, -1])\nout y", ["logsumexp", "repeated"]),
    ("var a = [[1.0, 2.0]]\ny = mean(a, axis=-3)\nout y", ["mean", "axis -3"]),
    ("var a = [[1.0, 2.0]]\ny = prod(a, keepdims=1)\nout y", ["keepdims", "true or false"]),
])
def test_bad_reduction_calls_name_the_problem(src, fragments):
    with pytest.raises(GdlTypeError) as info:
        gdl.compile(src)
    assert info.value.line == src.count("\n"), info.value     # the line before `out`
    for frag in fragments:
        assert frag in info.value.message, (frag, info.value.message)


# ====================================================================== determinism, wrap

@pytest.mark.opencl
def test_float_reductions_are_bitwise_repeatable(device):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5000)).astype(np.float32)
    v = rng.standard_normal(20000).astype(np.float32)
    src = """
input x: f32[3, 5000]
input v: f32[20000]
s = sum(v)
r = sum(x, axis=1)
m = max(v)
p = prod(exp(x * 0.01), axis=1)
c = cumsum(v)
l = logsumexp(x, axis=1)
a = argmax(v)
out s, r, m, p, c, l, a
"""
    runs = [gdl.compile(src).run(inputs={"x": x, "v": v}, device=device).outputs
            for _ in range(2)]
    runs.append(gdl.compile(src).run(inputs={"x": x, "v": v}, device=device).outputs)
    for name in runs[0]:
        for other in runs[1:]:
            assert runs[0][name].tobytes() == other[name].tobytes(), name
    np.testing.assert_allclose(runs[0]["s"], np.sum(v.astype(np.float64)), rtol=1e-6)


@pytest.mark.opencl
def test_integer_sums_and_products_wrap(device):
    src = """
input big: i32[3]
input k: i32[9000]
s = sum(big)
p = prod(big)
q = prod(big * [0, 0, 0] + [65536, 65536, 3])
ks = sum(k)
kp = prod(k)
hi = max(k)
lo = min(k)
out s, p, q, ks, kp, hi, lo
"""
    rng = np.random.default_rng(6)
    k = rng.choice(np.array([-2**31, 2**31 - 1, -3, 3, 7, -1], np.int64), 9000).astype(np.int32)
    big = i32([2**31 - 1, 2**31 - 1, 3])
    want = {"s": i32(2 * (2**31 - 1) + 3), "p": i32((2**31 - 1) ** 2 * 3 % 2**32),
            "q": np.int32(0), "ks": np.sum(k, dtype=np.int32), "kp": np.prod(k, dtype=np.int32),
            "hi": k.max(), "lo": k.min()}
    for res in both(src, device, {"big": big, "k": k}):
        for name, w in want.items():
            got = res["outputs"][name]
            assert got.dtype == np.int32, name
            np.testing.assert_array_equal(got, w, err_msg=name)
