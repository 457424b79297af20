"""The workloads of issue 5 and each peer's way of computing them.

Why one module: a workload is its GDL program, the data fed to every peer, a
hand-written NumPy forward and backward (timed in float32 as a peer, and run
in float64 as the reference every peer is checked against), the same loss for
PyTorch and JAX, and the tolerances and the work count that turn a time into
GB/s or GFLOP/s.  Kept together, "every peer computes the same thing" can be
checked by reading one block per workload.

A peer is a `Runner`: `call()` is one forward and gradient (what is timed),
`result(ret)` turns what a call returned into NumPy `(loss, grads)` (not
timed, so a Session's resident gradients are read only for the check).
Peers that are not installed, or cannot do a workload, raise `Unavailable`
with the reason the report prints.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

PROGRAMS = Path(__file__).resolve().parent / "programs"
HEADER = "#| bench "
OUTPUT = "loss"              # every bench program's one output
SEED = 20240605              # the data generator's seed, so runs are repeatable

GDL_RUN = "GDL run()"
GDL_SESSION = "GDL Session"
NUMPY = "NumPy"
TORCH = "PyTorch"
JAX = "JAX jit"
PEERS = (GDL_RUN, GDL_SESSION, NUMPY, TORCH, JAX)
GDL_PEERS = (GDL_RUN, GDL_SESSION)

Arrays = dict[str, np.ndarray]
Outcome = tuple[np.ndarray, Arrays]          # (loss, gradients by var name)


class Unavailable(Exception):
    """A peer that cannot run a workload here (not installed, or not able to)."""


# -- the hand-written NumPy forward and backward ------------------------------------
# Each takes the leaves by name, in one dtype, and returns (loss, grads) in it.
# They avoid needless temporaries, as a person writing fast NumPy would.

def w1_numpy(d: Arrays) -> Outcome:
    """sum(tanh(x*w + b)**2); with t = tanh(u), d/du = 2 t (1 - t^2)."""
    x, w, b = d["x"], d["w"], d["b"]
    t = x * w
    t += b
    np.tanh(t, out=t)
    loss = np.dot(t, t)
    g = t * t
    np.subtract(1, g, out=g)
    g *= t
    g *= 2
    return np.asarray(loss), {"x": g * w, "w": g * x, "b": g}


def w2_numpy(d: Arrays) -> Outcome:
    """mean((tanh(X@W1 + b1)@W2 - Y)**2) by backpropagation (no dX: X is data)."""
    X, Y, W1, b1, W2 = d["X"], d["Y"], d["W1"], d["b1"], d["W2"]
    H = X @ W1
    H += b1
    np.tanh(H, out=H)
    E = H @ W2
    E -= Y
    loss = np.vdot(E, E) / E.size
    dP = E * E.dtype.type(2 / E.size)
    dW2 = H.T @ dP
    dZ = dP @ W2.T
    dZ *= 1 - H * H
    return np.asarray(loss, E.dtype), {"W1": X.T @ dZ, "b1": dZ.sum(axis=0), "W2": dW2}


def w3_path(a: np.ndarray) -> tuple[np.ndarray, float, int, bool]:
    """The forward path of W3: (c, dc/da, loop trips, whether the then-branch ran)."""
    b = a * 2
    scale, trips = 2.0, 0
    while np.linalg.norm(b) < 1e6:
        b = b * 2
        scale *= 2
        trips += 1
    positive = bool(b.sum() > 0)
    if not positive:
        b = 100 * b
        scale *= 100
    return b, scale, trips, positive


def w3_numpy(d: Arrays) -> Outcome:
    """sum(c) after the loop and the if: c is scale * a, so the gradient is a constant."""
    c, scale, _, _ = w3_path(d["a"])
    return np.asarray(c.sum()), {"a": np.full_like(d["a"], scale)}


def w3_notes(data: Arrays) -> str:
    _, _, trips, positive = w3_path(data["a"])
    return f"{trips} loop trips, then the {'then' if positive else 'else'} branch"


def w4_numpy(d: Arrays) -> Outcome:
    """2 * dot(x, x), gradient 4x."""
    x = d["x"]
    return np.asarray(2 * np.dot(x, x)), {"x": 4 * x}


# -- the same losses for PyTorch and JAX; `m` is torch or jax.numpy ------------------

def w1_loss(m, x, w, b):
    return m.sum(m.tanh(x * w + b) ** 2)


def w2_loss(m, X, Y, W1, b1, W2):
    return m.mean((m.tanh(X @ W1 + b1) @ W2 - Y) ** 2)


def w3_torch_loss(m, a):
    """Eager control flow: each loop test and the if read one scalar, as in GDL."""
    b = a * 2
    while m.linalg.vector_norm(b) < 1e6:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    return c.sum()


def w4_loss(m, x):
    return 2 * m.dot(x, x)


# -- data ----------------------------------------------------------------------------

def w1_data(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    n = p["N"]
    return {k: rng.standard_normal(n, dtype=np.float32) for k in ("x", "w", "b")}


def w2_data(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    """Weights scaled by 1/sqrt(D), so tanh is neither saturated nor linear."""
    B, D, O = p["B"], p["D"], p["O"]
    s = np.float32(1 / np.sqrt(D))
    return {"X": rng.standard_normal((B, D), dtype=np.float32),
            "Y": rng.standard_normal((B, O), dtype=np.float32),
            "W1": rng.standard_normal((D, D), dtype=np.float32) * s,
            "b1": rng.standard_normal(D, dtype=np.float32) * np.float32(0.1),
            "W2": rng.standard_normal((D, O), dtype=np.float32) * s}


def w3_data(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    return {"a": rng.standard_normal(p["N"], dtype=np.float32)}


def w4_data(p: dict[str, int], rng: np.random.Generator) -> Arrays:
    return {"x": np.arange(4.0, dtype=np.float32)}


# -- work counts ---------------------------------------------------------------------

def w1_work(p: dict[str, int]) -> tuple[float, str]:
    """Bytes: read x, w, b and write their three gradients, 4 bytes each (issue 5)."""
    return 24.0 * p["N"], "GB/s"


def w2_flops(p: dict[str, int]) -> float:
    """The matmul FLOPs every peer must do: X@W1, H@W2, then dW2, dH and dW1.

    That is 2BDD + 2BDO forward and 2BDD + 4BDO backward.  The "3x forward"
    rule of thumb would also count dX = dZ @ W1.T, which no peer computes
    (X is data, not a var), so it would inflate every rate by about 1.4x.
    """
    B, D, O = p["B"], p["D"], p["O"]
    return 4.0 * B * D * D + 6.0 * B * D * O


def w2_work(p: dict[str, int]) -> tuple[float, str]:
    return w2_flops(p), "GFLOP/s"


# -- the table of workloads ----------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """What a workload is, independent of its size."""

    title: str
    make_data: Callable[[dict[str, int], np.random.Generator], Arrays]
    numpy: Callable[[Arrays], Outcome]
    loss: Callable[..., Any] | None                 # for PyTorch and JAX
    torch_loss: Callable[..., Any] | None = None    # when PyTorch needs its own
    jax_skip: str = ""                              # why JAX cannot, "" when it can
    loss_rtol: float = 1e-4
    grad_rtol: float = 1e-4
    grad_atol: float = 1e-5                         # times max |reference gradient|
    work: Callable[[dict[str, int]], tuple[float, str]] | None = None
    notes: Callable[[Arrays], str] | None = None


SPECS: dict[str, Spec] = {
    # A 2^24-term f32 sum: a few 1e-4 relative is what a float32 sum in any
    # order can drift; elementwise gradients differ by a few ulps of tanh.
    "W1": Spec("sum(tanh(x*w + b)**2)", w1_data, w1_numpy, w1_loss,
               loss_rtol=1e-3, grad_rtol=1e-3, grad_atol=1e-5, work=w1_work),
    "W2": Spec("mean((tanh(X@W1 + b1)@W2 - Y)**2)", w2_data, w2_numpy, w2_loss,
               loss_rtol=1e-4, grad_rtol=1e-3, grad_atol=1e-4, work=w2_work),
    "W3": Spec("b = a*2; while norm(b) < 1e6 { b = b*2 }; if sum(b) > 0 {c = b} "
               "else {c = 100*b}; sum(c)", w3_data, w3_numpy, None,
               torch_loss=w3_torch_loss,
               jax_skip="JAX cannot reverse-differentiate a while_loop",
               loss_rtol=1e-4, grad_rtol=1e-6, grad_atol=0.0, notes=w3_notes),
    "W4": Spec("2*dot(x, x), x = arange(4.0)", w4_data, w4_numpy, w4_loss,
               loss_rtol=1e-6, grad_rtol=1e-6, grad_atol=0.0),
}


@dataclass
class Workload:
    """One workload at one size: its program text, its data and its reference."""

    wid: str
    spec: Spec
    params: dict[str, int]
    source: str
    grads: tuple[str, ...]
    data: Arrays = field(repr=False)

    @property
    def filename(self) -> str:
        return f"bench/programs/{self.wid}.gdl"

    def reference(self) -> Outcome:
        """The NumPy forward and backward in float64: the truth every peer is held to."""
        loss, grads = self.spec.numpy({k: v.astype(np.float64) for k, v in self.data.items()})
        return np.asarray(loss, np.float64), {k: np.asarray(g, np.float64)
                                              for k, g in grads.items()}

    def work(self) -> tuple[float, str] | None:
        return self.spec.work(self.params) if self.spec.work else None

    def notes(self) -> str:
        return self.spec.notes(self.data) if self.spec.notes else ""


def read_program(wid: str) -> tuple[str, dict[str, Any]]:
    """A bench program's text and its `#| bench {...}` header."""
    path = PROGRAMS / f"{wid}.gdl"
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith(HEADER):
            return text, json.loads(line[len(HEADER):])
    raise ValueError(f"{path} has no `{HEADER}{{...}}` header line")


