"""The user-facing Session: a program's vars and gradients kept on the device.

    s = prog.session()                  # vars from their initialisers, on the device
    for _ in range(100):
        s.zero_grad()
        loss = s.backward()["loss"]     # reads the scalar loss, nothing else
        s.sgd(0.1)                      # x -= 0.1 * x.grad for every var, on the device
    s["w"], s.grad["w"]                 # NumPy arrays (one counted read each)

Contracts:
- Vars, input data and gradients are device tensors between calls; only
  what the user reads (`s[name]`, `s.grad[name]`, an output) is copied to
  the host, and only `s[name] = ...`, `s.inputs[name] = ...`, `load` and a
  new seed copy anything to the device.  Run-time values are never written
  in place: a step makes new tensors (from the device's memory pool).
- `backward(of, seed)` runs the gradient program (of `of` w.r.t. every var,
  as `Program.run` does) and adds each var's gradient to `s.grad[name]`:
  repeated calls accumulate until `zero_grad()`, as PyTorch's `.grad` does.
  `of` and `seed` follow `Program.run`'s rules.
- `forward()` and `backward()` return the run's outputs as an `Outputs`
  mapping that reads each output on first access, so a loop that ignores
  them reads nothing; `s.outputs` is the latest run's (None before any run).
- Values written are checked like `Program.run`'s inputs (exact shape,
  NumPy same_kind casting); a wrong name is a GdlError naming it.  Inputs
  are data: `s.inputs[name] = array` replaces them (a new batch), `s[name]`
  is for vars only.
- `save` / `load` keep the vars in an `.npz` file.

The Session knows its Program only through the Program's methods (it sits
above `api` in the layout, so `Program.session` can make one); it shares
the Program's executors, one per program variant (forward, gradient of each
`of` with or without a seed).  This module also owns the tables a Session
and an `api.Result` show in a terminal (rich) and in Jupyter (HTML).
Imports `runtime` (execute, values, resident, device), `dtype`, `errors`,
numpy and rich.
"""
from __future__ import annotations

import html
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .dtype import from_numpy
from .errors import GdlError
from .runtime import resident
from .runtime.device import Device
from .runtime.execute import Executor
from .runtime.values import ConstTensor, DevTensor

SUMMARY_THRESHOLD = 20   # arrays with more elements are shown as "[a b c ... x y z]"
EDGE_ITEMS = 3           # elements kept at each end of a summarised axis
LINE_WIDTH = 72          # wrap width of one value's text

Rows = Iterable[tuple[str, np.ndarray]]


# -- tables: a Session's and a Result's look in a terminal and in Jupyter ----

def type_text(arr: np.ndarray) -> str:
    """An array's type as GDL writes it (`f32[4]`, `f64`)."""
    arr = np.asarray(arr)
    dt = from_numpy(arr.dtype)
    name = dt.name if dt is not None else str(arr.dtype)
    return f"{name}[{', '.join(map(str, arr.shape))}]" if arr.shape else name


def float_text(v: Any) -> str:
    """The shortest text that reads back as the same value (`28`, `0.1`, `1e-07`)."""
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    magnitude = abs(float(v))
    if magnitude != 0 and (magnitude >= 1e16 or magnitude < 1e-4):
        return np.format_float_scientific(v, unique=True, trim="-")
    return np.format_float_positional(v, unique=True, trim="-")


def value_text(arr: np.ndarray) -> str:
    """The value NumPy-style, large arrays summarised so a table stays small."""
    return np.array2string(np.asarray(arr), threshold=SUMMARY_THRESHOLD, edgeitems=EDGE_ITEMS,
                           max_line_width=LINE_WIDTH, separator=" ",
                           formatter={"float_kind": float_text,
                                      "bool": lambda b: "true" if b else "false"})


