"""Finite-difference checks of reverse-mode gradients (`gdl run --check`).

Owns two things.  `to_f64` is a pure graph pass: it returns a copy of a
Graph in which every f32 value is f64 (types of values and tapes, dtype
attributes of ops such as const, fill, arange, rand and cast, leaves and
their initialisers, nested regions); float constants of former f32 ops are
rounded to f32 first, so the copy computes the same function as the
program, only in double precision.  `check_gradients` compares a Program's
reverse-mode gradients with central differences of that function, run
forward on the device (in f64 when the device has it, else in the
program's own dtypes), and reports per variable the largest relative error,
a pass/fail mark, and "inconclusive" where a perturbation changes a branch
taken or a loop's trip count (the executor's recorded `decisions`).

The method, for each checked element x_i of a variable:
    fd_i = (L(x + h e_i) - L(x - h e_i)) / (x_i+ - x_i-),   h = step * max(1, |x_i|)
where L is the differentiated output (or sum(seed * output)) and x_i+/- are
the perturbed values as stored.  The error of an element is
    |ad_i - fd_i| / max(|ad_i|, |fd_i|, floor),   floor = FLOOR * max_j max(|ad_j|, |fd_j|)
so elements much smaller than the variable's largest are compared
absolutely, not relatively (rounding noise in a near-zero gradient is not a
failure).  Variables with more than `samples` elements are checked at a
seeded random subset.

A program's own `stop_grad(e)` makes its gradients deliberately differ from
the derivative that differences measure, so a disagreement there is
reported as inconclusive, not as a failure, when the variable flows into
such a `stop_grad` (built-ins that use one internally, as `log_softmax` does
for its shift, are exact and are not exempt).
Imports `api`, `autodiff` (activity), `ir`, `dtype`, `errors`, `runtime`
(device, plan, execute).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Hashable, Iterable, Mapping

import numpy as np

from . import api
from .autodiff import Pass
from .dtype import F32, F64, DType, StackType, TensorType, Type
from .errors import GdlError
from .ir import Graph, IdSource, Node, Region, Value, walk
from .runtime import device as devices
from .runtime.execute import Executor
from .runtime.plan import plan as make_plan

SAMPLES = 64            # elements checked per variable; larger ones are sampled
FLOOR = 1e-3            # of the largest |gradient| element: below it errors are absolute
PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"

# Relative step h / max(1, |x|) by the dtype the differences are computed in:
# about the cube root of its machine epsilon, which balances the truncation
# error of a central difference (~h^2) against cancellation (~eps / h).
STEPS = MappingProxyType({"f64": 1e-6, "f32": 1e-3})

# Tolerance on the max relative error by (precision of the program's own AD,
# precision of the differences).  The AD gradient is computed in the
# program's dtype: f32 rounding (~6e-8 per operation) accumulates over
# loops and sums, so 1e-3 leaves room for thousands of roundings while a
# wrong rule (a lost factor, sign or term) is off by far more.  f64
# differences with h = 1e-6 are good to ~1e-9, so an all-f64 program gets
# 1e-6.  f32 differences are good to ~1e-4 only, so 2e-2 there.
TOLERANCES = MappingProxyType({("f64", "f64"): 1e-6, ("f32", "f64"): 1e-3,
                               ("f32", "f32"): 2e-2})

# Attributes holding float constants of an op whose `dtype` attribute is f32.
FLOAT_ATTRS = frozenset({"value", "start", "step", "stop"})


# -- the f64 pass -------------------------------------------------------------

def widen_type(t: Type) -> Type:
    """`t` with f32 replaced by f64, inside tapes too."""
    if isinstance(t, StackType):
        return StackType(widen_type(t.elem))
    if isinstance(t, TensorType) and t.dtype == F32:
        return t.with_dtype(F64)
    return t


def round_f32(v: Hashable) -> Hashable:
    """A float constant (or tuple of them) rounded to f32, as the f32 op would hold it."""
    if isinstance(v, tuple):
        return tuple(round_f32(x) for x in v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        r = float(np.float32(v))
        return v if r == v else r
    return v


def widen_attr(v: Hashable) -> Hashable:
    """An attribute value with f32 dtypes and types made f64."""
    if isinstance(v, DType):
        return F64 if v == F32 else v
    if isinstance(v, (TensorType, StackType)):
        return widen_type(v)
    if isinstance(v, tuple):
        return tuple(widen_attr(x) for x in v)
    return v


def widen_attrs(attrs: tuple) -> tuple:
    """A node's attrs in f64; constants of an f32 op keep their f32 values."""
    f32_op = dict(attrs).get("dtype") == F32
    return tuple((k, widen_attr(round_f32(v) if f32_op and k in FLOAT_ATTRS else v))
                 for k, v in attrs)


