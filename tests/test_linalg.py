"""Linear algebra end to end: `matmul` / `@` in its three forms (and vector @
vector), `outer`, `dot`, through `gdl.compile(src).run(...)` on OpenCL and
through the reference interpreter on the gradient graph.

Covers: values against NumPy, gradients against central finite differences
in f64, second derivatives through the matmul adjoints (which are matmuls
with transpose flags), a bias broadcast X @ W + b, bitwise determinism, a
larger random product within float32's error bound, i32 wrapping, weak
literal operands, and the errors a user can cause.  Programs are few and
batch several checks each, since every PoCL build costs a few tenths of a
second.
"""
from __future__ import annotations

import numpy as np
import pytest

import gdl
from gdl.autodiff import Pass, grad_graph
from gdl.dtype import F64, TensorType
from gdl.errors import GdlTypeError
from gdl.interp import evaluate
from gdl.ir import Builder, Graph, IdSource
from gdl.ops import emitter
from gdl.verify import verify

from helpers import (check_grads, cl_device, initial_values, make_graph, need_fp64,
                     program_scalar, run_both, run_interp)


@pytest.fixture(scope="module")
def device():
    return cl_device()


def both(prog, wrt, of, device, inputs=None):
    """(interpreter result, OpenCL result) of a program with gradients of `of`."""
    ref = evaluate(prog.gradient_graph(wrt, of), inputs)
    res = prog.run(inputs=inputs, grad=wrt, of=of, device=device)
    return ref, {"outputs": res.outputs, "grads": res.grads}


# ---------------------------------------------------------------- forms

FORMS_SRC = """
var A: f64[2, 3] = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]]
var B: f64[3, 2] = [[0.5, -1.0], [2.0, 1.0], [1.5, 0.25]]
var v: f64[3] = [1.0, -2.0, 0.5]
var u: f64[2] = [0.25, -0.75]
M = matmul(A, B)
N = A @ B
p = A @ v
q = u @ A
o = outer(u, p)
d = v @ v
e = matmul(v, v)
y = sum(M * o) + dot(q, v) + sum(matmul(A, v)) + sum(matmul(u, A)) + d * e + sum(N)
out y, M, N, p, q, o, d, e
"""


@pytest.mark.opencl
def test_three_forms_outer_and_dot(device):
    """2-D @ 2-D, 2-D @ 1-D, 1-D @ 2-D, 1-D @ 1-D, outer: values and shapes as NumPy."""
    need_fp64(device)
    prog = gdl.compile(FORMS_SRC)
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    B = np.array([[0.5, -1.0], [2.0, 1.0], [1.5, 0.25]])
    v = np.array([1.0, -2.0, 0.5])
    u = np.array([0.25, -0.75])
    want = {"M": A @ B, "N": A @ B, "p": A @ v, "q": u @ A, "o": np.outer(u, A @ v),
            "d": v @ v, "e": v @ v}
    want["y"] = (np.sum(want["M"] * want["o"]) + (u @ A) @ v + np.sum(A @ v) + np.sum(u @ A)
                 + (v @ v) ** 2 + np.sum(A @ B))
    for runtime in both(prog, ["A", "B", "v", "u"], "y", device):
        for name, w in want.items():
            got = runtime["outputs"][name]
            assert got.shape == np.shape(w) and got.dtype == np.float64, (name, got.shape)
            np.testing.assert_allclose(got, w, rtol=1e-14, err_msg=name)
        f = program_scalar(prog, "y")
        check_grads(f, initial_values(prog.graph), runtime["grads"], eps=1e-6, rtol=1e-7)


@pytest.mark.opencl
def test_conformance_example_in_f32(device):
    """The shared conformance case linalg_matmul_three_forms, exact in f32."""
    src = FORMS_SRC.replace("f64", "f32")
    prog = gdl.compile(src.replace("+ d * e + sum(N)", ""))
    res = prog.run(grad=["A", "B", "v", "u"], of="y", device=device)
    assert res.outputs["y"] == np.float32(0.1875)
    np.testing.assert_array_equal(res.grads["B"], np.array(
        [[-2.75, 0.5], [-1.375, 0.25], [5.84375, -1.0625]], np.float32))
    np.testing.assert_array_equal(res.grads["u"], np.array([-13.125, -7.625], np.float32))


# ---------------------------------------------------------------- broadcasting bias

