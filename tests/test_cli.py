"""Tests for gdl/cli.py and gdl/report.py: commands, output formats, exit statuses.

Most tests call `main([...])` in-process (fast, output captured by capsys);
a few run `python -m gdl.cli` in a subprocess to pin what a shell sees:
exit status, stdout/stderr split, and never a Python traceback.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gdl.api
from gdl import report
from gdl.api import Result
from gdl.cli import main
from gdl.errors import GdlError, Span

DOT = "var x = arange(4.0)\ny = 2 * dot(x, x)\nout y\n"
SQUARE = "var x = arange(3.0)\ny = x * x\nout y\n"
SCALAR = "var a = 1.0\ny = a * a\nout y\n"
SYNTAX = "var x = arange(4.0)\ny = 2 * x +\nout y\n"
UNKNOWN = "var x = arange(4.0)\ny = 2 * dot(x, z)\nout y\n"


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """Output as a pipe sees it: no forced colour, a fixed width for rich tables."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


@pytest.fixture
def program(tmp_path, monkeypatch):
    """`program(text)` writes a .gdl file in a temp cwd and returns its relative name."""
    monkeypatch.chdir(tmp_path)
    count = iter(range(1000))

    def write(text: str, name: str | None = None) -> str:
        name = name or f"p{next(count)}.gdl"
        Path(name).write_text(text, encoding="utf-8")
        return name

    return write


