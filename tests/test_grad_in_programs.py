"""grad(y, x[, seed]) inside programs: scoping, nesting, loops, branches, errors."""
from __future__ import annotations

import numpy as np
import pytest

import gdl
from gdl.interp import evaluate

pytestmark = pytest.mark.opencl


def both(src, **run):
    """Outputs (and grads) from OpenCL and from the reference interpreter."""
    prog = gdl.compile(src)
    res = prog.run(**run)
    graph = prog.gradient_graph(run["grad"], run.get("of")) if run.get("grad") else prog.graph
    ref = evaluate(graph, run.get("inputs"))
    return res, ref


def test_nested_grads_give_third_derivatives():
    src = """
var x: f64[3] = [1.0, -2.0, 0.5]
y = sum(x ** 4)
g = grad(y, x)
h = grad(sum(g), x)
t = grad(sum(h), x)
out t, h, g
"""
    res, ref = both(src)
    x = np.array([1.0, -2.0, 0.5])
    for outs in (res.outputs, ref["outputs"]):
        np.testing.assert_allclose(outs["g"], 4 * x ** 3)
        np.testing.assert_allclose(outs["h"], 12 * x ** 2)
        np.testing.assert_allclose(outs["t"], 24 * x)


def test_grad_with_respect_to_a_freshly_bound_value():
    src = """
fn f(x) {
    return sum(x ** 3 - 2.0 * x)
}
x = f32([0.5, -1.0])
y = f(x)
g = grad(y, x)
out g
"""
    res, ref = both(src)
    want = 3 * np.array([0.5, -1.0]) ** 2 - 2
    np.testing.assert_allclose(res.outputs["g"], want, rtol=1e-6)
    np.testing.assert_allclose(ref["outputs"]["g"], want, rtol=1e-6)


def test_grad_with_a_seed_and_inside_a_branch():
    src = """
var x: f64[3] = [1.0, 2.0, 3.0]
if sum(x) > 0.0 {
    y = x * x
    g = grad(y, x, [1.0, 0.5, 0.25])
} else {
    g = grad(sum(x), x)
}
out g
"""
    res, ref = both(src)
    want = 2 * np.array([1.0, 2.0, 3.0]) * [1.0, 0.5, 0.25]
    np.testing.assert_allclose(res.outputs["g"], want)
    np.testing.assert_allclose(ref["outputs"]["g"], want)


def test_grad_differentiates_within_its_innermost_block():
    """language.md §3: values computed outside the block are constants to that grad."""
    src = """
var x: f64[2] = [1.0, 2.0]
y = sum(x * x)
if y > 0.0 {
    g = grad(y * x[0], x)
} else {
    g = zeros([2], dtype=f64)
}
out g
"""
    res, _ = both(src)
    np.testing.assert_allclose(res.outputs["g"], [5.0, 0.0])     # y is a constant here


def test_grad_in_a_loop_body_treats_carried_values_as_constants():
    src = """
var x = [1.0, -2.0, 0.5]
acc = zeros([3])
gs = zeros([3])
i = 0
while i < 3 {
    acc = acc + x * x
    gs = gs + grad(sum(acc), x)
    i += 1
}
total = sum(gs * x) + sum(acc)
out total, gs
"""
    res, ref = both(src, grad=["x"], of="total")
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(res.outputs["gs"], 6 * x)
    np.testing.assert_allclose(res.grads["x"], 18 * x)
    np.testing.assert_allclose(ref["grads"]["x"], 18 * x)


def test_hypergradient_of_a_descent_loop_matches_finite_differences():
    src = """
var lr: f64 = 0.1
var target: f64[2] = [1.0, -2.0]
w = zeros([2], dtype=f64)
i = 0
while i < 10 {
    loss = sum((w - target) ** 2 * [1.0, 3.0])
    w = w - lr * grad(loss, w)
    i += 1
}
final = sum(w * w)
out final
"""
    prog = gdl.compile(src)
    res = prog.run(grad=["lr", "target"])

    def final(lr):
        return float(evaluate(prog.graph, {"lr": np.float64(lr)})["outputs"]["final"])

    eps = 1e-6
    fd = (final(0.1 + eps) - final(0.1 - eps)) / (2 * eps)
    np.testing.assert_allclose(res.grads["lr"], fd, rtol=1e-6)


def test_grad_of_grad_through_a_loop():
    src = """
var x: f64 = 0.5
b = x
i = 0
while i < 3 {
    b = b * b + x
    i += 1
}
g = grad(b, x)
h = grad(g, x)
out g, h
"""
    res, ref = both(src)

    def f(x):
        b = x
        for _ in range(3):
            b = b * b + x
        return b

    e = 1e-4
    np.testing.assert_allclose(res.outputs["g"], (f(0.5 + e) - f(0.5 - e)) / (2 * e), rtol=1e-7)
    np.testing.assert_allclose(res.outputs["h"], (f(0.5 + e) - 2 * f(0.5) + f(0.5 - e)) / e ** 2,
                               rtol=1e-5)
    np.testing.assert_allclose(ref["outputs"]["h"], res.outputs["h"], rtol=1e-12)


@pytest.mark.parametrize("src,line,words", [
    ("input a : f32[2]\ny = sum(a * a)\ng = grad(y, a)\nout g\n", 3, ["input", "var"]),
    ("var x = [1.0]\ny = sum(x)\ng = grad(y, x * 2.0)\nout g\n", 3, ["name"]),
    ("lr = 0.5\ny = lr * 2.0\ng = grad(y, lr)\nout g\n", 3, ["literal"]),
    ("var x = [1.0, 2.0]\ng = grad(x * x, x)\nout g\n", 2, ["seed"]),
    ("var x = [1.0, 2.0]\ng = grad(sum(x), x, [1.0])\nout g\n", 2, ["seed"]),
    ("var x = [1.0, 2.0]\ng = grad(sum(x))\nout g\n", 2, ["grad(y, x)"]),
    ("x = arange(3)\ng = grad(sum(x), x)\nout g\n", 2, ["float"]),
])
def test_grad_errors(src, line, words):
    with pytest.raises(gdl.GdlError) as info:
        gdl.compile(src)
    assert info.value.line == line, str(info.value)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_grad_of_a_constant_is_zero():
    res, _ = both("var x = [1.0, 2.0]\ng = grad(3.0, x)\nout g\n")
    np.testing.assert_array_equal(res.outputs["g"], [0.0, 0.0])


def test_second_derivatives_of_norm_prod_and_pow_are_finite():
    """language.md §5: adjoints stay NaN-free where the forward value is finite."""
    src = """
var x: f64[3] = [0.0, 0.0, 0.0]
var p: f64[3] = [2.0, 3.0, 0.5]
h_norm = grad(sum(grad(norm(x), x)), x)
a = abs(x) + [0.0, 1.0, 2.0]
h_exp = grad(sum(grad(sum(a ** p), p)), p)
h_base = grad(sum(grad(sum(a ** p), x)), x)
z = [0.0, 1.0, 2.0, 0.0] + x[0]
h_prod = grad(sum(grad(prod(z), x)), x)
out h_norm, h_exp, h_base, h_prod
"""
    res, ref = both(src)
    for outs in (res.outputs, ref["outputs"]):
        for name, value in outs.items():
            assert np.isfinite(value).all(), (name, value)
    np.testing.assert_allclose(res.outputs["h_exp"][2], np.log(2.0) ** 2 * 2 ** 0.5, rtol=1e-12)
    np.testing.assert_allclose(res.outputs["h_prod"], [4.0, 0.0, 0.0])
