"""`fn` (inlined), `assert` and `print`: meaning, errors and where they sit."""
from __future__ import annotations

import numpy as np
import pytest

import gdl
from gdl.interp import evaluate

pytestmark = pytest.mark.opencl


def run(src, **kw):
    return gdl.compile(src).run(**kw)


# ---------------------------------------------------------------- fn

def test_fn_is_inlined_with_its_own_names():
    src = """
fn sq_norm(v) {
    u = v * v
    return sum(u)
}
var x = [1.0, -2.0, 0.5]
a = sq_norm(x)
b = sq_norm(x * 2.0)
u = 7.0
out a, b, u
"""
    res = run(src, grad=["x"], of="b")
    assert float(res.outputs["a"]) == 5.25 and float(res.outputs["b"]) == 21.0
    assert float(res.outputs["u"]) == 7.0                  # the fn's `u` did not leak
    np.testing.assert_allclose(res.grads["x"], 8 * np.array([1.0, -2.0, 0.5]))


def test_fn_sees_names_bound_before_its_definition_only():
    ok = """
scale = 3.0
fn f(v) {
    return v * scale
}
scale = 100.0
y = f(2.0)
out y
"""
    assert float(run(ok).outputs["y"]) == 6.0             # the binding at the definition
    late = "fn f(v) {\n    return v * later\n}\nlater = 2.0\ny = f(1.0)\nout y\n"
    with pytest.raises(gdl.GdlError, match="later") as info:
        gdl.compile(late)
    assert info.value.line == 2


def test_fn_inside_a_loop_and_a_loop_inside_an_fn():
    src = """
fn halve_until_small(v) {
    while sum(v * v) > 1.0 {
        v = v * 0.5
    }
    return v
}
var x = [3.0, 4.0]
acc = zeros([2])
i = 0
while i < 2 {
    acc = acc + halve_until_small(x * (f32(i) + 1.0))
    i += 1
}
y = sum(acc)
out y
"""
    prog = gdl.compile(src)
    res = prog.run(grad=["x"])
    ref = evaluate(prog.gradient_graph(["x"]))
    np.testing.assert_allclose(res.outputs["y"], ref["outputs"]["y"], rtol=1e-6)
    np.testing.assert_allclose(res.grads["x"], ref["grads"]["x"], rtol=1e-6)


@pytest.mark.parametrize("src,line,words", [
    ("fn f(v) {\n    return f(v) + 1.0\n}\ny = f(1.0)\nout y\n", 2, ["recursive", "f -> f"]),
    ("fn g(v) {\n    return v\n}\nfn f(v) {\n    return g(v) * f(v)\n}\ny = f(1.0)\nout y\n",
     5, ["recursive", "f"]),
    ("fn f(a, b) {\n    return a + b\n}\ny = f(1.0)\nout y\n", 4, ["takes 2", "found 1"]),
    ("fn f(a) {\n    return a\n}\nf = 3\nout f\n", 4, ["f", "fn"]),
    ("fn sum(a) {\n    return a\n}\ny = 1\nout y\n", 1, ["sum", "built-in"]),
    ("fn f(a, a) {\n    return a\n}\ny = f(1, 2)\nout y\n", 1, ["a", "twice"]),
    ("fn f(a) {\n    b = a\n}\ny = f(1)\nout y\n", 1, ["return"]),
    ("fn f(a) {\n    return a\n}\ny = f\nout y\n", 4, ["f", "call"]),
    ("y = 1\nreturn y\nout y\n", 2, ["return"]),
    ("y = 1\nif y > 0 {\n    fn g(a) {\n        return a\n    }\n}\nout y\n", 3, ["top level"]),
])
def test_fn_errors(src, line, words):
    with pytest.raises(gdl.GdlError) as info:
        gdl.compile(src)
    assert info.value.line == line, str(info.value)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_mutual_recursion_is_reported_at_the_closing_call():
    src = ("fn f(v) {\n    return v\n}\nfn g(v) {\n    return f(v) + g(v)\n}\n"
           "y = g(1.0)\nout y\n")
    with pytest.raises(gdl.GdlError, match="g -> g") as info:
        gdl.compile(src)
    assert info.value.line == 5


# ---------------------------------------------------------------- assert

def test_assert_passes_and_fails_with_its_message_and_line():
    ok = "var x = [1.0, 2.0]\nassert sum(x) > 0.0, \"positive\"\nout x\n"
    run(ok)
    bad = "var x = [1.0, 2.0]\ny = x * 2.0\nassert sum(y) < 0.0, \"weights exploded\"\nout y\n"
    for runner in (lambda: run(bad), lambda: evaluate(gdl.compile(bad).graph)):
        with pytest.raises(gdl.GdlRuntimeError, match="weights exploded") as info:
            runner()
        assert info.value.line == 3


def test_assert_inside_a_loop_checks_every_iteration():
    src = """
var x = 1.0
i = 0
while i < 5 {
    x = x * 2.0
    assert x < 10.0, "too big"
    i += 1
}
out x
"""
    with pytest.raises(gdl.GdlRuntimeError, match="too big") as info:
        run(src)
    assert info.value.line == 6


def test_assert_needs_a_bool_scalar():
    with pytest.raises(gdl.GdlTypeError, match="bool") as info:
        gdl.compile("var x = [1.0]\nassert x\nout x\n")
    assert info.value.line == 2


def test_gradients_do_not_repeat_asserts_or_prints():
    src = """
var x = [1.0, 2.0]
i = 0
while i < 3 {
    print(i, x)
    assert sum(x) > 0.0
    x = x * 1.5
    i += 1
}
y = sum(x * x)
out y
"""
    lines = []
    res = run(src, grad=["x"], on_print=lines.append)
    assert lines == ["line 5: i = 0, x = [1. 2.]", "line 5: i = 1, x = [1.5 3. ]",
                     "line 5: i = 2, x = [2.25 4.5 ]"]
    np.testing.assert_allclose(res.grads["x"], 2 * 1.5 ** 6 * np.array([1.0, 2.0]), rtol=1e-6)


def test_print_in_the_interpreter_goes_to_its_printer():
    lines = []
    evaluate(gdl.compile("y = 2.5\nprint(y, y * 2)\nout y\n").graph, printer=lines.append)
    assert lines == ["line 2: y = 2.5, y * 2 = 5.0"]


@pytest.mark.parametrize("trips,ok", [(7, True), (8, False)])
def test_max_iters_allows_exactly_the_limit(trips, ok):
    src = f"var x = 1.0\ni = 0\nwhile i < {trips} {{\n    x = x * 2.0\n    i += 1\n}}\nout x\n"
    prog = gdl.compile(src)
    for runner in (lambda: prog.run(max_iters=7),
                   lambda: evaluate(prog.graph, max_iters=7)):
        if ok:
            runner()
        else:
            with pytest.raises(gdl.GdlRuntimeError, match="7") as info:
                runner()
            assert info.value.line == 3
