"""NaN/Inf provenance (check_nan, `gdl run --check-nan`): the first node that
produced a NaN or an infinity, in execution order, forward or adjoint, with
its line and the loop iterations it ran in; and nothing changes without it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gdl
from gdl.cli import main
from gdl.runtime.plan import plan
from helpers import cl_device, need_fp64

pytestmark = pytest.mark.opencl
ROOT = Path(__file__).resolve().parent.parent


def first(source: str, **run):
    """The run's result and its first non-finite origin (run with check_nan)."""
    res = gdl.compile(source).run(check_nan=True, device=cl_device(), **run)
    assert res.checked_nan
    return res, res.nonfinite


def loops(origin) -> list[tuple[int, str, int, int]]:
    """(line, role, iteration, trips) of each enclosing loop, outermost first."""
    return [(it.line, it.role, it.iteration, it.trips) for it in origin.iterations]


def test_log_of_a_negative_number_in_forward_code():
    res, o = first("var x = [2.0, -1.0, 3.0]\ny = log(x) * 2.0\nz = sum(y)\nout z\n")
    assert np.isnan(res.outputs["z"])             # the results are still returned
    assert (o.role, o.op, o.value, o.line, o.column) == ("forward", "log", "NaN", 2, 5)
    assert o.iterations == ()


def test_an_infinite_gradient_is_blamed_on_the_adjoint_node():
    src = "var x = [4.0, 0.0]\ny = sum(sqrt(x))\nout y\n"
    res, o = first(src, grad=["x"])
    assert res.outputs["y"] == 2.0 and np.isinf(res.grads["x"][1])
    assert (o.role, o.op, o.value, o.line) == ("adjoint", "div", "+Inf", 2)
    _, none = first(src)                            # the forward pass alone is finite
    assert none is None


def test_a_nan_gradient_is_blamed_on_the_adjoint_that_made_the_infinity():
    # |x| as sqrt(x * x) at 0: sqrt' = inf there, times (x * x)' = 0 is NaN.
    res, o = first("var x = [0.0, 1.0]\ny = sum(sqrt(x * x))\nout y\n", grad=["x"])
    assert res.outputs["y"] == 1.0 and np.isnan(res.grads["x"][0])
    assert (o.role, o.op, o.value, o.line) == ("adjoint", "div", "+Inf", 2)


def test_a_nan_from_inf_minus_inf_is_blamed_on_the_infinity():
    res, o = first("var x = ones([1000]) * 1e30\na = x * x\nb = a - a\nout b\n")
    assert np.isnan(res.outputs["b"]).all()
    assert (o.op, o.value, o.line) == ("mul", "+Inf", 2)


OVERFLOW = """
var x = linspace(1.0, 2.0, 1001)
i = 0
y = x
while i < 20 {
    y = y * y
    i += 1
}
out y
"""


def test_an_overflow_in_a_counted_loop_names_its_iteration():
    # y = 2^(2^(k+1)) after iteration k: f32 overflows at 2^128, in iteration 6.
    res, o = first(OVERFLOW)
    assert np.isinf(res.outputs["y"][-1])
    assert (o.op, o.value, o.line) == ("mul", "+Inf", 6)
    assert loops(o) == [(5, "forward", 6, 20)]


def test_an_overflow_in_f64_names_its_iteration():
    need_fp64(cl_device())
    _, o = first(OVERFLOW.replace("1001)", "1001, dtype=f64)"))
    assert loops(o) == [(5, "forward", 9, 20)]       # 2^1024 in iteration 9


def test_an_overflow_in_a_data_dependent_loop():
    # 3, 9, 81, ...: b = 3^(2^(k+1)) overflows f32 in iteration 6, which ends the loop.
    src = "var a = 3.0\nb = a\nwhile b < 1e38 {\n    b = b * b\n}\nout b\n"
    _, o = first(src)
    assert (o.op, o.line) == ("mul", 4)
    assert loops(o) == [(3, "forward", 6, 7)]


def test_a_nested_loop_names_the_iteration_of_each_loop():
    src = """
var x = 1.5
i = 0
y = x
while i < 4 {
    j = 0
    while j < 5 {
        y = y * (1.0 + f32(i) * 1000.0)
        j += 1
    }
    i += 1
}
out y
"""
    # 1001^5 * 2001^5 * 1.5 = 4.8e31; then * 3001 twice passes f32's 3.4e38.
    _, o = first(src)
    assert (o.op, o.value, o.line) == ("mul", "+Inf", 8)
    assert loops(o) == [(5, "forward", 3, 4), (7, "forward", 1, 5)]


def test_a_reverse_loop_is_reported_with_its_own_iterations():
    # Forward: 1e-38 * 1000^10 is finite; reverse: 1e20 * 1000^k overflows at k = 7.
    src = """
var x = ones([100]) * 1e-38
i = 0
y = x
while i < 10 {
    y = y * 1000.0
    i += 1
}
s = sum(y) * 1e20
out s
"""
    res, o = first(src, grad=["x"])
    assert np.isfinite(res.outputs["s"]) and np.isinf(res.grads["x"]).all()
    assert (o.role, o.op, o.line) == ("adjoint", "mul", 6)
    assert loops(o) == [(5, "adjoint", 6, 10)]