@pytest.mark.opencl
def test_bias_broadcast_gradients(device):
    """X @ W + b: dW = X^T dH, and db sums dH over the broadcast rows."""
    need_fp64(device)
    prog = gdl.compile("""
input X: f64[5, 3]
var W: f64[3, 2] = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
var b: f64[2] = [0.5, -0.5]
H = X @ W + b
loss = sum(H * H * [[1.0], [2.0], [3.0], [4.0], [5.0]])
out loss
""")
    X = np.random.default_rng(1).standard_normal((5, 3))
    W = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])
    b = np.array([0.5, -0.5])
    c = np.arange(1.0, 6.0)[:, None]
    H = X @ W + b
    dH = 2 * H * c
    for runtime in both(prog, ["W", "b"], "loss", device, {"X": X}):
        np.testing.assert_allclose(runtime["outputs"]["loss"], np.sum(H * H * c), rtol=1e-13)
        np.testing.assert_allclose(runtime["grads"]["W"], X.T @ dH, rtol=1e-12)
        np.testing.assert_allclose(runtime["grads"]["b"], dH.sum(0), rtol=1e-12)
        assert runtime["grads"]["b"].shape == (2,)


# ---------------------------------------------------------------- second derivatives

def grad_of_grad(graph: Graph, of: str, directions: dict[str, np.ndarray]) -> Graph:
    """A graph whose output s = sum_k <dL/dk, directions[k]>, differentiable again."""
    ad = Pass(IdSource(graph.next_id))
    active = [lf.name in directions for lf in graph.leaves]
    seeds = ["ones" if name == of else None for name in graph.outputs]
    region = ad.differentiate(graph.body, active, seeds)
    b = Builder(ad.ids)
    for node in region.nodes:
        b.append(node)
    e = emitter(b)
    names = [lf.name for lf in graph.leaves if lf.name in directions]
    s = None
    for name, g in zip(names, region.results):
        term = e.sum(e.mul(g, e.const(directions[name], F64)), tuple(range(g.type.rank)))
        s = term if s is None else e.add(s, term)
    body = b.region(region.params, (s,))
    return verify(Graph(body, graph.leaves, ("s",), ad.ids.next))


@pytest.mark.opencl
def test_second_derivatives_through_matmul(device):
    """Hessian-vector products of a matmul loss: the adjoints differentiate again."""
    need_fp64(device)
    rng = np.random.default_rng(5)
    shapes = {"A": (4, 3), "B": (3, 5), "x": (5,), "w": (4,)}

    def build(e, p):
        h = e.op("matmul", p["A"], p["B"])                     # [4, 5]
        y = e.op("matmul", h, p["x"])                          # [4]
        z = e.op("matmul", p["w"], e.mul(h, h))                # [5]
        t = e.op("matmul", y, y)                               # []
        return {"L": e.add(e.mul(t, t), e.sum(e.mul(z, z), (0,)))}
    graph = make_graph({k: TensorType(F64, s) for k, s in shapes.items()}, build)
    xs = {k: rng.standard_normal(s) for k, s in shapes.items()}
    g2 = grad_of_grad(graph, "L", {k: rng.standard_normal(s) for k, s in shapes.items()})
    gg = verify(grad_graph(g2, list(shapes), "s", seeded=False))
    ref, cl = run_both(gg, xs, device)
    check_grads(lambda values: float(run_interp(g2, values)["outputs"]["s"]), xs,
                ref["grads"], eps=1e-5, rtol=1e-6, atol=1e-6)
    for name in shapes:
        np.testing.assert_allclose(cl["grads"][name], ref["grads"][name], rtol=1e-11,
                                   atol=1e-11, err_msg=f"second derivative, d/d{name}")


# ---------------------------------------------------------------- precision, determinism

@pytest.mark.opencl
def test_large_random_products_within_f32_bound_and_repeatable(device):
    """64x96 @ 96x33 and friends against float64 NumPy; two runs are bitwise equal.

    Each output is a sequential f32 sum of K products, so its error is at most
    about K eps (|A| @ |B|) (Higham's gamma_K bound).
    """
    prog = gdl.compile("""
input A: f32[64, 96]
input B: f32[96, 33]
input v: f32[96]
C = A @ B
r = A @ v
s = v @ B
out C, r, s
""")
    rng = np.random.default_rng(11)
    ins = {"A": rng.standard_normal((64, 96)).astype(np.float32),
           "B": rng.standard_normal((96, 33)).astype(np.float32),
           "v": rng.standard_normal(96).astype(np.float32)}
    A, B, v = (ins[k].astype(np.float64) for k in ("A", "B", "v"))
    eps = np.finfo(np.float32).eps
    first = prog.run(inputs=ins, device=device).outputs
    for name, exact, bound in (("C", A @ B, np.abs(A) @ np.abs(B)),
                               ("r", A @ v, np.abs(A) @ np.abs(v)),
                               ("s", v @ B, np.abs(v) @ np.abs(B))):
        got = first[name]
        assert got.dtype == np.float32 and got.shape == exact.shape
        assert (np.abs(got - exact) <= 96 * eps * bound).all(), name
        assert np.abs(got - exact).max() < 1e-4 * np.abs(exact).max(), name
    second = prog.run(inputs=ins, device=device).outputs
    for name in first:
        assert first[name].tobytes() == second[name].tobytes(), name


