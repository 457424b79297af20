"""How results, programs and errors look: rich tables, JSON and caret text.

Owns the presentation that the API leaves out: a Result as tables or as a
JSON-ready dict, a compiled Program as a short summary, a GdlError as the
source line with a caret (coloured when the console is a terminal), the
device list, and the banner of an internal error.  Every printing function
writes to a rich `Console` the caller passes in, so the CLI, the REPL and
tests share one code path and tests can capture it.
Imports `api` types, `errors`, numpy and rich.

Value tables are built from `VALUE_COLUMNS`, a tuple of (header, function
of the array) pairs: a new per-value report (norms, NaN counts) is one more
entry there, and both the outputs and the gradients tables pick it up.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .api import Program, Result
from .errors import GdlError, render

SUMMARY_THRESHOLD = 20   # tensors with more elements are shown as "[a b c ... x y z]"
EDGE_ITEMS = 3           # elements kept at each end of a summarised axis
LINE_WIDTH = 72          # wrap width of one value's text
MESSAGE_CHARS = 300      # of an internal error's message shown in the banner

GDL_DTYPES = MappingProxyType({"float32": "f32", "float64": "f64", "int32": "i32",
                               "bool": "bool"})


# -- one value ------------------------------------------------------------

def format_float(v: Any) -> str:
    """The shortest text that reads back as the same value of its dtype (`28`, `0.1`)."""
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    magnitude = abs(float(v))
    if magnitude != 0 and (magnitude >= 1e16 or magnitude < 1e-4):
        return np.format_float_scientific(v, unique=True, trim="-")
    return np.format_float_positional(v, unique=True, trim="-")


def dtype_text(arr: np.ndarray) -> str:
    """The GDL name of an array's dtype, so tables speak the language's types."""
    return GDL_DTYPES.get(str(arr.dtype), str(arr.dtype))


def shape_text(arr: np.ndarray) -> str:
    """The shape as GDL writes it: `[]` for a scalar, `[3, 2]`."""
    return "[" + ", ".join(str(n) for n in arr.shape) + "]"


def value_text(arr: np.ndarray) -> str:
    """The value NumPy-style, big tensors summarised, floats in their shortest form."""
    return np.array2string(
        np.asarray(arr), threshold=SUMMARY_THRESHOLD, edgeitems=EDGE_ITEMS,
        max_line_width=LINE_WIDTH, separator=" ",
        formatter={"float_kind": format_float,
                   "bool": lambda b: "true" if b else "false"})


# (header, text of the array): the columns after the name in every value table.
VALUE_COLUMNS: tuple[tuple[str, Callable[[np.ndarray], str]], ...] = (
    ("dtype", dtype_text),
    ("shape", shape_text),
    ("value", value_text),
)


def values_table(title: str, rows: Iterable[tuple[str, np.ndarray]]) -> Table:
    """One row per named value with the VALUE_COLUMNS, as a rich table."""
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("name", style="bold", overflow="fold")
    for header, _ in VALUE_COLUMNS:
        table.add_column(header, overflow="fold")
    for name, arr in rows:
        arr = np.asarray(arr)
        table.add_row(Text(name), *(Text(fn(arr)) for _, fn in VALUE_COLUMNS))
    return table


# -- a Result ---------------------------------------------------------------

def grad_label(name: str, of: str | None) -> str:
    """`dy/dx`, the way gradients are named in the language's docs."""
    return f"d{of}/d{name}" if of else name


