"""How results, programs and errors look: rich tables, JSON and caret text.

Owns the presentation that the API leaves out: a Result as a gradient report
(outputs; gradients with their L2 norm, min/max and NaN/Inf counts; notes on
vars the output does not depend on; a finite-difference check; where a
checked run's first NaN/Inf came from; device and time), as a JSON-ready
dict or as an .npz file; a compiled Program as a short summary; a GdlError,
or a lint GdlWarning, as the source line with a caret (coloured when the
console is a terminal); the device list; and the banner of an internal
error.  Every printing function writes to a rich `Console` the caller passes
in, so the CLI, the REPL and tests share one code path and tests can capture
it.  Both also share the version and the crash file here (the REPL may not
import the CLI).
Imports `api` and `check` types, `errors`, numpy and rich.

Value tables are built from `VALUE_COLUMNS`, a tuple of (header, function
of the array) pairs.  Gradients are blocks rather than table rows (a
label and type, the value, a statistics line, notes and the check), so
wide f64 values keep their full width.
"""
from __future__ import annotations

import os
import tempfile
import traceback
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .api import Program, Result
from .check import FAIL, INCONCLUSIVE, PASS, VarCheck, element_text
from .errors import GdlError, GdlWarning, excerpt, render
from .runtime.device import human_bytes
from .runtime.nancheck import Origin
from .tapecost import loop_tapes

SUMMARY_THRESHOLD = 20   # tensors with more elements are shown as "[a b c ... x y z]"
EDGE_ITEMS = 3           # elements kept at each end of a summarised axis
LINE_WIDTH = 72          # wrap width of one value's text
MESSAGE_CHARS = 300      # of an internal error's message shown in the banner

# How the symbols of reports and graph views are spelled on a console that cannot
# encode them (∇ marks adjoint nodes, τ tape nodes; • is an edge in DOT labels).
ASCII_SPELLING = MappingProxyType(str.maketrans({"·": "|", "✓": "ok", "✗": "X", "≤": "<=",
                                                 "µ": "u", "∇": "A", "τ": "T", "…": "...",
                                                 "•": "*"}))

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


def grad_info(arr: np.ndarray) -> dict[str, Any]:
    """What a report says about one gradient: its L2 norm, min, max, NaN and Inf counts.

    The norm is over every element, computed in f64 (NaN if an element is
    NaN); min and max are over the elements that are not NaN, as values of
    the array's dtype (None when every element is NaN).
    """
    a = np.asarray(arr)
    wide = a.astype(np.float64)
    nan, inf = int(np.isnan(wide).sum()), int(np.isinf(wide).sum())
    scale = float(np.abs(wide).max()) if wide.size and not nan else 0.0
    if nan:
        norm = float("nan")
    elif inf or scale == 0:
        norm = scale
    else:                       # scaled, so huge f64 elements do not overflow the sum
        norm = scale * float(np.sqrt(np.sum((wide / scale) ** 2)))
    kept = a[~np.isnan(wide)]
    return {"norm": norm,
            "min": kept.min() if kept.size else None,
            "max": kept.max() if kept.size else None,
            "nan": nan, "inf": inf}


def stat_text(v: Any) -> str:
    """A statistic to 7 significant digits, trimmed (`14.96663`, `0`), `-` when absent."""
    if v is None:
        return "-"
    v = float(v)
    return format_float(np.float64(f"{v:.7g}")) if np.isfinite(v) else format_float(v)


def indented(text: str, prefix: str) -> str:
    """Every line of `text` after `prefix`, continuation lines aligned under the first."""
    pad = " " * len(prefix)
    return prefix + text.replace("\n", "\n" + pad)


def stats_line(info: Mapping[str, Any]) -> Text:
    """`L2 norm 14.97 · min 0 · max 12 · no NaN or Inf`, counts in red when not zero."""
    text = Text(f"L2 norm {stat_text(info['norm'])} · min {stat_text(info['min'])} · "
                f"max {stat_text(info['max'])} · ", style="dim")
    if info["nan"] or info["inf"]:
        text.append(f"{info['nan']} NaN, {info['inf']} Inf", style="bold red")
    else:
        text.append("no NaN or Inf", style="dim")
    return text


