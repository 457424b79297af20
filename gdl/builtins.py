"""Calling built-in functions: the reserved names and argument binding.

The built-ins themselves are `Call` records next to their ops (`ops.CALLS`);
this module matches a call's positional and keyword arguments to a Call's
parameters as Python would, and lists every name of language.md §3, which
stays reserved (it cannot be re-bound) even where this version does not
implement it yet.  Imports `ops`, `errors`.
"""
from __future__ import annotations

from typing import Any

from .errors import GdlTypeError, Span
from .ops import CALLS
from .ops.base import REQUIRED, Call

LANGUAGE_BUILTINS = frozenset("""
    arange zeros ones full eye linspace rand randn zeros_like ones_like
    exp log log1p sqrt sin cos tanh sigmoid relu abs sign floor maximum minimum clip where pow
    sum mean max min prod argmax argmin cumsum norm logsumexp softmax log_softmax
    dot matmul outer transpose reshape broadcast_to concat stack f32 f64 i32 bool
    stop_grad grad print
""".split()) | frozenset(CALLS)

BUILTINS = CALLS


def bind(fn: Call, args: list, kwargs: dict[str, tuple[Any, Span]], span: Span) -> dict:
    """Match a call's arguments to `fn`'s parameters as Python would."""
    names = [p for p, _ in fn.params]
    shown = ", ".join(names)
    if len(args) > len(names):
        raise GdlTypeError(f"`{fn.name}` takes at most {len(names)} argument(s) ({shown}), "
                           f"found {len(args)}", span)
    bound = dict(zip(names, args))
    for key, (value, kspan) in kwargs.items():
        if key not in names:
            expected = shown + (", dtype" if fn.takes_dtype else "")
            raise GdlTypeError(f"`{fn.name}` has no parameter `{key}`; expected one of: "
                               f"{expected}", kspan)
        if key in bound:
            raise GdlTypeError(f"`{fn.name}` got `{key}` twice", kspan)
        bound[key] = value
    for name, default in fn.params:
        if name not in bound:
            if default is REQUIRED:
                raise GdlTypeError(f"`{fn.name}` needs its argument `{name}` ({fn.name}({shown}))",
                                   span)
            bound[name] = default
    return bound
