"""The autodiff pass (gdl/autodiff.py, gdl/ops/control_ad.py) on whole programs.

Every gradient is checked against central finite differences in float64 on
the NumPy interpreter, and the same gradient graph is run on OpenCL (f64)
and compared with the interpreter: chain rule, broadcast undo, stop_grad,
unconnected vars, `while` (several carried values, accumulating invariants,
zero iterations, data-dependent trip counts), `if` (both branches, run-time
predicates), and their nestings.  Then the structure the design promises:
no tape for a body linear in its carried values, one for a nonlinear body,
and the run-time counters (the reverse pass reads nothing back, launches do
not depend on how many gradients are asked, a new trip count builds nothing).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import gdl
from gdl.autodiff import grad_graph
from gdl.dtype import F64
from gdl.interp import evaluate
from gdl.ir import Builder, Graph, IdSource, walk
from gdl.ops import emitter
from gdl.verify import verify

from helpers import (check_grads, cl_device, initial_values, need_fp64, program_scalar,
                     run_interp, run_opencl, scalar_of)


@pytest.fixture(scope="module")
def device():
    dev = cl_device()
    need_fp64(dev)
    return dev


PROGRAMS = {
    "chain": """
var x: f64[4] = [0.3, -0.7, 1.1, 0.4]
var w: f64[4] = [1.5, 0.2, -0.8, 0.9]
h = exp(x * w) / (1.0 + x * x)
y = log(dot(h, h) + 1.0) * norm(x - w) + sum(h ** 3.0) - sum(w / (2.0 + x * w))
out y
""",
    "broadcast_undo": """
var x: f64[3, 1] = [[0.5], [-1.0], [2.0]]
var w: f64[1, 4] = [[0.1, 0.2, -0.3, 0.4]]
var v: f64[4] = [1.0, -0.5, 0.25, 2.0]
var s: f64 = 0.7
z = x * w + s * v
y = sum(z * z) + sum(sum(z, axis=0) ** 2.0) + sum(sum(z, axis=1, keepdims=true) * x)
out y
""",
    "pow_base_and_exponent": """
var a: f64[3] = [0.5, 1.5, 2.5]
var b: f64[3] = [-1.0, 0.5, 2.0]
y = sum(a ** b * b) + sum(2.0 ** b) + sum(a ** 2)
out y
""",
    "mixed_precision": """
