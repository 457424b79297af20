"""Loops counted on the host run their elementwise body as one looping kernel.

A loop whose decisions need no device value (a counter, a reverse loop's
recorded trip count) and whose device values change in one elementwise
kernel is launched once with the trip count; the kernel keeps the carried
values in registers.  Each case checks the plan chose it (or not), the
results against the NumPy interpreter, and the launch count.
"""
from __future__ import annotations

import numpy as np
import pytest

import gdl
from gdl.graphview import plan_of
from gdl.runtime.plan import WhileStep
from helpers import assert_ulp_close, cl_device, run_both, run_opencl

pytestmark = pytest.mark.opencl


def counted(graph) -> list[bool]:
    """For every while step of the graph's plan, whether it runs as one looping kernel."""
    found, work = [], [plan_of(graph).body]
    while work:
        rp = work.pop()
        for step in rp.steps:
            if isinstance(step, WhileStep):
                found.append(step.repeat is not None)
                work += [step.cond, step.body]
    return found


def compare(graph, inputs):
    ref, got = run_both(graph, inputs, cl_device())
    for kind in ("outputs", "grads"):
        for name, want in ref[kind].items():
            if np.asarray(want).dtype.kind == "f":
                assert_ulp_close(got[kind][name], want, 4, atol=1e-4, what=f"{kind} {name}")
            else:
                np.testing.assert_array_equal(got[kind][name], want)
    return got


FOR_LOOP = """
var x = zeros(N)
input k: i32 = 5
input g: f32 = 0.5
i = 0
y = x
while i < k {
    y = tanh(y * g + 0.25)
    i = i + 1
}
s = sum(y)
out s
out y
"""


@pytest.mark.parametrize("n", [1, 7, 1000, 4099])
@pytest.mark.parametrize("k", [0, 1, 6])
def test_a_counter_loop_of_elementwise_updates_is_one_kernel(n, k):
    prog = gdl.compile(FOR_LOOP.replace("N", str(n)))
    assert counted(prog.graph) == [True]
    x = np.linspace(-2, 2, n).astype(np.float32)
    compare(prog.graph, {"x": x, "k": k, "g": 0.5})
    few = prog.run(inputs={"x": x, "k": 1})
    many = prog.run(inputs={"x": x, "k": 40})
    assert few.stats["launches"] == many.stats["launches"], "one launch whatever the count"
    assert many.stats["blocking_reads"] == 1, "decisions on the host: only the results read"


def test_swapped_and_unchanged_carried_values():
    """`a, b = b, a + b` style updates use the old values; an unchanged value passes through."""
    src = """
var a = zeros(64)
var b = zeros(64)
var c = zeros(64)
input k: i32 = 4
i = 0
while i < k {
    t = a
    a = b
    b = t + b * c
    i = i + 1
}
out a
out b
out c
"""
    prog = gdl.compile(src)
    assert counted(prog.graph) == [True]
    rng = np.random.default_rng(1)
    inputs = {name: rng.standard_normal(64).astype(np.float32) * 0.5 for name in "abc"}
    for k in (0, 1, 2, 5):
        compare(prog.graph, dict(inputs, k=k))


def test_integer_and_mixed_dtype_bodies():
    src = """
var x = zeros(33)
input m: i32[33] = arange(33)
input k: i32 = 3
i = 0
while i < k {
    m = m * 3 + 1
    x = x + f32(m % 7)
    i = i + 1
}
out m
out x
"""
    prog = gdl.compile(src)
    assert counted(prog.graph) == [True]
    compare(prog.graph, {"x": np.zeros(33, np.float32), "m": np.arange(33, dtype=np.int32),
                         "k": 7})


def test_the_reverse_loop_of_a_linear_body_is_one_kernel():
    """The seed's loop: the reverse loop needs no tape and no read; one launch."""
    src = """
var a = zeros(4096)
b = a * 2
while norm(b) < 1e6 {
    b = b * 2
}
loss = sum(b)
out loss
"""
    prog = gdl.compile(src)
    graph = prog.gradient_graph(prog.variables)
    assert counted(graph) == [False, True]    # forward decides on the device; reverse counted
    a = np.random.default_rng(2).standard_normal(4096).astype(np.float32)
    got = compare(graph, {"a": a})
    assert np.all(got["grads"]["a"] == got["grads"]["a"][0])
    launches = {}
    for scale in (1.0, 1e-3):           # the smaller a, the more trips
        fwd = prog.run(inputs={"a": a * scale})
        both = prog.run(inputs={"a": a * scale}, grad=["a"])
        assert both.stats["blocking_reads"] == fwd.stats["blocking_reads"], "reverse reads none"
        launches[scale] = (fwd.stats["launches"], both.stats["launches"])
    (f1, b1), (f2, b2) = launches[1.0], launches[1e-3]
    assert f2 > f1, "more forward trips, more forward launches"
    assert b2 - b1 == f2 - f1, "the reverse loop's launches do not grow with its trips"


@pytest.mark.parametrize("src, why", [
    ("""
var x = zeros(16)
input k: i32 = 3
i = 0
while i < k {
    x = x * f32(i)
    i = i + 1
}
out x
""", "reads the counter"),
    ("""
var x = zeros(16)
input k: i32 = 3
i = 0
while i < k {
    x = x + sum(x)
    i = i + 1
}
out x
""", "has a reduction"),
    ("""
var x = zeros(16)
i = 0
while sum(x) < 10 {
    x = x + 1
    i = i + 1
}
out x
""", "decides on the device"),
])
def test_loops_that_cannot_run_inside_one_kernel_are_left_alone(src, why):
    prog = gdl.compile(src)
    assert counted(prog.graph) == [False], why
    compare(prog.graph, {"x": np.linspace(0, 1, 16).astype(np.float32)})


def test_iteration_limit_still_applies():
    prog = gdl.compile(FOR_LOOP.replace("N", "8"))
    with pytest.raises(gdl.GdlError, match="iteration"):
        prog.run(inputs={"k": 11}, max_iters=10)
    assert prog.run(inputs={"k": 10}, max_iters=10).outputs["y"].shape == (8,)


def test_gradient_through_a_counted_forward_loop():
    """With a gradient asked, the forward loop records a tape: not counted, still right."""
    prog = gdl.compile(FOR_LOOP.replace("N", "100"))
    graph = prog.gradient_graph(prog.variables, "s")
    x = np.linspace(-1, 1, 100).astype(np.float32)
    got = run_opencl(graph, {"x": x, "k": 4, "g": 0.5}, cl_device())
    compare(graph, {"x": x, "k": 4, "g": 0.5})
    assert got["grads"]["x"].shape == (100,)