def sized_source(text: str, defaults: dict[str, int], params: dict[str, int]) -> str:
    """The program with each parameter's default literal replaced by its value.

    The programs are plain GDL at the issue's sizes (so `gdl run` works on
    them); a size is every integer literal equal to its default, which is why
    the defaults in one program must differ.  Comment lines are left alone.
    """
    if len(set(defaults.values())) != len(defaults):
        raise ValueError(f"the parameters' defaults must differ: {defaults}")
    if not defaults:
        return text
    mapping = {str(v): str(params[k]) for k, v in defaults.items()}
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, mapping)) + r")(?![\w.])")
    lines = [line if line.lstrip().startswith("#") else
             pattern.sub(lambda m: mapping[m.group(1)], line)
             for line in text.splitlines(keepends=True)]
    return "".join(lines)


def load(wid: str, overrides: dict[str, int] | None = None, seed: int = SEED) -> Workload:
    """Workload `wid` with its sizes overridden (e.g. {"N": 1024}) and its data made."""
    if wid not in SPECS:
        raise ValueError(f"no workload {wid!r}; there are {', '.join(SPECS)}")
    text, header = read_program(wid)
    defaults = dict(header["params"])
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"{wid} has no size {', '.join(unknown)} (it has "
                         f"{', '.join(defaults) or 'none'})")
    bad = [k for k, v in overrides.items() if int(v) < 1]
    if bad:
        raise ValueError(f"{wid}: sizes must be at least 1 ({', '.join(bad)})")
    params = {**defaults, **{k: int(v) for k, v in overrides.items()}}
    spec = SPECS[wid]
    data = spec.make_data(params, np.random.default_rng(seed))
    return Workload(wid, spec, params, sized_source(text, defaults, params),
                    tuple(header["grad"]), data)


