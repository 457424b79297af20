"""Every program in programs/ carries its expected results in its header; run them all.

Header lines (Futhark-style stanzas): `#| run {json}` holds the keyword
arguments of Program.run, `#| expect {json}` the outputs and gradients.
Each program runs on OpenCL and through the NumPy reference interpreter, so
a new example is a new test of both.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gdl
from gdl.autodiff import grad_graph
from gdl.interp import evaluate
from gdl.optimize import simplify
from gdl.verify import verify

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "programs").rglob("*.gdl"))


def header(path: Path) -> tuple[dict, dict]:
    run, expect = {}, {}
    for line in path.read_text().splitlines():
        if line.startswith("#| run "):
            run = json.loads(line[len("#| run "):])
        elif line.startswith("#| expect "):
            expect = json.loads(line[len("#| expect "):])
    return run, expect


def check(got: dict, want: dict, what: str, rtol=1e-5, atol=1e-6) -> None:
    for name, value in want.items():
        assert name in got, f"{what} {name} missing"
        np.testing.assert_allclose(np.asarray(got[name], np.float64), np.asarray(value),
                                   rtol=rtol, atol=atol, err_msg=f"{what} {name}")


def run_kwargs(run: dict) -> dict:
    kwargs = dict(run)
    if "seed" in kwargs:
        kwargs["seed"] = np.asarray(kwargs["seed"], np.float32)
    return kwargs


def test_every_program_has_expectations():
    assert PROGRAMS, "no programs found"
    for path in PROGRAMS:
        run, expect = header(path)
        assert expect, f"{path} has no `#| expect` header"


@pytest.mark.opencl
@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_program_on_opencl(path):
    run, expect = header(path)
    res = gdl.load(path).run(**run_kwargs(run))
    check(res.outputs, expect.get("outputs", {}), "output")
    check(res.grads, expect.get("grads", {}), "grad")
    assert set(res.grads) == set(run.get("grad", []))


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_program_on_reference_interpreter(path):
    run, expect = header(path)
    prog = gdl.load(path)
    graph = verify(prog.graph)
    seed = run_kwargs(run).get("seed")
    if run.get("grad"):
        of = run.get("of") or prog.outputs[0]
        graph = verify(simplify(verify(grad_graph(graph, run["grad"], of, seed is not None))))
    res = evaluate(graph, seed=seed)
    check(res["outputs"], expect.get("outputs", {}), "output")
    check(res["grads"], expect.get("grads", {}), "grad")


@pytest.mark.opencl
@pytest.mark.parametrize("a", [-0.7, 0.3, -750.0, 1e-3, 2.5])
def test_control_flow_gradient_is_c_over_a(a):
    """The seed's cell 11 property: dc/da == c/a for positive and negative a."""
    prog = gdl.load(ROOT / "programs" / "seed" / "control_flow.gdl")
    res = prog.run(inputs={"a": a}, grad=["a"])
    c, g = float(res.outputs["c"]), float(res.grads["a"])
    assert g == pytest.approx(c / np.float32(a), rel=1e-6)


@pytest.mark.opencl
def test_nonscalar_without_seed_says_so():
    prog = gdl.load(ROOT / "programs" / "seed" / "nonscalar.gdl")
    with pytest.raises(gdl.GdlError, match="seed") as info:
        prog.run(grad=["x"])
    assert info.value.line is None


def test_example_headers_match_the_independent_reference():
    """The expectations of programs/examples come from reference.py (NumPy, no gdl)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("reference",
                                                  ROOT / "programs" / "examples" / "reference.py")
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    for name, fn in reference.EXAMPLES.items():
        _, expect = header(ROOT / "programs" / "examples" / f"{name}.gdl")
        want = fn()
        for part in ("outputs", "grads"):
            assert set(expect[part]) == set(want[part]), (name, part)
            check(expect[part], want[part], f"{name} {part}", rtol=1e-12, atol=0)