def to_f64(graph: Graph) -> Graph:
    """A copy of `graph` computing in f64 wherever it computed in f32 (the graph is kept).

    Value ids are kept, so the copy prints like the original; integer and
    bool values and f64 values are unchanged.
    """
    values: dict[Value, Value] = {}

    def value(v: Value) -> Value:
        new = values.get(v)
        if new is None:
            new = values[v] = Value(v.id, widen_type(v.type), v.name)
        return new

    def region(r: Region) -> Region:
        return Region(tuple(value(p) for p in r.params), tuple(node(n) for n in r.nodes),
                      tuple(value(x) for x in r.results))

    def node(n: Node) -> Node:
        return replace(n, inputs=tuple(value(v) for v in n.inputs), attrs=widen_attrs(n.attrs),
                       outputs=tuple(value(v) for v in n.outputs),
                       regions=tuple(region(r) for r in n.regions))

    leaves = tuple(replace(lf, value=value(lf.value),
                           init=None if lf.init is None else region(lf.init))
                   for lf in graph.leaves)
    return replace(graph, body=region(graph.body), leaves=leaves,
                   seed=None if graph.seed is None else value(graph.seed))


def precision(graph: Graph) -> str:
    """"f32" if any float value of the graph is f32, else "f64": what its AD is good to."""
    regions = [graph.body] + [lf.init for lf in graph.leaves if lf.init is not None]
    types = [lf.value.type for lf in graph.leaves]
    for r in regions:
        types.extend(p.type for p in r.params)
        for n, _ in walk(r):
            types.extend(o.type for o in n.outputs)
            types.extend(p.type for sub in n.regions for p in sub.params)
    return "f32" if any(widen_type(t) != t for t in types) else "f64"


def user_stop_grads(prog: api.Program, var: str) -> tuple[int, ...]:
    """Lines of `stop_grad(...)` calls written in the program that `var` may flow into.

    Only calls spelled `stop_grad` in the source count (built-ins that use
    one internally keep exact gradients).  In the top-level body the
    variable must be active at the call's operand; inside loops and
    branches any such call counts.
    """
    lines = prog.source.splitlines()
    leaf = prog.graph.leaf(var)
    active = Pass(IdSource(prog.graph.next_id)).activity(prog.graph.body, {leaf.value})
    top = set(prog.graph.body.nodes)
    found = []
    for n, _ in walk(prog.graph.body):
        s = n.span
        if n.op != "stop_grad" or s is None or not 0 < s.line <= len(lines):
            continue
        if not lines[s.line - 1][s.column - 1:].lstrip().startswith("stop_grad"):
            continue
        if n not in top or n.inputs[0] in active:
            found.append(s.line)
    return tuple(sorted(set(found)))


# -- results ------------------------------------------------------------------