def test_inside_an_if_branch():
    src = "var a = -3.0\nif a < 0.0 {\n    c = sqrt(a)\n} else {\n    c = a\n}\nout c\n"
    _, o = first(src)
    assert (o.op, o.value, o.line) == ("sqrt", "NaN", 3)


def test_kernels_of_their_own_and_a_nan_deep_in_a_large_array():
    _, o = first("var x = ones([4, 1000]) * 1e36\ns = sum(x, axis=1)\nout s\n")
    assert (o.op, o.value, o.line) == ("sum", "+Inf", 2)
    _, o = first("var x = ones([64, 64]) * 1e20\ns = matmul(x, x)\nout s\n")
    assert (o.op, o.value) == ("matmul", "+Inf")
    x = np.ones(100_000, np.float32)
    x[54_321] = -1.0
    _, o = first("input x: f32[100000]\ny = sqrt(x) * 2.0\nout y\n", inputs={"x": x})
    assert (o.op, o.value) == ("sqrt", "NaN")


def test_a_fed_value_and_a_constant_expression():
    _, o = first("input x: f32[2]\ny = sum(x * x)\nout y\n", inputs={"x": [np.inf, 1.0]})
    assert (o.node, o.role, o.value, o.line) == ("x", "input", "+Inf", 1)
    _, o = first("var x = 2.0\ny = log(0.0 - 1.0) + x\nout y\n")     # folded when compiling
    assert (o.op, o.value, o.line) == ("const", "NaN", 2)


def test_a_second_run_still_blames_a_kept_initial_value():
    prog = gdl.compile("var x = log(linspace(-1.0, 1.0, 5))\ny = sum(x * 2.0)\nout y\n")
    for _ in range(2):
        o = prog.run(check_nan=True, device=cl_device()).nonfinite
        assert (o.op, o.line) == ("log", 1)


def test_no_nan_reports_none():
    res, o = first((ROOT / "programs" / "seed" / "control_flow.gdl").read_text(), grad=["a"])
    assert o is None and np.isfinite(res.grads["a"])
    assert gdl.compile("var x = 1.0\ny = x\nout y\n").run().checked_nan is False


def test_the_normal_path_generates_the_same_kernels():
    for path in sorted((ROOT / "programs" / "seed").glob("*.gdl")):
        prog = gdl.load(path)
        graph = prog.gradient_graph(prog.variables) if prog.variables and len(
            prog.outputs) == 1 else prog.graph
        normal = plan(graph).source
        assert plan(graph, check_nan=False).source == normal
        assert "GDL_NF" not in normal and "atomic_min" not in normal, path.name
        checked = plan(graph, check_nan=True)
        assert not checked.checked or "GDL_NF" in checked.source
        assert all(s.checks for s in checked.specs if "atomic_min" in s.source)


def test_a_checked_run_does_not_change_the_plain_runs_launches():
    prog = gdl.load(ROOT / "programs" / "seed" / "control_flow.gdl")
    before = prog.run(grad=["a"], device=cl_device()).stats
    prog.run(grad=["a"], check_nan=True, device=cl_device())
    after = prog.run(grad=["a"], device=cl_device()).stats
    assert before["launches"] == after["launches"]
    assert before["blocking_reads"] == after["blocking_reads"]


def test_the_command_line_flag_and_its_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("p.gdl").write_text("var x = [4.0, 0.0]\ny = sum(sqrt(x))\nout y\n")
    assert main(["run", "p.gdl", "--grad", "x", "--check-nan"]) == 0
    out = capsys.readouterr().out
    assert "first NaN/Inf: +Inf from `div` (adjoint node" in out
    assert "line 2, column 9" in out and "   2 | y = sum(sqrt(x))" in out
    assert main(["run", "p.gdl", "--grad", "x", "--check-nan", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    found = obj["nonfinite"]
    assert found["found"] is True
    assert {k: found[k] for k in ("role", "op", "line", "column", "value", "iterations")} == {
        "role": "adjoint", "op": "div", "line": 2, "column": 9, "value": "+Inf",
        "iterations": []}
    assert obj["grads"]["x"][1] == float("inf")
    assert main(["run", "p.gdl", "--check-nan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nonfinite"] == {"found": False}
    assert main(["run", "p.gdl", "--check-nan"]) == 0
    assert "NaN/Inf check: no value computed was NaN or infinite" in capsys.readouterr().out
    assert main(["run", "p.gdl", "--json"]) == 0
    assert "nonfinite" not in json.loads(capsys.readouterr().out)


def test_loop_iterations_in_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("p.gdl").write_text(OVERFLOW)
    assert main(["run", "p.gdl", "--check-nan", "--json"]) == 0
    its = json.loads(capsys.readouterr().out)["nonfinite"]["iterations"]
    assert its == [{"line": 5, "column": 1, "role": "forward", "iteration": 6, "trips": 20}]
    assert main(["run", "p.gdl", "--check-nan"]) == 0
    assert "in iteration 6 of 20 of the loop at line 5" in capsys.readouterr().out