def gradient_block(name: str, arr: np.ndarray, of: str | None, influences: bool | None,
                   check: VarCheck | None = None) -> Text:
    """One gradient: label and type, its value, statistics, a note, and its check."""
    arr = np.asarray(arr)
    text = Text("  ")
    text.append(grad_label(name, of), style="bold")
    t = dtype_text(arr) + (shape_text(arr) if arr.shape else "")
    text.append(f"  {t}\n", style="cyan")
    text.append(indented(value_text(arr), "    "))
    if arr.shape:               # a scalar's statistics would only repeat its value
        text.append("\n    ")
        text.append_text(stats_line(grad_info(arr)))
    if influences is False:
        text.append(f"\n    note: {of} does not depend on {name}, so this gradient is zero "
                    "everywhere", style="yellow")
    if check is not None:
        text.append("\n")
        text.append_text(check_lines(check))
    return text


def print_result(console: Console, result: Result, of: str | None = None,
                 stats: bool = False, influencing: Iterable[str] | None = None,
                 check: Mapping[str, VarCheck] | None = None,
                 source: str | None = None) -> None:
    """The gradient report: outputs, gradients with statistics and checks, device and time.

    Each gradient (labelled d`of`/dx) shows its value, L2 norm, min/max and
    NaN/Inf counts, a note when `of` does not depend on it (a var missing
    from `influencing`), and its finite-difference check when `check` has
    one; `stats` adds the runtime counters.  A run with check_nan adds where
    its first NaN/Inf came from (the line shown from `source`).
    """
    console.print(values_table("outputs", result.outputs.items()))
    known = None if influencing is None else set(influencing)
    if result.grads:
        console.print()
        console.print(Text(f"gradients of {of}" if of else "gradients", style="italic"))
        for name, g in result.grads.items():
            influences = None if known is None or of is None else name in known
            block = gradient_block(name, g, of, influences, (check or {}).get(name))
            console.print(encodable(console, block), soft_wrap=True)
    if check:
        console.print()
        console.print(encodable(console, check_summary(check)), soft_wrap=True)
    if result.checked_nan:
        console.print()
        console.print(encodable(console, nonfinite_text(result.nonfinite, source)),
                      soft_wrap=True)
    console.print()
    console.print(encodable(console, footer_text(result)), soft_wrap=True)
    if stats:
        console.print()
        console.print(stats_table(result.stats))


def encodable(console: Console, text: Text) -> Text:
    """`text` as is, or spelled in ASCII (unstyled) where the console cannot encode it.

    Reports use a few symbols (· ✓ ✗ ≤ µ); a stream with an ASCII or Latin-1
    encoding gets `|`, `ok`, `X`, `<=` and `u` instead of an encoding error.
    """
    try:
        text.plain.encode(console.encoding or "utf-8")
        return text
    except (UnicodeEncodeError, LookupError):
        plain = text.plain.translate(ASCII_SPELLING)
        return Text(plain.encode("ascii", "replace").decode("ascii"))


def footer_text(result: Result) -> Text:
    """`device: ...  time: ...`: where and how fast the run was."""
    return Text(f"device: {result.device}  time: {seconds_text(result.seconds)}", style="dim")