@dataclass(frozen=True)
class VarCheck:
    """The check of one variable's gradient: elements checked, errors and verdict."""

    name: str
    status: str                       # PASS, FAIL or INCONCLUSIVE
    max_rel_error: float | None       # over conclusive elements; None if there are none
    tolerance: float
    shape: tuple[int, ...]
    indices: tuple[tuple[int, ...], ...]   # the elements checked, as multi-indices
    ad: np.ndarray                    # reverse mode at those elements (f64)
    fd: np.ndarray                    # central differences there (f64)
    rel_error: np.ndarray             # per element; NaN where inconclusive
    precision: str                    # dtype the differences were computed in
    program_precision: str            # "f32" if the program computes in f32 anywhere
    step: float                       # relative step h / max(1, |x|)
    reasons: tuple[str, ...] = ()     # why elements were inconclusive
    runs: int = 0                     # forward runs it took
    seconds: float = 0.0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def sampled(self) -> bool:
        """Whether only a subset of the elements was checked."""
        return len(self.indices) < self.size

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def worst(self) -> tuple[int, ...] | None:
        """The conclusive element with the largest error."""
        errors = np.where(np.isnan(self.rel_error), -1.0, self.rel_error)
        if not len(errors) or errors.max() < 0:
            return None
        return self.indices[int(np.argmax(errors))]

    def fd_array(self) -> np.ndarray | None:
        """The differences in the variable's shape, when every element was checked."""
        if self.sampled:
            return None
        out = np.empty(self.shape, np.float64)
        for idx, v in zip(self.indices, self.fd):
            out[idx] = v
        return out


# -- running the function forward ------------------------------------------------

class Forward:
    """One graph run forward on a device: L at given leaf values, and the path taken."""

    def __init__(self, graph: Graph, dev: devices.Device, of: str, seed: np.ndarray | None,
                 max_iters: int):
        self.graph = graph
        self.executor = Executor(dev, make_plan(graph, dev))
        self.of = of
        self.seed = None if seed is None else np.asarray(seed, np.float64)
        self.max_iters = max_iters
        self.runs = 0

    def types(self) -> dict[str, TensorType]:
        return {lf.name: lf.value.type for lf in self.graph.leaves}

    def initial(self, name: str) -> np.ndarray:
        """A leaf's initial value or default, computed on the device as a run would."""
        ex = self.executor
        t = self.graph.leaf(name).value.type
        return np.asarray(ex.host(ex.initial(name)), t.dtype.np).reshape(t.shape)

    def __call__(self, leaves: Mapping[str, np.ndarray]) -> tuple[float, list]:
        """(L, the branches taken and trip counts) with every leaf given; prints muted."""
        self.runs += 1
        outputs, _ = self.executor.run(dict(leaves), None, self.max_iters, (), lambda _: None)
        y = np.asarray(outputs[self.of], np.float64)
        value = float(np.sum(y * self.seed)) if self.seed is not None else float(y)
        return value, list(self.executor.decisions)


def decision_text(d: tuple) -> str:
    """One recorded decision in words: `the while at line 3 ran 21 times`."""
    kind, span, value = d
    where = f"the {kind} at line {span.line}" if span is not None else f"a {kind}"
    if kind == "while":
        return f"{where} ran {value} time{'s' if value != 1 else ''}"
    return f"{where} took its {'then' if value else 'else'} branch"


def path_change(base: list, other: list, what: str) -> str | None:
    """How `other` differs from the `base` decisions, in words, or None if it does not."""
    if base == other:
        return None
    for b, o in zip(base, other):
        if b != o:
            if b[0] == o[0] and b[1] == o[1]:
                if b[0] == "while":
                    return (f"{decision_text(b)} at the base point and {o[2]} time"
                            f"{'s' if o[2] != 1 else ''} {what}")
                return (f"{decision_text(b)} at the base point and its "
                        f"{'then' if o[2] else 'else'} branch {what}")
            break
    return f"the branches taken or loop trip counts differ {what}"


def element_text(name: str, idx: tuple[int, ...]) -> str:
    """`x[2, 0]`, or `x` for a scalar."""
    return f"{name}[{', '.join(map(str, idx))}]" if idx else name


# -- the check ------------------------------------------------------------------