@pytest.fixture
def gdl_main(capsys):
    """`gdl_main(*args)` runs main in-process and returns (status, stdout, stderr)."""
    def call(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return call


def gdl_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m gdl.cli ARGS` the way a shell would, output captured as text."""
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    return subprocess.run([sys.executable, "-m", "gdl.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def run_json(gdl_main, *args: str) -> dict:
    """`gdl run ARGS --json`, asserting success and exactly one JSON object on stdout."""
    status, out, err = gdl_main("run", *args, "--json")
    assert status == 0, err
    assert out.endswith("\n") and out.count("\n") == 1, out
    return json.loads(out)


# -- gdl run ------------------------------------------------------------------

@pytest.mark.opencl
def test_run_json_in_a_subprocess(tmp_path):
    (tmp_path / "dot.gdl").write_text(DOT)
    proc = gdl_subprocess("run", "dot.gdl", "--grad", "x", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)       # later keys may be added; these two never change
    assert {k: res[k] for k in ("outputs", "grads")} == {"outputs": {"y": 28.0},
                                                         "grads": {"x": [0, 4, 8, 12]}}


@pytest.mark.opencl
def test_run_reads_the_program_from_standard_input(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "gdl.cli", "run", "-", "--grad", "x", "--json"],
                          input=DOT, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["grads"] == {"x": [0, 4, 8, 12]}
    bad = subprocess.run([sys.executable, "-m", "gdl.cli", "run", "-"], input="y = (1.0\n",
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("<stdin>:1:5: syntax error")
    assert "Traceback" not in bad.stderr


def test_repl_with_a_missing_file_exits_1(tmp_path):
    proc = gdl_subprocess("repl", "missing.gdl", cwd=tmp_path)
    assert proc.returncode == 1
    assert "no such file: missing.gdl" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.opencl
def test_run_tables(program, gdl_main):
    status, out, err = gdl_main("run", program(DOT), "--grad", "x")
    assert status == 0, err
    assert "outputs" in out and "gradients" in out
    assert "dy/dx" in out and "[0 4 8 12]" in out and " 28 " in out
    assert "device:" in out and "Traceback" not in out + err


@pytest.mark.opencl
def test_run_without_grad_has_empty_grads(program, gdl_main):
    res = run_json(gdl_main, program(DOT))
    assert (res["outputs"], res["grads"]) == ({"y": 28.0}, {})


@pytest.mark.opencl
def test_set_overrides_a_var_with_a_scalar(program, gdl_main):
    res = run_json(gdl_main, program(SCALAR), "--set", "a=-0.7", "--grad", "a")
    assert res["outputs"]["y"] == pytest.approx(0.49)
    assert res["grads"]["a"] == pytest.approx(-1.4)


@pytest.mark.opencl
@pytest.mark.parametrize("value, expected", [
    ("[1, 2.5, -1]", [1, 6.25, 1]),
    ("ones([3])", [1, 1, 1]),
    ("2 * arange(3.0)", [0, 4, 16]),
])
def test_set_takes_constant_expressions(program, gdl_main, value, expected):
    assert run_json(gdl_main, program(SQUARE), "--set", f"x={value}")["outputs"]["y"] == expected


@pytest.mark.opencl
def test_set_from_npy_file(program, gdl_main, tmp_path):
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0, 3.0]))
    res = run_json(gdl_main, program(SQUARE), "--set", "x=@x.npy", "--grad", "x",
                   "--seed", "ones([3])")
    assert (res["outputs"], res["grads"]) == ({"y": [1, 4, 9]}, {"x": [2, 4, 6]})


@pytest.mark.opencl
def test_set_keeps_weak_literals_exact_in_f64(program, gdl_main):
    name = program("var w: f64 = 1.0\ninput n: i32 = 2\ny = w * n\nout y, w\n")
    res = run_json(gdl_main, name, "--set", "w=0.1", "--set", "n=3")
    assert res["outputs"]["w"] == 0.1            # the f64 nearest 0.1, not a widened f32
    assert res["outputs"]["y"] == 0.1 * 3


@pytest.mark.opencl
def test_seed_for_a_non_scalar_output(program, gdl_main):
    res = run_json(gdl_main, program(SQUARE), "--grad", "x", "--seed", "[1, 0, 2]")
    assert (res["outputs"], res["grads"]) == ({"y": [0, 1, 4]}, {"x": [0, 0, 8]})


@pytest.mark.opencl
def test_missing_seed_is_a_user_error(program, gdl_main):
    status, out, err = gdl_main("run", program(SQUARE), "--grad", "x", "--json")
    assert status == 1 and out == ""
    assert "seed" in err and "Traceback" not in err


@pytest.mark.opencl
def test_of_picks_the_output(program, gdl_main):
    name = program("var x = 3.0\ny = x * x\nz = 2 * x\nout y, z\n")
    assert run_json(gdl_main, name, "--grad", "x", "--of", "z")["grads"] == {"x": 2.0}
    status, _, err = gdl_main("run", name, "--grad", "x")
    assert status == 1 and "--of" in err


@pytest.mark.opencl
def test_json_writes_bools_nan_and_infinity(program, gdl_main):
    name = program("var x = arange(3.0)\ny = log(x - 1)\nb = x > 0\nout y, b\n")
    status, out, err = gdl_main("run", name, "--json")
    assert status == 0, err
    assert '"b": [false, true, true]' in out and "NaN" in out and "-Infinity" in out
    y = json.loads(out)["outputs"]["y"]
    assert np.isnan(y[0]) and y[1] == -np.inf and y[2] == 0


@pytest.mark.opencl
def test_stats_in_json_and_as_a_table(program, gdl_main):
    name = program(DOT)
    res = run_json(gdl_main, name, "--grad", "x", "--stats")
    assert list(res)[:2] == ["outputs", "grads"]
    for key in ("launches", "bytes_to_device", "bytes_from_device", "blocking_reads",
                "kernel_builds"):
        assert isinstance(res["stats"][key], int)
    assert res["stats"]["launches"] >= 1
    status, out, _ = gdl_main("run", name, "--stats")
    assert status == 0 and "launches" in out and "kernel builds" in out


@pytest.mark.opencl
def test_iteration_limit_names_the_loop(program, gdl_main):
    name = program("var a = 1.0\nwhile a < 100 {\n  a = a * 2\n}\nout a\n")
    assert run_json(gdl_main, name, "--max-iters", "7")["outputs"]["a"] == 128
    status, _, err = gdl_main("run", name, "--max-iters", "3")
    assert status == 1 and "Traceback" not in err
    assert f"{name}:2:" in err and "3" in err


# -- errors and exit statuses ---------------------------------------------------

@pytest.mark.opencl
def test_unknown_name_shows_line_and_caret_in_a_subprocess(tmp_path):
    (tmp_path / "bad.gdl").write_text(UNKNOWN)
    proc = gdl_subprocess("run", "bad.gdl", "--grad", "x", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "bad.gdl:2:16" in proc.stderr and "`z`" in proc.stderr
    assert "   2 | y = 2 * dot(x, z)\n" in proc.stderr
    assert "\n" + " " * 22 + "^\n" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_syntax_error_caret(program, gdl_main, golden):
    status, out, err = gdl_main("check", program(SYNTAX, "syntax.gdl"))
    assert status == 1 and out == ""
    golden("cli/syntax_error.txt", err)


@pytest.mark.parametrize("args", [["run", "missing.gdl"], ["check", "missing.gdl"],
                                  ["graph", "missing.gdl"]])
def test_missing_file(program, gdl_main, args):
    status, out, err = gdl_main(*args)
    assert status == 1 and out == ""
    assert err == "error: no such file: missing.gdl\n"


def test_directory_is_not_a_program(program, gdl_main, tmp_path):
    (tmp_path / "d").mkdir()
    status, _, err = gdl_main("check", "d")
    assert status == 1 and "directory" in err


@pytest.mark.parametrize("args", [["run", "p.gdl", "--bogus"], ["frobnicate"], [],
                                  ["run"], ["run", "p.gdl", "--max-iters", "many"],
                                  ["graph", "p.gdl", "--of", "y"]])
def test_usage_errors_exit_2(program, gdl_main, args):
    program(DOT, "p.gdl")
    status, out, err = gdl_main(*args)
    assert status == 2 and out == ""
    assert "usage:" in err


def test_unknown_option_in_a_subprocess(tmp_path):
    proc = gdl_subprocess("run", "p.gdl", "--bogus", cwd=tmp_path)
    assert proc.returncode == 2 and "--bogus" in proc.stderr


def test_help_exits_0(gdl_main):
    status, out, _ = gdl_main("run", "--help")
    assert status == 0 and "--set NAME=VALUE" in out


@pytest.mark.opencl
@pytest.mark.parametrize("setting, shown", [
    ("x=foo", "--set x=foo"),
    ("x=[1, 2", "--set x=[1, 2"),
    ("x=@nowhere.npy", "nowhere.npy"),
    ("x=", "empty"),
])
def test_bad_set_value(program, gdl_main, setting, shown):
    status, out, err = gdl_main("run", program(SQUARE), "--set", setting)
    assert status == 1 and out == ""
    assert "bad value for --set x" in err and shown in err
    assert "Traceback" not in err


@pytest.mark.opencl
def test_bad_set_value_points_at_the_value(program, gdl_main):
    status, _, err = gdl_main("run", program(SQUARE), "--set", "x=ones([3]) + foo")
    assert status == 1
    shown = "  --set x=ones([3]) + foo"
    assert err.splitlines()[1:] == [shown, " " * shown.index("foo") + "^^^"]


@pytest.mark.parametrize("setting", ["x", "=1", "2x=1"])
def test_malformed_set(program, gdl_main, setting):
    status, _, err = gdl_main("run", program(SQUARE), "--set", setting)
    assert status == 1 and "NAME=VALUE" in err


@pytest.mark.opencl
def test_set_of_an_unknown_name(program, gdl_main):
    status, _, err = gdl_main("run", program(SQUARE), "--set", "q=1")
    assert status == 1 and "`q`" in err


@pytest.mark.opencl
def test_grad_of_an_unknown_var_has_no_caret(program, gdl_main):
    status, _, err = gdl_main("run", program(DOT), "--grad", "w")
    assert status == 1
    assert err.startswith("error: cannot take a gradient with respect to `w`")
    assert "^" not in err


def test_internal_error_exits_3_with_a_crash_file(program, gdl_main, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    monkeypatch.setattr(gdl.api.Program, "run", broken)
    monkeypatch.setattr("tempfile.tempdir", str(crash_dir))
    status, out, err = gdl_main("run", program(DOT))
    assert status == 3 and out == ""
    assert "bug in gdl" in err and "RuntimeError: boom" in err
    assert "Traceback" not in err
    (crash,) = crash_dir.glob("gdl-crash-*.txt")
    assert str(crash) in err
    text = crash.read_text()
    assert "Traceback" in text and "RuntimeError: boom" in text and "gdl run p0.gdl" in text


def test_repl_reads_piped_statements(gdl_main, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("var x = arange(4.0)\n:type x\n"))
    status, out, err = gdl_main("repl")
    assert status == 0 and out == "f32[4]\n", (out, err)


# -- gdl check, gdl graph, gdl devices ------------------------------------------

def test_check_summary(program, gdl_main, golden):
    name = program("var w: f64[2] = [0.5, 1]\ninput n: i32\ninput k: f32 = 2\n"
                   "y = sum(w) * n * k\nb = y > 0\nout y, b\n", "summary.gdl")
    status, out, err = gdl_main("check", name)
    assert status == 0 and err == ""
    golden("cli/check_summary.txt", out)


def test_check_error(program, gdl_main):
    status, out, err = gdl_main("check", program(UNKNOWN))
    assert status == 1 and out == ""
    assert "unknown name `z`" in err and "^" in err


def test_graph_with_gradients(program, gdl_main, golden):
    status, out, err = gdl_main("graph", program(DOT), "--grad", "x", "--text")
    assert status == 0, err
    golden("cli/graph_dot_grad.txt", out)


def test_graph_of_a_non_scalar_output_is_seeded(program, gdl_main):
    status, out, err = gdl_main("graph", program(SQUARE), "--grad", "x", "--text")
    assert status == 0, err
    assert out.startswith("# program") and "\n# gradients of y with respect to x" in out
    assert out.rstrip().endswith("seed = %3")


def test_graph_grad_of_an_input_is_an_error(program, gdl_main):
    status, _, err = gdl_main("graph", program("input d: f32 = 1\ny = d * d\nout y\n"),
                              "--grad", "d")
    assert status == 1 and "declare it with `var d" in err


@pytest.mark.opencl
def test_devices_lists_and_marks_the_choice(gdl_main, monkeypatch):
    monkeypatch.delenv("GDL_DEVICE", raising=False)
    status, out, err = gdl_main("devices")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "OpenCL devices:"
    devices = [line for line in lines[1:] if re.match(r"[* ] \d+:\d+ ", line)]
    assert devices and sum(line.startswith("*") for line in devices) == 1
    assert "--device" in out and "GDL_DEVICE" in out


@pytest.mark.opencl
def test_devices_with_an_impossible_choice(gdl_main):
    status, out, err = gdl_main("devices", "--device", "no-such-device-anywhere")
    assert status == 1 and "OpenCL devices:" in out
    assert "no-such-device-anywhere" in err


# -- report helpers (no device) ---------------------------------------------------

@pytest.mark.parametrize("arr, text", [
    (np.float32(28.0), "28"),
    (np.float32(0.1), "0.1"),
    (np.array([0, 4, 8, 12], dtype=np.float32), "[0 4 8 12]"),
    (np.array([True, False]), "[true false]"),
    (np.array([np.nan, np.inf, -np.inf]), "[nan inf -inf]"),
    (np.float64(1e30), "1e+30"),
    (np.arange(6, dtype=np.int32).reshape(2, 3), "[[0 1 2]\n [3 4 5]]"),
])
def test_value_text(arr, text):
    assert report.value_text(np.asarray(arr)) == text


def test_big_tensors_are_summarised():
    text = report.value_text(np.arange(100, dtype=np.float32))
    assert text == "[0 1 2 ... 97 98 99]"
    assert report.value_text(np.arange(20.0)).count("...") == 0


def test_result_json_keeps_outputs_and_grads_first():
    res = Result({"y": np.array(2.5, np.float32)}, {"x": np.array([1, 2], np.float64)},
                 stats={"launches": 3})
    assert report.result_json(res) == {"outputs": {"y": 2.5}, "grads": {"x": [1.0, 2.0]}}
    assert list(report.result_json(res, stats=True)) == ["outputs", "grads", "stats"]


def test_error_text_is_the_caret_rendering():
    err = GdlError("unknown name `z`", Span(2, 16, 2, 17))
    assert report.error_text(UNKNOWN, err, "f.gdl").splitlines() == [
        "f.gdl:2:16: error: unknown name `z`",
        "   2 | y = 2 * dot(x, z)",
        "                      ^",
    ]
    assert report.error_text(None, GdlError("no span"), "f.gdl") == "error: no span"