# -- peers ---------------------------------------------------------------------------

@dataclass
class Runner:
    """One peer ready to run one workload; see the module docstring."""

    peer: str
    call: Callable[[], Any]
    result: Callable[[Any], Outcome]
    counted: Callable[[], dict[str, int]] | None = None   # GDL: one call's counters


def make_runner(peer: str, wl: Workload) -> Runner:
    """The Runner of `peer` for `wl` (it compiles or jits; the first call may build more)."""
    makers = {GDL_RUN: _gdl_run, GDL_SESSION: _gdl_session, NUMPY: _numpy,
              TORCH: _torch, JAX: _jax}
    if peer not in makers:
        raise ValueError(f"no peer {peer!r}; there are {', '.join(PEERS)}")
    return makers[peer](wl)


def _gdl_program(wl: Workload):
    import gdl
    return gdl.compile(wl.source, wl.filename)


def _gdl_run(wl: Workload) -> Runner:
    """`Program.run` with host arrays in and out, every call: the API's everyday use."""
    prog = _gdl_program(wl)
    grads = list(wl.grads)

    def call():
        return prog.run(inputs=wl.data, grad=grads)

    def result(res) -> Outcome:
        return res.outputs[OUTPUT], dict(res.grads)

    return Runner(GDL_RUN, call, result, lambda: dict(call().stats))