@dataclass
class Point:
    """The base point of a check: the forward function, every leaf's value, L and path there."""

    fwd: Forward
    leaves: dict[str, np.ndarray]
    value: float
    path: list
    note: str | None          # why no element can be compared, if none can
    precision: str            # of the differences
    program_precision: str
    tolerance: float
    step: float


def base_point(prog: api.Program, dev: devices.Device, of: str, inputs: Mapping[str, Any],
               seed: np.ndarray | None, limit: int) -> Point:
    """Evaluate the program at its own leaf values, and its f64 copy there too.

    Leaves not given are initialised as a run would (on the device, in the
    program's dtypes) and fed to the f64 copy, so both evaluate the same point.
    """
    own = Forward(prog.graph, dev, of, seed, limit)
    leaves = {}
    for lf in prog.graph.leaves:
        if lf.name in inputs:
            leaves[lf.name] = api.convert(inputs[lf.name], lf.value.type, f"`{lf.name}`")
        elif lf.init is None:
            raise GdlError(f"input `{lf.name}` has no default and no value was given", lf.span)
        else:
            leaves[lf.name] = own.initial(lf.name)
    own_value, own_path = own(leaves)
    program_precision = precision(prog.graph)
    fd_precision = "f64" if dev.has_fp64 else program_precision
    fwd = own
    if fd_precision == "f64":
        fwd = Forward(to_f64(prog.graph), dev, of, seed, limit)
        types = fwd.types()
        leaves = {n: v.astype(types[n].dtype.np) for n, v in leaves.items()}
    value, path = fwd(leaves) if fwd is not own else (own_value, own_path)
    note = path_change(own_path, path, f"when the program is evaluated in {fd_precision}")
    if note is None and not np.isfinite(value):
        note = f"the output `{of}` is not finite at the base point"
    return Point(fwd, leaves, value, path, note, fd_precision, program_precision,
                 TOLERANCES[(program_precision, fd_precision)], STEPS[fd_precision])


def check_gradients(prog: api.Program, grad: Iterable[str], of: str | None = None,
                    inputs: Mapping[str, Any] | None = None, seed: Any = None,
                    device: Any = None, *, max_iters: int | None = None,
                    ad: Mapping[str, np.ndarray] | None = None, samples: int = SAMPLES,
                    sample_seed: int = 0) -> dict[str, VarCheck]:
    """Check reverse-mode gradients of `of` against central differences, per variable.

    Arguments are those of `Program.run`; `ad` passes gradients a run has
    already computed at the same point (else they are computed here).
    Variables with more than `samples` elements are checked at that many
    elements drawn with `sample_seed`.  Returns {var name: VarCheck}; a
    VarCheck's `status` is "pass", "fail" or "inconclusive".
    """
    wrt = tuple(dict.fromkeys(grad))
    if not wrt:
        raise GdlError("nothing to check: name the vars whose gradients to check (grad=[...])")
    dev = device if isinstance(device, devices.Device) else devices.select(device)
    limit = api.DEFAULT_MAX_ITERS if max_iters is None else int(max_iters)
    if ad is None or any(name not in ad for name in wrt):
        ad = prog.run(inputs, grad=wrt, of=of, seed=seed, device=dev, max_iters=limit,
                      on_print=lambda _: None).grads
    if of is None:
        of = prog.outputs[0]        # run() has checked there is just one
    if seed is not None:
        seed = api.convert(seed, prog.graph.output_value(of).type, f"the seed of `{of}`")
    point = base_point(prog, dev, of, inputs or {}, seed, limit)
    rng = np.random.default_rng(sample_seed)
    results = {}
    for name in wrt:
        size = point.leaves[name].size
        flat = (np.arange(size) if size <= samples
                else np.sort(rng.choice(size, samples, replace=False)))
        results[name] = check_variable(prog, point, name, np.asarray(ad[name]), flat)
    return results


