"""Tests for gdl/graphview.py and `gdl graph`: readable trees, named stages, DOT.

The trees are pinned by golden files (rendered at a fixed width with no
colour); every stage's graph must pass the IR checker; DOT output must be
well formed and the same run to run.  No OpenCL device is needed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gdl
from gdl import api, graphdot, graphview
from gdl.cli import main
from gdl.ir import walk
from gdl.printer import graph_text
from gdl.verify import verify

ROOT = Path(__file__).resolve().parent.parent
CONTROL_FLOW = ROOT / "programs" / "seed" / "control_flow.gdl"

# gradient descent written in the program: a grad() inside a while loop
GRAD_IN_LOOP = """\
var w = 0.5
x = 1.0
i = 0
while i < 3 {
    g = grad(w * x * x, x)
    x = x - 0.1 * g
    i += 1
}
out x
"""
DOT_PROGRAM = "var x = arange(4.0)\ny = 2 * dot(x, x)\nout y\n"


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """Output as a pipe sees it: no forced colour, a fixed width for rich."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def views(source: str, grad=None, only=None) -> str:
    """The trees of each stage (or the stages in `only`), as golden text."""
    parts = []
    for name, g in graphview.stages(source, grad):
        if only is None or name in only:
            parts.append(graphview.render(graphview.graph_tree(g, name, source)))
    return "\n".join(parts + [graphview.render(graphview.legend())])


# -- the readable tree ---------------------------------------------------------

def test_tree_of_control_flow_with_gradients(golden):
    source = CONTROL_FLOW.read_text()
    golden("graphview/control_flow.txt",
           views(source, ["a"], only=("simplify", "autodiff+simplify")))


def test_tree_of_grad_inside_a_loop_at_every_stage(golden):
    golden("graphview/grad_in_loop.txt", views(GRAD_IN_LOOP, ["w"]))


def visible(graph, role):
    """Nodes of a role that a default view shows (scalar constants are written inline)."""
    return [n for n, _ in walk(graph.body) if n.role == role and graphview.literal(n) is None]


@pytest.mark.parametrize("source, grad", [(CONTROL_FLOW.read_text(), "a"), (GRAD_IN_LOOP, "w")])
def test_adjoint_and_tape_nodes_are_marked(source, grad):
    graph = graphview.stages(source, [grad])[-1][1]
    lines = graphview.render(graphview.graph_tree(graph), width=200).splitlines()
    for role, badge in (("adjoint", "∇ "), ("tape", "τ ")):
        nodes = visible(graph, role)
        assert nodes, role
        marked = [line for line in lines if badge in line]
        assert len(marked) == len(nodes), role
        for node in nodes:
            head = ", ".join(graphview.value_ref(o) for o in node.outputs)
            assert any(f"{badge}{head} = {node.op}(" in line for line in marked), (role, head)
    forward = [line for line in lines if " = " in line and "∇" not in line and "τ" not in line]
    assert any("mul(" in line for line in forward)


def test_constants_can_be_shown_as_nodes():
    graph = graphview.stages(GRAD_IN_LOOP)[-1][1]
    inline = graphview.render(graphview.graph_tree(graph))
    shown = graphview.render(graphview.graph_tree(graph, consts=True))
    assert "mul(0.1, " in inline and "const()" not in inline
    assert "const() {value=[0.10000000149011612]}" in shown
    assert len(shown.splitlines()) > len(inline.splitlines())


def test_a_big_graph_renders():
    source = "var x = 1.0\ny = " + " + ".join(["x * 2"] * 2000) + "\nout y\n"
    graph = graphview.stages(source, ["x"])[-1][1]
    text = graphview.render(graphview.graph_tree(graph))
    assert text.count("\n") > 2000 and "grad x (dy/dx)" in text
    assert graphdot.to_dot(graph).endswith("}\n")


# -- stages ------------------------------------------------------------------------

def test_stage_names():
    assert graphview.COMPILE_STAGES == api.COMPILE_STAGES
    assert [n for n, _ in graphview.stages(GRAD_IN_LOOP)] == ["build", "expand_grads",
                                                               "simplify"]
    assert [n for n, _ in graphview.stages(GRAD_IN_LOOP, ["w"])] == [
        "build", "expand_grads", "simplify", "autodiff", "autodiff+simplify"]
    assert graphview.stage_names(True)[-1] == graphview.PLAN_STAGE


