"""The REPL (gdl/repl.py): command handling in-process, and `gdl repl` through a pty.

In-process tests feed lines to a `Repl` and read what it printed; the ones
that run kernels are marked `opencl`.  The pexpect tests drive the real
command in a pseudo-terminal (readline, prompts, Tab, exit status), with
generous timeouts so PoCL kernel builds on a small CI machine fit.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from gdl import repl as repl_mod
from gdl.repl import Repl

ROOT = Path(__file__).resolve().parent.parent
DOT = "programs/seed/dot.gdl"

# The seed notebook, cell by cell, as typed at the prompt (PyTorch's autograd notebook).
NOTEBOOK = (
    "var x = arange(4.0)",
    "x",
    "y = 2 * dot(x, x)",
    "y",
    ":grad y x",
    ":backward y",
    "x.grad",
    "x.grad == 4 * x",
    ":backward y",
    "x.grad",
    ":zero",
    "y = sum(x)",
    ":backward y",
    "x.grad",
    ":zero",
    "y = x * x",
    ":backward y",
    ":backward y seed=ones([4])",
    "x.grad",
    ":zero",
    "u = stop_grad(y)",
    "z = u * x",
    ":backward sum(z)",
    "x.grad == u",
    ":zero",
    ":backward sum(y)",
    "x.grad == 2 * x",
    "var a = randn(seed=7)",
    "b = a * 2",
    "while norm(b) < 1000 {",
    "    b = b * 2",
    "}",
    "if sum(b) > 0 {",
    "    c = b",
    "} else {",
    "    c = 100 * b",
    "}",
    "c",
    ":backward c",
    "a.grad",
    "a.grad == c / a",
)


def session(*lines: str) -> tuple[Repl, str]:
    """A Repl fed `lines` (then end of input), and everything it printed."""
    out = io.StringIO()
    repl = Repl(Console(file=out, width=100, color_system=None, force_terminal=False))
    for line in lines:
        repl.push(line)
    repl.flush()
    return repl, out.getvalue()


# -- statements, errors, commands (no kernels) ---------------------------------

def test_a_multi_line_statement_waits_for_its_braces():
    repl, _ = session()
    repl.push("var x = arange(4.0)")
    repl.push("while sum(x) < 100 {")
    assert repl.more
    repl.push("    x = x * 2")
    assert repl.more
    repl.push("}")
    assert not repl.more
    assert repl.statements[-1] == "while sum(x) < 100 {\n    x = x * 2\n}"


def test_an_if_waits_for_a_possible_else_then_enters_the_next_line():
    repl, _ = session()
    for line in ("var x = arange(4.0)", "if sum(x) > 0 {", "  y = x", "}"):
        repl.push(line)
    assert repl.more                      # an `else` may follow
    repl.push("z = 1")
    assert not repl.more
    assert repl.statements[-2:] == ["if sum(x) > 0 {\n  y = x\n}", "z = 1"]


def test_an_error_shows_a_caret_and_leaves_the_session_unchanged(golden):
    repl, out = session("var x = arange(4.0)", "y = x + [1, 2, 3]", "y = x +",
                        "while true {", "  x", "}")
    assert repl.statements == ["var x = arange(4.0)"]
    assert "Traceback" not in out
    golden("repl/errors.txt", out)


def test_type_is_static_and_its_errors_point_into_the_command_line():
    _, out = session("var x = arange(4.0)", ":type x[1:3]", ":type x @ x", ":type x + qq",
                     ":type y = 3")
    lines = out.splitlines()
    assert lines[:2] == ["f32[2]", "f32"]
    assert "<input>:1:11: type error: unknown name `qq`" in out
    assert "   1 | :type x + qq\n" + " " * 17 + "^^" in out
    assert "expected an expression here" in out


def test_help_lists_every_command(golden):
    _, out = session(":help")
    for command in repl_mod.COMMANDS:
        assert command.name in out
    golden("repl/help.txt", out)


def test_unknown_commands_and_usage():
    _, out = session(":gard y x", ":frobnicate", ":grad y", ":set 3", ":load")
    assert "unknown command `:gard`; did you mean `:grad`?" in out
    assert "unknown command `:frobnicate` (:help lists the commands)" in out
    assert "usage: :grad Y X" in out and "usage: :set NAME = EXPR" in out
    assert "usage: :load FILE" in out


def test_graph_shows_the_session_and_list_numbers_its_lines(golden):
    _, out = session("var x = arange(4.0)", "y = 2 * dot(x, x)", "out y", ":list", ":graph")
    golden("repl/graph.txt", out)


def test_grad_of_a_name_is_read_only_in_expressions():
    repl, out = session("var x = arange(4.0)", "x.grad", "g = x.grad + 1", "n = 1", "n.grad")
    assert "`x.grad` is empty: no `:backward` has filled it yet" in out
    assert "`x.grad` can be read in an expression typed at the prompt, not in a statement" in out
    assert "`n` is not a var, so `n.grad` does not exist" in out
    assert "g" not in repl.scope.names


def test_set_needs_a_declared_var_or_input():
    _, out = session("var x = arange(4.0)", "z = 2", ":set z = 3", ":set w = 1")
    assert "`z` is bound with `=`; :set gives a value to a `var` or `input`" in out
    assert "`w` is not declared" in out


def test_completion_of_names_grads_builtins_keywords_and_commands(tmp_path):
    repl, _ = session("var xyz = arange(4.0)", "xylo = 2", "fn xyf(a) {", "  return a", "}")
    assert repl.completions("xy", "xy", 0) == ["xyf", "xylo", "xyz", "xyz.grad"]
    assert repl.completions("xyz.", "y = xyz.", 4) == ["xyz.grad"]
    assert "arange" in repl.completions("ara", "ara", 0)
    assert repl.completions("whi", "whi", 0) == ["while"]
    assert repl.completions(":gr", ":gr", 0) == [":grad ", ":graph "]
    (tmp_path / "prog.gdl").write_text("out y\n")
    prefix = str(tmp_path / "pr")
    line = ":load " + prefix
    assert repl.completions(prefix, line, 6) == [str(tmp_path / "prog.gdl")]


def test_load_errors_point_into_the_file_and_reset_forgets():
    repl, out = session("var x = arange(4.0)", f":load {DOT}", ":reset", ":list",
                        ":load no/such.gdl")
    assert f"{DOT}:4:5: type error: `x` is declared twice" in out
    assert "session cleared" in out and "(no statements yet)" in out
    assert "error: no such file: no/such.gdl" in out
    assert repl.statements == [] and repl.scope.names == ()


def test_quit_ends_the_loop():
    repl, _ = session(":quit")
    assert repl.done
    repl, _ = session(":q")
    assert repl.done


def test_an_internal_error_is_a_banner_and_the_session_goes_on(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))     # where the traceback goes

    repl, _ = session("var x = arange(4.0)")
    out = repl.console.file
    monkeypatch.setattr(repl_mod, "graph_text", broken)
    repl.push(":graph")
    repl.push(":type x")
    text = out.getvalue()
    banner = text.splitlines()[0]
    assert banner.startswith("internal error (a bug in gdl, not in your program): "
                             "ZeroDivisionError: boom; the traceback is in ")
    assert banner.endswith("; the session goes on") and "Traceback" not in text
    (crash,) = tmp_path.glob("gdl-crash-*.txt")
    assert "ZeroDivisionError: boom" in crash.read_text()
    assert text.rstrip().endswith("f32[4]")


def test_piped_input_reads_lines_without_prompts(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("var x = arange(4.0)\n:type x\n"))
    out = io.StringIO()
    assert repl_mod.main(Console(file=out, color_system=None)) == 0
    assert out.getvalue() == "f32[4]\n"


# -- running (kernels) -------------------------------------------------------------

@pytest.mark.opencl
def test_the_notebook_step_by_step(golden):
    repl, out = session(*NOTEBOOK)
    assert "Traceback" not in out
    assert out.count("error") == 1 and "error: `y` is f32[4], not a scalar" in out
    np.testing.assert_array_equal(repl.grads["a"], np.float32(4194304.0))
    golden("repl/notebook.txt", out)


@pytest.mark.opencl
def test_backward_accumulates_until_zero():
    repl, out = session("var x = arange(4.0)", "y = 2 * dot(x, x)", ":backward y")
    np.testing.assert_array_equal(repl.grads["x"], [0, 4, 8, 12])
    repl.push(":backward y")
    np.testing.assert_array_equal(repl.grads["x"], [0, 8, 16, 24])
    assert repl.grads["x"].dtype == np.float32
    repl.push(":zero")
    np.testing.assert_array_equal(repl.grads["x"], [0, 0, 0, 0])
    repl.push(":grad y x")                  # :grad shows, but does not accumulate
    np.testing.assert_array_equal(repl.grads["x"], [0, 0, 0, 0])


@pytest.mark.opencl
def test_set_overrides_a_var_for_later_runs_with_weak_literals_exact():
    repl, out = session("var w: f64[2] = zeros([2])", ":set w = [0.1, 0.2]", "w",
                        "input n: i32 = 3", ":set n = n * 2", "n + 1")
    assert repl.sets["w"].dtype == np.float64
    np.testing.assert_array_equal(repl.sets["w"], np.array([0.1, 0.2]))
    assert "[0.1 0.2]\n  type f64[2]" in out
    assert "7\n  type i32" in out


@pytest.mark.opencl
def test_kernels_run_and_effects():
    repl, out = session("var x = arange(4.0)", ":kernels", ":kernels x * 2", ":run",
                        'assert sum(x) < 0, "x is too big"', "print(x)", "x")
    assert out.count("__kernel") >= 2
    assert "outputs" in out and "[0 1 2 3]" in out
    assert "runtime error: assertion failed: x is too big" in out
    assert not any("assert" in s or "print" in s for s in repl.statements)
    assert "x = [0. 1. 2. 3.]" in out


@pytest.mark.opencl
def test_a_runtime_error_in_an_expression_points_where_it_was_typed():
    _, out = session("var x = arange(4.0)", "i = i32(sum(x))", "x[i]", "x[0]")
    assert "<input>:1:1: runtime error: index 6 is out of range" in out
    assert "   1 | x[i]\n       ^^^^\n" in out
    assert "\n0\n  type f32   node" in out           # the session goes on


# -- the real command in a pseudo-terminal -------------------------------------------

pexpect = pytest.importorskip("pexpect")
TIMEOUT = 90        # seconds per step: PoCL builds kernels, maybe on a 2-core machine


def spawn(tmp_path, *args: str):
    """`python -m gdl.cli repl ARGS` in a pty, plain text, history in tmp_path."""
    env = dict(os.environ, TERM="dumb", NO_COLOR="1", GDL_HISTORY=str(tmp_path / "history"),
               PYTHONIOENCODING="utf-8")
    child = pexpect.spawn(sys.executable, ["-m", "gdl.cli", "repl", *args], cwd=str(ROOT),
                          env=env, encoding="utf-8", timeout=TIMEOUT, dimensions=(50, 120))
    child.expect_exact("gdl> ")
    return child


def enter(child, line: str, prompt: str = "gdl> ") -> str:
    """Type a line; what was printed before the next prompt (the echo left out)."""
    child.sendline(line)
    child.expect_exact(prompt)
    return child.before.replace("\r\n", "\n").split("\n", 1)[-1]


def leave(child) -> int:
    child.sendline(":quit")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


@pytest.mark.opencl
def test_pty_the_notebook_walk_through(tmp_path):
    child = spawn(tmp_path)
    assert enter(child, "var x = arange(4.0)") == ""
    enter(child, "y = 2 * dot(x, x)")
    assert enter(child, "y").startswith("28\n  type f32")
    grad = enter(child, ":grad y x")
    assert "[adjoint]" in grad and "dy/dx = [0 4 8 12]" in grad
    enter(child, ":backward y")
    assert enter(child, "x.grad").startswith("[0 4 8 12]")
    enter(child, ":backward y")
    assert enter(child, "x.grad").startswith("[0 8 16 24]")
    enter(child, ":zero")
    assert enter(child, "x.grad").startswith("[0 0 0 0]")
    enter(child, "y = sum(x)")
    enter(child, ":backward y")
    assert enter(child, "x.grad").startswith("[1 1 1 1]")
    enter(child, ":zero")
    enter(child, "y = x * x")
    assert "not a scalar" in enter(child, ":backward y")
    enter(child, ":backward y seed=ones([4])")
    assert enter(child, "x.grad").startswith("[0 2 4 6]")
    enter(child, ":zero")
    enter(child, "u = stop_grad(y)")
    enter(child, "z = u * x")
    enter(child, ":backward sum(z)")
    assert enter(child, "x.grad == u").startswith("[true true true true]")
    enter(child, "var a = randn(seed=7)")
    enter(child, "b = a * 2")
    enter(child, "while norm(b) < 1000 {", "...> ")
    enter(child, "    b = b * 2", "...> ")
    enter(child, "}")
    enter(child, "if sum(b) > 0 {", "...> ")
    enter(child, "    c = b", "...> ")
    enter(child, "} else {", "...> ")
    enter(child, "    c = 100 * b", "...> ")
    enter(child, "}")
    enter(child, ":backward c")
    assert enter(child, "a.grad").startswith("4194304")
    assert enter(child, "a.grad == c / a").startswith("true")
    assert leave(child) == 0


@pytest.mark.opencl
def test_pty_errors_completion_commands_and_exit(tmp_path):
    child = spawn(tmp_path)
    enter(child, "var xyz = arange(4.0)")
    error = enter(child, "w = xyz + [1, 2]")
    assert "type error: cannot broadcast f32[4] with f32[2]" in error
    assert "   1 | w = xyz + [1, 2]\n           ^^^^^^^^^^^^\n" in error
    assert "Traceback" not in error
    child.send("xy\t")                       # a name: completes to xyz
    child.expect_exact("z")
    assert enter(child, " * 2").split("\n", 1)[0].endswith("[0 2 4 6]")
    child.send(":ty\t")                      # a command: completes to :type
    child.expect_exact("pe ")
    assert enter(child, "xyz").strip() == "f32[4]"
    assert "__kernel" in enter(child, ":kernels")
    enter(child, "while true {", "...> ")
    child.sendintr()                         # Ctrl-C drops the half-typed statement
    child.expect_exact("gdl> ")
    assert "input dropped" in child.before
    enter(child, ":reset")
    assert "loaded programs/seed/dot.gdl: 2 statements" in enter(child, f":load {DOT}")
    assert enter(child, "y").startswith("28")
    assert leave(child) == 0
    history = (tmp_path / "history").read_text()
    assert "var xyz = arange(4.0)" in history and ":kernels" in history


@pytest.mark.opencl
def test_pty_file_argument_and_end_of_input(tmp_path):
    child = spawn(tmp_path, DOT)
    assert "dy/dx = [0 4 8 12]" in enter(child, ":grad y x")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