def check_variable(prog: api.Program, point: Point, name: str, ad: np.ndarray,
                   flat: np.ndarray) -> VarCheck:
    """Compare one variable's gradient with central differences at the flat indices `flat`."""
    start, runs = time.perf_counter(), point.fwd.runs
    shape = point.leaves[name].shape
    indices = tuple(tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat)
    g = ad.astype(np.float64).reshape(shape)
    ad_vals = np.array([g[idx] for idx in indices], np.float64)
    fd_vals = np.full(len(indices), np.nan)
    conclusive = np.zeros(len(indices), bool)
    reasons = [point.note] if point.note is not None else []
    skipped = 0
    for j, idx in enumerate(indices if point.note is None else ()):
        fd_vals[j], why = difference(point, name, idx)
        conclusive[j] = why is None
        if why is not None:
            skipped += 1
            if skipped <= 2:
                reasons.append(why)
    if skipped > 2:
        reasons.append(f"and {skipped - 2} more element{'s' if skipped > 3 else ''}")
    rel = relative_errors(ad_vals, fd_vals, conclusive)
    worst = float(rel[conclusive].max()) if conclusive.any() else None
    failed = worst is not None and not worst <= point.tolerance
    detached = user_stop_grads(prog, name) if failed else ()
    if failed and detached:
        status = INCONCLUSIVE
        reasons.insert(0, f"`{name}` flows into stop_grad (line{'s' * (len(detached) > 1)} "
                          f"{', '.join(map(str, detached))}), so its gradient deliberately "
                          "differs from the derivative that finite differences measure")
    elif failed:
        status = FAIL
    else:
        status = PASS if conclusive.all() else INCONCLUSIVE
    return VarCheck(name, status, worst, point.tolerance, tuple(shape), indices, ad_vals,
                    fd_vals, rel, point.precision, point.program_precision, point.step,
                    tuple(reasons), point.fwd.runs - runs, time.perf_counter() - start)


def difference(point: Point, name: str, idx: tuple[int, ...]) -> tuple[float, str | None]:
    """The central difference at one element, and why it is inconclusive (or None)."""
    x0 = point.leaves[name]
    x = float(x0[idx])
    h = point.step * max(1.0, abs(x))
    ends = []
    for sign in (1, -1):
        moved = x0.copy()
        moved[idx] = x + sign * h
        what = f"at {element_text(name, idx)} {'+' if sign > 0 else '-'} {h:.3g}"
        try:
            value, path = point.fwd({**point.leaves, name: moved})
        except GdlError as err:
            first = err.message.split("\n", 1)[0]
            return np.nan, f"the run {what} fails: {first}"
        change = path_change(point.path, path, what)
        if change is not None:
            return np.nan, change
        if not np.isfinite(value):
            return np.nan, f"the output is not finite {what}"
        ends.append((value, float(moved[idx])))
    (fp, xp), (fm, xm) = ends
    return (fp - fm) / (xp - xm), None


def relative_errors(ad: np.ndarray, fd: np.ndarray, conclusive: np.ndarray) -> np.ndarray:
    """|ad - fd| / max(|ad|, |fd|, floor) per element; NaN where inconclusive.

    The floor is FLOOR times the largest magnitude among the conclusive
    elements (a tiny absolute value when all are zero).  A non-finite AD
    value against a finite difference is an infinite error.
    """
    rel = np.full(ad.shape, np.nan)
    if not conclusive.any():
        return rel
    a, f = ad[conclusive], fd[conclusive]
    with np.errstate(invalid="ignore", over="ignore"):
        mags = np.maximum(np.abs(np.where(np.isfinite(a), a, 0.0)), np.abs(f))
        floor = max(FLOOR * float(mags.max()), np.finfo(np.float64).tiny)
        err = np.abs(a - f) / np.maximum(mags, floor)
    err = np.where(np.isfinite(a), err, np.inf)
    rel[conclusive] = err
    return rel


def all_passed(checks: Mapping[str, VarCheck]) -> bool:
    """True unless some variable failed (inconclusive ones do not fail a check)."""
    return all(c.status != FAIL for c in checks.values())
