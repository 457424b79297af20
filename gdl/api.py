"""The Python API: compile, load, Program.run -> Result (language.md §6).

Composes the stages and holds no stage logic: parse, then the named
pipeline `build` -> COMPILE_PASSES (expand_grads, simplify), and per run:
autodiff -> simplify -> plan -> execute.  Checks the run's own
arguments (names, shapes, dtypes, seeds) and reports mistakes as GdlErrors
without a source line.  A Program caches its gradient graphs and plans,
and one executor (kernels built once) per device, so a second run with
other values, or another loop trip count, builds nothing.

Every run that asks for gradients differentiates with respect to every
`var` at once, as PyTorch's backward fills `.grad` of every leaf: one
compiled reverse pass serves any subset of `grad`, and the work does not
depend on how many gradients were asked.

`Program.session` returns a `Session` (gdl.session), which keeps vars and
gradients on the device between calls; it shares the Program's executors.
A Result prints as rich tables (`__rich__`) and as HTML in Jupyter
(`_repr_html_`), drawn by the table helpers gdl.session owns.
`Program.warnings` and `Program.lint` give the gradient lint's warnings
(gdl/lint.py, run on the built graph that `compile` keeps for it, where
each `grad(y, x)` is still one node); nothing here prints them.
Imports every stage but the reference interpreter, and `session`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from . import optimize
from .autodiff import Pass, expand_grads, grad_graph
from .build import build
from .dtype import TensorType
from .errors import GdlError, GdlRuntimeError, GdlTypeError, GdlWarning, Span
from .ir import Graph, IdSource, walk
from .lint import lint, lint_every_gradient
from .parse import parse
from .runtime import device as devices
from .runtime.execute import Executor
from .runtime.nancheck import Origin
from .runtime.plan import plan as make_plan
from .session import Session, html_tables, rich_tables

DEFAULT_MAX_ITERS = 1_000_000

# The named pipeline of a compile (style.md habit 5).  `build` makes the first
# Graph from the parsed program and its source; each pass after it is a pure
# Graph -> Graph function.  `compile` runs exactly this list, and
# `gdl graph --stage NAME` prints the graph after any of the stages.
BUILD_STAGE = "build"
COMPILE_PASSES: tuple[tuple[str, Callable[[Graph], Graph]], ...] = (
    ("expand_grads", expand_grads),
    ("simplify", optimize.simplify),
)
COMPILE_STAGES = (BUILD_STAGE,) + tuple(name for name, _ in COMPILE_PASSES)


@dataclass
class Result:
    """Outputs and gradients of one run, as NumPy arrays of their declared dtypes."""

    outputs: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    device: str = ""
    seconds: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)
    # With check_nan: the first node that produced a NaN or an infinity (None: none did).
    checked_nan: bool = False
    nonfinite: Origin | None = None

    def __repr__(self) -> str:
        outs = ", ".join(self.outputs)
        grads = ", ".join(self.grads)
        return f"Result(outputs=[{outs}], grads=[{grads}])"

    def _tables(self) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
        tables = [("outputs", list(self.outputs.items()))]
        if self.grads:
            tables.append(("gradients", list(self.grads.items())))
        return tables

    def _caption(self) -> str:
        return f"{self.device} · {self.seconds * 1000:.1f} ms" if self.device else ""

    def __rich__(self):
        """Outputs and gradients as rich tables, so `rich.print(res)` reads like a report."""
        return rich_tables(self._tables(), self._caption())

    def _repr_html_(self) -> str:
        """The same tables as HTML, which Jupyter shows for a cell's value."""
        return html_tables(self._tables(), self._caption())