var x: f32[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [0.3, -0.2, 0.1]
y = sum(exp(x * w))
out y
""",
    "while_several_carried": """
var x: f64[3] = [0.5, -0.3, 0.8]
var w: f64[3] = [0.9, 1.1, 0.7]
a = x
b = w
n = 0
while n < 4 {
    t = a * b + 0.1
    b = b - 0.2 * a * a
    a = t
    n = n + 1
}
y = sum(a * b) + sum(b)
out y
""",
    "while_invariants_accumulate": """
var x: f64[3] = [0.5, -0.3, 0.8]
var w: f64[3] = [0.9, 1.1, 0.7]
var c: f64 = 0.3
b = x
n = 0
while n < 5 {
    b = b * w + c * x
    n = n + 1
}
y = sum(b * b)
out y
""",
    "while_zero_iterations": """
var x: f64[3] = [0.5, -0.3, 0.8]
var w: f64[3] = [0.9, 1.1, 0.7]
b = x
while sum(b) > 100 {
    b = b * w
}
y = sum(b * w)
out y
""",
    "while_data_dependent": """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [1.2, 0.8, 1.1]
b = x
while norm(b) < 40 {
    b = b * w + exp(-b)
}
y = sum(b * b)
out y
""",
    "if_runtime_predicate": """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [0.3, -0.2, 0.1]
if sum(x * w) > 0 {
    c = exp(x * w)
    d = x
} else {
    c = x * x * w
    d = w
}
y = sum(c * d)
out y
""",
    "if_else_if": """
var x: f64[3] = [0.5, 1.0, 2.0]
if sum(x) > 10 {
    y = sum(x * x)
} else if sum(x) > 0 {
    y = sum(exp(x))
} else {
    y = norm(x)
}
out y
""",
    "if_in_while": """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [0.3, 0.2, -0.1]
b = x
n = 0
while n < 5 {
    if sum(b) > 3 {
        b = b * w
    } else {
        b = b + exp(w)
    }
    n = n + 1
}
y = sum(b * b)
out y
""",
    "while_in_while": """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [0.9, 1.1, 1.05]
b = x
i = 0
while i < 3 {
    j = 0
    while j < i + 1 {
        b = b * w
        j = j + 1
    }
    c = b
    while sum(c) < 8 {
        c = c * c + w
    }
    b = c / 4.0 + x
    i = i + 1
}
y = sum(b * b)
out y
""",
    "while_in_if": """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [0.9, 1.1, 1.05]
b = x
if sum(x) > 1 {
    while norm(b) < 20 {
        b = b * w + x
    }
} else {
    b = b * 2.0
}
y = sum(b)
out y
""",
    "if_in_while_in_while": """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [0.9, 1.1, 1.05]
b = x
i = 0
while i < 3 {
    c = b
    while sum(c) < 10 + i {
        if sum(c * w) > 6 {
            c = c * w + 0.5
        } else {
            c = c * c + w
        }
    }
    b = c / 4.0 + x
    i = i + 1
}
y = sum(b * b)
out y
""",
}

# Fed values that send a program down another path (the other branch, no loop, ...).
ALTERNATIVES = {
    "if_runtime_predicate": {"x": [-0.5, 1.0, 2.0]},
    "if_else_if": {"x": [-0.5, -1.0, 0.2]},
    "while_in_if": {"x": [0.1, 0.2, 0.3]},
    "while_data_dependent": {"x": [30.0, 30.0, 1.0]},
    "if_in_while_in_while": {"x": [0.1, 0.2, 0.3]},
}
CASES = [pytest.param(name, {}, id=name) for name in PROGRAMS] + [
    pytest.param(name, fed, id=f"{name}-alt") for name, fed in ALTERNATIVES.items()]


@functools.lru_cache(maxsize=None)
def compiled(name: str) -> gdl.Program:
    """Each program compiled once (a Program keeps its plans and built kernels)."""
    return gdl.compile(PROGRAMS[name])


def interp_grads(prog: gdl.Program, fed: dict) -> dict:
    graph = verify(prog.gradient_graph(prog.variables))
    return evaluate(graph, fed)


@pytest.mark.parametrize("name,fed", CASES)
def test_gradient_matches_finite_differences(name, fed):
    prog = compiled(name)
    res = interp_grads(prog, fed)
    xs = initial_values(prog.graph, fed)
    for v in prog.variables:
        assert res["grads"][v].shape == xs[v].shape
        assert res["grads"][v].dtype == xs[v].dtype
    eps, rtol = (1e-3, 1e-4) if name == "mixed_precision" else (1e-6, 1e-6)
    check_grads(program_scalar(prog), xs, res["grads"], eps=eps, rtol=rtol, atol=1e-9)


@pytest.mark.opencl
@pytest.mark.parametrize("name,fed", CASES)
def test_gradient_on_opencl_matches_interpreter(name, fed, device):
    prog = compiled(name)
    want = interp_grads(prog, fed)
    got = prog.run(inputs=fed, grad=list(prog.variables), device=device)
    for out, value in want["outputs"].items():
        np.testing.assert_allclose(got.outputs[out], value, rtol=1e-10)
    for v in prog.variables:
        assert got.grads[v].dtype == want["grads"][v].dtype
        rtol = 1e-5 if got.grads[v].dtype == np.float32 else 1e-9
        np.testing.assert_allclose(got.grads[v], want["grads"][v], rtol=rtol, atol=1e-12,
                                   err_msg=f"{name}: d/d{v}")


# ---------------------------------------------------------------- exact expectations

def test_branches_are_the_ones_taken():
    """The two runs of if_runtime_predicate really take different branches."""
    prog = compiled("if_runtime_predicate")
    w = np.array([0.3, -0.2, 0.1])
    for x, then in (([0.5, 1.0, 2.0], True), ([-0.5, 1.0, 2.0], False)):
        x = np.array(x)
        assert (np.sum(x * w) > 0) == then
        res = interp_grads(prog, {"x": x})
        if then:   # y = sum(exp(x w) x)
            gx = np.exp(x * w) * (1 + x * w)
            gw = np.exp(x * w) * x * x
        else:      # y = sum(x^2 w^2)
            gx = 2 * x * w * w
            gw = 2 * x * x * w
        np.testing.assert_allclose(res["grads"]["x"], gx, rtol=1e-14)
        np.testing.assert_allclose(res["grads"]["w"], gw, rtol=1e-14)


def test_zero_iteration_loop_passes_the_cotangent_straight_through():
    prog = compiled("while_zero_iterations")
    res = interp_grads(prog, {})
    x, w = np.array([0.5, -0.3, 0.8]), np.array([0.9, 1.1, 0.7])
    np.testing.assert_array_equal(res["grads"]["x"], w)
    np.testing.assert_array_equal(res["grads"]["w"], x)


def test_invariant_gradient_sums_over_iterations():
    """b_{k+1} = b_k w + c x, five times, y = sum(b^2): closed forms for every var."""
    prog = compiled("while_invariants_accumulate")
    res = interp_grads(prog, {})
    x, w, c = np.array([0.5, -0.3, 0.8]), np.array([0.9, 1.1, 0.7]), 0.3
    b5 = x * w**5 + c * x * sum(w**k for k in range(5))
    gb = 2 * b5
    np.testing.assert_allclose(res["grads"]["x"],
                               gb * (w**5 + c * sum(w**k for k in range(5))), rtol=1e-13)
    np.testing.assert_allclose(res["grads"]["w"],
                               gb * (5 * x * w**4 + c * x * sum(k * w**(k - 1)
                                                                 for k in range(1, 5))),
                               rtol=1e-13)
    np.testing.assert_allclose(res["grads"]["c"],
                               np.sum(gb * x * sum(w**k for k in range(5))), rtol=1e-13)


STOP_AND_UNCONNECTED = """
var x: f64[3] = [0.5, -1.0, 2.0]
var w: f64[3] = [1.5, 0.5, -0.5]
var u: f64[2, 2] = ones([2, 2])
var v: f32[4] = zeros([4])
y = sum(x * stop_grad(x * w)) + sum(stop_grad(w))
out y
"""


@pytest.mark.opencl
def test_stop_grad_cuts_and_unconnected_vars_get_zeros(device):
    prog = gdl.compile(STOP_AND_UNCONNECTED)
    x, w = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.5, -0.5])
    for grads in (interp_grads(prog, {})["grads"],
                  prog.run(grad=["x", "w", "u", "v"], device=device).grads):
        np.testing.assert_array_equal(grads["x"], x * w)
        for name, shape, dtype in (("w", (3,), np.float64), ("u", (2, 2), np.float64),
                                   ("v", (4,), np.float32)):
            assert grads[name].shape == shape and grads[name].dtype == dtype, name
            assert not grads[name].any(), name


def test_loop_condition_carries_no_gradient():
    """A var read only by a loop condition or an if predicate gets zero gradient."""
    prog = gdl.compile("""
var x: f64 = 1.5
var lim: f64 = 20.0
var t: f64 = 0.0
b = x
while b < lim {
    b = b * 2
}
if b > t {
    y = b * b
} else {
    y = b
}
out y
""")
    res = interp_grads(prog, {})
    assert res["grads"]["lim"] == 0 and res["grads"]["t"] == 0
    np.testing.assert_allclose(res["grads"]["x"], 2 * 24.0 * 16, rtol=1e-15)   # y = (16 x)^2


# ---------------------------------------------------------------- second derivatives

def hvp_graphs(graph: Graph, var: str, v: np.ndarray) -> tuple[Graph, Graph]:
    """(h = <dy/dvar, v>, and its gradient: the Hessian-vector product), both verified."""
    gg = verify(grad_graph(graph, [var], graph.outputs[0], False))
    b = Builder(IdSource(gg.next_id))
    for node in gg.body.nodes:
        b.append(node)
    e = emitter(b)
    g = gg.body.results[len(gg.outputs)]
    h = e.sum(e.mul(g, e.const(v, F64)), tuple(range(v.ndim)))
    first = verify(Graph(b.region(gg.body.params, (h,)), gg.leaves, ("h",), b.ids.next))
    return first, verify(grad_graph(first, [var], "h", False))


SECOND_ORDER = {
    "straight": """
var x: f64[4] = [0.3, 0.7, 1.1, 0.4]
y = sum(exp(x) * x ** 3.0) + norm(x) ** 3.0 + log(dot(x, x)) + sum(x / (1.0 + x * x))
out y
""",
    "if": """
var x: f64[4] = [0.3, 0.7, 1.1, 0.4]
if sum(x) > 1 {
    y = sum(exp(x) * x * x)
} else {
    y = norm(x)
}
out y
""",
}


@pytest.mark.opencl
@pytest.mark.parametrize("name", SECOND_ORDER)
def test_gradients_can_be_differentiated_again(name, device):
    """The adjoint graphs are graphs: the same pass gives Hessian-vector products."""
    prog = gdl.compile(SECOND_ORDER[name])
    v = np.random.default_rng(0).standard_normal(4)
    first, second = hvp_graphs(prog.graph, "x", v)
    xs = initial_values(prog.graph)
    res = run_interp(second, xs)
    check_grads(scalar_of(first, "h"), xs, res["grads"], eps=1e-5, rtol=1e-7, atol=1e-9)
    got = run_opencl(second, xs, device)["grads"]["x"]
    np.testing.assert_allclose(got, res["grads"]["x"], rtol=1e-10)


@pytest.mark.opencl
@pytest.mark.parametrize("body", ["b = b * b", "b = b * x + sin_free(b)"])
def test_gradients_through_loops_can_be_differentiated_again(body, device):
    """Grad of grad through a while: the reverse loop's tape ops have adjoints too."""
    body = body.replace("sin_free(b)", "b * b * 0.5")
    prog = gdl.compile("var x: f64[2] = [0.3, 0.7]\nb = x\nn = 0\n"
                       f"while n < 3 {{\n    {body}\n    n = n + 1\n}}\ny = sum(b)\nout y")
    first, second = hvp_graphs(prog.graph, "x", np.ones(2))
    xs = {"x": np.array([0.3, 0.7])}
    res = run_interp(second, xs)
    check_grads(scalar_of(first, "h"), xs, res["grads"], eps=1e-5, rtol=1e-7, atol=1e-9)
    got = run_opencl(second, xs, device)["grads"]["x"]
    np.testing.assert_allclose(got, res["grads"]["x"], rtol=1e-10)


# ---------------------------------------------------------------- structure: tapes

def pushes(graph: Graph) -> list:
    return [node for node, _ in walk(graph.body) if node.op == "push"]


LINEAR_LOOP = """
var x: f64[3] = [0.5, -0.3, 0.8]
var w: f64[3] = [0.9, 1.1, 0.7]
b = x
n = 0
while n < 5 {
    b = 0.5 * b + w * x
    n = n + 1
}
y = sum(b)
out y
"""


def test_body_linear_in_carried_values_needs_no_tape():
    prog = gdl.compile(LINEAR_LOOP)
    gg = verify(grad_graph(prog.graph, ["x", "w"], "y", False))
    assert pushes(gg) == []
    assert any(node.op == "while" for node in gg.body.nodes[1:]), "no reverse loop?"
    check_grads(program_scalar(prog), initial_values(prog.graph),
                evaluate(gg)["grads"], rtol=1e-8)


def test_tape_only_for_what_the_reverse_pass_reads():
    """b = b w + c x: d/dx needs no b (no tape); d/dw reads b at every step (a tape)."""
    prog = compiled("while_invariants_accumulate")
    assert pushes(verify(grad_graph(prog.graph, ["x"], "y", False))) == []
    assert pushes(verify(grad_graph(prog.graph, ["c"], "y", False))) == []
    assert len(pushes(verify(grad_graph(prog.graph, ["w"], "y", False)))) == 1


def test_nonlinear_body_is_taped():
    prog = gdl.compile("var x: f64[2] = [0.3, 0.7]\nb = x\nn = 0\n"
                       "while n < 3 {\n    b = b * b\n    n = n + 1\n}\ny = sum(b)\nout y")
    gg = verify(grad_graph(prog.graph, ["x"], "y", False))
    taped = pushes(gg)
    assert len(taped) == 1
    assert taped[0].inputs[1].type == prog.graph.leaves[0].value.type    # the carried b
    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(evaluate(gg)["grads"]["x"], 8 * x**7, rtol=1e-14)


# ---------------------------------------------------------------- run-time counters

COUNTED = """
var x: f64[3] = [0.5, 1.0, 2.0]
var w: f64[3] = [1.2, 0.8, 1.1]
var lim: f64 = 40.0
b = x
while norm(b) < lim {
    b = b * w + 0.5
}
if sum(b) > 60 {
    c = b * w
} else {
    c = b * 2.0
}
y = sum(c)
out y
"""


def counted_decisions(lim: float) -> tuple[int, int]:
    """(loop-condition evaluations, if decisions) of COUNTED, replayed in NumPy."""
    b, w = np.array([0.5, 1.0, 2.0]), np.array([1.2, 0.8, 1.1])
    evals = 1
    while np.linalg.norm(b) < lim:
        b = b * w + 0.5
        evals += 1
    return evals, 1


@pytest.fixture(scope="module")
def counted(device):
    prog = gdl.compile(COUNTED)
    prog.run(grad=["x"], device=device)             # builds once
    prog.run(device=device)
    return prog


@pytest.mark.opencl
@pytest.mark.parametrize("lim", [40.0, 400.0, 1.0])
def test_blocking_reads_are_decisions_plus_results(lim, counted, device):
    """The forward pass reads one scalar per decision; the reverse loop reads nothing."""
    loop, ifs = counted_decisions(lim)
    assert lim != 40.0 or loop > 3                  # the loop really runs
    fwd = counted.run(inputs={"lim": lim}, device=device)
    assert fwd.stats["blocking_reads"] == loop + ifs + 1
    for grad in (["x"], ["x", "w"], ["x", "w", "lim"]):
        res = counted.run(inputs={"lim": lim}, grad=grad, device=device)
        # One wait reads every output and gradient back; decisions are read once each.
        assert res.stats["blocking_reads"] == loop + ifs + 1, grad
        assert res.stats["kernel_builds"] == 0, "a new trip count must not rebuild"
    assert res.grads["lim"] == 0


@pytest.mark.opencl
def test_launches_do_not_depend_on_how_many_gradients(counted, device):
    one = counted.run(grad=["x"], device=device)
    three = counted.run(grad=["x", "w", "lim"], device=device)
    assert one.stats["launches"] == three.stats["launches"]
    np.testing.assert_array_equal(one.grads["x"], three.grads["x"])


@pytest.mark.opencl
def test_new_trip_count_builds_nothing(device):
    prog = gdl.compile(COUNTED)
    first = prog.run(inputs={"lim": 40.0}, grad=["x", "w"], device=device)
    assert first.stats["kernel_builds"] <= 1
    for lim in (400.0, 1.0, 4000.0):
        res = prog.run(inputs={"lim": lim}, grad=["x", "w"], device=device)
        assert res.stats["kernel_builds"] == 0, lim
        want = evaluate(prog.gradient_graph(prog.variables), {"lim": lim})["grads"]
        np.testing.assert_allclose(res.grads["x"], want["x"], rtol=1e-10)


@pytest.mark.opencl
def test_linear_loop_reverse_pass_moves_no_tape_bytes(device):
    """With no tape, nothing is copied on the device (bytes_on_device counts tape traffic)."""
    prog = gdl.compile(LINEAR_LOOP)
    prog.run(grad=["x", "w"], device=device)
    res = prog.run(grad=["x", "w"], device=device)
    assert res.stats["bytes_on_device"] == 0
    assert res.stats["blocking_reads"] == 1           # host-side counter: y, dx, dw together
    nonlinear = compiled("while_several_carried")
    res = nonlinear.run(grad=["x", "w"], device=device)
    assert res.stats["bytes_on_device"] > 0


@pytest.mark.opencl
def test_an_output_named_like_a_variable_keeps_its_value_beside_the_gradient():
    """`out x` and grad x share a name, not a slot: both come back, each its own."""
    prog = gdl.compile("var x = [1.0, 2.0]\ny = sum(x * x)\nout y, x\n")
    for _ in range(2):                      # the second run reuses the first's buffers
        res = prog.run(grad=["x"], of="y")
        np.testing.assert_array_equal(res.outputs["x"], [1.0, 2.0])
        np.testing.assert_array_equal(res.grads["x"], [2.0, 4.0])
