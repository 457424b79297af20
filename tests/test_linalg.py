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

The GEMM kernels themselves (gen_linalg, tuning) are also driven directly,
one kernel per tile and layout over many shapes (sizes are arguments, so a
kernel is built once): every layout and dtype at the sizes around each
tile's edges, grouped and k-blocked work-items with partial groups, the
GPU tiles through the portable vloadN path, the claim that the rows
scheme's bits do not depend on the tile or layout, bitwise repeats, the
W2 network's gradients against float64, and the on-disk tuning cache.
"""
from __future__ import annotations

import numpy as np
import pytest

import gdl
from gdl.autodiff import Pass, grad_graph
from gdl.dtype import F32, F64, I32, TensorType
from gdl.errors import GdlTypeError
from gdl.interp import evaluate
from gdl.ir import Builder, Graph, IdSource
from gdl.ops import emitter
from gdl.runtime import gen_linalg, tuning
from gdl.runtime.tuning import Tile
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


# ---------------------------------------------------------------- the GEMM kernels

class Gemm:
    """Runs gen_linalg's matmul kernels straight through pyopencl, one build per text."""

    def __init__(self, device):
        import pyopencl as cl
        self.cl, self.device, self.built = cl, device, {}

    def kernel(self, g, dt, options=()):
        key = (g.text, options)
        if key not in self.built:
            prog = self.cl.Program(self.device.context, gen_linalg.standalone_source(g.text, dt))
            self.built[key] = self.cl.Kernel(prog.build(options=list(options)), g.name)
        return self.built[key]

    def run(self, dt, layout, tile, a, b, m, n, k, min_items=gen_linalg.MIN_ITEMS, options=()):
        """C (M x N) = op(a) @ op(b), `a` and `b` stored as `layout` reads them."""
        cl = self.cl
        g = gen_linalg.gemm_kernel(dt, layout, tile, m, n, k, min_items)
        kern = self.kernel(g, dt, tuple(options))
        mf, ctx = cl.mem_flags, self.device.context
        bufs = [cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=np.ascontiguousarray(x))
                for x in (a, b)]
        out = np.full((m, n), 77, dt.np)        # anything not written shows up
        bufs.append(cl.Buffer(ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=out))
        kern.set_args(*bufs, *(np.uint32(v) for v in g.sizes))
        cl.enqueue_nd_range_kernel(self.device.queue, kern, (-(-g.global_size // 64) * 64,), None)
        cl.enqueue_copy(self.device.queue, out, bufs[2])
        return out


@pytest.fixture(scope="module")
def gemm(device):
    return Gemm(device)


def stored(layout: str, m: int, n: int, k: int, dt, rng, kind="ints"):
    """Operands as stored for `layout` and the exact float64 (or wrapped i32) product."""
    def make(shape):
        if dt == I32:
            return rng.integers(-2**31, 2**31, shape, dtype=np.int64).astype(np.int32)
        if kind == "ints":          # exact in any summation order
            return rng.integers(-4, 5, shape).astype(dt.np)
        return rng.standard_normal(shape).astype(dt.np)
    a = make((k, m) if layout[0] == "t" else (m, k))
    b = make((n, k) if layout[1] == "t" else (k, n))
    a_op = a.T if layout[0] == "t" else a
    b_op = b.T if layout[1] == "t" else b
    if dt == I32:
        want = (a_op.astype(np.uint64) @ b_op.astype(np.uint64)).astype(np.uint32).view(np.int32)
    else:
        want = a_op.astype(np.float64) @ b_op.astype(np.float64)
    return a, b, want


def edge_sizes(layout: str, tile: Tile):
    """(M, N, K) around the tile's edges: 1, width - 1, width, width + 1 and past
    a partial group on the output dimensions; k around the lanes and the k block."""
    if layout == "nt":
        rows, cols, ks = tile.rows, 4, (1, tile.lanes - 1, tile.lanes, tile.lanes + 1, 35)
    else:
        rows, cols = tile.rows, tile.cols
        ks = (1, 8, 9) + ((tile.kblock + 2,) if tile.kblock else (33,))
    us = sorted({1, max(1, rows - 1), rows, rows + 1, 4 * rows + 3})
    vs = sorted({1, max(1, cols - 1), cols, cols + 1, 4 * cols + 5})
    for u in us:
        for v in vs:
            for k in ks:
                yield (v, u, k) if layout == "tt" else (u, v, k)


CPU_ROWS, CPU_DOT = tuning.candidates("cpu", "rows")[0], tuning.candidates("cpu", "dot")[0]
GPU_ROWS, GPU_DOT = tuning.candidates("gpu", "rows")[0], tuning.candidates("gpu", "dot")[0]


@pytest.mark.opencl
@pytest.mark.parametrize("dt", [F32, F64, I32], ids=str)
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
def test_gemm_edges_every_layout_and_dtype(device, gemm, dt, layout):
    """Sizes 1, tile - 1, tile, tile + 1 and a partial group in M and N, K around
    the lanes and the k block: exact products (small integers, or wrapping i32),
    every output written once.  The default CPU tile, grouped on small shapes;
    narrower fits and the plain kernel come in where N (M for tt) is small."""
    if dt == F64:
        need_fp64(device)
    tile = CPU_DOT if layout == "nt" else CPU_ROWS
    rng = np.random.default_rng(7)
    for m, n, k in edge_sizes(layout, tile):
        a, b, want = stored(layout, m, n, k, dt, rng)
        got = gemm.run(dt, layout, tile, a, b, m, n, k, min_items=1)
        np.testing.assert_array_equal(got, want, err_msg=f"{layout} M={m} N={n} K={k}")


@pytest.mark.opencl
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
@pytest.mark.parametrize("tile", [CPU_ROWS, Tile(6, 16, 8, 2, 16), Tile(8, 16, 8),
                                  GPU_ROWS, Tile(2, 8, 4)], ids=Tile.describe)
def test_gemm_edges_other_tiles(device, gemm, layout, tile):
    """Every rows tile at its edges in f32 (nt runs the dot tiles of the same
    kind); GPU tiles through the portable vloadN/vstoreN path."""
    portable = tile.lanes == 4
    if layout == "nt":
        tile = GPU_DOT if portable else tuning.candidates("cpu", "dot")[1]
    rng = np.random.default_rng(8)
    options = ("-DGDL_MM_PORTABLE",) if portable else ()
    for m, n, k in edge_sizes(layout, tile):
        a, b, want = stored(layout, m, n, k, F32, rng)
        got = gemm.run(F32, layout, tile, a, b, m, n, k, min_items=1, options=options)
        np.testing.assert_array_equal(got, want, err_msg=f"{layout} M={m} N={n} K={k}")


@pytest.mark.opencl
def test_rows_scheme_bits_do_not_depend_on_tile_or_layout(device, gemm):
    """nn, tn and tt of one product, through every rows tile and the plain
    kernel, give the same bits (each output sums k in order, products fused);
    so tuning cannot change results.  Random data, where order matters."""
    rng = np.random.default_rng(3)
    m, n, k = 45, 70, 300
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    operands = {"nn": (a, b), "tn": (a.T.copy(), b), "tt": (a.T.copy(), b.T.copy())}
    first = None
    for tile in tuning.candidates("cpu", "rows") + (Tile(8, 16, 8), Tile(6, 16, 8, 2, 16),
                                                    GPU_ROWS, None):
        for layout, (x, y) in operands.items():
            got = gemm.run(F32, layout, tile, x, y, m, n, k, min_items=1)
            if first is None:
                first = got
                exact = a.astype(np.float64) @ b.astype(np.float64)
                bound = k * np.finfo(np.float32).eps * (np.abs(a) @ np.abs(b))
                assert (np.abs(got - exact) <= bound).all()
            assert got.tobytes() == first.tobytes(), (layout, tile)
    # The dot scheme sums in lanes: its own bits, the same for every 8-lane tile.
    dots = {gemm.run(F32, "nt", tile, a, b.T.copy(), m, n, k).tobytes()
            for tile in tuning.candidates("cpu", "dot")}
    assert len(dots) == 1


@pytest.mark.opencl
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
def test_gemm_large_random_within_f32_bound_and_repeatable(device, gemm, layout):
    """300 x 257 by 257 x 190 against float64: within K eps (|A| @ |B|); two runs
    are bitwise equal (no atomics, no data-dependent order)."""
    rng = np.random.default_rng(12)
    m, n, k = 300, 190, 257
    a, b, exact = stored(layout, m, n, k, F32, rng, kind="normal")
    a_op, b_op = (a.T if layout[0] == "t" else a), (b.T if layout[1] == "t" else b)
    bound = k * np.finfo(np.float32).eps * (np.abs(a_op).astype(np.float64) @ np.abs(b_op))
    tile = CPU_DOT if layout == "nt" else CPU_ROWS
    got = gemm.run(F32, layout, tile, a, b, m, n, k)
    assert (np.abs(got - exact) <= bound).all()
    assert np.abs(got - exact).max() < 1e-5 * np.abs(exact).max()
    again = gemm.run(F32, layout, tile, a, b, m, n, k)
    assert got.tobytes() == again.tobytes()


def test_layouts_of_vectors_and_flags():
    """A size-1 dimension frees its operand's flag: matrix @ vector runs as a dot
    product per row (nt) or down A^T's columns (tt)."""
    assert gen_linalg.layout_of(5, 7, False, False) == "nn"
    assert gen_linalg.layout_of(5, 7, True, True) == "tt"
    assert gen_linalg.layout_of(5, 1, False, False) == "nt"
    assert gen_linalg.layout_of(5, 1, True, False) == "tt"
    assert gen_linalg.layout_of(1, 7, True, False) == "nn"
    assert gen_linalg.layout_of(1, 7, True, True) == "nt"
    assert gen_linalg.layout_of(1, 1, True, False) == "nt"


def test_groups_shrink_for_small_products():
    """Grouped tiles never leave fewer than MIN_ITEMS work-items when splitting helps."""
    tile = CPU_ROWS
    assert gen_linalg.groups(tile, 256, 32) == (tile.group, tile.group)
    gu, gv = gen_linalg.groups(tile, 64, 4)
    assert -(-64 // gu) * -(-4 // gv) >= gen_linalg.MIN_ITEMS
    assert gen_linalg.groups(tile, 2, 3) == (1, 1)
    assert gen_linalg.groups(Tile(8, 16, 8), 256, 32) == (1, 1)


W2_SRC = """
input X: f32[{m}, {k}]
input Y: f32[{m}, {o}]
var W1: f32[{k}, {h}] = randn([{k}, {h}], seed=1) * 0.1
var b1: f32[{h}] = zeros([{h}])
var W2: f32[{h}, {o}] = randn([{h}, {o}], seed=2) * 0.1
loss = mean((tanh(X @ W1 + b1) @ W2 - Y) ** 2)
out loss
"""


@pytest.mark.opencl
def test_w2_network_gradients_against_float64(device):
    """The W2 benchmark's network at a size crossing every tile edge: the
    forward and backward matmuls (nn, tn and nt forms) against float64 NumPy,
    and bitwise equal on a second run."""
    m, k, h, o = 203, 70, 45, 9
    prog = gdl.compile(W2_SRC.format(m=m, k=k, h=h, o=o))
    rng = np.random.default_rng(4)
    X = rng.standard_normal((m, k)).astype(np.float32)
    Y = rng.standard_normal((m, o)).astype(np.float32)
    runs = [prog.run(inputs={"X": X, "Y": Y}, grad=["W1", "b1", "W2"], device=device)
            for _ in range(2)]
    for name in ("W1", "b1", "W2"):
        assert runs[0].grads[name].tobytes() == runs[1].grads[name].tobytes(), name
    v = {name: x.astype(np.float64)
         for name, x in initial_values(prog.graph, {"X": X, "Y": Y}).items()}
    z = v["X"] @ v["W1"] + v["b1"]
    hid = np.tanh(z)
    dp = 2 * (hid @ v["W2"] - v["Y"]) / (m * o)
    dz = (dp @ v["W2"].T) * (1 - hid ** 2)
    want = {"W2": hid.T @ dp, "W1": v["X"].T @ dz, "b1": dz.sum(0)}
    for name in ("W1", "b1", "W2"):
        got = runs[0].grads[name]
        np.testing.assert_allclose(got, want[name], rtol=1e-3,
                                   atol=1e-4 * np.abs(want[name]).max(), err_msg=name)


@pytest.fixture
def tune_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(tuning.TUNE_ENV, raising=False)
    return tmp_path


@pytest.mark.opencl
def test_tuning_times_once_then_reads_the_cache(device, tune_cache):
    """The first request times the candidates (gen_linalg.fastest, for real) and
    stores the winner; later ones (any process) read it back without timing; a
    corrupt entry is timed again."""
    calls = []

    def timer(dev, scheme, dt, options):
        calls.append(scheme)
        return gen_linalg.fastest(dev, scheme, dt, options)
    first = tuning.tile_for(device, "dot", F32, timer)
    assert first in tuning.candidates(device.kind, "dot") and calls == ["dot"]
    assert tuning.tile_for(device, "dot", F32, timer) == first and calls == ["dot"]
    for entry in (tune_cache / "tuning").iterdir():
        entry.write_bytes(b"{not json")
    assert tuning.tile_for(device, "dot", F32, lambda *args: (calls.append("again"), first)[1]
                           ) == first and calls == ["dot", "again"]


@pytest.mark.opencl
def test_tuning_off_or_no_device_gives_the_default(device, tune_cache, monkeypatch):
    def boom(*args):
        raise AssertionError("timed although tuning is off")
    monkeypatch.setenv(tuning.TUNE_ENV, "0")
    default = tuning.candidates(device.kind, "rows")[0]
    assert tuning.tile_for(device, "rows", F32, boom) == default
    monkeypatch.setenv("GDL_CACHE_DIR", "")
    monkeypatch.delenv(tuning.TUNE_ENV)
    assert tuning.tile_for(device, "rows", F32, boom) == default
    assert tuning.tile_for(None, "dot", F64, boom) == CPU_DOT


@pytest.mark.opencl
def test_a_run_tunes_only_for_a_big_product(device, tune_cache, monkeypatch):
    """The device reaches the matmul generator; a small product never starts a timing,
    a big one does (once), and both compute the same product."""
    calls = []

    def timer(dev, scheme, dt, options):
        calls.append((dev, scheme))
        return options[0]
    monkeypatch.setattr(gen_linalg, "fastest", timer)
    small = gdl.compile("var a = ones([8, 8])\nvar b = ones([8, 8])\nc = a @ b\nout c\n")
    np.testing.assert_array_equal(small.run(device=device).outputs["c"], np.full((8, 8), 8.0))
    assert calls == []
    big = gdl.compile("var a = ones([256, 256])\nvar b = ones([256, 256])\nc = a @ b\nout c\n")
    np.testing.assert_array_equal(big.run(device=device).outputs["c"], np.full((256, 256), 256.0))
    assert [scheme for _, scheme in calls] == ["rows"]
    assert calls[0][0].cl_device == device.cl_device
