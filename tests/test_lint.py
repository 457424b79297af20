"""The gradient lint (gdl/lint.py): each check positive and negative, through
Python, `gdl check`, `gdl run` (stderr, exit status, --json) and the REPL.

Tests that run kernels are marked `opencl`: they show that what is warned
about really happens (NaN, zero) and that what is not does not.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import gdl
from gdl.build import build
from gdl.cli import main
from gdl.lint import DISCONNECTED, NON_DIFFERENTIABLE, WHERE_NAN, lint
from gdl.parse import parse
from gdl.printer import graph_text
from gdl.repl import Repl

WHERE_LOG = "var x = [-1.0, 0.0, 4.0]\ny = sum(where(x > 0, log(x), 0))\nout y\n"
ALL_THREE = """\
var x = [-1.0, 0.0, 4.0]
var w = 2.0
a = where(x > 0, log(x), 0)
b = floor(x) * x
g = grad(sum(x * x), w)
y = sum(a + b) + g
out y
"""


def lint_of(body: str, grad=("x",), of="y") -> tuple[gdl.GdlWarning, ...]:
    """The warnings of `var x = [-1, 0, 4]; y = sum(BODY)` differentiated w.r.t. x."""
    return gdl.compile(f"var x = [-1.0, 0.0, 4.0]\ny = sum({body})\nout y\n").lint(grad, of)


def codes(warnings) -> list[tuple[str, int, int]]:
    return [(w.code, w.line, w.column) for w in warnings]


# -- where-nan ------------------------------------------------------------------

@pytest.mark.parametrize("body,column,op", [
    ("where(x > 0, log(x), 0)", 22, "`log`"),
    ("where(x > -1, log1p(x), 0)", 23, "`log1p`"),
    ("where(x != 0, 1 / x, 0)", 23, "`/`"),
    ("where(x > 0, x ** 0.5, 0)", 22, "`**`"),
    ("where(x > 0, x ** -1, 0)", 22, "`**`"),
    ("where(x <= 0, 0, log(x))", 26, "`log`"),
    ("where(x > 0, x * sqrt(x), 0)", 26, "`sqrt`"),
    ("where(x > 0, tanh(sqrt(x)), 0)", 27, "`sqrt`"),
])
def test_a_singular_op_on_a_side_of_where_is_warned_about(body, column, op):
    (w,) = lint_of(body)
    assert (w.code, w.line, w.column) == (WHERE_NAN, 2, column)
    assert f"NaN gradient through {op}" in w.message and "on line 2" in w.message
    assert "double-where trick" in w.hint


@pytest.mark.parametrize("body", [
    "where(x > 0, sqrt(x), 0)",                           # sqrt's adjoint passes 0 for 0
    "where(x > 0, 2 * sqrt(x) + 1, 0)",
    "where(x > 0, log(where(x > 0, x, 1)), 0)",           # the double-where trick
    "where(x > 0, sqrt(where(x > 0, x, 1)) * x, 0)",
    "where(x > -1, log1p(where(x > -1, x, 0)), 0)",
    "where(not (x <= 0), log(where(x <= 0, 1, x)), 0)",
    "where(x > 0, log(abs(x) + 1e-6), 0)",
    "where(x > 0, log(x * x + 1), 0)",
    "where(x > 0, log(maximum(x, 1e-6)), 0)",
    "where(x > 0, log(clip(x, 1e-6, 1)), 0)",
    "where(x > 0, x * sqrt(relu(x)), 0)",
    "where(x > 0, x ** 2, 0)",                            # a natural exponent
    "where(x > 0, x / 2, 0)",
    "where(x > 0, logsumexp(x), 0)",                      # log of a sum of exp
    "where(x > 0, 2 * x, 1 / x)",                         # 1/x is chosen where x <= 0
    "where(x > 0, x, 0)",
    "log(x)",                                             # no where: no trap
])
def test_a_safe_argument_or_no_singular_op_is_not_warned_about(body):
    assert lint_of(body) == ()


def test_an_argument_unrelated_to_the_condition_is_not_warned_about():
    prog = gdl.compile("var x = [1.0, -2.0]\nvar s = 1.0\ny = sum(where(x > 0, x / s, 0))\n"
                       "out y\n")
    assert prog.lint(["x", "s"]) == ()


def test_a_where_whose_gradient_is_cut_is_not_warned_about():
    # No cotangent reaches the where through the comparison: its sides get none.
    assert [w.code for w in lint_of("f32(where(x != 0, 1 / x, 0) > 1) * x")] == [
        NON_DIFFERENTIABLE]
    assert lint_of("stop_grad(where(x > 0, log(x), 0)) * x") == ()


def test_if_is_not_warned_about_since_only_the_taken_branch_runs():
    prog = gdl.compile("var x = -1.0\nif x > 0 { y = log(x) * x } else { y = 0 * x }\nout y\n")
    assert prog.lint(["x"]) == () and prog.lint() == ()


def test_where_inside_a_loop_body_and_an_if_branch():
    prog = gdl.compile("var x = [1.0, -2.0]\nn = 0\nwhile n < 3 {\n"
                       "  if n > 0 { x = where(x > 0, log(x) + x, x) }\n  n += 1\n}\n"
                       "y = sum(x)\nout y\n")
    assert codes(prog.lint(["x"])) == [(WHERE_NAN, 4, 31)]


@pytest.mark.opencl
def test_what_is_warned_about_is_nan_and_what_is_not_is_finite():
    assert np.isnan(gdl.compile(WHERE_LOG).run(grad=["x"]).grads["x"][1])
    for body in ("where(x > 0, x * sqrt(x), 0)", "where(x != 0, 1 / x, 0)"):
        g = gdl.compile(f"var x = [-1.0, 0.0, 4.0]\ny = sum({body})\nout y\n").run(grad=["x"])
        assert np.isnan(g.grads["x"]).any(), body
    for body in ("where(x > 0, sqrt(x), 0)", "where(x > 0, log(where(x > 0, x, 1)), 0)",
                 "where(x > 0, 2 * x, 1 / x)"):
        g = gdl.compile(f"var x = [-1.0, 0.5, 4.0]\ny = sum({body})\nout y\n").run(grad=["x"])
        assert np.isfinite(g.grads["x"]).all(), body


@pytest.mark.opencl
def test_the_untaken_branch_of_an_if_gives_no_nan():
    prog = gdl.compile("var x = -1.0\nif x > 0 { y = log(x) * x } else { y = 0 * x }\nout y\n")
    for x in (-1.0, 0.0):
        assert prog.run(grad=["x"], inputs={"x": x}).grads["x"] == 0.0


# -- disconnected ----------------------------------------------------------------

def test_a_requested_gradient_the_output_does_not_depend_on():
    prog = gdl.compile("var x = 1.0\nvar w = 2.0\ny = x * 2\nout y\n")
    (w,) = prog.lint(["x", "w"])
    assert (w.code, w.line, w.column) == (DISCONNECTED, 2, 1)
    assert w.message == "`y` does not depend on `w`, so dy/dw is zero everywhere"
    assert prog.lint(["x"]) == ()


def test_a_dependence_only_through_ops_without_gradient_names_them():
    prog = gdl.compile("var x = [1.0, 2.0]\nvar w = [3.0, 4.0]\ny = w[argmax(x)]\nout y\n")
    (w,) = prog.lint(["x", "w"])
    assert (w.code, w.line) == (DISCONNECTED, 1)
    assert "only through ops that pass no gradient (`argmax` on line 3)" in w.message


def test_a_grad_call_that_is_zero_is_warned_about_at_the_call():
    prog = gdl.compile("var w = 1.0\nv = w * 2\ng = 0.0\nn = 0\nwhile n < 3 {\n"
                       "  g = grad(v * v, w)\n  n += 1\n}\nout g\n")
    (w,) = prog.warnings
    assert (w.code, w.line, w.column) == (DISCONNECTED, 6, 7)
    assert "does not depend on `w` in this block" in w.message


def test_a_grad_call_that_depends_is_not_warned_about():
    prog = gdl.compile("var w = 1.0\ng = 0.0\nn = 0\nwhile n < 3 {\n"
                       "  g = grad(w * w, w) + g\n  w = w * 0.5\n  n += 1\n}\nout g\n")
    assert prog.warnings == () and prog.lint(["w"]) == ()


# -- non-differentiable ---------------------------------------------------------------

@pytest.mark.parametrize("body,column,what", [
    ("floor(x) * x", 9, "`floor`"),
    ("sign(x) * x", 9, "`sign`"),
    ("f32(x > 0) * x", 13, "the comparison `>`"),
    ("f32(i32(x)) * x", 13, "the cast to i32"),
    ("(x // 2) * x", 10, "`//`"),
])
def test_an_op_without_gradient_on_the_path(body, column, what):
    (w,) = lint_of(body)
    assert (w.code, w.line, w.column) == (NON_DIFFERENTIABLE, 2, column)
    assert w.message.startswith(f"{what} passes no gradient")
    assert "the gradient of `y`" in w.message and "stop_grad" in w.hint


@pytest.mark.parametrize("body", [
    "where(x > 0, x, 0)",                     # a condition is control, not data
    "stop_grad(floor(x)) * x",                # cut on purpose
    "floor(stop_grad(x)) * x",
    "x[argmax(x)] * x",                        # an index picks an element
])
def test_control_and_explicit_cuts_are_not_warned_about(body):
    assert lint_of(body) == ()


def test_an_if_condition_is_control():
    prog = gdl.compile("var x = [1.0, -2.0]\n"
                       "if sum(floor(x)) > 0 { y = sum(x) } else { y = 2 * sum(x) }\nout y\n")
    assert prog.lint(["x"]) == ()


# -- the Python API ----------------------------------------------------------------

def test_warnings_are_data_and_nothing_is_printed(capsys):
    prog = gdl.compile(ALL_THREE)
    assert codes(prog.lint(["x", "w"])) == [(DISCONNECTED, 2, 1), (WHERE_NAN, 3, 18),
                                            (NON_DIFFERENTIABLE, 4, 5), (DISCONNECTED, 5, 5)]
    assert codes(prog.warnings) == [(DISCONNECTED, 5, 5)]         # the program's own grad
    assert capsys.readouterr() == ("", "")
    w = prog.warnings[0]
    assert isinstance(w, gdl.GdlWarning) and (w.line, w.column, w.hint) == (5, 5, "")


def test_without_grad_every_var_is_linted_but_not_disconnected():
    prog = gdl.compile("var x = [-1.0, 0.0, 4.0]\nvar w = 1.0\n"
                       "y = sum(where(x > 0, log(x), 0))\nz = sum(floor(x))\nout y, z\n")
    assert codes(prog.lint()) == [(WHERE_NAN, 3, 22), (NON_DIFFERENTIABLE, 4, 9)]


def test_lint_checks_its_arguments_as_run_does():
    prog = gdl.compile(WHERE_LOG)
    with pytest.raises(gdl.GdlError, match="no `var` of that name"):
        prog.lint(["q"])


def test_lint_is_pure():
    src = ALL_THREE
    graph = build(parse(src), src)
    before = graph_text(graph)
    first = lint(graph, ("x", "w"), "y")
    assert graph_text(graph) == before and lint(graph, ("x", "w"), "y") == first


# -- the command line ----------------------------------------------------------------

@pytest.fixture
def gdl_cli(tmp_path, monkeypatch, capsys):
    """`gdl_cli(text, COMMAND, *args)`: write p.gdl, run `gdl COMMAND p.gdl ARGS`, return
    (status, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")

    def call(text: str, *args: str) -> tuple[int, str, str]:
        Path("p.gdl").write_text(text, encoding="utf-8")
        status = main([args[0], "p.gdl", *args[1:]])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return call


@pytest.mark.opencl
def test_gdl_run_shows_warnings_on_stderr_and_exits_0(gdl_cli, golden):
    status, out, err = gdl_cli(ALL_THREE, "run", "--grad", "x", "--grad", "w")
    assert status == 0 and "dy/dx" in out and "warning" not in out
    golden("lint/run.txt", err)


@pytest.mark.opencl
def test_gdl_run_json_lists_warnings_and_stays_one_object(gdl_cli):
    status, out, err = gdl_cli(WHERE_LOG, "run", "--grad", "x", "--json")
    assert status == 0 and out.count("\n") == 1
    obj = json.loads(out)
    assert list(obj)[:2] == ["outputs", "grads"] and np.isnan(obj["grads"]["x"][1])
    (w,) = obj["warnings"]
    assert (w["line"], w["column"], w["code"]) == (2, 22, WHERE_NAN)
    assert "log(where(c, x, 1))" in w["hint"]
    assert "p.gdl:2:22: warning[where-nan]" in err


@pytest.mark.opencl
def test_gdl_run_without_grad_shows_only_the_programs_own_grads(gdl_cli):
    status, out, err = gdl_cli(ALL_THREE, "run", "--json")
    assert status == 0
    assert [w["code"] for w in json.loads(out)["warnings"]] == [DISCONNECTED]
    assert "p.gdl:5:5: warning[disconnected]" in err and "where-nan" not in err


def test_gdl_check_shows_warnings_on_stderr(gdl_cli, golden):
    status, out, err = gdl_cli(ALL_THREE, "check")
    assert status == 0 and out.startswith("p.gdl: ok")
    golden("lint/check.txt", err)
    status, _, err = gdl_cli(ALL_THREE, "check", "--grad", "w")
    assert status == 0 and "p.gdl:2:1: warning[disconnected]" in err    # g is zeros
    status, _, err = gdl_cli(WHERE_LOG.replace("log(x)", "log(where(x > 0, x, 1))"), "check")
    assert status == 0 and err == ""


def test_gdl_check_of_needs_grad(gdl_cli):
    status, _, err = gdl_cli(WHERE_LOG, "check", "--of", "y")
    assert status == 2 and "--of needs --grad" in err


# -- the REPL ---------------------------------------------------------------------

@pytest.mark.opencl
def test_the_repl_shows_warnings_where_they_were_typed():
    out = io.StringIO()
    repl = Repl(Console(file=out, width=100, color_system=None, force_terminal=False))
    for line in ("var x = [-1.0, 0.0, 4.0]", "y = sum(where(x > 0, log(x), 0))",
                 "g = grad(sum(floor(x) * x), x)", ":grad y x"):
        repl.push(line)
    repl.flush()
    text = out.getvalue()
    assert ("<input>:1:14: warning[non-differentiable]: `floor` passes no gradient (it is "
            "piecewise constant): the `grad` on line 1 gets nothing back") in text
    assert "<session>:2:22: warning[where-nan]" in text
    assert text.count("warning[") == 2 and len(repl.statements) == 3


# -- endless-loop ---------------------------------------------------------------

ENDLESS_IN_IF = """\
var x = 1.0
if x > 0.0 {
    while true {
        x = x + 1.0
    }
}
out x
"""


def test_a_while_true_loop_is_warned_about_in_every_lint():
    prog = gdl.compile(ENDLESS_IN_IF)
    for warnings in (prog.warnings, prog.lint(None), prog.lint(["x"], "x")):
        assert codes(warnings) == [("endless-loop", 3, 5)]
        assert "runs until the iteration limit" in warnings[0].message
    with pytest.raises(gdl.GdlError, match="iteration limit of 5"):
        prog.run(max_iters=5)


@pytest.mark.parametrize("cond", ["x < 10.0", "false", "not false and x < 3.0"])
def test_a_loop_that_can_end_is_not_warned_about(cond):
    prog = gdl.compile(f"var x = 1.0\nwhile {cond} {{\n    x = x + 1.0\n}}\nout x\n")
    assert "endless-loop" not in [w.code for w in prog.lint(None) + prog.lint(["x"], "x")]