def seconds_text(seconds: float) -> str:
    """A duration in the unit that reads best."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def stats_table(stats: Mapping[str, int]) -> Table:
    """The runtime counters of one run (launches, bytes moved, reads, builds)."""
    table = Table(title="stats", title_justify="left", show_edge=False)
    table.add_column("counter", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    for key, value in stats.items():
        table.add_row(key.replace("_", " "), str(value))
    return table


def print_result(console: Console, result: Result, of: str | None = None,
                 stats: bool = False) -> None:
    """Outputs, then gradients (labelled d`of`/dx), the device and time, and counters."""
    console.print(values_table("outputs", result.outputs.items()))
    if result.grads:
        rows = ((grad_label(n, of), g) for n, g in result.grads.items())
        console.print()
        console.print(values_table("gradients", rows))
    console.print()
    console.print(Text(f"device: {result.device}  time: {seconds_text(result.seconds)}",
                       style="dim"), soft_wrap=True)
    if stats:
        console.print()
        console.print(stats_table(result.stats))


def json_value(arr: np.ndarray) -> Any:
    """A number, bool or nested list; NaN and infinities are left to `json` to write."""
    return np.asarray(arr).tolist()


def result_json(result: Result, stats: bool = False) -> dict:
    """The `--json` object: outputs and grads always, further keys only when asked."""
    obj: dict[str, Any] = {
        "outputs": {n: json_value(v) for n, v in result.outputs.items()},
        "grads": {n: json_value(v) for n, v in result.grads.items()},
    }
    if stats:
        obj["stats"] = dict(result.stats)
    return obj


# -- a Program --------------------------------------------------------------

def program_summary(program: Program, filename: str) -> str:
    """What `gdl check` prints: the vars, inputs and outputs with their types."""
    graph = program.graph
    lines = [f"{filename}: ok"]
    for leaf in graph.leaves:
        line = f"  {leaf.kind:<6} {leaf.name}: {leaf.value.type}"
        if leaf.kind == "input":
            line += "  (has a default)" if leaf.init is not None else "  (must be fed)"
        lines.append(line)
    for name in graph.outputs:
        lines.append(f"  {'out':<6} {name}: {graph.output_value(name).type}")
    return "\n".join(lines) + "\n"


def print_text(console: Console, text: str) -> None:
    """Plain text exactly as given: no markup, highlighting, emoji or wrapping."""
    console.print(Text(text.rstrip("\n")), soft_wrap=True)


# -- errors -----------------------------------------------------------------

def error_text(source: str | None, err: GdlError, filename: str = "<program>") -> str:
    """The error as plain text: location, message, source line and caret."""
    return render(source, err, filename)


def error_rich(source: str | None, err: GdlError, filename: str = "<program>") -> Text:
    """The error text with styles: a bold headline, a red caret, dim notes."""
    text = Text()
    for i, line in enumerate(error_text(source, err, filename).split("\n")):
        if i:
            text.append("\n")
        if i == 0:
            style = "bold red"
        elif line.strip() and set(line.strip()) == {"^"}:
            style = "bold red"
        elif line.startswith("  note:"):
            style = "dim"
        else:
            style = ""
        text.append(line, style=style)
    return text


def print_error(console: Console, source: str | None, err: GdlError,
                filename: str = "<program>") -> None:
    """Show a GdlError with its caret; colour only where the console is a terminal."""
    console.print(error_rich(source, err, filename), soft_wrap=True)


def crash_text(exc: BaseException, path: str | None) -> str:
    """The banner of an internal error: it is a bug, what it was, where the traceback is."""
    message = " ".join(str(exc).split())
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + " ..."
    lines = ["gdl: internal error: this is a bug in gdl, not in your program.",
             f"  {type(exc).__name__}: {message}" if message else f"  {type(exc).__name__}"]
    if path:
        lines.append(f"  The full traceback is in {path}")
        lines.append("  Please attach that file when you report the bug.")
    else:
        lines.append("  (the traceback could not be written to a file)")
    return "\n".join(lines)


# -- devices ----------------------------------------------------------------

def devices_text(rows: Iterable[Mapping[str, str]], chosen: str | None) -> str:
    """OpenCL devices by `P:D` index, one a line, the one a run would use marked `*`."""
    lines = ["OpenCL devices:"]
    for row in rows:
        mark = "*" if row["index"] == chosen else " "
        lines.append(f"{mark} {row['index']:<5} {row['kind'].upper():<11} {row['name']}  "
                     f"({row['platform']})")
    return "\n".join(lines) + "\n"