def nonfinite_text(origin: Origin | None, source: str | None = None) -> Text:
    """A checked run's first NaN/Inf: value, node, role, line; its loop iterations; the line."""
    if origin is None:
        return Text("NaN/Inf check: no value computed was NaN or infinite", style="green")
    where = f" at line {origin.line}, column {origin.column}" if origin.line else ""
    what = (f"{origin.role} `{origin.node}`" if origin.role in ("input", "var", "seed")
            else f"`{origin.op}` ({origin.role} node {origin.node})")
    text = Text("first NaN/Inf: ", style="bold red")
    text.append(f"{origin.value} from {what}{where}")
    for it in origin.iterations:
        line = f"line {it.line}" if it.line else "a loop"
        trips = "" if it.trips is None else f" of {it.trips}"
        if it.role == "adjoint":
            text.append(f"\n  in iteration {it.iteration}{trips} of the reverse pass of the "
                        f"loop at {line}")
            if it.trips is not None:
                text.append(f" (the adjoint of its iteration {it.trips - 1 - it.iteration})")
        else:
            text.append(f"\n  in iteration {it.iteration}{trips} of the loop at {line} "
                        "(counting from 0)")
    if source is not None and origin.span is not None:
        for line in excerpt(source, origin.span):
            text.append("\n" + line, style="bold red" if set(line.strip()) == {"^"} else "")
    return text


def nonfinite_json(origin: Origin | None) -> dict:
    """`nonfinite`: {"found": false}, or the first origin with "found": true."""
    return {"found": False} if origin is None else {"found": True, **origin.as_dict()}


