"""Fuzzing (issue 6, "Hardening"): nothing but a GdlError escapes, nothing hangs.

Two sources of programs go through compile, differentiation and a run:

- programs generated from `gdl/grammar.lark` by hypothesis' `from_lark`,
  every terminal drawn from a small pool with spaces around it, so most
  programs lex and the parser and the builder get to see them;
- programs from `programs/` mutated at the token level (tokens deleted,
  duplicated, swapped, replaced), which keeps them close to valid, so the
  builder, autodiff and the runtime get to see them.

Each example either runs or raises a GdlError; any other exception, or a
run longer than HANG_SECONDS, fails the test.  The command line is checked
in process on the same programs: exit status 0 or 1, never 3 (internal).

The suite runs a bounded number of examples; a longer search is
`GDL_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py -p no:cacheprovider`
(README, "Fuzzing").
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import gdl
from gdl import cli
from gdl.parse import _parser

pytestmark = pytest.mark.opencl

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = (ROOT / "gdl" / "grammar.lark").read_text(encoding="utf-8")
PROGRAMS = sorted((ROOT / "programs").rglob("*.gdl"))
EXAMPLES = int(os.environ.get("GDL_FUZZ_EXAMPLES", "40"))
HANG_SECONDS = 60          # far above any honest run here; a loop bound keeps runs short
MAX_ITERS = 100

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="GDL_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=list(HealthCheck), database=None)

NAMES = ["x", "y", "z", "w", "n", "i", "f", "sum", "exp", "ones", "zeros", "where", "matmul",
         "grad", "stop_grad", "reshape", "max", "sqrt", "log", "arange", "f32", "i32",
         "shape", "axis", "seed", "dtype"]


def terminal_pool(grammar: Lark) -> dict[str, st.SearchStrategy[str]]:
    """A strategy per terminal: the literal keyword or punctuation, or a small pool."""
    pools: dict[str, st.SearchStrategy[str]] = {
        "NAME": st.sampled_from(NAMES),
        "INT": st.sampled_from(["0", "1", "2", "3", "-1", "100"]),
        "FLOAT": st.sampled_from(["0.0", "1.0", "0.5", "2.5", "1e3", "1e-3", ".5"]),
        "STRING": st.sampled_from(['"msg"', '""', '"a\\"b"']),
        "_NL": st.just("\n"),
    }
    for term in grammar.terminals:
        if term.name not in pools and term.pattern.type == "str":
            pools[term.name] = st.just(term.pattern.value)
    return {name: s.map(lambda t: f" {t} ") for name, s in pools.items()}


LARK = Lark(GRAMMAR, start="start", parser="lalr", lexer="basic")
# Bare programs rarely get past the builder (no `out`, unbound names), so
# half are wrapped: the pool's names bound first, an output last.
PRELUDE = ("var x = ones([3])\nvar w = 0.5\ny = 2.0\nz = [1.0, 2.0, 3.0]\nn = 3\ni = 0\n"
           "f = x\n")
GENERATED = st.one_of(
    from_lark(LARK, start="start", explicit=terminal_pool(LARK)),
    st.lists(from_lark(LARK, start="_stmt", explicit=terminal_pool(LARK)), min_size=1,
             max_size=4).map(lambda stmts: PRELUDE + "\n".join(stmts) + "\nout x, y\n"))


@contextlib.contextmanager
def hang_guard(source: str):
    """Fail (not hang) if the body runs longer than HANG_SECONDS."""
    def alarm(signum, frame):
        raise AssertionError(f"run took over {HANG_SECONDS} s:\n{source}")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def exercise(source: str, grads: bool, check_nan: bool) -> None:
    """Compile, run and differentiate `source`; only a GdlError may end it early.

    The gradient run differentiates the first float output, seeded with ones
    where it is not a scalar, so most programs that run reach autodiff.
    """
    with hang_guard(source), contextlib.redirect_stdout(io.StringIO()):
        try:
            prog = gdl.compile(source)
            prog.lint()
            result = prog.run(max_iters=MAX_ITERS, check_nan=check_nan)
            floats = [name for name in prog.outputs
                      if np.asarray(result.outputs[name]).dtype.kind == "f"]
            if grads and prog.variables and floats:
                value = np.asarray(result.outputs[floats[0]])
                seed = None if value.shape == () else np.ones_like(value)
                prog.run(grad=prog.variables, of=floats[0], seed=seed, max_iters=MAX_ITERS,
                         check_nan=check_nan)
        except gdl.GdlError as err:
            assert str(err), "a GdlError with no message"


def command_line(source: str, tmp: Path) -> None:
    """The command line on the same program: a user error at worst, never internal."""
    path = tmp / "fuzz.gdl"
    path.write_text(source, encoding="utf-8")
    with hang_guard(source), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()) as err:
        status = cli.main(["run", str(path), "--max-iters", str(MAX_ITERS)])
    assert status in (0, 1), f"gdl run exited {status}:\n{err.getvalue()}\n{source}"
    assert "Traceback" not in err.getvalue()


# ---------------------------------------------------------------- generated

@FUZZ
@given(source=GENERATED, grads=st.booleans(), check_nan=st.booleans())
def test_generated_programs_give_a_result_or_a_gdl_error(source, grads, check_nan):
    exercise(source, grads, check_nan)


@FUZZ
@given(source=GENERATED)
def test_generated_programs_through_the_command_line(source, tmp_path_factory):
    command_line(source, tmp_path_factory.mktemp("fuzz"))


# ---------------------------------------------------------------- mutated

def tokens(source: str) -> list[str]:
    """`source`'s tokens as text, newlines kept as tokens so statements stay apart."""
    return [t.value if t.type != "_NL" else "\n" for t in _parser().lex(source)]


