"""Shared test utilities: graphs built straight from the op table, running a
graph on both the NumPy oracle (gdl.interp) and OpenCL, finite differences.

style.md habit 6: the interpreter is the oracle for the OpenCL runtime, and
every gradient is compared with central finite differences along random
directions (JAX's check_grads, PyTensor's verify_grad).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import numpy as np
import pytest

from gdl.dtype import TensorType
from gdl.interp import evaluate
from gdl.ir import Builder, Graph, IdSource, Leaf, Value
from gdl.ops import emitter
from gdl.ops.base import Emitter


# ---------------------------------------------------------------- graphs

def make_graph(leaves: Mapping[str, TensorType],
               build: Callable[[Emitter, dict[str, Value]], Mapping[str, Value]]) -> Graph:
    """A Graph whose params are the given leaves and whose outputs `build` makes.

    Float leaves are `var`s (differentiable), the others `input`s; none has an
    initialiser, so every run must feed every leaf.  `build(e, params)` gets an
    Emitter over the body and the leaf values by name and returns the outputs
    by name, in order.
    """
    ids = IdSource()
    b = Builder(ids)
    params = {name: b.fresh(t, name) for name, t in leaves.items()}
    outs = dict(build(emitter(b), params))
    body = b.region(tuple(params.values()), tuple(outs.values()))
    lv = tuple(Leaf(n, "var" if t.dtype.is_float else "input", params[n], None, None)
               for n, t in leaves.items())
    return Graph(body, lv, tuple(outs), ids.next)


def one_op_graph(opname: str, in_types: list[TensorType], **attrs: Any) -> Graph:
    """The graph `y = opname(x0, x1, ...; attrs)` over leaves x0, x1, ..."""
    leaves = {f"x{i}": t for i, t in enumerate(in_types)}
    return make_graph(leaves, lambda e, p: {"y": e.op(opname, *p.values(), **attrs)})


def feed(graph: Graph, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """`inputs` as contiguous arrays of each leaf's declared dtype."""
    out = {}
    for lf in graph.leaves:
        if lf.name in inputs:
            t = lf.value.type
            # (np.ascontiguousarray would make a 0-d array 1-d)
            out[lf.name] = np.array(inputs[lf.name]).astype(t.dtype.np).reshape(t.shape).copy()
    return out


# ---------------------------------------------------------------- running

def cl_device():
    """The default OpenCL device (PoCL's CPU device at least), or skip."""
    from gdl.runtime import device as devices
    try:
        return devices.select()
    except Exception as err:   # pragma: no cover - only without any OpenCL driver
        pytest.skip(f"no OpenCL device: {err}")


def need_fp64(device) -> None:
    if not device.has_fp64:
        pytest.skip(f"{device.describe()} has no fp64")


def run_interp(graph: Graph, inputs: Mapping[str, Any], seed: Any = None,
               max_iters: int = 1_000_000) -> dict:
    """The NumPy reference: {"outputs": {...}, "grads": {...}}."""
    seed_arr = None if seed is None else np.asarray(seed, graph.seed.type.dtype.np)
    return evaluate(graph, feed(graph, inputs), seed_arr, max_iters)


def run_opencl(graph: Graph, inputs: Mapping[str, Any], device, seed: Any = None,
               max_iters: int = 1_000_000) -> dict:
    """The same graph planned and executed on `device` (no api layer in between)."""
    from gdl.runtime.execute import Executor
    from gdl.runtime.plan import plan
    seed_arr = None if seed is None else np.array(seed, graph.seed.type.dtype.np)
    executor = Executor(device, plan(graph))
    kwargs = {}
    if "wanted" in inspect.signature(executor.run).parameters:
        kwargs["wanted"] = tuple(graph.grads)     # read every gradient back
    outputs, grads = executor.run(feed(graph, inputs), seed_arr, max_iters, **kwargs)
    return {"outputs": outputs, "grads": grads}


def run_both(graph: Graph, inputs: Mapping[str, Any], device, seed: Any = None,
             max_iters: int = 1_000_000) -> tuple[dict, dict]:
    """(interpreter result, OpenCL result) of one graph on the same inputs."""
    return (run_interp(graph, inputs, seed, max_iters),
            run_opencl(graph, inputs, device, seed, max_iters))


# ---------------------------------------------------------------- comparisons

def ulp(x: np.ndarray, dtype) -> np.ndarray:
    """The spacing of `dtype` at |x| (at least the smallest normal's spacing)."""
    dt = np.dtype(dtype)
    ax = np.abs(np.asarray(x, np.float64))
    ax = np.where(np.isfinite(ax), ax, 0.0)
    tiny = np.finfo(dt).tiny
    return np.spacing(np.maximum(ax, tiny).astype(dt)).astype(np.float64)