def rich_tables(tables: Iterable[tuple[str, Rows]], caption: str = "",
                extra: tuple[str, ...] = ()):
    """Rich tables (name, type, value and `extra` columns), one per (title, rows)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text
    out = []
    for title, rows in tables:
        table = Table(title=title, title_justify="left")
        table.add_column("name", style="bold", overflow="fold")
        table.add_column("type")
        table.add_column("value", overflow="fold")
        for header in extra:
            table.add_column(header, overflow="fold")
        for name, *arrays in rows:
            table.add_row(Text(name), Text(type_text(arrays[0])),
                          *(Text(value_text(a)) for a in arrays))
        out.append(table)
    if caption:
        out.append(Text(caption, style="dim"))
    return Group(*out)


def html_tables(tables: Iterable[tuple[str, Rows]], caption: str = "",
                extra: tuple[str, ...] = ()) -> str:
    """The same tables as HTML, every name and value escaped."""
    cell = '<td style="text-align:left"><pre style="margin:0">{}</pre></td>'
    parts = []
    for title, rows in tables:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in ("name", "type", "value", *extra))
        body = []
        for name, *arrays in rows:
            cells = "".join(cell.format(html.escape(value_text(a))) for a in arrays)
            body.append(f"<tr><td><b>{html.escape(name)}</b></td>"
                        f"<td>{html.escape(type_text(arrays[0]))}</td>{cells}</tr>")
        parts.append(f"<table><caption style=\"text-align:left\">{html.escape(title)}"
                     f"</caption><tr>{head}</tr>{''.join(body)}</table>")
    if caption:
        parts.append(f"<p><small>{html.escape(caption)}</small></p>")
    return "".join(parts)


# -- read-only views -----------------------------------------------------------

class _Shown(Mapping):
    """A mapping of names to NumPy arrays that prints as a table (rich, HTML, repr)."""

    title = ""

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value_text(arr)}" for name, arr in self.items())
        return f"{type(self).__name__}({inner})"

    def __rich__(self):
        """A table in a terminal."""
        return rich_tables([(self.title, list(self.items()))])

    def _repr_html_(self) -> str:
        """A table in Jupyter."""
        return html_tables([(self.title, list(self.items()))])

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def _names(self) -> tuple[str, ...]:
        raise NotImplementedError


class Outputs(_Shown):
    """A run's outputs, each read from the device on first access (then kept)."""

    title = "outputs"

    def __init__(self, executor: Executor, values: dict[str, tuple]):
        self._executor = executor
        self._values = values          # name -> (run-time value, its IR Value)

    def _names(self) -> tuple[str, ...]:
        return tuple(self._values)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._values:
            raise GdlError(f"`{name}` is not an output; the outputs are "
                           f"{', '.join(self._values) or 'none'}")
        return self._executor.to_numpy(*self._values[name]).copy()


class Grads(_Shown):
    """A Session's gradients by var name, read-only; reading one downloads it."""

    title = "gradients"

    def __init__(self, session: "Session"):
        self._session = session

    def _names(self) -> tuple[str, ...]:
        return self._session.variables

    def __getitem__(self, name: str) -> np.ndarray:
        return self._session._read_grad(name)


class Inputs(_Shown):
    """A Session's input data: read with `[name]`, replaced with `[name] = array`."""

    title = "inputs"

    def __init__(self, session: "Session"):
        self._session = session

    def _names(self) -> tuple[str, ...]:
        return tuple(self._session._data)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._session._read(self._session._input_name(name), self._session._data)

    def __setitem__(self, name: str, value: Any) -> None:
        s = self._session
        s._input_name(name)
        s._data[name] = s._upload(name, s.program._convert_leaf(name, value))


# -- the Session -----------------------------------------------------------------