@pytest.mark.opencl
def test_gradients_are_bitwise_repeatable(device):
    prog = gdl.compile("""
input X: f32[37, 29]
var W: f32[29, 13] = randn([29, 13], seed=3)
var b: f32[13] = zeros([13])
H = X @ W + b
loss = sum((H @ ones([13])) * (H @ ones([13])))
out loss
""")
    X = np.random.default_rng(2).standard_normal((37, 29)).astype(np.float32)
    runs = [prog.run(inputs={"X": X}, grad=["W", "b"], device=device) for _ in range(2)]
    for name in ("W", "b"):
        assert runs[0].grads[name].tobytes() == runs[1].grads[name].tobytes(), name
    assert runs[0].outputs["loss"].tobytes() == runs[1].outputs["loss"].tobytes()


# ---------------------------------------------------------------- integers, literals

@pytest.mark.opencl
def test_integer_products_wrap_and_literals_fold(device):
    """i32 matmul wraps like two's complement; literal operands fold or take the other's dtype."""
    need_fp64(device)
    prog = gdl.compile("""
input A: i32[2, 2]
var x: f64[2] = [1.0, 2.0]
P = A @ A
k = [[1, 2], [3, 4]] @ [1, 1]
y = [[0.1, 0.2], [0.3, 0.4]] @ x
z = outer(x, [0.1, 0.3])
out P, k, y, z
""")
    A = np.array([[65536, 3], [65536, -7]], np.int32)
    want_p = (A.astype(np.int64) @ A.astype(np.int64)).astype(np.uint32).view(np.int32)
    lit = np.array([[0.1, 0.2], [0.3, 0.4]])
    for out in (evaluate(prog.graph, {"A": A})["outputs"],
                prog.run(inputs={"A": A}, device=device).outputs):
        np.testing.assert_array_equal(out["P"], want_p)
        assert out["P"].dtype == np.int32
        np.testing.assert_array_equal(out["k"], np.array([3, 7], np.int32))
        assert out["k"].dtype == np.int32
        assert out["y"].dtype == np.float64 and out["z"].dtype == np.float64
        np.testing.assert_allclose(out["y"], lit @ [1.0, 2.0], rtol=1e-15)
        np.testing.assert_array_equal(out["z"], np.outer([1.0, 2.0], [0.1, 0.3]))


@pytest.mark.opencl
def test_long_vector_products_are_compensated(device):
    """Vector @ vector is the dot reduction (Kahan, ordered partials), not one long loop."""
    n = 20000
    x = np.full(n, 1e-4, np.float32)
    x[0] = 1.0
    prog = gdl.compile(f"input x: f32[{n}]\ny = x @ x\nout y")
    got = prog.run(inputs={"x": x}, device=device).outputs["y"]
    exact = np.sum(x.astype(np.float64) ** 2)
    assert abs(float(got) - exact) <= 2 * np.spacing(np.float32(exact))


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("src,line,fragments", [
    ("var A = ones([2, 3])\nvar B = ones([4, 2])\nC = A @ B\nout C", 3,
     ["f32[2, 3] @ f32[4, 2]", "inner dimensions 3 and 4 differ"]),
    ("var A = ones([2, 3])\nC = matmul(A, ones([2]))\nout C", 2, ["f32[2, 3] @ f32[2]",
                                                                   "3 and 2"]),
    ("var A = ones([2, 3, 4])\nC = A @ ones([4])\nout C", 2, ["rank 3", "f32[2, 3, 4]"]),
    ("input a: bool[2, 2]\nC = a @ a\nout C", 2, ["bool[2, 2]", "numbers"]),
    ("var a = ones([2, 2])\nC = outer(a, ones([3]))\nout C", 2, ["outer", "1-D", "[2, 2]"]),
    ("input a: bool[2]\nC = outer(a, a)\nout C", 2, ["outer", "bool"]),
    ("var a = ones([2])\n\nC = 2.0 @ a\nout C", 3, ["1-D or 2-D", "rank 0"]),
])
def test_user_errors(src, line, fragments):
    with pytest.raises(GdlTypeError) as info:
        gdl.compile(src)
    assert info.value.line == line, info.value
    for frag in fragments:
        assert frag in info.value.message, (frag, info.value.message)
