"""The NumPy reference interpreter of the IR: the oracle, not a runtime.

Evaluates a Graph node by node with each op's `numpy` reference (region ops
through their `interpret` rule), so it defines what every other backend must
compute.  Tests compare the OpenCL runtime with it; the runtime and the
public API never import it.  Imports `ir`, `ops`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .dtype import TensorType
from .errors import GdlRuntimeError
from .ir import Graph, Region
from .ops import OPS

DEFAULT_MAX_ITERS = 1_000_000


@dataclass
class Context:
    """What region ops need while interpreting: regions, the loop limit, where prints go."""

    max_iters: int
    printer: Callable[[str], None] = print

    def run(self, region: Region, args: list) -> list:
        return run_region(region, args, self)


def run_region(region: Region, args: list, ctx: Context) -> list:
    """Evaluate `region` on `args`; nested regions go through `ctx.run`."""
    env: dict = dict(zip(region.params, args, strict=True))
    for node in region.nodes:
        op = OPS[node.op]
        ins = [env[v] for v in node.inputs]
        with np.errstate(all="ignore"):
            if op.interpret is not None:
                outs = op.interpret(node, ins, ctx)        # always a tuple
            else:
                outs = op.numpy(*ins, **node.attr_dict)
                if len(node.outputs) == 1:
                    outs = (outs,)
        for v, x in zip(node.outputs, outs, strict=True):
            env[v] = _check(x, v.type, node.op)
    return [env[r] for r in region.results]


def _check(x: Any, t: Any, opname: str) -> Any:
    """Tensors come out as arrays of exactly their static type (catches bad references)."""
    if not isinstance(t, TensorType):
        return x
    arr = np.asarray(x)
    assert arr.shape == t.shape, f"{opname}: shape {arr.shape}, expected {t.shape}"
    if arr.dtype != t.dtype.np:
        arr = arr.astype(t.dtype.np)
    return arr


def evaluate(graph: Graph, inputs: Mapping[str, np.ndarray] | None = None,
             seed: np.ndarray | None = None, max_iters: int = DEFAULT_MAX_ITERS,
             printer: Callable[[str], None] = print) -> dict:
    """Run a whole graph: `{"outputs": {name: array}, "grads": {name: array}}`.

    Leaves not in `inputs` take their initialiser; `seed` feeds the seed
    parameter of a seeded gradient graph.
    """
    inputs = dict(inputs or {})
    ctx = Context(max_iters, printer)
    args = []
    for leaf in graph.leaves:
        if leaf.name in inputs:
            args.append(np.asarray(inputs[leaf.name], dtype=leaf.value.type.dtype.np))
        elif leaf.init is not None:
            args.append(run_region(leaf.init, [], ctx)[0])
        else:
            raise GdlRuntimeError(f"no value for input `{leaf.name}`")
    if graph.seed is not None:
        args.append(np.asarray(seed, dtype=graph.seed.type.dtype.np))
    results = run_region(graph.body, args, ctx)
    n = len(graph.outputs)
    return {"outputs": dict(zip(graph.outputs, results[:n])),
            "grads": dict(zip(graph.grads, results[n:]))}