def work_size(graph: Graph) -> int:
    """How big the graph's work is, in elements: its largest tensor (nested
    regions too), or a matmul's multiply-adds / 64 where that is more."""
    values = list(graph.body.params) + [o for node, _ in walk(graph.body) for o in node.outputs]
    sizes = [v.type.size for v in values if isinstance(v.type, TensorType)]
    for node, _ in walk(graph.body):
        if node.op == "matmul":
            a = node.inputs[0].type.shape
            k = a[-2] if len(a) > 1 and node.attr_dict.get("transpose_a") else a[-1]
            sizes.append(node.out.type.size * k // 64)
    return max(sizes, default=1)


class Program:
    """A compiled GDL program: its graph, and plans and kernels made on demand."""

    def __init__(self, source: str, graph: Graph, filename: str = "<program>",
                 built: Graph | None = None):
        self.source = source
        self.graph = graph
        self.filename = filename
        self._built = built or graph        # before expand_grads: what the lint reads
        self._lints: dict[tuple, tuple[GdlWarning, ...]] = {}
        self._graphs: dict[tuple, Graph] = {}
        self._devices: dict[Any, devices.Device] = {}
        self._executors: dict[tuple, Executor] = {}
        self._largest: int | None = None

    # -- what the program declares
    @property
    def outputs(self) -> tuple[str, ...]:
        return self.graph.outputs

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(lf.name for lf in self.graph.leaves if lf.kind == "var")

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(lf.name for lf in self.graph.leaves if lf.kind == "input")

    def influencing(self, of: str) -> tuple[str, ...]:
        """The vars output `of` depends on differentiably (the others get zero gradients).

        Conservative through loops and branches: a var flowing into one counts.
        """
        out = self.graph.output_value(of)
        ad = Pass(IdSource(self.graph.next_id))
        return tuple(lf.name for lf in self.graph.leaves if lf.kind == "var"
                     and out in ad.activity(self.graph.body, {lf.value}))

    # -- gradient lint: warnings, never printed here
    @property
    def warnings(self) -> tuple[GdlWarning, ...]:
        """The gradient lint of the program's own `grad(y, x)` calls (gdl/lint.py)."""
        return self.lint(grad=())

    def lint(self, grad: Iterable[str] | None = None, of: str | None = None
             ) -> tuple[GdlWarning, ...]:
        """Gradient warnings found at compile time, with lines and columns (gdl/lint.py).

        `warnings`, and those of differentiating `of` w.r.t. the vars in
        `grad` as `run(grad=..., of=...)` would; with `grad=None`, of every
        var for each float output (without `disconnected`: nothing was asked).
        """
        if grad is None:
            key: tuple = ("every var",)
            if key not in self._lints:
                self._lints[key] = lint_every_gradient(self._built)
            return self._lints[key]
        wrt = tuple(dict.fromkeys(grad))
        of = self._check_of(of, bool(wrt))
        self._check_grads(wrt)
        if (wrt, of) not in self._lints:
            self._lints[wrt, of] = lint(self._built, wrt, of)
        return self._lints[wrt, of]

    # -- stages
    def gradient_graph(self, wrt: Iterable[str], of: str | None = None,
                       seeded: bool = False) -> Graph:
        """The graph with adjoint nodes for the gradients of `of` w.r.t. `wrt`."""
        wrt = tuple(wrt)
        of = self._check_of(of, bool(wrt))
        self._check_grads(wrt)
        key = (wrt, of, seeded)
        if key not in self._graphs:
            self._graphs[key] = optimize.simplify(grad_graph(self.graph, wrt, of, seeded))
        return self._graphs[key]

    def _check_of(self, of: str | None, differentiating: bool) -> str | None:
        if of is None:
            if not differentiating:
                return None
            if len(self.outputs) != 1:
                raise GdlError(f"the program has several outputs ({', '.join(self.outputs)}); "
                               "say which one to differentiate with of=NAME (--of NAME)")
            return self.outputs[0]
        if of not in self.outputs:
            raise GdlError(f"`{of}` is not an output; the outputs are "
                           f"{', '.join(self.outputs)}")
        t = self.graph.output_value(of).type
        if differentiating and not t.dtype.is_float:
            raise GdlTypeError(f"cannot differentiate output `{of}` of type {t}: only float "
                               "outputs have gradients")
        return of

    def _check_grads(self, wrt: tuple[str, ...]) -> None:
        for name in wrt:
            leaf = self.graph.leaf(name)
            if leaf is None:
                raise GdlError(f"cannot take a gradient with respect to `{name}`: no `var` of "
                               f"that name (the vars are {', '.join(self.variables) or 'none'})")
            if leaf.kind != "var":
                raise GdlError(f"cannot take a gradient with respect to input `{name}`: inputs "
                               f"are data; declare it with `var {name} ...` to differentiate")

    # -- running
    def run(self, inputs: Mapping[str, Any] | None = None, grad: Iterable[str] | None = None,
            of: str | None = None, seed: Any = None, device: Any = None,
            max_iters: int | None = None, on_print: Callable[[str], None] | None = None,
            check_nan: bool = False) -> Result:
        """Run on an OpenCL device; gradients of `of` w.r.t. the vars in `grad`.

        `print` statements call `on_print(text)` (default: write to stdout).
        With `check_nan`, every float value computed is tested and
        `Result.nonfinite` names the first node (in execution order) that
        produced a NaN or an infinity, with the loop iterations it ran in.
        """
        wrt = tuple(dict.fromkeys(grad or ()))
        of = self._check_of(of, bool(wrt))
        self._check_grads(wrt)
        fed = self._feed(inputs or {})
        seed_arr = None
        if wrt:
            seed_arr = self._seed(of, seed)
        elif seed is not None:
            raise GdlError("a seed was given but no gradient was asked: pass grad=[...] "
                           "(--grad NAME on the command line)")
        limit = DEFAULT_MAX_ITERS if max_iters is None else int(max_iters)
        if limit < 0:
            raise GdlError(f"max_iters must be at least 0, found {limit}")
        dev = self._device(device)
        if wrt:
            everything = self.variables
            graph = self.gradient_graph(everything, of, seed_arr is not None)
        else:
            graph = self.graph
        before = dev.counters.snapshot()
        dev.mark_peak()
        start = time.perf_counter()
        executor = self._executor(graph, dev, check_nan)
        outputs, grads = executor.run(fed, seed_arr, limit, wrt, on_print or print)
        seconds = time.perf_counter() - start
        return Result(outputs, {n: grads[n] for n in wrt}, dev.describe(), seconds,
                      dev.counters.since(before), check_nan,
                      executor.nonfinite if check_nan else None)

    def session(self, inputs: Mapping[str, Any] | None = None, device: Any = None,
                max_iters: int | None = None,
                on_print: Callable[[str], None] | None = None) -> Session:
        """A Session keeping this program's vars and their gradients on the device.

        `inputs` gives vars their starting values (else their initialisers,
        computed on the device) and inputs their data, checked as `run` does.
        """
        limit = DEFAULT_MAX_ITERS if max_iters is None else int(max_iters)
        if limit < 0:
            raise GdlError(f"max_iters must be at least 0, found {limit}")
        return Session(self, self._device(device), self._feed(inputs or {}), limit,
                       on_print or print)

    def _executor(self, graph: Graph, dev: devices.Device, check_nan: bool = False) -> Executor:
        """The executor of a graph variant on a device, made (kernels built) once;
        a checked one (check_nan) is a variant of its own."""
        key = (id(dev), graph.grads, graph.of, graph.seed is not None, check_nan)
        executor = self._executors.get(key)
        if executor is None:
            executor = self._executors[key] = Executor(dev, make_plan(graph, dev, check_nan))
        return executor

    def _device(self, spec: Any) -> devices.Device:
        """The device this program runs on for `spec` (its size can matter, see for_size)."""
        if self._largest is None:
            self._largest = work_size(self.graph)
        if isinstance(spec, devices.Device):
            return spec.for_size(self._largest)
        if spec not in self._devices:
            self._devices[spec] = devices.select(spec).for_size(self._largest)
        return self._devices[spec]

    def _feed(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Fed values checked against their declarations and converted (same_kind)."""
        fed = {name: self._convert_leaf(name, value) for name, value in inputs.items()}
        for leaf in self.graph.leaves:
            if leaf.kind == "input" and leaf.init is None and leaf.name not in fed:
                raise GdlRuntimeError(f"input `{leaf.name}` has no default and no value was "
                                      f"given; feed it (inputs={{'{leaf.name}': ...}} or "
                                      f"--set {leaf.name}=...)", leaf.span)
        return fed

    def _convert_leaf(self, name: str, value: Any, where: str = "") -> np.ndarray:
        """A value for the leaf `name`, checked against its declaration and converted."""
        leaf = self.graph.leaf(name)
        if leaf is None:
            known = ", ".join(lf.name for lf in self.graph.leaves) or "none"
            raise GdlError(f"`{name}` is neither an input nor a var of the program "
                           f"(they are: {known})")
        return convert(value, leaf.value.type, f"{leaf.kind} `{name}`{where}")

    def _seed(self, of: str, seed: Any) -> np.ndarray | None:
        t = self.graph.output_value(of).type
        if seed is None:
            if t.shape != ():
                raise GdlError(f"output `{of}` is {t}, not a scalar: pass a seed (its cotangent, "
                               f"of shape {list(t.shape)}; --seed on the command line) or "
                               f"differentiate sum({of})")
            return None
        return convert(seed, t, f"the seed of `{of}`")


def convert(value: Any, t: TensorType, what: str) -> np.ndarray:
    """`value` as an array of type `t`: exact shape, NumPy same_kind casting."""
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise GdlError(f"{what} needs numbers, found {arr.dtype}")
    if tuple(arr.shape) != t.shape:
        raise GdlError(f"{what} is declared {t} but the value given has shape "
                       f"{list(arr.shape)}")
    if not np.can_cast(arr.dtype, t.dtype.np, casting="same_kind"):
        raise GdlError(f"{what} is declared {t} but the value given is {arr.dtype}, which does "
                       f"not convert safely (same_kind casting)")
    # No copy when it already is what is declared: a run reads it before returning.
    return np.asarray(arr, dtype=t.dtype.np, order="C").reshape(t.shape)


def compile_stages(source: str) -> Iterator[tuple[str, Graph]]:
    """Each stage's name and the graph after it: parse and build, then COMPILE_PASSES."""
    graph = build(parse(source), source)
    yield BUILD_STAGE, graph
    for name, run_pass in COMPILE_PASSES:
        graph = run_pass(graph)
        yield name, graph


def compile(source: str, filename: str = "<program>") -> Program:  # noqa: A001
    """Parse and build a program (errors are GdlErrors with a line and column)."""
    source = source.removeprefix("\ufeff")     # a byte-order mark some editors write
    stages = list(compile_stages(source))
    return Program(source, stages[-1][1], filename, built=stages[0][1])


def read_source(path: str | Path) -> str:
    """The text of a program file, or a GdlError saying why it cannot be read."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")    # without a byte-order mark, if any
    except FileNotFoundError:
        raise GdlError(f"no such file: {p}") from None
    except IsADirectoryError:
        raise GdlError(f"{p} is a directory, not a GDL program file") from None
    except UnicodeDecodeError as err:
        raise not_utf8(p, err) from None
    except OSError as err:
        raise GdlError(f"cannot read {p}: {err.strerror or err}") from None


def not_utf8(path: Path, err: UnicodeDecodeError) -> GdlError:
    """The error for a file that is not UTF-8, at the line and column of its first bad byte."""
    data = err.object
    line = data.count(b"\n", 0, err.start) + 1
    column = len(data[data.rfind(b"\n", 0, err.start) + 1:err.start].decode("utf-8")) + 1
    return GdlError(f"{path} is not UTF-8 text: found byte 0x{data[err.start]:02x} ({err.reason}) "
                    f"at byte {err.start}; expected UTF-8 (save the file as UTF-8)",
                    Span(line, column, line, column + 1))


def load(path: str | Path) -> Program:
    """Compile the program in a file."""
    return compile(read_source(path), str(path))