@pytest.mark.parametrize("source, grad", [(CONTROL_FLOW.read_text(), ["a"]),
                                          (GRAD_IN_LOOP, ["w"]),
                                          ("var x = arange(3.0)\ny = x * x\nout y\n", ["x"])])
def test_every_stage_verifies(source, grad):
    for name, graph in graphview.stages(source, grad):
        verify(graph)
        assert graph_text(graph), name


def test_stages_are_what_the_api_compiles_and_differentiates():
    prog = gdl.compile(GRAD_IN_LOOP)
    found = dict(graphview.stages(prog, ["w"]))
    assert graph_text(found["simplify"]) == graph_text(prog.graph)
    assert graph_text(found["autodiff+simplify"]) == graph_text(prog.gradient_graph(["w"]))
    assert any(n.op == "grad" for n, _ in walk(found["build"].body))
    assert not any(n.op == "grad" for n, _ in walk(found["expand_grads"].body))


def test_stages_check_the_gradient_request():
    with pytest.raises(gdl.GdlError, match="no `var` of that name"):
        graphview.stages(GRAD_IN_LOOP, ["nope"])


def test_a_non_scalar_output_is_differentiated_with_a_seed():
    graph = graphview.stages("var x = arange(3.0)\ny = x * x\nout y\n", ["x"])[-1][1]
    assert graph.seed is not None
    assert "param seed%" in graphview.render(graphview.graph_tree(graph))


def test_plan_view_lists_launches_and_host_loops():
    graph = graphview.stages(CONTROL_FLOW.read_text(), ["a"])[-1][1]
    text = graphview.render(graphview.plan_tree(graphview.plan_of(graph)))
    assert re.search(r"launch gdl_\w+ \(1 work-item\)", text)
    assert text.count("while on the host") == 2 and text.count("if on the host") == 2
    assert text.count("counted: its kernel loops inside") == 1      # the reverse loop
    assert "∇ %" in text and "τ %" in text


# -- Graphviz ------------------------------------------------------------------------

ID = r"[A-Za-z_][A-Za-z0-9_]*"


