"""A catalogue of bad input, one row per kind of mistake (issue 6, "Hardening").

Each row is a program file (or none), a command line, the exit status the
command line must give, where the error sits (line, column; None where no
source position exists) and regexes its message must match: the thing named,
what was found, what was expected.  Every row is checked twice:

- through the Python API: `gdl.load(FILE).run(**api)` raises a `GdlError`
  with that `.line`/`.column` (rows whose mistake only exists on the command
  line, such as an unparsable `--set`, have `api=None`);
- through the command line in a subprocess, as a shell sees it: the exit
  status (1 a user error, 2 a usage error; language.md §7), never a Python
  traceback, and for errors with a position the source line with a caret
  under the column.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import gdl

pytestmark = pytest.mark.opencl

FILE = "prog.gdl"
VEC = "var x = ones([3])\ny = x * 2.0\nout y\n"                # a non-scalar output
SCALAR = "var x = ones([3])\ny = sum(x * x)\nout y\n"
WITH_INPUT = "input n : i32[3]\nvar x = ones([3])\ny = sum(x) + f32(sum(n))\nout y, n\n"
LOOP = "var x = ones([2])\nwhile sum(x) > 0.0 {\n    x = x * 2.0\n}\nout x\n"


@dataclass(frozen=True)
class Bad:
    """One kind of bad input and what gdl must say about it."""

    kind: str
    source: str | bytes | None          # FILE's content; None: FILE is not written
    args: tuple[str, ...] = ()          # after `gdl run FILE`, unless `argv` is given
    where: tuple[int, int] | None = None
    patterns: tuple[str, ...] = ()
    status: int = 1
    api: dict | None = field(default_factory=dict)    # Program.run's kwargs; None: CLI only
    argv: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()

    def command(self) -> tuple[str, ...]:
        return self.argv if self.argv is not None else ("run", FILE, *self.args)


CASES = [
    # -- syntax: brackets, stray tokens, numbers, strings, keywords -----------
    Bad("unclosed paren, reported at the opener",
        "var x = ones([3]\ny = x\nout y\n", where=(1, 13),
        patterns=(r"`\(` is never closed", r"expected `\)`",
                  r"found name `y` at line 2, column 1")),
    Bad("unclosed paren at the end of the input",
        "var x = 1.0\ny = exp(x", where=(2, 8),
        patterns=(r"`\(` is never closed", r"expected `\)`", "end of input")),
    Bad("unclosed bracket, reported at the opener",
        "var x = [1.0, 2.0\ny = 3\nout x\n", where=(1, 9),
        patterns=(r"`\[` is never closed", r"expected `\]`", r"found name `y` at line 2")),
    Bad("unclosed brace, reported at the opener",
        "var x = 1.0\nif x > 0.0 {\n    x = x * 2.0\nout x\n", where=(2, 12),
        patterns=("block opened here is never closed", "expected `}`", "end of input")),
    Bad("stray closing paren",
        "var x = (1.0 + 2.0))\nout x\n", where=(1, 20),
        patterns=(r"unexpected `\)`", r"no `\(` is open")),
    Bad("closing bracket of the wrong kind",
        "var x = 1.0\ny = [1, 2)\nout y\n", where=(2, 10),
        patterns=(r"unexpected `\)`", r"expected `\]` to close the `\[` opened at line 2")),
    Bad("stray closing brace",
        "var x = ones([3])\ny = x * 2.0\n}\nout y\n", where=(3, 1),
        patterns=("unexpected `}`", "no block is open")),
    Bad("stray token",
        "var x = ones([3])\ny = x x\nout y\n", where=(2, 7),
        patterns=("unexpected name `x`", "expected an operator or the end of the statement")),
    Bad("missing operand",
        "var x = 1.0\ny = x *\nout y\n", where=(2, 8),
        patterns=("unexpected end of line", "expected an expression")),
    Bad("stray character",
        "var x = 1.0 $ 2\nout x\n", where=(1, 13),
        patterns=(r"unexpected character `\$`", "expected a name, a number")),
    Bad("non-ASCII letter in a name",
        "var caf\u00e9 = 1.0\nout caf\u00e9\n", where=(1, 8),
        patterns=(r"unexpected character `\u00e9` \(U\+00E9\)", "names are ASCII letters")),
    Bad("invisible control character",
        "var x = 1.0\ny = x \u200b+ 1.0\nout y\n", where=(2, 7),
        patterns=(r"unexpected character U\+200B", "expected a name, a number")),
    Bad("number with two dots",
        "var x = 1.2.3\nout x\n", where=(1, 9),
        patterns=(r"bad number `1\.2\.3`", r"at most one `\.`", "expected a number such as")),
    Bad("number with an empty exponent",
        "var x = 1e\nout x\n", where=(1, 9),
        patterns=("bad number `1e`", "exponent needs digits", "expected a number such as")),
    Bad("hexadecimal number",
        "var x = 0x10\nout x\n", where=(1, 9),
        patterns=("bad number `0x10`", "decimal", "expected a number such as")),
    Bad("unterminated string",
        'var x = 1.0\nassert x > 0.0, "too small\nout x\n', where=(2, 17),
        patterns=('unexpected character `"`', "string is not closed on this line")),
    Bad("keyword as a declared name",
        "var if = 1.0\nout if\n", where=(1, 5),
        patterns=("keyword `if`", "cannot be used as a name", "expected a name")),
    Bad("keyword as an assigned name",
        "var x = 1.0\nwhile = 2.0\nout x\n", where=(2, 1),
        patterns=("keyword `while`", "cannot be used as a name", "expected a name")),
    Bad("chained comparison",
        "var x = [1.0, 2.0]\nok = 0.0 < sum(x) < 5.0\nout ok\n", where=(2, 19),
        patterns=("unexpected `<`", "do not chain", "expected")),

    # -- names and calls -------------------------------------------------------
    Bad("unknown name, with a suggestion",
        "var x = ones([3])\nvelocity = 2.0\ny = x * velocty\nout y\n", where=(3, 9),
        patterns=("unknown name `velocty`", "not bound", "did you mean `velocity`")),
    Bad("unknown name without a near one",
        "var x = ones([3])\ny = x * speed\nout y\n", where=(2, 9),
        patterns=("unknown name `speed`",)),
    Bad("unknown function, with a suggestion",
        "var x = ones([3])\ny = sqtr(x)\nout y\n", where=(2, 5),
        patterns=("unknown function `sqtr`", "neither a built-in nor an `fn`",
                  "did you mean `sqrt`")),
    Bad("unknown output",
        "var x = ones([3])\ny = x\nout z\n", where=(3, 5),
        patterns=("unknown name `z`",)),
    Bad("too many arguments to a built-in",
        "var x = ones([3])\ny = exp(x, x)\nout y\n", where=(2, 5),
        patterns=("`exp` takes at most 1 argument", r"\(x\)", "found 2")),
    Bad("missing argument of a built-in",
        "var x = ones([3])\ny = maximum(x)\nout y\n", where=(2, 5),
        patterns=("`maximum` needs its argument `b`", r"maximum\(a, b\)")),
    Bad("wrong number of arguments to an fn",
        "fn f(a) {\n    return a * 2.0\n}\nvar x = 1.0\ny = f(x, x)\nout y\n", where=(5, 5),
        patterns=("`f` takes 1 argument", r"\(a\)", "found 2")),
    Bad("unknown keyword argument",
        "var x = ones([3])\ny = sum(x, axes=0)\nout y\n", where=(2, 12),
        patterns=("`sum` has no parameter `axes`", "expected one of: x, axis, keepdims")),
    Bad("duplicated keyword argument",
        "var x = ones([2, 3])\ny = sum(x, axis=0, axis=1)\nout y\n", where=(2, 20),
        patterns=("`sum` got the keyword argument `axis=` twice", "at most once")),
    Bad("keyword argument to a built-in that takes none",
        "var x = ones([3])\ny = exp(x, axis=0)\nout y\n", where=(2, 12),
        patterns=("`exp` has no parameter `axis`", "expected one of: x")),
    Bad("keyword argument to an fn",
        "fn f(a) {\n    return a\n}\nvar x = 1.0\ny = f(x, b=2.0)\nout y\n", where=(5, 10),
        patterns=("`f` takes positional arguments only", "found `b=`")),
    Bad("keyword argument to grad",
        "var x = 1.0\ny = grad(x * x, x, seed=1.0)\nout y\n", where=(2, 20),
        patterns=("`grad` takes no keyword arguments", "found `seed=`",
                  r"expected grad\(y, x\)")),
    Bad("keyword argument to print",
        "var x = 1.0\nprint(x, sep=1)\nout x\n", where=(2, 13),
        patterns=("`print` takes the values to print, not keyword arguments",)),
    Bad("shape clash inside an fn body, reported there and at the call",
        "fn sq(a) {\n    return a @ a\n}\nvar x = ones([2, 3])\ny = sq(x)\nout y\n",
        where=(2, 12), patterns=("inner dimensions 3 and 2 differ",
                                 r"in `sq\(f32\[2, 3\]\)`, called at line 5, column 5")),
    Bad("built-in name re-bound",
        "var x = [1.0, 2.0]\nsum = 3\nout x\n", where=(2, 1),
        patterns=("`sum` is a built-in name", "choose another name")),
    Bad("name declared twice",
        "var a = ones([3])\nvar a = zeros([3])\nout a\n", where=(2, 5),
        patterns=("`a` is declared twice",)),

    # -- shapes, dtypes, axes, indices -----------------------------------------
    Bad("shape clash in +",
        "var a = ones([3])\nvar b = ones([4])\ny = a + b\nout y\n", where=(3, 5),
        patterns=(r"cannot broadcast f32\[3\] with f32\[4\]",)),
    Bad("matmul inner dimensions",
        "var a = ones([2, 3])\nvar b = ones([4, 2])\ny = a @ b\nout y\n", where=(3, 5),
        patterns=(r"f32\[2, 3\] @ f32\[4, 2\]", "inner dimensions 3 and 4 differ")),
    Bad("concat shapes",
        "var a = ones([2, 3])\nvar b = ones([4, 2])\ny = concat([a, b], axis=0)\nout y\n",
        where=(3, 5), patterns=("`concat` along axis 0", r"f32\[2, 3\]", r"f32\[4, 2\]")),
    Bad("reshape to another size",
        "var a = ones([2, 3])\ny = reshape(a, [4, 2])\nout y\n", where=(2, 5),
        patterns=(r"cannot reshape f32\[2, 3\] \(6 elements\)", r"\[4, 2\] \(8 elements\)")),
    Bad("declared dtype clash",
        "var x: f64[3] = f32(ones([3]))\nout x\n", where=(1, 17),
        patterns=(r"declared f64\[3\]", r"its value is f32\[3\]")),
    Bad("non-bool condition of where",
        "input n : i32[3]\nvar a = ones([3])\ny = where(n, a, a)\nout y\n", where=(3, 5),
        patterns=("`where` needs a bool condition", r"found i32\[3\]"),
        api={"inputs": {"n": [1, 0, 1]}}),
    Bad("and of floats",
        "var a = ones([3])\ny = a and a\nout y\n", where=(2, 5),
        patterns=("`and` needs bool operands", r"found f32\[3\]")),
    Bad("unknown dtype",
        "var x = ones([3], dtype=f16)\nout x\n", where=(1, 25),
        patterns=("`dtype=` takes one of f32, f64, i32, bool", "found `f16`")),
    Bad("integer var",
        "var counts = arange(5)\nout counts\n", where=(1, 5),
        patterns=("var `counts` must be a float tensor", r"found i32\[5\]")),
    Bad("axis out of range",
        "var a = ones([2, 3])\ny = sum(a, axis=2)\nout y\n", where=(2, 5),
        patterns=("axis 2 is out of range", "rank-2", "expected -2 to 1")),
    Bad("axis repeated",
        "var a = ones([2, 3])\ny = sum(a, axis=[0, -2])\nout y\n", where=(2, 5),
        patterns=("axis 0 is repeated in `sum`", r"found axis=\[0, -2\]", "at most once")),
    Bad("transpose axes not a permutation",
        "var a = ones([2, 3])\ny = transpose(a, axes=[0, 0])\nout y\n", where=(2, 5),
        patterns=("permutation of the axes 0..1", r"found axes=\[0, 0\]")),
    Bad("index out of range at compile time",
        "var a = ones([3])\ny = a[3]\nout y\n", where=(2, 7),
        patterns=("index 3 is out of range for axis 0 of length 3", "expected -3 to 2")),
    Bad("too many indices",
        "var a = ones([3])\ny = a[0, 1]\nout y\n", where=(2, 5),
        patterns=("too many indices", r"rank 1 \(f32\[3\]\)", "2 are given")),
    Bad("float index",
        "var a = ones([3])\ny = a[1.5]\nout y\n", where=(2, 7),
        patterns=("an index must be an integer", "found f32")),
    Bad("index out of range at run time",
        "var M = ones([4, 2])\ns = zeros([2])\ni = 0\nwhile i <= 4 {\n    s = s + M[i]\n"
        "    i += 1\n}\nout s\n", where=(5, 13),
        patterns=("index 4 is out of range", "length 4", "expected -4 to 3")),
    Bad("random seed that is not an integer",
        "var x = rand([3], seed=1.5)\nout x\n", where=(1, 9),
        patterns=("seed of `rand` must be an integer scalar", "found float")),

    # -- gradients -------------------------------------------------------------
    Bad("grad of an integer value",
        "var a = ones([3])\nk = arange(3)\ny = grad(sum(k), k)\nout y\n", where=(3, 18),
        patterns=("cannot differentiate with respect to `k`", r"i32\[3\]", "float")),
    Bad("grad with respect to an input",
        "input d : f32[3]\nvar a = ones([3])\ny = grad(sum(a * d), d)\nout y\n",
        where=(3, 22), patterns=("`d` is an input", "declare it with `var d")),
    Bad("grad with respect to an unknown name",
        "var weights = ones([3])\ny = grad(sum(weights), weight)\nout y\n", where=(2, 24),
        patterns=("unknown name `weight`", "did you mean `weights`")),
    Bad("grad of a non-scalar without a seed",
        "var a = ones([3])\ny = grad(a * 2.0, a)\nout y\n", where=(2, 5),
        patterns=(r"non-scalar \(f32\[3\]\) needs a seed", r"grad\(sum\(y\), x\)")),
    Bad("grad seed of the wrong shape",
        "var a = ones([3])\ny = grad(a * 2.0, a, ones([4]))\nout y\n", where=(2, 22),
        patterns=(r"must have the shape of y, f32\[3\]", r"found f32\[4\]")),
    Bad("--grad naming an input", WITH_INPUT, ("--grad", "n", "--of", "y"),
        patterns=("input `n`", "declare it with `var n"),
        api={"grad": ["n"], "of": "y", "inputs": {"n": [1, 2, 3]}}),
    Bad("--grad naming an unknown name", SCALAR, ("--grad", "zz"),
        patterns=("`zz`", "no `var` of that name", "the vars are x"), api={"grad": ["zz"]}),
    Bad("--grad of an integer output", WITH_INPUT,
        ("--grad", "x", "--of", "n", "--set", "n=[1, 1, 1]"),
        patterns=("cannot differentiate output `n`", r"i32\[3\]", "only float outputs"),
        api={"grad": ["x"], "of": "n", "inputs": {"n": [1, 1, 1]}}),
    Bad("--of naming a non-output", VEC, ("--grad", "x", "--of", "x"),
        patterns=("`x` is not an output", "the outputs are y"), api={"grad": ["x"], "of": "x"}),
    Bad("--grad with several outputs and no --of", WITH_INPUT,
        ("--grad", "x", "--set", "n=[1, 1, 1]"),
        patterns=(r"several outputs \(y, n\)", "--of NAME"),
        api={"grad": ["x"], "inputs": {"n": [1, 1, 1]}}),
    Bad("non-scalar output without a seed", VEC, ("--grad", "x"),
        patterns=(r"output `y` is f32\[3\], not a scalar", "pass a seed", r"sum\(y\)"),
        api={"grad": ["x"]}),
    Bad("seed of the wrong shape", VEC, ("--grad", "x", "--seed", "ones([4])"),
        patterns=("seed of `y`", r"declared f32\[3\]", r"shape \[4\]"),
        api={"grad": ["x"], "seed": np.ones(4, np.float32)}),
    Bad("seed without a gradient", SCALAR, ("--seed", "1.0"),
        patterns=("a seed was given but no gradient was asked", "--grad NAME"),
        api={"seed": 1.0}),
    Bad("unparsable --seed", VEC, ("--grad", "x", "--seed", "[1, 2"),
        patterns=("bad value for --seed", r"`\[` is never closed", r"expected `\]`"), api=None),

    # -- --set values and .npy files ---------------------------------------------
    Bad("unparsable --set value", SCALAR, ("--set", "x=[1, 2"),
        patterns=("bad value for --set x", r"`\[` is never closed"), api=None),
    Bad("--set value that is not a constant", SCALAR, ("--set", "x=ones([3]) * y"),
        patterns=("bad value for --set x", "unknown name `y`"), api=None),
    Bad("--set value of the wrong shape", SCALAR, ("--set", "x=[1, 2]"),
        patterns=(r"var `x` is declared f32\[3\]", r"value given has shape \[2\]"),
        api={"inputs": {"x": [1.0, 2.0]}}),
    Bad("--set value of the wrong dtype", WITH_INPUT, ("--set", "n=[1.5, 2, 3]"),
        patterns=(r"input `n` is declared i32\[3\]", "float", "same_kind"),
        api={"inputs": {"n": np.array([1.5, 2, 3], np.float32)}}),
    Bad("--set naming an unknown name", SCALAR, ("--set", "z=1.0"),
        patterns=("`z` is neither an input nor a var", "they are: x"), api={"inputs": {"z": 1.0}}),
    Bad("--set without NAME=", SCALAR, ("--set", "x"),
        patterns=("bad --set `x`", "expected NAME=VALUE"), api=None),
    Bad("--set of an input with no value", WITH_INPUT, (), where=(1, 1),
        patterns=("input `n` has no default and no value was given", "--set n=")),
    Bad("--set from a missing .npy file", SCALAR, ("--set", "x=@missing.npy"),
        patterns=("bad value for --set x", "no such file: missing.npy"), api=None),
    Bad("--set from a malformed .npy file", SCALAR, ("--set", "x=@garbage.npy"),
        patterns=("garbage.npy is not a .npy file", "expected the header numpy.save writes"),
        api=None),
    Bad("--set from a truncated .npy file", SCALAR, ("--set", "x=@truncated.npy"),
        patterns=("cannot read truncated.npy as a .npy array",), api=None),
    Bad("--set from a .npy of the wrong shape", SCALAR, ("--set", "x=@four.npy"),
        patterns=(r"var `x` is declared f32\[3\]", r"shape \[4\]"),
        api={"inputs": {"x": np.ones(4, np.float32)}}),
    Bad("--set from a .npy of the wrong dtype", WITH_INPUT, ("--set", "n=@floats.npy"),
        patterns=(r"input `n` is declared i32\[3\]", "float64", "same_kind"),
        api={"inputs": {"n": np.ones(3)}}),
    Bad("--set from a .npy of strings", SCALAR, ("--set", "x=@strings.npy"),
        patterns=("var `x` needs numbers", "found <U1"),
        api={"inputs": {"x": np.array(["a", "b", "c"])}}),

    # -- devices -----------------------------------------------------------------
    Bad("unknown device name", SCALAR, ("--device", "nosuchthing"),
        patterns=("no OpenCL device matches `nosuchthing`", "present:"),
        api={"device": "nosuchthing"}),
    Bad("device index out of range", SCALAR, ("--device", "9:9"),
        patterns=("no OpenCL device 9:9", "present:"), api={"device": "9:9"}),
    Bad("GDL_DEVICE set to nonsense", SCALAR, (),
        patterns=("no OpenCL device matches `nonsense`", "GDL_DEVICE=nonsense"),
        env=(("GDL_DEVICE", "nonsense"),)),

    # -- files ---------------------------------------------------------------------
    Bad("empty file", "", patterns=("the program is empty", r"`out NAME`")),
    Bad("file with only comments", "# nothing yet\n\n   # still nothing\n",
        patterns=("the program is empty", "comments only")),
    Bad("program without out", "var x = ones([3])\ny = x * 2.0\n",
        patterns=("no `out` statement", "add `out NAME`")),
    Bad("file that is not UTF-8", b"var x = 1.0  # caf\xe9\nout x\n", where=(1, 19),
        patterns=("not UTF-8 text", "found byte 0xe9", "expected UTF-8")),
    Bad("file that does not exist", None, patterns=("no such file: prog.gdl",)),
    Bad("directory given as FILE", None, argv=("run", "folder"),
        patterns=("folder is a directory, not a GDL program file",)),

    # -- conditions, loops, asserts ---------------------------------------------
    Bad("vector condition of if",
        "var a = ones([3])\nif a > 0.0 {\n    a = a * 2.0\n}\nout a\n", where=(2, 4),
        patterns=("`if` condition must be a bool scalar", r"found bool\[3\]")),
    Bad("float condition of while",
        "var a = ones([3])\nwhile 1.0 {\n    a = a * 2.0\n}\nout a\n", where=(2, 7),
        patterns=("`while` condition must be a bool scalar", "found f32")),
    Bad("iteration limit", LOOP, ("--max-iters", "7"), where=(2, 1),
        patterns=("iteration limit of 7",), api={"max_iters": 7}),
    Bad("--max-iters that is not a number", LOOP, ("--max-iters", "many"), status=2,
        patterns=("--max-iters", "expected a whole number >= 0", "found 'many'"), api=None),
    Bad("negative --max-iters", LOOP, ("--max-iters", "-5"), status=2,
        patterns=("(>= |at least )0", "found -5"), api={"max_iters": -5}),
    Bad("failed assert",
        'var x = ones([3])\nassert sum(x) > 5.0, "too small"\nout x\n', where=(2, 1),
        patterns=("assertion failed: too small",)),
    Bad("recursive fn",
        "fn f(a) {\n    return f(a)\n}\nvar x = 1.0\ny = f(x)\nout y\n", where=(2, 12),
        patterns=("recursive call to `f`", "not allowed")),

    # -- usage ---------------------------------------------------------------------
    Bad("unknown option", SCALAR, argv=("run", FILE, "--bogus"), status=2,
        patterns=("unrecognized arguments: --bogus",), api=None),
    Bad("unknown command", SCALAR, argv=("launch", FILE), status=2,
        patterns=("invalid choice: 'launch'",), api=None),
]


def write_files(folder: Path, case: Bad) -> None:
    """FILE with the row's source, and the data files the rows name."""
    if isinstance(case.source, bytes):
        (folder / FILE).write_bytes(case.source)
    elif case.source is not None:
        (folder / FILE).write_text(case.source, encoding="utf-8")
    (folder / "folder").mkdir()
    (folder / "garbage.npy").write_bytes(b"this is not an array\n")
    np.save(folder / "four.npy", np.ones(4, np.float32))
    np.save(folder / "floats.npy", np.ones(3))
    np.save(folder / "strings.npy", np.array(["a", "b", "c"]))
    np.save(folder / "long.npy", np.ones(100))
    (folder / "truncated.npy").write_bytes((folder / "long.npy").read_bytes()[:200])


