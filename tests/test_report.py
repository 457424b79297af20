"""Tests for the gradient report of gdl/report.py: text, JSON and .npz.

Reports are rendered on a fixed console (100 columns, no colour) from
Results and checks made by hand, so golden files under tests/golden/report
do not depend on the device, its name or the time taken; `gdl run` itself
is tested with the device/time line replaced.  Statistics (norm, min/max,
NaN/Inf counts), the note on vars the output does not depend on, the
`--json` keys and the `--out` round trip are checked directly.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from gdl import report
from gdl.api import Result
from gdl.check import FAIL, INCONCLUSIVE, PASS, VarCheck
from gdl.cli import main

DEVICE = "Test Device (Test Platform, CPU)"
FOOTER = re.compile(r"^device: .*  time: .*$", re.M)


def render(result: Result, **kwargs) -> str:
    """The report as a 100-column pipe sees it, trailing spaces stripped."""
    console = Console(file=io.StringIO(), width=100, color_system=None, force_terminal=False)
    report.print_result(console, result, **kwargs)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def var_check(name: str, status: str, ad, fd, indices=None, shape=None, reasons=(),
              tolerance=1e-3) -> VarCheck:
    """A VarCheck as check_gradients makes it, from the values at the checked elements."""
    ad, fd = np.asarray(ad, np.float64).ravel(), np.asarray(fd, np.float64).ravel()
    if shape is None:
        shape = np.shape(ad) if indices is None else ()
    if indices is None:
        indices = tuple(np.ndindex(*shape))
    ok = ~np.isnan(fd)
    rel = np.full(ad.shape, np.nan)
    rel[ok] = np.abs(ad[ok] - fd[ok]) / np.maximum(np.maximum(np.abs(ad[ok]), np.abs(fd[ok])),
                                                   1e-30)
    worst = float(rel[ok].max()) if ok.any() else None
    return VarCheck(name, status, worst, tolerance, tuple(shape), tuple(indices), ad, fd, rel,
                    "f64", "f32", 1e-6, tuple(reasons))


@pytest.fixture
def gdl_main(capsys, monkeypatch, tmp_path):
    """`gdl_main(*args)` runs the CLI in-process in a temp dir: (status, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    def call(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return status, out, err

    return call


# -- statistics ----------------------------------------------------------------

def test_grad_info_counts_and_ranges():
    info = report.grad_info(np.array([3.0, -4.0, 0.0], np.float32))
    assert info == {"norm": 5.0, "min": -4.0, "max": 3.0, "nan": 0, "inf": 0}
    assert info["min"].dtype == np.float32           # an element, in the gradient's dtype
    info = report.grad_info(np.array([np.nan, 1.0, -np.inf, np.inf, np.nan]))
    assert np.isnan(info["norm"]) and (info["nan"], info["inf"]) == (2, 2)
    assert (info["min"], info["max"]) == (-np.inf, np.inf)    # over the elements not NaN
    info = report.grad_info(np.array([np.inf, 2.0]))
    assert info["norm"] == np.inf
    info = report.grad_info(np.full(3, np.nan, np.float32))
    assert info["min"] is None and info["max"] is None and info["nan"] == 3


def test_norm_does_not_overflow():
    assert report.grad_info(np.full(4, 3e38, np.float32))["norm"] == pytest.approx(6e38)
    assert report.grad_info(np.full(4, 1e300))["norm"] == pytest.approx(2e300)
    assert report.grad_info(np.zeros((2, 2)))["norm"] == 0


@pytest.mark.parametrize("value, text", [
    (14.966629547095765, "14.96663"), (0.0, "0"), (-1.5e-7, "-1.5e-07"), (None, "-"),
    (float("nan"), "nan"), (float("-inf"), "-inf"), (np.float32(12), "12"),
])
def test_stat_text(value, text):
    assert report.stat_text(value) == text


# -- the report, golden ---------------------------------------------------------------

def test_report_golden(golden):
    g = np.arange(200, dtype=np.float32).reshape(20, 10) / 7
    g[3, 4] = np.nan
    g[5, 6] = -np.inf
    res = Result({"loss": np.float32(2.5), "pred": np.array([0.25, 0.75], np.float32)},
                 {"w": g, "b": np.float32(-1.25), "u": np.zeros(3, np.float32)},
                 DEVICE, 0.0123)
    text = render(res, of="loss", influencing=("w", "b"))
    assert "note: loss does not depend on u, so this gradient is zero everywhere" in text
    assert "1 NaN, 1 Inf" in text
    golden("report/gradients.txt", text)


def test_report_with_check_golden(golden):
    x = np.array([0.0, 4.0, 8.0, 12.0], np.float32)
    w = (np.arange(300, dtype=np.float32) / 100).reshape(15, 20)
    res = Result({"y": np.float32(28)}, {"x": x, "w": w, "a": np.float32(1024),
                                         "k": np.array([2.0, 1.0], np.float32)},
                 DEVICE, 0.0042)
    idx = ((0, 3), (4, 17), (14, 19))
    checks = {
        "x": var_check("x", PASS, x, x + np.array([0, 1e-9, -2e-9, 0])),
        "w": var_check("w", PASS, [w[i] for i in idx], [w[i] * (1 + 1e-8) for i in idx],
                       indices=idx, shape=(15, 20)),
        "a": var_check("a", INCONCLUSIVE, [1024.0], [np.nan], shape=(), reasons=(
            "the while at line 3 ran 9 times at the base point and 10 times at a - 1e-06",)),
        "k": var_check("k", FAIL, [2.0, 1.0], [1.0, 1.0000001]),
    }
    text = render(res, of="y", influencing=("x", "w", "a", "k"), check=checks)
    assert "✗ FAIL  max rel. error 0.5 > 0.001" in text and "fails at k[0]" in text
    assert "at 3 of 300 elements, chosen at random (seeded)" in text
    assert "gradient check: 1 failed, 1 inconclusive, 2 passed" in text
    golden("report/check.txt", text)


@pytest.mark.opencl
def test_gdl_run_report_golden(gdl_main, golden):
    Path("dot.gdl").write_text("var x = arange(4.0)\nvar unused = 1.0\ny = 2 * dot(x, x)\n"
                               "out y\n")
    status, out, _ = gdl_main("run", "dot.gdl", "--grad", "x", "--grad", "unused")
    assert status == 0
    assert len(FOOTER.findall(out)) == 1
    text = "\n".join(line.rstrip() for line in FOOTER.sub("device: -  time: -", out).split("\n"))
    golden("report/run_dot.txt", text)


@pytest.mark.opencl
def test_gdl_run_check_shows_differences_beside_each_gradient(gdl_main):
    Path("p.gdl").write_text("var x = [1.0, 2.0]\nvar s: f64 = 0.5\n"
                             "y = sum(x * x) * f32(s)\nout y\n")
    status, out, _ = gdl_main("run", "p.gdl", "--grad", "x", "--grad", "s", "--check")
    assert status == 0
    blocks = out.split("  dy/d")
    assert "finite differences [1 2]" in blocks[1] and "✓ pass" in blocks[1]
    assert "finite differences 5" in blocks[2] and "✓ pass" in blocks[2]
    assert "tolerance: 0.001 on the max relative error, as the program computes in f32" in out


def test_a_console_that_cannot_encode_the_symbols_gets_ascii():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    console = Console(file=stream, width=100, color_system=None, force_terminal=False)
    x = np.array([1.0, 2.0], np.float32)
    res = Result({"y": np.float32(1)}, {"x": x}, DEVICE, 5e-5)
    report.print_result(console, res, of="y", check={"x": var_check("x", PASS, x, x)})
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "ok pass  max rel. error 0 <= 0.001" in text and "L2 norm 2.236068 | min 1" in text
    assert "time: 50 us" in text


def test_no_gradients_means_no_gradient_section():
    text = render(Result({"y": np.int32(3)}, {}, DEVICE, 2e-4))
    assert "gradients" not in text and "device: Test Device" in text and "time: 200 µs" in text


# -- JSON --------------------------------------------------------------------------

def test_result_json_adds_keys_only_when_asked():
    res = Result({"y": np.float32(2.5)}, {"x": np.array([3.0, -4.0], np.float32),
                                          "z": np.zeros(2, np.float32)},
                 DEVICE, 0.5, {"launches": 3})
    plain = report.result_json(res)
    assert plain == {"outputs": {"y": 2.5}, "grads": {"x": [3.0, -4.0], "z": [0.0, 0.0]}}
    full = report.result_json(res, stats=True, of="y", influencing=("x",), details=True,
                              check={"x": var_check("x", PASS, [3.0, -4.0], [3.0, -4.0])})
    assert list(full) == ["outputs", "grads", "of", "grad_info", "device", "seconds", "stats",
                          "check"]
    assert full["grad_info"]["x"] == {"dtype": "f32", "shape": [2], "norm": 5.0, "min": -4.0,
                                      "max": 3.0, "nan": 0, "inf": 0, "influences": True}
    assert full["grad_info"]["z"]["influences"] is False
    assert full["check"]["x"]["status"] == "pass" and full["check"]["x"]["indices"] == [[0], [1]]
    json.dumps(full)                                 # every value is JSON-ready


@pytest.mark.opencl
def test_gdl_run_json_keys(gdl_main):
    Path("p.gdl").write_text("var x = [1.0, -2.0]\nvar w = 3.0\ny = sum(log(x))\nout y\n")
    status, out, _ = gdl_main("run", "p.gdl", "--grad", "x", "--grad", "w", "--json",
                              "--stats", "--check")
    assert status == 0 and out.count("\n") == 1
    res = json.loads(out)
    assert list(res)[:2] == ["outputs", "grads"]
    assert {"of", "grad_info", "device", "seconds", "stats", "check"} <= set(res)
    assert res["of"] == "y" and isinstance(res["seconds"], float)
    x = res["grad_info"]["x"]
    assert (x["nan"], x["inf"], x["influences"], x["max"]) == (0, 0, True, 1.0)
    assert res["grad_info"]["w"]["influences"] is False and res["grad_info"]["w"]["norm"] == 0
    assert np.isnan(res["outputs"]["y"])             # log(-2): NaN, written as NaN
    assert res["check"]["x"]["status"] == "inconclusive"    # the output is not finite


# -- .npz ---------------------------------------------------------------------------

@pytest.mark.opencl
def test_out_npz_round_trip(gdl_main):
    Path("p.gdl").write_text("var x = arange(3.0)\nvar n: f64 = 2.0\ny = x * x * f32(n)\n"
                             "k = arange(3)\nout y, k\n")
    status, _, _ = gdl_main("run", "p.gdl", "--grad", "x", "--grad", "n", "--of", "y",
                            "--seed", "ones([3])", "--out", "res.npz")
    assert status == 0
    with np.load("res.npz") as saved:
        assert sorted(saved.files) == ["grads/n", "grads/x", "outputs/k", "outputs/y"]
        np.testing.assert_array_equal(saved["outputs/y"], [0, 2, 8])
        assert saved["outputs/y"].dtype == np.float32 and saved["outputs/k"].dtype == np.int32
        np.testing.assert_array_equal(saved["grads/x"], [0, 4, 8])
        assert saved["grads/n"].shape == () and saved["grads/n"] == 5.0
    status, _, _ = gdl_main("run", "p.gdl", "--out", "plain")     # the name is kept as given
    assert status == 0 and Path("plain").exists() and not Path("plain.npz").exists()


@pytest.mark.opencl
def test_out_to_an_unwritable_path_is_a_user_error(gdl_main):
    Path("p.gdl").write_text("var x = 1.0\ny = x\nout y\n")
    status, _, err = gdl_main("run", "p.gdl", "--out", "no/such/dir/res.npz")
    assert status == 1 and "cannot write no/such/dir/res.npz" in err


# -- help ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "check", "graph", "devices", "repl"])
def test_every_command_has_help(gdl_main, command):
    status, out, _ = gdl_main(command, "--help")
    assert status == 0 and f"usage: gdl {command}" in out


@pytest.mark.parametrize("command", [None, "run", "check", "devices"])
def test_help_has_examples_and_exit_statuses(gdl_main, command):
    status, out, _ = gdl_main(*([command] if command else []), "--help")
    assert status == 0 and "examples:\n  gdl " in out
    if command in (None, "run", "check"):
        assert "exit status:" in out and "3  an internal error" in out


def test_run_help_documents_check_and_out(gdl_main):
    _, out, _ = gdl_main("run", "--help")
    assert "--check" in out and '"grads/NAME"' in out and "1e-3" in out and "inconclusive" in out