class Session:
    """A program's vars and gradients living on one device across Python calls.

    Made by `Program.session(inputs=None, device=None)`; see the module docstring.
    """

    def __init__(self, program: Any, device: Device, fed: dict[str, np.ndarray],
                 max_iters: int, printer: Callable[[str], None]):
        self.program = program
        self.device = device
        self.max_iters = max_iters
        self.printer = printer
        self.outputs: Outputs | None = None
        graph = program.graph
        forward = self._executor(graph)
        self._vars: dict[str, Any] = {}       # var name -> DevTensor
        self._data: dict[str, Any] = {}       # input name -> DevTensor
        for leaf in graph.leaves:
            where = self._vars if leaf.kind == "var" else self._data
            if leaf.name in fed:
                where[leaf.name] = self._upload(leaf.name, fed[leaf.name])
            else:
                where[leaf.name] = forward.initial(leaf.name)
        # var name -> its accumulated gradient as a run-time value; None: zero
        self._grads: dict[str, Any] = dict.fromkeys(self._vars)
        self._backwards = 0
        self._seed: tuple | None = None       # (of, array, DevTensor) of the last seed

    # -- what it holds
    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self._vars)

    @property
    def grad(self) -> Grads:
        """The accumulated gradients by var name (zeros until a backward)."""
        return Grads(self)

    @property
    def inputs(self) -> Inputs:
        """The input data by name; assign to replace one (checked, one upload)."""
        return Inputs(self)

    def __getitem__(self, name: str) -> np.ndarray:
        """A var's current value (one counted read)."""
        return self._read(self._var_name(name), self._vars)

    def __setitem__(self, name: str, value: Any) -> None:
        """Replace a var's value (checked like `Program.run`'s inputs; one upload)."""
        self._var_name(name)
        self._vars[name] = self._upload(name, self.program._convert_leaf(name, value))

    def __contains__(self, name: object) -> bool:
        return name in self._vars

    def __iter__(self) -> Iterator[str]:
        """The var names, so `{n: s[n] for n in s}` reads every var."""
        return iter(tuple(self._vars))

    def __len__(self) -> int:
        return len(self._vars)

    # -- running
    def forward(self) -> Outputs:
        """Run the program with the current vars; its outputs, read on access."""
        return self._run(self.program.graph, None)[0]

    def backward(self, of: str | None = None, seed: Any = None) -> Outputs:
        """Add the gradients of output `of` w.r.t. every var to `self.grad`; the run's outputs.

        `seed` is the cotangent of a non-scalar `of` (required for one).
        """
        program = self.program
        if not self._vars:
            raise GdlError("the program has no `var`, so backward has nothing to differentiate; "
                           "declare one with `var NAME = ...`")
        of = program._check_of(of, True)
        seed_arr = program._seed(of, seed)
        graph = program.gradient_graph(self.variables, of, seed_arr is not None)
        outputs, results = self._run(graph, self._seed_tensor(graph, of, seed_arr))
        for name, d in zip(graph.grads, results[len(graph.outputs):]):
            self._accumulate(name, d)
        self._backwards += 1
        return outputs

    def zero_grad(self) -> None:
        """Reset every gradient to zero (no device work: zero is the absence of one)."""
        self._grads = dict.fromkeys(self._vars)
        self._backwards = 0

    def sgd(self, lr: float) -> None:
        """One gradient-descent step on the device: `x -= lr * x.grad` for every var.

        One launch per var with a gradient; nothing is uploaded or read back.
        """
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise GdlError(f"the learning rate must be a number, found {lr!r}") from None
        executor = self._executor(self.program.graph)
        for name, g in self._grads.items():
            if g is None or (isinstance(g, ConstTensor) and not g.array.any()):
                continue
            x = self._vars[name]
            self._vars[name] = resident.sgd(self.device, x.buf, executor.buffer(g), lr, x.type)

    # -- files
    def save(self, path: str | Path) -> None:
        """Write every var to an `.npz` file (exactly at `path`), one read per var."""
        arrays = {name: self[name] for name in self._vars}
        try:
            with zipfile.ZipFile(path, "w") as zf:
                for name, arr in arrays.items():
                    with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                        np.lib.format.write_array(f, arr, allow_pickle=False)
        except OSError as err:
            raise GdlError(f"cannot write {path}: {err.strerror or err}") from None

    def load(self, path: str | Path) -> "Session":
        """Read every var from an `.npz` file written by `save` (checked); this Session."""
        try:
            npz = np.load(path, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise GdlError(f"{path} holds one array, not an .npz file of vars by name")
            with npz:
                arrays = {name: npz[name] for name in npz.files}
        except GdlError:
            raise
        except FileNotFoundError:
            raise GdlError(f"no such file: {path}") from None
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            raise GdlError(f"cannot read vars from {path}: {err}") from None
        unknown = [n for n in arrays if n not in self._vars]
        if unknown:
            raise GdlError(f"{path} holds {', '.join(f'`{n}`' for n in unknown)}, which "
                           f"{'is not a var' if len(unknown) == 1 else 'are not vars'} of the "
                           f"program (the vars are {', '.join(self._vars) or 'none'})")
        missing = [n for n in self._vars if n not in arrays]
        if missing:
            raise GdlError(f"{path} has no value for var {', '.join(f'`{n}`' for n in missing)}")
        checked = {n: self.program._convert_leaf(n, a, f" in {path}") for n, a in arrays.items()}
        for name, arr in checked.items():
            self._vars[name] = self._upload(name, arr)
        return self

    # -- display
    def __repr__(self) -> str:
        grads = "zero" if self._backwards == 0 else f"accumulated({self._backwards})"
        return (f"Session(vars=[{', '.join(self._vars)}], grads={grads}, "
                f"device={self.device.name})")

    def _table(self) -> list:
        rows = [(name, self[name], self.grad[name]) for name in self._vars]
        return [("vars", rows)]

    def _caption(self) -> str:
        grads = ("gradients zero" if self._backwards == 0 else
                 f"gradients accumulated over {self._backwards} backward call"
                 f"{'s' if self._backwards > 1 else ''}")
        return f"{grads} · {self.device.describe()}"

    def __rich__(self):
        """Vars with their values and gradients as a rich table (reads each once)."""
        return rich_tables(self._table(), self._caption(), extra=("grad",))

    def _repr_html_(self) -> str:
        """The same table as HTML for Jupyter."""
        return html_tables(self._table(), self._caption(), extra=("grad",))

    # -- internals
    def _executor(self, graph) -> Executor:
        return self.program._executor(graph, self.device)

    def _run(self, graph, seed: DevTensor | None) -> tuple[Outputs, list]:
        """Run one program variant with the session's tensors as its leaves."""
        executor = self._executor(graph)
        results = executor.run_resident({**self._data, **self._vars}, seed, self.max_iters,
                                        self.printer)
        typed = zip(graph.outputs, zip(results, graph.body.results))
        self.outputs = Outputs(executor, dict(typed))
        return self.outputs, results

    def _seed_tensor(self, graph, of: str, seed: np.ndarray | None) -> DevTensor | None:
        """The seed on the device, uploaded again only when it changes."""
        if seed is None:
            return None
        last = self._seed
        if last is None or last[0] != of or not np.array_equal(last[1], seed):
            buf = self._executor(graph).upload(seed)
            self._seed = (of, seed, DevTensor(buf, graph.seed.type, seed))
        return self._seed[2]

    def _accumulate(self, name: str, d: Any) -> None:
        """`grad[name] += d` on the device (a new tensor), or `= d` when it was zero."""
        t = self._vars[name].type
        if not isinstance(d, (DevTensor, ConstTensor)):      # a host value
            d = ConstTensor(np.asarray(d, t.dtype.np).reshape(t.shape))
        if isinstance(d, ConstTensor) and not d.array.any():
            return                                            # a var `of` does not depend on
        if isinstance(d, DevTensor) and d.type != t:
            d = DevTensor(d.buf, t, d.host)
        g = self._grads[name]
        if g is None:
            self._grads[name] = d
            return
        executor = self._executor(self.program.graph)
        self._grads[name] = resident.add(self.device, executor.buffer(g), executor.buffer(d), t)

    def _read_grad(self, name: str) -> np.ndarray:
        if name not in self._vars:
            raise self._not_a_var(name, "there is no gradient of")
        g = self._grads[name]
        t = self._vars[name].type
        if g is None:
            return np.zeros(t.shape, t.dtype.np)
        arr = np.asarray(self._executor(self.program.graph).host(g))
        return arr.astype(t.dtype.np, copy=True).reshape(t.shape)

    def _read(self, name: str, where: dict) -> np.ndarray:
        value = where[name]
        arr = np.asarray(self._executor(self.program.graph).host(value))
        return arr.astype(value.type.dtype.np, copy=True).reshape(value.type.shape)

    def _upload(self, name: str, arr: np.ndarray) -> DevTensor:
        """A checked value of leaf `name` on the device (its host copy kept)."""
        t = self.program.graph.leaf(name).value.type
        arr = np.array(arr, copy=True)      # the kept host copy must not follow the caller's
        return DevTensor(self._executor(self.program.graph).upload(arr), t, arr)

    def _var_name(self, name: str) -> str:
        if name not in self._vars:
            raise self._not_a_var(name, "no var")
        return name

    def _input_name(self, name: str) -> str:
        if name not in self._data:
            if name in self._vars:
                raise GdlError(f"`{name}` is a var, not an input: use s[{name!r}]")
            raise GdlError(f"`{name}` is not an input of the program (the inputs are "
                           f"{', '.join(self._data) or 'none'})")
        return name

    def _not_a_var(self, name: str, what: str) -> GdlError:
        if name in self._data:
            return GdlError(f"`{name}` is an input, not a var: inputs are data, read or "
                            f"replace it with s.inputs[{name!r}]")
        return GdlError(f"{what} `{name}`: the vars are {', '.join(self._vars) or 'none'}")