TOKENS = {p.relative_to(ROOT).as_posix(): tokens(p.read_text(encoding="utf-8"))
          for p in PROGRAMS}
EXTRA = ["(", ")", "[", "]", "{", "}", ",", "=", "+", "*", "/", "@", "**", "-", "<", "and",
         "not", "if", "else", "while", "var", "input", "out", "1", "0", "2.0", "true", "\n",
         "x", "grad", "stop_grad", ":", "f32[3]", "i32"]


@st.composite
def mutated(draw) -> str:
    name = draw(st.sampled_from(sorted(TOKENS)))
    toks = list(TOKENS[name])
    for _ in range(draw(st.integers(1, 3))):
        if not toks:
            break
        i = draw(st.integers(0, len(toks) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert"]))
        if kind == "delete":
            del toks[i]
        elif kind == "duplicate":
            toks.insert(i, toks[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(toks) - 1))
            toks[i], toks[j] = toks[j], toks[i]
        elif kind == "replace":
            toks[i] = draw(st.sampled_from(toks + EXTRA))
        else:
            toks.insert(i, draw(st.sampled_from(EXTRA)))
    return " ".join(toks)


@FUZZ
@given(source=mutated(), grads=st.booleans(), check_nan=st.booleans())
def test_mutated_programs_give_a_result_or_a_gdl_error(source, grads, check_nan):
    exercise(source, grads, check_nan)


@FUZZ
@given(source=mutated())
def test_mutated_programs_through_the_command_line(source, tmp_path_factory):
    command_line(source, tmp_path_factory.mktemp("fuzz"))


def test_every_program_is_mutated_from():
    """The mutation source is the real program set, tokenised."""
    assert len(TOKENS) >= 10 and all(TOKENS.values())


# ---------------------------------------------------------------- big and deep

DEEP = 200
TERMS = 1000

BIG_AND_DEEP = {
    "1000-term sum": "var x = 1.0\ny = " + " + ".join(["x * 2.0"] * TERMS) + "\nout y\n",
    "1000-term mixed chain": "var x = 0.5\ny = " + " ".join(
        f"x {'+-*/'[k % 4]}" for k in range(TERMS)) + " x\nout y\n",
    "200-deep parentheses": "var x = 1.0\ny = " + "(" * DEEP + "x * x" + ")" * DEEP + "\nout y\n",
    "200-deep calls": "var x = 0.5\ny = " + "sin(" * DEEP + "x" + ")" * DEEP + "\nout y\n",
    "200-deep unary minus": "var x = 1.0\ny = " + "-" * DEEP + "x\nout y\n",
    "200-deep not": "b = " + "not " * DEEP + "true\nout b\n",
    "200-deep power chain": "var x = 1.0\ny = " + "x ** " * DEEP + "1.0\nout y\n",
    "200-deep if": "var x = 1.0\n" + "if x > 0.0 {\n" * DEEP + "x = x * 1.001\n"
                   + "}\n" * DEEP + "out x\n",
    "200-deep while": "var x = 1.0\ni = 0\n" + "while i < 1 {\n" * DEEP + "i = i + 1\n"
                      + "}\n" * DEEP + "out x, i\n",
    "200-deep slices": "var x = ones([3])\ny = x" + "[0:3]" * DEEP + "\nout y\n",
    "200 nested fn calls": "".join(
        f"fn g{k}(a) {{ return g{k - 1}(a) + 1.0 }}\n" if k else "fn g0(a) { return a }\n"
        for k in range(DEEP)) + f"var x = 1.0\ny = g{DEEP - 1}(x)\nout y\n",
}


@pytest.mark.parametrize("name", sorted(BIG_AND_DEEP))
def test_big_and_deep_programs_compile(name):
    prog = gdl.compile(BIG_AND_DEEP[name])
    assert prog.outputs


@pytest.mark.parametrize("name", ["1000-term sum", "1000-term mixed chain",
                                  "200-deep parentheses", "200-deep calls",
                                  "200 nested fn calls"])
def test_big_and_deep_programs_differentiate(name):
    with hang_guard(name):
        result = gdl.compile(BIG_AND_DEEP[name]).run(grad=["x"])
    assert result.grads["x"].shape == ()


def test_1000_term_sum_has_the_right_gradient():
    result = gdl.compile(BIG_AND_DEEP["1000-term sum"]).run(grad=["x"])
    assert float(result.grads["x"]) == pytest.approx(2.0 * TERMS, rel=1e-6)


def test_list_literals_nested_past_the_rank_limit_are_an_error():
    source = "var x = " + "[" * 40 + "1.0" + "]" * 40 + "\nout x\n"
    with pytest.raises(gdl.GdlError, match="33 dimensions, expected at most 32") as info:
        gdl.compile(source)
    assert info.value.line == 1


def test_shapes_past_the_rank_limit_are_an_error():
    with pytest.raises(gdl.GdlError, match="40 dimensions, expected at most 32"):
        gdl.compile("var x = ones([" + ",".join(["1"] * 40) + "])\nout x\n")
    with pytest.raises(gdl.GdlError, match="40 dimensions, expected at most 32"):
        gdl.compile("input x : f32[" + ",".join(["1"] * 40) + "]\nout x\n")


def assert_exact_gradients(prog, starts: dict[str, float], h: float = 1e-6) -> None:
    """The gradient graph verifies, and each var's gradient of `x` (f64 scalars)
    matches central differences."""
    from gdl.verify import verify
    verify(prog.gradient_graph(list(starts), "x"))
    got = prog.run(grad=list(starts))
    for name, start in starts.items():
        up = prog.run(inputs={name: start + h}).outputs["x"]
        down = prog.run(inputs={name: start - h}).outputs["x"]
        assert float(got.grads[name]) == pytest.approx((up - down) / (2 * h), rel=1e-5)


def nested_ifs(depth: int) -> str:
    """`depth` nested ifs, all taken (x stays small), each level changing x."""
    lines = ["var x : f64 = 0.7", "var w : f64 = 1.3"]
    for k in range(depth):
        pad = "    " * k
        lines += [f"{pad}x = 0.{k % 5 + 5} * x * w + 0.2 * sin(x)",
                  f"{pad}if x {'>' if k % 2 else '<'} {'-' if k % 2 else ''}10.0 {{"]
    lines.append("    " * depth + "x = x * x")
    for k in reversed(range(depth)):
        pad = "    " * k
        lines += [f"{pad}}} else {{", f"{pad}    x = log(x * x + 1.0)", f"{pad}}}"]
    return "\n".join(lines + ["out x", ""])


def test_deeply_nested_ifs_differentiate_exactly():
    """The adjoint of a 8-deep nest is a valid graph and matches central differences."""
    assert_exact_gradients(gdl.compile(nested_ifs(8)), {"x": 0.7, "w": 1.3})


def nested_whiles(depth: int) -> str:
    """`depth` nested loops of two trips each, each level changing x."""
    lines = ["var x : f64 = 0.7", "var w : f64 = 1.1"]
    for k in range(depth):
        pad = "    " * k
        lines += [f"{pad}i{k} = 0", f"{pad}while i{k} < 2 {{",
                  f"{pad}    x = 0.{k % 5 + 5} * x * w + 0.2 * sin(x)"]
    lines.append("    " * depth + "x = x * 1.01")
    for k in reversed(range(depth)):
        pad = "    " * k
        lines += [f"{pad}    i{k} = i{k} + 1", f"{pad}}}"]
    return "\n".join(lines + ["out x", ""])


def test_deeply_nested_whiles_differentiate_exactly():
    """The adjoint of a 5-deep loop nest is a valid graph and matches central differences."""
    assert_exact_gradients(gdl.compile(nested_whiles(5)), {"x": 0.7, "w": 1.1})