def assert_ulp_close(got: np.ndarray, ref64: np.ndarray, ulps: float, atol: float = 0.0,
                     what: str = "") -> None:
    """`got` (f32 or f64) within `ulps` of its own dtype's ulp of the f64 oracle.

    NaNs and infinities must sit at the same places with the same signs.
    """
    got = np.asarray(got)
    ref64 = np.broadcast_to(np.asarray(ref64, np.float64), got.shape)
    g64 = got.astype(np.float64)
    assert got.shape == ref64.shape, (what, got.shape, ref64.shape)
    same_nan = np.isnan(g64) == np.isnan(ref64)
    assert same_nan.all(), f"{what}: NaN mismatch\n got {got}\n ref {ref64}"
    inf = np.isinf(ref64)
    assert (g64[inf] == ref64[inf]).all(), f"{what}: inf mismatch\n got {got}\n ref {ref64}"
    fin = np.isfinite(ref64)
    err = np.abs(g64[fin] - ref64[fin])
    tol = ulps * ulp(ref64[fin], got.dtype) + atol
    bad = err > tol
    assert not bad.any(), (f"{what}: {int(bad.sum())} element(s) off by more than {ulps} ulp; "
                           f"worst {np.max(err / ulp(ref64[fin], got.dtype)):.2f} ulp\n"
                           f" got {g64[fin][bad][:5]}\n ref {ref64[fin][bad][:5]}")


def assert_exact(got: np.ndarray, ref: np.ndarray, what: str = "") -> None:
    """Same dtype, shape and values (integers, bools)."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.dtype == ref.dtype, (what, got.dtype, ref.dtype)
    np.testing.assert_array_equal(got, ref, err_msg=what)


# ---------------------------------------------------------------- finite differences

def fd_directional(f: Callable[[dict[str, np.ndarray]], float], xs: Mapping[str, np.ndarray],
                   v: Mapping[str, np.ndarray], eps: float) -> float:
    """Central difference (f(x + eps v) - f(x - eps v)) / (2 eps), in float64."""
    plus = {k: np.asarray(x, np.float64) + eps * v.get(k, 0.0) for k, x in xs.items()}
    minus = {k: np.asarray(x, np.float64) - eps * v.get(k, 0.0) for k, x in xs.items()}
    return (float(f(plus)) - float(f(minus))) / (2 * eps)


def check_grads(f: Callable[[dict[str, np.ndarray]], float], xs: Mapping[str, np.ndarray],
                grads: Mapping[str, np.ndarray], eps: float = 1e-6, rtol: float = 1e-6,
                atol: float = 1e-8, n_dirs: int = 3, seed: int = 0,
                wrt: list[str] | None = None) -> None:
    """Compare <grad, v> with central differences along random directions v.

    `f` maps float64 values of every name in `xs` to a scalar; `grads` holds
    the analytic gradients for the names in `wrt` (default: all of `grads`).
    One direction per name alone, then `n_dirs` joint directions.
    """
    rng = np.random.default_rng(seed)
    names = list(wrt if wrt is not None else grads)
    for k in names:
        assert np.shape(grads[k]) == np.shape(xs[k]), (k, np.shape(grads[k]), np.shape(xs[k]))
    dirs = []
    for k in names:
        dirs.append({k: rng.standard_normal(np.shape(xs[k]))})
    for _ in range(n_dirs):
        dirs.append({k: rng.standard_normal(np.shape(xs[k])) for k in names})
    for v in dirs:
        analytic = sum(float(np.sum(np.asarray(grads[k], np.float64) * v[k])) for k in v)
        numeric = fd_directional(f, xs, v, eps)
        scale = max(abs(analytic), abs(numeric))
        assert abs(analytic - numeric) <= atol + rtol * scale, (
            f"directional derivative along {sorted(v)}: analytic {analytic!r} vs "
            f"finite differences {numeric!r}")


def scalar_of(graph: Graph, out: str, seed: np.ndarray | None = None,
              fixed: Mapping[str, Any] | None = None) -> Callable[[dict], float]:
    """f(values) = <seed, output `out`> of `graph` on the interpreter (seed None: the scalar)."""
    fixed = dict(fixed or {})

    def f(values: dict) -> float:
        y = run_interp(graph, {**fixed, **values})["outputs"][out]
        y = np.asarray(y, np.float64)
        return float(y) if seed is None else float(np.sum(y * seed))
    return f


def program_scalar(prog, out: str | None = None, inputs: Mapping[str, Any] | None = None):
    """f(values) = output `out` of a compiled program on the interpreter, vars overridden."""
    out = out or prog.outputs[0]
    base = dict(inputs or {})

    def f(values: dict) -> float:
        res = evaluate(prog.graph, {**base, **values})
        return float(np.sum(np.asarray(res["outputs"][out], np.float64)))
    return f


def initial_values(graph: Graph, inputs: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Every leaf's value for a run: fed, else its initialiser on the interpreter."""
    from gdl.interp import Context, run_region
    inputs = dict(inputs or {})
    out = {}
    for lf in graph.leaves:
        if lf.name in inputs:
            out[lf.name] = np.asarray(inputs[lf.name], lf.value.type.dtype.np)
        elif lf.init is not None:
            out[lf.name] = run_region(lf.init, [], Context(1_000_000))[0]
    return out