def stats_table(stats: Mapping[str, int]) -> Table:
    """The runtime counters of one run (launches, bytes moved, reads, builds)."""
    table = Table(title="stats", title_justify="left", show_edge=False)
    table.add_column("counter", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    for key, value in stats.items():
        table.add_row(key.replace("_", " "), str(value))
    return table


# -- a gradient check ----------------------------------------------------------

MARKS = MappingProxyType({
    PASS: ("✓ pass", "bold green"),
    FAIL: ("✗ FAIL", "bold red"),
    INCONCLUSIVE: ("? inconclusive", "bold yellow"),
})


def fd_text(arr: np.ndarray) -> str:
    """Finite differences NumPy-style, to 7 significant digits (more would be noise)."""
    return np.array2string(
        np.asarray(arr), threshold=SUMMARY_THRESHOLD, edgeitems=EDGE_ITEMS,
        max_line_width=LINE_WIDTH, separator=" ",
        formatter={"float_kind": stat_text})


def rel_error_text(v: float | None) -> str:
    """A relative error in two significant digits (`3.1e-09`, `0.67`), `-` when none."""
    if v is None:
        return "-"
    if v == 0 or not np.isfinite(v):
        return format_float(v)
    return f"{v:.2g}" if 1e-3 <= v < 1e3 else f"{v:.1e}"


def check_lines(c: VarCheck) -> Text:
    """A gradient's check: the differences, the verdict, and the worst element or reasons.

    The worst element is shown for failed and for sampled checks (whose
    differences are not printed); reasons for inconclusive ones.
    """
    mark, style = MARKS[c.status]
    head = "    finite differences "
    text = Text(head, style="dim")
    full = c.fd_array()
    if np.isnan(c.fd).all():
        text = Text("    ")
    else:
        if full is not None:
            text.append(indented(fd_text(full), head)[len(head):])
        else:
            text.append(f"at {len(c.indices)} of {c.size} elements, chosen at random "
                        "(seeded)")
        text.append("\n    ")
    text.append(mark, style=style)
    if c.max_rel_error is None:
        text.append("  no element could be compared")
    else:
        bound = "≤" if c.max_rel_error <= c.tolerance else ">"
        text.append(f"  max rel. error {rel_error_text(c.max_rel_error)} {bound} "
                    f"{c.tolerance:g}")
    worst = c.worst
    if worst is not None and (c.status == FAIL or c.sampled):
        j = c.indices.index(worst)
        text.append(f"\n    {'fails' if c.status == FAIL else 'worst'} at "
                    f"{element_text(c.name, worst)}: reverse mode {stat_text(c.ad[j])}, "
                    f"finite differences {stat_text(c.fd[j])}",
                    style="red" if c.status == FAIL else "dim")
    for reason in c.reasons:
        text.append(f"\n    inconclusive: {reason}", style="yellow")
    return text


def check_summary(checks: Mapping[str, VarCheck]) -> Text:
    """How many failed, were inconclusive or passed; the method and the tolerance."""
    counts = {s: sum(c.status == s for c in checks.values()) for s in (FAIL, INCONCLUSIVE, PASS)}
    parts = [f"{n} {s}ed" if s != INCONCLUSIVE else f"{n} {s}"
             for s, n in counts.items() if n]
    first = next(iter(checks.values()))
    where = ("in f64 on the device" if first.precision == "f64"
             else "in the program's f32, as the device has no f64")
    computes = "f32" if first.program_precision == "f32" else "f64 only"
    style = "bold red" if counts[FAIL] else ("yellow" if counts[INCONCLUSIVE] else "green")
    text = Text(f"gradient check: {', '.join(parts)}", style=style)
    text.append(f"\n  method: central differences {where}, h = {first.step:g} * max(1, |x|)"
                f"\n  tolerance: {first.tolerance:g} on the max relative error, as the program "
                f"computes in {computes}", style="dim")
    return text


# -- JSON ---------------------------------------------------------------------

def json_value(arr: np.ndarray) -> Any:
    """A number, bool or nested list; NaN and infinities are left to `json` to write."""
    return np.asarray(arr).tolist()


def json_number(v: Any) -> Any:
    """A statistic as a JSON number (None stays null)."""
    return None if v is None else np.asarray(v).item()


def grad_info_json(arr: np.ndarray, influences: bool | None) -> dict:
    """`grad_info[name]`: dtype, shape, norm, min, max, nan, inf and whether it influences."""
    a = np.asarray(arr)
    info = {k: json_number(v) for k, v in grad_info(a).items()}
    return {"dtype": dtype_text(a), "shape": list(a.shape), **info, "influences": influences}


def check_json(c: VarCheck) -> dict:
    """`check[name]`: the verdict, error, tolerance and every element checked."""
    return {"status": c.status, "max_rel_error": c.max_rel_error, "tolerance": c.tolerance,
            "precision": c.precision, "step": c.step, "checked": len(c.indices),
            "elements": c.size, "sampled": c.sampled,
            "indices": [list(i) for i in c.indices], "ad": c.ad.tolist(),
            "fd": c.fd.tolist(), "rel_error": c.rel_error.tolist(), "reasons": list(c.reasons)}


def result_json(result: Result, stats: bool = False, of: str | None = None,
                influencing: Iterable[str] | None = None,
                check: Mapping[str, VarCheck] | None = None, details: bool = False,
                warnings: Iterable[GdlWarning] | None = None) -> dict:
    """The `--json` object: "outputs" and "grads" first and always, then added keys.

    With `details` (what `gdl run --json` prints): "of", "grad_info"
    ({name: {dtype, shape, norm, min, max, nan, inf, influences}}), "device"
    and "seconds"; "stats" with `stats`; "check" ({name: {...}}) with `check`;
    "warnings" ([{line, column, code, message, hint}]) with `warnings`;
    "nonfinite" ({"found": ...} and the first origin) for a run with check_nan.
    """
    obj: dict[str, Any] = {
        "outputs": {n: json_value(v) for n, v in result.outputs.items()},
        "grads": {n: json_value(v) for n, v in result.grads.items()},
    }
    if details:
        known = None if influencing is None else set(influencing)
        obj["of"] = of if result.grads else None
        obj["grad_info"] = {n: grad_info_json(g, None if known is None else n in known)
                            for n, g in result.grads.items()}
        obj["device"] = result.device
        obj["seconds"] = result.seconds
    if stats:
        obj["stats"] = dict(result.stats)
    if check is not None:
        obj["check"] = {n: check_json(c) for n, c in check.items()}
    if warnings is not None:
        obj["warnings"] = [warning_json(w) for w in warnings]
    if result.checked_nan:
        obj["nonfinite"] = nonfinite_json(result.nonfinite)
    return obj


def warning_json(w: GdlWarning) -> dict:
    """One lint warning as JSON: where (line and column, null without a span) and what."""
    return {"line": w.line, "column": w.column, "code": w.code, "message": w.message,
            "hint": w.hint}


def save_npz(path: str, result: Result) -> None:
    """Write outputs and gradients to an .npz as "outputs/NAME" and "grads/NAME" arrays."""
    arrays = {f"outputs/{n}": np.asarray(v) for n, v in result.outputs.items()}
    arrays.update({f"grads/{n}": np.asarray(v) for n, v in result.grads.items()})
    try:
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    except OSError as err:
        raise GdlError(f"cannot write {path}: {err.strerror or err}") from None


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
    lines += loop_lines(program)
    return "\n".join(lines) + "\n"


def loop_lines(program: Program) -> list[str]:
    """Each loop's tape per iteration when every var is differentiated (with
    respect to the first float output)."""
    graph = program.graph
    floats = [n for n in graph.outputs if graph.output_value(n).type.dtype.is_float]
    if not program.variables or not floats:
        return []
    of = floats[0]
    seeded = graph.output_value(of).type.shape != ()
    try:
        differentiated = program.gradient_graph(program.variables, of, seeded=seeded)
    except GdlError:
        return []           # not differentiable as a whole: a run would say why
    lines = []
    for tape in loop_tapes(differentiated):
        where = f"line {tape.span.line}" if tape.span else "?"
        if tape.device_bytes:
            saved = f"tape {human_bytes(tape.device_bytes)} per iteration"
        elif tape.host_values:
            saved = "no tape on the device (its reverse pass needs only the trip count)"
        else:
            saved = "no tape"
        lines.append(f"  {'loop':<6} {where}: {saved} when differentiating {of}")
    return lines


def print_text(console: Console, text: str) -> None:
    """Plain text exactly as given: no markup, highlighting, emoji or wrapping."""
    console.print(Text(text.rstrip("\n")), soft_wrap=True)


# -- errors -----------------------------------------------------------------

def error_text(source: str | None, err: GdlError | GdlWarning,
               filename: str = "<program>") -> str:
    """The error as plain text: location, message, source line and caret."""
    return render(source, err, filename)


def error_rich(source: str | None, err: GdlError | GdlWarning, filename: str = "<program>",
               colour: str = "red") -> Text:
    """The error (or warning) text with styles: a bold headline and caret in `colour`,
    dim notes and hints."""
    text = Text()
    for i, line in enumerate(error_text(source, err, filename).split("\n")):
        if i:
            text.append("\n")
        if i == 0:
            style = f"bold {colour}"
        elif line.strip() and set(line.strip()) == {"^"}:
            style = f"bold {colour}"
        elif line.startswith(("  note:", "  hint:")):
            style = "dim"
        else:
            style = ""
        text.append(line, style=style)
    return text


def print_error(console: Console, source: str | None, err: GdlError,
                filename: str = "<program>") -> None:
    """Show a GdlError with its caret; colour only where the console is a terminal."""
    console.print(error_rich(source, err, filename), soft_wrap=True)


def print_warnings(console: Console, source: str | None, warnings: Iterable[GdlWarning],
                   filename: str = "<program>") -> None:
    """Show lint warnings as errors are shown (line and caret), in yellow."""
    for w in warnings:
        console.print(error_rich(source, w, filename, colour="yellow"), soft_wrap=True)


def version(missing: str = "unknown") -> str:
    """The installed gdl version from the package metadata (not the package root), or `missing`."""
    try:
        from importlib.metadata import version as dist_version
        return dist_version("gdl")
    except Exception:  # noqa: BLE001 - any metadata failure only hides the version
        return missing


def write_crash(exc: BaseException, header: str) -> str | None:
    """Save `header` and an internal error's traceback to a temp file; its path, or None."""
    try:
        fd, path = tempfile.mkstemp(prefix="gdl-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(header + "".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


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