def without_strings(dot: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', dot)


def check_dot(dot: str) -> None:
    """Balanced braces, every edge between declared nodes, one statement per line."""
    bare = without_strings(dot)
    depth = 0
    for ch in bare:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    declared = set(re.findall(rf"^\s*({ID}) \[", bare, re.M)) - {"graph", "node", "edge"}
    edges = re.findall(rf"^\s*({ID}) -> ({ID})", bare, re.M)
    assert edges
    for a, b in edges:
        assert a in declared and b in declared, (a, b)


@pytest.mark.parametrize("source, grad", [(CONTROL_FLOW.read_text(), ["a"]),
                                          (GRAD_IN_LOOP, ["w"])])
def test_dot_is_well_formed_and_deterministic(source, grad):
    for name, graph in graphview.stages(source, grad):
        check_dot(graphdot.to_dot(graph, name))
        check_dot(graphdot.to_dot(graph, name, consts=True))
    first = graphdot.to_dot(graphview.stages(source, grad)[-1][1])
    second = graphdot.to_dot(graphview.stages(source, grad)[-1][1])
    assert first == second
    assert "subgraph cluster_" in first and "[adjoint]" in first and "[tape]" in first
    assert 'fillcolor="#f4e1f7"' in first


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_dot(tmp_path):
    graph = graphview.stages(CONTROL_FLOW.read_text(), ["a"])[-1][1]
    proc = subprocess.run(["dot", "-Tsvg"], input=graphdot.to_dot(graph), text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# -- gdl graph ---------------------------------------------------------------------

@pytest.fixture
def gdl_main(capsys):
    """`gdl_main(*args)` runs main in-process and returns (status, stdout, stderr)."""
    def call(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return call


@pytest.fixture
def program(tmp_path, monkeypatch):
    """`program(text)` writes a .gdl file in a temp cwd and returns its name."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "p.gdl") -> str:
        Path(name).write_text(text, encoding="utf-8")
        return name

    return write


def test_cli_default_is_the_tree(program, gdl_main, golden):
    status, out, err = gdl_main("graph", program(DOT_PROGRAM), "--grad", "x")
    assert status == 0 and err == ""
    golden("graphview/cli_dot_grad.txt", out)


def test_cli_stage(program, gdl_main):
    status, out, err = gdl_main("graph", program(GRAD_IN_LOOP), "--stage", "expand_grads")
    assert status == 0, err
    assert out.startswith("program after expand_grads")
    assert "∇ " in out and not re.search(r"%\d+ = grad\(", out)
    assert "program after simplify" not in out
    status, after, _ = gdl_main("graph", "p.gdl", "--after", "expand_grads")
    assert status == 0 and after == out


def test_cli_all_stages(program, gdl_main):
    status, out, err = gdl_main("graph", program(GRAD_IN_LOOP), "--grad", "w", "--all-stages")
    assert status == 0, err
    titles = [line.split(" · ")[0] for line in out.splitlines() if " · " in line
              and not line.startswith(("│", "├", "└", " "))]
    assert titles == ["program after build", "program after expand_grads",
                      "program after simplify", "gradients of x with respect to w after autodiff",
                      "gradients of x with respect to w after autodiff+simplify",
                      "plan of the gradient graph"]


def test_cli_unknown_stage_exits_2_with_the_names(program, gdl_main):
    status, out, err = gdl_main("graph", program(DOT_PROGRAM), "--stage", "nope")
    assert status == 2 and out == ""
    for name in graphview.ALL_STAGES:
        assert f"'{name}'" in err
    status, out, err = gdl_main("graph", "p.gdl", "--stage", "autodiff")
    assert status == 2 and out == ""
    assert "needs --grad" in err and "build, expand_grads, simplify, plan" in err


def test_cli_text_is_the_printer_form(program, gdl_main):
    name = program(DOT_PROGRAM)
    status, out, err = gdl_main("graph", name, "--grad", "x", "--stage", "autodiff", "--text")
    assert status == 0, err
    graph = dict(graphview.stages(DOT_PROGRAM, ["x"]))["autodiff"]
    assert out == graph_text(graph, "gradients of y with respect to x after autodiff")
    status, out, _ = gdl_main("graph", name, "--grad", "x", "--text")
    assert out == (ROOT / "tests" / "golden" / "cli" / "graph_dot_grad.txt").read_text()


def test_cli_dot_writes_a_file(program, gdl_main, tmp_path):
    status, out, err = gdl_main("graph", program(GRAD_IN_LOOP), "--grad", "w", "--stage",
                                "autodiff", "--dot", "g.dot")
    assert status == 0, err
    assert "g.dot" in err and "after autodiff" in err
    assert out.startswith("gradients of x with respect to w after autodiff")
    dot = (tmp_path / "g.dot").read_text()
    check_dot(dot)
    graph = dict(graphview.stages(GRAD_IN_LOOP, ["w"]))["autodiff"]
    assert dot == graphdot.to_dot(graph, "gradients of x with respect to w after autodiff")


def test_cli_dot_to_stdout(program, gdl_main):
    status, out, err = gdl_main("graph", program(DOT_PROGRAM), "--dot", "-")
    assert status == 0 and err == ""
    assert out.startswith('digraph "program after simplify" {')
    check_dot(out)


def test_cli_dot_to_an_unwritable_place(program, gdl_main):
    status, _, err = gdl_main("graph", program(DOT_PROGRAM), "--dot", "no/such/dir/g.dot")
    assert status == 1 and "cannot write no/such/dir/g.dot" in err


def test_cli_plan_stage(program, gdl_main):
    status, out, err = gdl_main("graph", program(DOT_PROGRAM), "--grad", "x", "--stage", "plan")
    assert status == 0, err
    assert out.startswith("plan of the gradient graph") and "launch gdl_" in out


@pytest.mark.parametrize("extra", [(), ("--all-stages",), ("--all-stages", "--text"),
                                   ("--dot", "-")])
def test_cli_on_an_ascii_console_spells_the_symbols(extra):
    """An ASCII stdout gets `|`, `A`, `T`, `...` and ASCII tree guides, not an encoding error."""
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["PYTHONIOENCODING"] = "ascii"
    proc = subprocess.run([sys.executable, "-m", "gdl.cli", "graph", "programs/seed/dot.gdl",
                           "--grad", "x", *extra], cwd=ROOT, env=env, capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("ascii", "replace")
    text = proc.stdout.decode("ascii")
    assert "grad x" in text and " | " in text