def _gdl_session(wl: Workload) -> Runner:
    """A Session: values stay on the device; a call is zero_grad, backward, read the loss.

    The queue is finished inside the call so that gradient kernels still
    queued behind the loss's read are paid for by the call that made them.
    """
    prog = _gdl_program(wl)
    s = prog.session(inputs=wl.data)
    queue = s.device.queue

    def call():
        s.zero_grad()
        loss = s.backward()[OUTPUT]
        queue.finish()
        return loss

    def result(loss) -> Outcome:
        return loss, {n: s.grad[n] for n in wl.grads}

    def counted() -> dict[str, int]:
        before = s.device.counters.snapshot()
        call()
        return s.device.counters.since(before)

    return Runner(GDL_SESSION, call, result, counted)


def _numpy(wl: Workload) -> Runner:
    data = {k: v.copy() for k, v in wl.data.items()}
    return Runner(NUMPY, lambda: wl.spec.numpy(data), lambda out: out)


def _torch(wl: Workload) -> Runner:
    """PyTorch eager with autograd: leaves made once; per call .grad reset, loss, backward."""
    loss_fn = wl.spec.torch_loss or wl.spec.loss
    if loss_fn is None:
        raise Unavailable("no PyTorch version of this workload")
    try:
        import torch
    except ImportError:
        raise Unavailable("not installed (pip install torch)") from None
    leaves = {k: torch.from_numpy(v.copy()).requires_grad_(k in wl.grads)
              for k, v in wl.data.items()}
    params = [leaves[k] for k in wl.grads]

    def call():
        for p in params:
            p.grad = None
        loss = loss_fn(torch, **leaves)
        loss.backward()
        return loss.detach(), [p.grad for p in params]

    def result(out) -> Outcome:
        loss, grads = out
        return loss.numpy(), {k: g.numpy() for k, g in zip(wl.grads, grads)}

    return Runner(TORCH, call, result)


def _jax(wl: Workload) -> Runner:
    """jax.jit of jax.value_and_grad; the arrays are put on JAX's device once, as it keeps them."""
    if wl.spec.jax_skip:
        raise Unavailable(wl.spec.jax_skip)
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise Unavailable("not installed (pip install jax jaxlib)") from None
    names = list(wl.grads) + [k for k in wl.data if k not in wl.grads]
    loss_fn = wl.spec.loss

    def f(*args):
        return loss_fn(jnp, **dict(zip(names, args)))

    step = jax.jit(jax.value_and_grad(f, argnums=tuple(range(len(wl.grads)))))
    args = [jax.device_put(wl.data[k]) for k in names]

    def call():
        return jax.block_until_ready(step(*args))

    def result(out) -> Outcome:
        loss, grads = out
        return np.asarray(loss), {k: np.asarray(g) for k, g in zip(wl.grads, grads)}

    return Runner(JAX, call, result)


# -- checking ------------------------------------------------------------------------

def check(wl: Workload, got: Outcome, ref: Outcome) -> list[str]:
    """What in `got` disagrees with the float64 reference (empty: it agrees).

    Every peer is held to the same reference with float32 tolerances, so two
    peers that both pass agree with each other to twice those tolerances.
    """
    spec = wl.spec
    problems = []
    loss, grads = got
    r = float(ref[0])
    g = float(np.asarray(loss, np.float64))
    if not np.isfinite(g) or abs(g - r) > spec.loss_rtol * abs(r) + 1e-30:
        problems.append(f"loss {g:.8g}, expected {r:.8g}")
    for name in wl.grads:
        want = ref[1][name]
        if name not in grads:
            problems.append(f"no gradient for {name}")
            continue
        have = np.asarray(grads[name], np.float64)
        if have.shape != want.shape:
            problems.append(f"d{name} has shape {list(have.shape)}, expected {list(want.shape)}")
            continue
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        bound = spec.grad_rtol * np.abs(want) + spec.grad_atol * scale
        excess = np.abs(have - want) - bound
        if not np.all(np.isfinite(have)) or np.any(excess > 0):
            i = int(np.argmax(np.where(np.isfinite(have), excess, np.inf)))
            problems.append(f"d{name}[{i}] = {have.flat[i]:.8g}, expected "
                            f"{want.flat[i]:.8g} ({int(np.sum(~(excess <= 0)))} of "
                            f"{have.size} out of tolerance)")
    return problems
