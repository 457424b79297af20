"""Printed output pinned by golden files: graph text of every seed program
(before and after autodiff), the kernels generated for a few fused groups,
and rendered error carets.  `pytest --update-golden` rewrites them on purpose.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import gdl
from gdl.errors import render
from gdl.printer import graph_text
from gdl.runtime.codegen import program_source
from gdl.runtime.plan import plan

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "programs" / "seed").glob("*.gdl"))


def run_header(path: Path) -> dict:
    for line in path.read_text().splitlines():
        if line.startswith("#| run "):
            return json.loads(line[len("#| run "):])
    return {}


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_graph_text_of_seed_programs(path, golden):
    prog = gdl.load(path)
    run = run_header(path)
    text = graph_text(prog.graph, "program")
    if run.get("grad"):
        g = prog.gradient_graph(run["grad"], run.get("of"), "seed" in run)
        text += "\n" + graph_text(g, "after autodiff")
    golden(f"graph/{path.stem}.txt", text)


def test_graph_text_is_stable():
    """Two compiles of one program print the same text (ids come from the graph, not globals)."""
    dot = ROOT / "programs" / "seed" / "dot.gdl"
    a = graph_text(gdl.load(dot).gradient_graph(["x"]))
    b = graph_text(gdl.load(dot).gradient_graph(["x"]))
    assert a == b


@pytest.mark.parametrize("name", ["dot", "control_flow"])
def test_generated_kernels(name, golden):
    prog = gdl.load(ROOT / "programs" / "seed" / f"{name}.gdl")
    run = run_header(ROOT / "programs" / "seed" / f"{name}.gdl")
    source = program_source(plan(prog.gradient_graph(run["grad"])).specs)
    golden(f"kernels/{name}.cl", source)


BROADCAST = """
var x = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
var b = [10.0, 20.0, 30.0]
var c = [[0.5], [0.25]]
y = sum(exp(x * b + c) / 1000000, axis=0)
out y
"""


def test_broadcast_kernel_reads_through_strides(golden):
    """A broadcast operand is an index map (stride 0), never a copied tensor."""
    prog = gdl.compile(BROADCAST)
    source = program_source(plan(prog.graph).specs)
    assert "broadcast" not in source
    golden("kernels/broadcast.cl", source)


ERRORS = {
    "unknown_name": "var x = ones([3])\ny = x * velocity\nout y\n",
    "shapes": "var a = ones([5])\nvar b = ones([7])\nc = a + b\nout c\n",
    "stray_brace": "var x = ones([3])\ny = x * 2.0\n}\nout y\n",
    "chained_compare": "var x = [1.0, 2.0]\nok = 0.0 < sum(x) < 5.0\nout ok\n",
    "branch_types": ("var x = ones([3])\nif sum(x) > 0.0 {\n    r = x * 2.0\n} else {\n"
                     "    r = sum(x)\n}\nout r\n"),
    "block_local": ("var x = ones([2])\ni = 0\nwhile i < 3 {\n    s = x * 2.0\n    i += 1\n}\n"
                    "y = sum(s)\nout y\n"),
    "integer_var": "var counts = arange(5)\nout counts\n",
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_carets(name, golden):
    source = ERRORS[name]
    with pytest.raises(gdl.GdlError) as info:
        gdl.compile(source)
    assert info.value.line is not None
    golden(f"errors/{name}.txt", render(source, info.value, f"{name}.gdl") + "\n")
