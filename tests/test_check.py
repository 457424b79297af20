"""Tests for gdl/check.py: the f64 pass and the finite-difference gradient check.

The pass is checked on every program in programs/ and on snippets that
hold each kind of dtype attribute (graphs stay valid, every f32 becomes
f64, constants keep their f32 values).  The check must pass on the example
programs, fail (exit 1) on a deliberately wrong adjoint rule, and say
"inconclusive" where a perturbation changes a loop's trip count or a
branch.  CLI tests call `gdl.cli.main` in-process; one runs a subprocess.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

import gdl
import gdl.autodiff
from gdl import check
from gdl.api import Program
from gdl.dtype import F32, F64, StackType, TensorType
from gdl.interp import evaluate
from gdl.ir import walk
from gdl.ops import OPS
from gdl.verify import verify

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").rglob("*.gdl"))


def header(path: Path) -> dict:
    """The `#| run {json}` stanza of a program: the arguments its example run uses."""
    for line in path.read_text().splitlines():
        if line.startswith("#| run "):
            return json.loads(line[len("#| run "):])
    return {}

# Snippets holding each kind of f32 dtype attribute: const, fill, arange,
# linspace, eye, rand/randn, casts, i32 division, loops, branches, grad().
SNIPPETS = (
    "var x = arange(4.0)\ny = sum(x * 0.1 + ones([4]) - full([4], 0.3))\nout y\n",
    "var x = linspace(0, 1, 5)\ny = sum(x @ eye(5)) + sum(f32(arange(5)) / 3)\nout y\n",
    "var x = randn([3], seed=2)\ny = sum(x * rand([3], seed=4)) + sum(arange(3) / 2)\nout y\n",
    "var a = 1.5\nb = a\ni = 0\nwhile i < 3 {\n  b = b * a\n  i += 1\n}\n"
    "if b > 2 {\n  c = b\n} else {\n  c = -b\n}\nout c\n",
    "var w: f32[2] = [0.5, -1.0]\nv = w\ni = 0\nwhile i < 4 {\n"
    "  v = v - 0.1 * grad(sum(v * v * v), v)\n  i += 1\n}\ny = sum(v) + f32(f64(w[0]))\nout y\n",
)


def f32_in(graph) -> list[str]:
    """Every place an f32 type or dtype attribute survives in a graph."""
    found = []

    def typed(t, where):
        if isinstance(t, StackType):
            typed(t.elem, where)
        elif isinstance(t, TensorType) and t.dtype == F32:
            found.append(where)

    regions = [graph.body] + [lf.init for lf in graph.leaves if lf.init is not None]
    for lf in graph.leaves:
        typed(lf.value.type, f"leaf {lf.name}")
    for region in regions:
        for p in region.params:
            typed(p.type, "param")
        for node, _ in walk(region):
            for v in node.outputs:
                typed(v.type, node.op)
            for r in node.regions:
                for p in r.params:
                    typed(p.type, f"{node.op} param")
            for k, v in node.attrs:
                if v == F32:
                    found.append(f"{node.op}.{k}")
                elif isinstance(v, (TensorType, StackType)):
                    typed(v, f"{node.op}.{k}")
    return found


def programs_and_snippets():
    return ([pytest.param(gdl.load(p), id=p.stem) for p in PROGRAMS]
            + [pytest.param(gdl.compile(s), id=f"snippet{i}") for i, s in enumerate(SNIPPETS)])


# -- the f64 pass (no device) -------------------------------------------------

@pytest.mark.parametrize("prog", programs_and_snippets())
def test_to_f64_keeps_the_graph_valid_and_leaves_no_f32(prog):
    before = f32_in(prog.graph)
    wide = verify(check.to_f64(prog.graph))
    assert f32_in(wide) == []
    assert f32_in(prog.graph) == before          # the original graph is untouched
    of = prog.outputs[0]
    if prog.variables and prog.graph.output_value(of).type.dtype.is_float:
        grads = prog.gradient_graph(prog.variables, of, seeded=True)
        assert f32_in(verify(check.to_f64(grads))) == []   # tapes (stack<f32>) included


def test_to_f64_outputs_are_f64_and_constants_keep_their_f32_values():
    prog = gdl.compile("var x = arange(3.0)\ny = x * 0.1 + 1e-8\nout y\n")
    wide = check.to_f64(prog.graph)
    assert wide.output_value("y").type == TensorType(F64, (3,))
    assert wide.leaf("x").value.type == TensorType(F64, (3,))
    got = evaluate(wide, {}, None, 100)["outputs"]["y"]
    x = np.arange(3.0)
    assert got.dtype == np.float64
    # 0.1 and 1e-8 are the program's f32 constants, evaluated in f64 arithmetic
    np.testing.assert_array_equal(got, x * float(np.float32(0.1)) + float(np.float32(1e-8)))


@pytest.mark.opencl
@pytest.mark.parametrize("prog", programs_and_snippets())
def test_the_f64_program_runs_and_agrees_with_the_original(prog):
    wide = Program(prog.source, check.to_f64(prog.graph), prog.filename)
    got, want = wide.run().outputs, prog.run().outputs
    for name, value in want.items():
        expected = np.float64 if value.dtype.kind == "f" else value.dtype
        assert got[name].dtype == expected and got[name].shape == value.shape
        # randn in f64 differs from f32 randn by ~1e-5 (language.md §3.1), hence rtol
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-6)


def test_precision_is_f32_when_any_value_is():
    assert check.precision(gdl.compile("var x = 1.0\ny = x * x\nout y\n").graph) == "f32"
    assert check.precision(gdl.compile("var x: f64 = 1.0\ny = x * x\nout y\n").graph) == "f64"


def test_relative_errors_compare_small_elements_absolutely():
    ad = np.array([100.0, 1e-9, 0.0, 5.0])
    fd = np.array([100.0 + 1e-6, 0.0, 1e-8, 4.0])
    ok = np.array([True, True, True, False])
    err = check.relative_errors(ad, fd, ok)
    assert err[0] == pytest.approx(1e-8)
    assert err[1] < 1e-6 and err[2] < 1e-6       # below FLOOR * 100: absolute, not 100%
    assert np.isnan(err[3])                      # inconclusive elements have no error
    assert check.relative_errors(np.array([np.nan]), np.array([1.0]), ok[:1])[0] == np.inf
    assert check.relative_errors(np.zeros(2), np.zeros(2), ok[:2]).tolist() == [0.0, 0.0]


def test_path_change_in_words():
    from gdl.errors import Span
    loop = ("while", Span(3, 1, 3, 5), 9)
    assert check.path_change([loop], [loop], "at a + 1e-06") is None
    text = check.path_change([loop], [("while", Span(3, 1, 3, 5), 10)], "at a + 1e-06")
    assert text == "the while at line 3 ran 9 times at the base point and 10 times at a + 1e-06"
    branch = ("if", Span(7, 1, 7, 2), False)
    text = check.path_change([branch], [("if", Span(7, 1, 7, 2), True)], "at x + 1e-06")
    assert text == ("the if at line 7 took its else branch at the base point and its then "
                    "branch at x + 1e-06")


# -- the check on a device ------------------------------------------------------

@pytest.fixture
def gdl_main(capsys, monkeypatch):
    """`gdl_main(*args)` runs the CLI in-process: (status, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    def call(*args: str) -> tuple[int, str, str]:
        status = gdl.cli.main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return status, out, err

    import gdl.cli  # noqa: F401 - imported for gdl.cli.main above
    return call


@pytest.fixture
def wrong_exp(monkeypatch):
    """Reverse mode with exp's adjoint doubled (2 exp(x) instead of exp(x)), then restored.

    `gdl.ops.OPS` is read-only, so the autodiff pass gets its own copy of
    the table with a replaced `exp` record; compile programs inside the test.
    """
    exp = OPS["exp"]

    def doubled(e, node, cts):
        (g,) = exp.adjoint(e, node, cts)
        return (e.op("add", g, g),)

    table = dict(OPS, exp=dataclasses.replace(exp, adjoint=doubled))
    monkeypatch.setattr(gdl.autodiff, "OPS", MappingProxyType(table))


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.gdl"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.opencl
@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_check_passes_on_the_programs(path, gdl_main):
    run = header(path)
    args = ["run", str(path), "--check"]
    for name in run["grad"]:
        args += ["--grad", name]
    if "of" in run:
        args += ["--of", run["of"]]
    if "seed" in run:
        args += ["--seed", json.dumps(run["seed"])]
    status, out, err = gdl_main(*args)
    assert status == 0, out + err
    if path.stem == "detach":       # stop_grad: the gradient is not the derivative, by design
        assert "? inconclusive" in out and "flows into stop_grad (line 7)" in out
    else:
        assert out.count("✓ pass") == len(run["grad"]) and "FAIL" not in out, out


@pytest.mark.opencl
def test_python_entry_gives_per_variable_results():
    prog = gdl.compile("var x = [0.5, -1.0, 2.0]\nvar w: f64 = 3.0\n"
                       "y = sum(exp(x)) * f32(w)\nout y\n")
    res = check.check_gradients(prog, grad=["x", "w"])
    assert list(res) == ["x", "w"]
    for c in res.values():
        assert c.status == check.PASS and c.passed and c.max_rel_error <= c.tolerance
        assert c.precision == "f64" and c.program_precision == "f32" and c.tolerance == 1e-3
        assert not c.sampled and c.runs == 2 * c.size
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(res["x"].fd, 3 * np.exp(np.float32(x)), rtol=1e-6)
    np.testing.assert_allclose(res["x"].ad, prog.run(grad=["x"]).grads["x"], rtol=0)
    assert check.all_passed(res)


@pytest.mark.opencl
def test_an_all_f64_program_gets_the_tight_tolerance():
    prog = gdl.compile("var x: f64[2] = [0.3, 0.7]\ny = sum(sin(x) * x)\nout y\n")
    c = check.check_gradients(prog, ["x"])["x"]
    assert c.program_precision == "f64" and c.tolerance == 1e-6 and c.passed


@pytest.mark.opencl
def test_seeded_non_scalar_output_and_inputs():
    prog = gdl.compile("var x = arange(3.0)\ninput k: f32 = 1.0\ny = x * x * k\nout y\n")
    res = check.check_gradients(prog, ["x"], inputs={"k": 2.0}, seed=[1.0, 0.0, 3.0])
    np.testing.assert_allclose(res["x"].fd, [0.0, 0.0, 24.0], atol=1e-6)
    assert res["x"].passed


@pytest.mark.opencl
def test_a_wrong_adjoint_fails_and_exits_1(wrong_exp, gdl_main, tmp_path):
    prog = gdl.compile("var x = [0.5, -1.0, 2.0]\ny = sum(exp(x))\nout y\n")
    res = check.check_gradients(prog, ["x"])
    assert res["x"].status == check.FAIL
    assert res["x"].max_rel_error == pytest.approx(0.5, rel=1e-5)   # 2e^x against e^x
    assert not check.all_passed(res)
    name = write(tmp_path, "var x = [0.5, -1.0, 2.0]\nvar w = 2.0\ny = sum(exp(x)) * w\nout y\n")
    status, out, _ = gdl_main("run", name, "--grad", "x", "--grad", "w", "--check")
    assert status == 1
    assert "✗ FAIL" in out and "✓ pass" in out          # dy/dw does not go through exp's rule
    assert "fails at x[" in out and "1 failed, 1 passed" in out
    assert "outputs" in out and "device:" in out        # the report is still printed
    status, out, _ = gdl_main("run", name, "--grad", "x", "--check", "--json")
    assert status == 1 and json.loads(out)["check"]["x"]["status"] == "fail"


@pytest.mark.opencl
def test_wrong_adjoint_is_restored_after_the_fixture():
    prog = gdl.compile("var x = [0.5, -1.0, 2.0]\ny = sum(exp(x))\nout y\n")
    assert check.check_gradients(prog, ["x"])["x"].passed


@pytest.mark.opencl
def test_a_loop_trip_count_change_is_inconclusive(gdl_main, tmp_path):
    # b = 2a doubles until norm(b) >= 1000: with a = 1000/1024, b reaches exactly 1000
    # after 9 doublings, so a - h needs a 10th and the derivative is not defined there
    name = write(tmp_path, "var a = 0.9765625\nb = a * 2\nwhile norm(b) < 1000 {\n"
                           "    b = b * 2\n}\nout b\n")
    status, out, _ = gdl_main("run", name, "--grad", "a", "--check")
    assert status == 0, out
    assert "? inconclusive" in out
    assert "the while at line 3 ran 9 times at the base point and 10 times at a - 1e-06" in out
    status, out, _ = gdl_main("run", name, "--grad", "a", "--check", "--set", "a=0.7")
    assert status == 0 and "✓ pass" in out


@pytest.mark.opencl
def test_a_branch_change_is_inconclusive():
    prog = gdl.compile("var x = 0.5\nif x > 0.5 {\n  y = x * x\n} else {\n  y = 3 * x\n}\n"
                       "out y\n")
    c = check.check_gradients(prog, ["x"])["x"]
    assert c.status == check.INCONCLUSIVE and c.max_rel_error is None
    assert "the if at line 2 took its else branch" in c.reasons[0]
    assert check.all_passed({"x": c})           # inconclusive is not a failure
    assert check.check_gradients(prog, ["x"], inputs={"x": 0.25})["x"].passed


@pytest.mark.opencl
def test_a_run_that_fails_under_perturbation_is_inconclusive():
    prog = gdl.compile("var x = 1.0\nassert x <= 1.0, \"x too big\"\ny = x * x\nout y\n")
    c = check.check_gradients(prog, ["x"])["x"]
    assert c.status == check.INCONCLUSIVE
    assert c.reasons[0].startswith("the run at x + 1e-06 fails:")


@pytest.mark.opencl
def test_big_variables_are_sampled_with_a_seed():
    prog = gdl.compile("var w = randn([15, 20], seed=3)\ny = sum(w * w * w)\nout y\n")
    a = check.check_gradients(prog, ["w"])["w"]
    b = check.check_gradients(prog, ["w"])["w"]
    c = check.check_gradients(prog, ["w"], sample_seed=1)["w"]
    assert a.sampled and len(a.indices) == check.SAMPLES and a.size == 300
    assert a.indices == b.indices != c.indices
    assert len(set(a.indices)) == check.SAMPLES and a.passed
    assert a.fd_array() is None and a.runs == 2 * check.SAMPLES


@pytest.mark.opencl
def test_without_fp64_the_check_runs_in_the_programs_dtype(monkeypatch):
    from gdl.runtime import device as devices
    monkeypatch.setattr(devices.Device, "has_fp64", property(lambda self: False))
    prog = gdl.compile("var x = [0.5, -1.0, 2.0]\ny = sum(exp(x) * x)\nout y\n")
    c = check.check_gradients(prog, ["x"])["x"]
    assert c.precision == "f32" and c.step == 1e-3 and c.tolerance == 2e-2
    assert c.passed, c.max_rel_error


@pytest.mark.opencl
def test_check_needs_grad(gdl_main, tmp_path):
    status, _, err = gdl_main("run", write(tmp_path, "var x = 1.0\ny = x\nout y\n"), "--check")
    assert status == 1 and "--check compares gradients" in err
    with pytest.raises(gdl.GdlError, match="nothing to check"):
        check.check_gradients(gdl.compile("var x = 1.0\ny = x\nout y\n"), [])


@pytest.mark.opencl
def test_check_in_a_subprocess(tmp_path):
    (tmp_path / "dot.gdl").write_text("var x = arange(4.0)\ny = 2 * dot(x, x)\nout y\n")
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "gdl.cli", "run", "dot.gdl", "--grad", "x",
                           "--check", "--json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    res = json.loads(proc.stdout)
    assert res["check"]["x"]["status"] == "pass" and res["check"]["x"]["checked"] == 4
