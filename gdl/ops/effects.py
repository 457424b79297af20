"""Statements with effects: `assert` and `print`, as ops that produce nothing.

They are kept by dead-code elimination (`effect=True`), run where the
program puts them (each loop iteration too), and are dropped from the
replays a reverse pass makes, so a gradient never prints or asserts twice.
Both read their operands back to the host.  Imports `ops.base`, `dtype`,
`errors`, numpy.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..dtype import BOOL, TensorType
from ..errors import GdlRuntimeError, GdlTypeError
from .base import Host, OpDef, tensor


def _assert_infer(ts, attrs, span):
    t = tensor(ts[0], "an assert condition", span)
    if t != TensorType(BOOL, ()):
        raise GdlTypeError(f"an `assert` condition must be a bool scalar, found {t} "
                           "(compare explicitly, e.g. `x > 0`)", span)
    return ()


def assertion_error(node) -> GdlRuntimeError:
    message = node.attr("message")
    text = f"assertion failed: {message}" if message else "assertion failed"
    return GdlRuntimeError(text, node.span)


def _assert_interpret(node, args, ctx):
    if not bool(args[0]):
        raise assertion_error(node)
    return ()


ASSERT = OpDef("assert", _assert_infer, None, Host(), differentiable=False, foldable=False,
               effect=True, interpret=_assert_interpret,
               doc="assert c, \"message\": stop with an error naming the line when c is false")


def value_text(v) -> str:
    """A value as NumPy shows it; a float scalar in its shortest exact form."""
    arr = np.asarray(v)
    if arr.shape == () and arr.dtype.kind == "f":
        return np.format_float_positional(arr[()], unique=True, trim="0")
    return np.array2string(arr, threshold=20)


def print_text(node, values: Sequence[np.ndarray]) -> str:
    """What `print` shows: the line, then `expression = value` for each operand."""
    parts = [f"{label} = {value_text(v)}" for label, v in zip(node.attr("labels"), values)]
    where = f"line {node.span.line}: " if node.span else ""
    return where + ", ".join(parts)


def _print_infer(ts, attrs, span):
    for t in ts:
        tensor(t, "a printed value", span)
    return ()


def _print_interpret(node, args, ctx):
    ctx.printer(print_text(node, args))
    return ()


PRINT = OpDef("print", _print_infer, None, Host(), differentiable=False, foldable=False,
              effect=True, interpret=_print_interpret,
              doc="print(e, ...): show values at run time, each loop iteration too")

DEFS = (ASSERT, PRINT)
CALLS = ()