def test_the_catalogue_is_big_and_names_are_unique():
    assert len(CASES) >= 40
    assert len({c.kind for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c.api is not None], ids=lambda c: c.kind)
def test_python_api(case, tmp_path, monkeypatch):
    """gdl.load + Program.run raise a GdlError at the row's line and column."""
    write_files(tmp_path, case)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GDL_DEVICE", raising=False)
    for key, value in case.env:
        monkeypatch.setenv(key, value)
    with pytest.raises(gdl.GdlError) as info:
        gdl.load(case.command()[1]).run(**case.api, on_print=lambda text: None)
    err = info.value
    assert (err.line, err.column) == (case.where or (None, None)), str(err)
    for pattern in case.patterns:
        assert re.search(pattern, str(err)), f"{pattern!r} not in {str(err)!r}"


def run_cli(case: Bad, folder: Path) -> subprocess.CompletedProcess:
    """`gdl ARGS` as a shell runs it, in `folder`, with the row's environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "GDL_DEVICE")}
    env.update(case.env)
    return subprocess.run([sys.executable, "-m", "gdl.cli", *case.command()], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)


def caret_column(stderr: str, line: int, text: str) -> int | None:
    """The 1-based column of the caret under the shown source line, or None if not shown."""
    gutter = f"{line:>4} | "
    shown = stderr.splitlines()
    for k, row in enumerate(shown[:-1]):
        if row == gutter + text.replace("\t", " "):
            return shown[k + 1].index("^") - len(gutter) + 1
    return None


@pytest.fixture(scope="module")
def cli_runs(request, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """The command line of every selected row, run at once: a subprocess each, in parallel.

    Each one starts a fresh Python (~0.5 s); one after another they would
    double the whole suite's time.
    """
    cases = [item.callspec.params["case"] for item in request.session.items
             if getattr(item, "module", None) is request.module
             and getattr(item, "originalname", None) == "test_command_line"]

    def run(case: Bad) -> subprocess.CompletedProcess:
        folder = tmp_path_factory.mktemp("cli")
        write_files(folder, case)
        return run_cli(case, folder)

    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        return dict(zip((c.kind for c in cases), pool.map(run, cases)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
def test_command_line(case, cli_runs):
    """Exit status 1 (2 for usage), the message, a caret under the column, no traceback."""
    proc = cli_runs[case.kind]
    assert proc.returncode == case.status, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for pattern in case.patterns:
        assert re.search(pattern, proc.stderr), f"{pattern!r} not in {proc.stderr!r}"
    if case.where is not None:
        line, column = case.where
        assert f"{FILE}:{line}:{column}: " in proc.stderr, proc.stderr
        source = case.source
        if isinstance(source, bytes):      # shown with the bad bytes replaced
            source = source.decode("utf-8", "replace")
        text = source.splitlines()[line - 1]
        assert caret_column(proc.stderr, line, text) == column, proc.stderr


# -- not an error --------------------------------------------------------------

DIVIDE = "var x = ones([3])\nz = x / 0.0\ny = sum(z)\nout y, z\n"


def test_division_by_zero_is_not_an_error_in_python():
    res = gdl.compile(DIVIDE).run(grad=["x"], of="y")
    assert np.isposinf(res.outputs["z"]).all() and np.isposinf(res.outputs["y"])
    assert np.isposinf(res.grads["x"]).all()        # d/dx sum(x / 0) = 1 / 0


def test_division_by_zero_shows_in_the_report_counts(tmp_path):
    (tmp_path / FILE).write_text(DIVIDE, encoding="utf-8")
    case = Bad("divide", DIVIDE, ("--grad", "x", "--of", "y"))
    proc = run_cli(case, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "[inf inf inf]" in proc.stdout
    assert re.search(r"\b0 NaN, 3 Inf\b", proc.stdout), proc.stdout
    proc = run_cli(Bad("divide", DIVIDE, ("--grad", "x", "--of", "y", "--json")), tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["outputs"]["z"] == [float("inf")] * 3
    assert (res["grad_info"]["x"]["nan"], res["grad_info"]["x"]["inf"]) == (0, 3)


def test_a_byte_order_mark_is_not_a_character(tmp_path):
    """Editors on Windows start UTF-8 files with U+FEFF: an odd but valid program."""
    (tmp_path / FILE).write_bytes(b"\xef\xbb\xbfvar x = 2.0\ny = x * x\nout y\n")
    result = gdl.load(tmp_path / FILE).run(grad=["x"])
    assert float(result.grads["x"]) == 4.0


DEAD_ENDLESS = "var x = 2.0\ni = 0\nwhile true {\n    i = i + 1\n}\ny = x * x\nout y\n"
DEAD_NESTED = ("var x = 2.0\nif x > 0.0 {\n    j = 0.0\n    while j >= 0.0 {\n        j = j + 1.0\n"
               "    }\n}\ny = x * x\nout y\n")


@pytest.mark.parametrize("source, line", [(DEAD_ENDLESS, 3), (DEAD_NESTED, 4)],
                         ids=["top level", "inside an if"])
@pytest.mark.parametrize("grad", [[], ["x"]], ids=["run", "gradient"])
def test_an_endless_loop_whose_values_are_unused_still_hits_the_limit(source, line, grad):
    """Dead-code elimination keeps a program's loops: dropping one would turn an
    iteration-limit error into a success."""
    with pytest.raises(gdl.GdlError, match="iteration limit of 50") as info:
        gdl.compile(source).run(grad=grad, max_iters=50)
    assert info.value.line == line


def test_a_finite_loop_whose_values_are_unused_runs():
    source = DEAD_ENDLESS.replace("while true", "while i < 3")
    result = gdl.compile(source).run(grad=["x"], max_iters=3)
    assert float(result.grads["x"]) == 4.0
