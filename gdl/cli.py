"""The `gdl` command line: `gdl run|check|graph|devices|repl` (language.md §7).

Owns argument parsing, reading program files, turning `--set`/`--seed`
values (GDL constant expressions or `@file.npy`) into arrays, and the exit
statuses: 0 success; 1 a user error (any GdlError, a missing file, a bad
value); 2 a usage error (argparse's); 3 an internal error, shown as a short
banner naming a file that holds the traceback, never as a traceback.
Presentation lives in `report`; running lives in `api`.
Imports `api`, `report`, `errors`, `parse`, `printer`, `runtime.device`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np
from rich.console import Console

from . import api, report
from .dtype import TensorType
from .errors import GdlError
from .parse import parse
from .printer import graph_text
from .runtime import device as devices

EXIT_OK, EXIT_USER, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
VALUE_NAME = "__v"      # the name a --set/--seed expression is bound to when evaluated


@dataclass
class Context:
    """What one invocation prints to, and the program source its errors point into."""

    out: Console
    err: Console
    source: str | None = None
    filename: str = "<program>"


# -- reading programs and values ---------------------------------------------

def load_program(ctx: Context, path: str) -> api.Program:
    """Read and compile FILE, remembering its text so errors can show the line."""
    text = api.read_source(path)
    ctx.source, ctx.filename = text, path
    return api.compile(text, path)


def load_npy(path: str, option: str) -> np.ndarray:
    """The array in a `.npy` file given as `@path` (no pickles)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise GdlError(f"bad value for {option}: no such file: {path}") from None
    except (OSError, ValueError, EOFError) as err:
        raise GdlError(f"bad value for {option}: cannot read {path} as a .npy array "
                       f"({err})") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise GdlError(f"bad value for {option}: {path} holds several arrays (.npz); "
                       "save one array with numpy.save") from None
    return arr


def evaluate(text: str, option: str, target: TensorType | None, device) -> np.ndarray:
    """A VALUE as an array: `@file.npy`, or a GDL constant expression run on `device`.

    An expression is compiled as a one-line program and run.  When the
    value is meant for a declaration of known type with the same shape, it
    is evaluated as that type, so weak literals stay exact (`0.1` for an
    f64 var is the f64 nearest 0.1, not a widened f32).
    """
    text = text.strip()
    if text.startswith("@"):
        return load_npy(text[1:], option)
    if not text:
        raise GdlError(f"bad value for {option}: it is empty; give a GDL constant "
                       "expression such as -0.7, [1, 2.5] or ones([3]), or @file.npy")
    head = f"{VALUE_NAME} = "
    try:
        parse(head + text)      # syntax first, before `out` is appended to the text
        prog = api.compile(f"{head}{text}\nout {VALUE_NAME}", option)
        found = prog.graph.output_value(VALUE_NAME).type
        if target is not None and found.shape == target.shape and found.dtype != target.dtype:
            try:
                prog = api.compile(f"input {VALUE_NAME}: {target} = {text}\n"
                                   f"out {VALUE_NAME}", option)
            except GdlError:
                pass    # not representable as declared: let run() explain the mismatch
        return prog.run(device=device).outputs[VALUE_NAME]
    except GdlError as err:
        raise value_error(err, text, option, len(head)) from None


def value_error(err: GdlError, text: str, option: str, offset: int) -> GdlError:
    """An error in a VALUE restated for the option, with a caret under the value itself.

    The expression was compiled after `offset` characters of scaffolding,
    so columns the message mentions are shifted back to count in the value.
    """
    message = re.sub(r"line 1, column (\d+)",
                     lambda m: f"column {max(1, int(m.group(1)) - offset)}", err.message)
    shown = f"{option}=" if option.startswith("--set ") else f"{option} "
    lines = [f"bad value for {option}: {message}", f"  {shown}{text}"]
    if err.span is not None and err.span.line == 1 and err.span.column > offset:
        column = err.span.column - offset
        width = err.span.end_column - err.span.column if err.span.end_line == 1 else 1
        width = max(1, min(width, len(text) - column + 1))
        lines.append(" " * (2 + len(shown) + column - 1) + "^" * width)
    return GdlError("\n".join(lines))


def parse_sets(items: list[str]) -> dict[str, str]:
    """`NAME=VALUE` options as a dict, each name once."""
    sets: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise GdlError(f"bad --set `{item}`: expected NAME=VALUE, e.g. --set x=-0.7")
        if name in sets:
            raise GdlError(f"--set {name} is given twice")
        sets[name] = value
    return sets


def output_of(prog: api.Program, of: str | None) -> str | None:
    """The output a gradient is taken of: `--of`, or the only output."""
    if of is not None:
        return of if of in prog.outputs else None
    return prog.outputs[0] if len(prog.outputs) == 1 else None


# -- sub-commands -------------------------------------------------------------

def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    """Run FILE and print its outputs and gradients (tables, or one JSON object)."""
    prog = load_program(ctx, args.file)
    sets = parse_sets(args.set)
    device = devices.select(args.device)
    inputs = {}
    for name, text in sets.items():
        leaf = prog.graph.leaf(name)
        target = leaf.value.type if leaf is not None else None
        inputs[name] = evaluate(text, f"--set {name}", target, device)
    of = output_of(prog, args.of) if args.grad else None
    seed = None
    if args.seed is not None:
        target = prog.graph.output_value(of).type if of is not None else None
        seed = evaluate(args.seed, "--seed", target, device)
    # With --json, stdout holds exactly one JSON object, so `print` goes to stderr.
    printed = ctx.err if args.json else ctx.out
    result = prog.run(inputs, grad=args.grad, of=args.of, seed=seed, device=device,
                      max_iters=args.max_iters,
                      on_print=lambda text: printed.print(text, markup=False, highlight=False))
    if args.json:
        ctx.out.file.write(json.dumps(report.result_json(result, stats=args.stats)) + "\n")
    else:
        report.print_result(ctx.out, result, of=of, stats=args.stats)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    """Compile FILE and summarise its declarations, or show the first error."""
    prog = load_program(ctx, args.file)
    report.print_text(ctx.out, report.program_summary(prog, args.file))
    return EXIT_OK


def cmd_graph(args: argparse.Namespace, ctx: Context) -> int:
    """Print the compiled IR, and with --grad the IR after reverse-mode autodiff."""
    prog = load_program(ctx, args.file)
    text = graph_text(prog.graph, "program (after build, simplify)")
    if args.grad:
        of = output_of(prog, args.of)
        seeded = args.seed_shaped or (
            of is not None and prog.graph.output_value(of).type.shape != ())
        grads = prog.gradient_graph(args.grad, args.of, seeded)
        wrt = ", ".join(dict.fromkeys(args.grad))
        text += "\n" + graph_text(grads, f"gradients of {grads.of} with respect to {wrt} "
                                         "(after autodiff, simplify)")
    report.print_text(ctx.out, text)
    return EXIT_OK


def cmd_devices(args: argparse.Namespace, ctx: Context) -> int:
    """List the OpenCL devices and say which one a run would use, and why."""
    rows = devices.describe_all()
    try:
        chosen = devices.select(args.device)
    except GdlError as err:
        if not rows:
            raise
        report.print_text(ctx.out, report.devices_text(rows, None))
        report.print_error(ctx.err, None, err)
        return EXIT_USER
    index = next((f"{p}:{d}" for p, d, dev in devices.list_devices()
                  if dev == chosen.cl_device), None)
    why = chosen.why
    if args.device is None and os.environ.get(devices.ENV_VAR):
        why += f" (from {devices.ENV_VAR}={os.environ[devices.ENV_VAR]})"
    report.print_text(ctx.out, report.devices_text(rows, index) + "\n"
                               f"* used by `gdl run`: {why}\n"
                               f"  choose another with --device gpu|cpu|P:D|NAME-PART "
                               f"or the {devices.ENV_VAR} environment variable")
    return EXIT_OK


def cmd_repl(args: argparse.Namespace, ctx: Context) -> int:
    """Placeholder until the REPL lands."""
    report.print_text(ctx.err, "gdl repl is not available yet; use `gdl run FILE` "
                               "or `gdl check FILE`")
    return EXIT_USER


# -- parsing and the entry point ---------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argparse tree: one sub-parser per command, each bound to its function."""
    parser = argparse.ArgumentParser(
        prog="gdl", description="GDL: a graph-definition language for automatic "
                                "differentiation, run with OpenCL.")
    parser.add_argument("--version", action="version", version=f"gdl {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    def grad_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--grad", action="append", default=[], metavar="NAME",
                       help="a var to differentiate with respect to (repeatable)")
        p.add_argument("--of", metavar="NAME",
                       help="the output to differentiate (needed when there are several)")

    run = command("run", cmd_run, "run a program and print its outputs and gradients")
    run.add_argument("file", metavar="FILE")
    grad_options(run)
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="feed an input or override a var; VALUE is a GDL constant "
                          "expression (-0.7, [1, 2.5], ones([3])) or @file.npy")
    run.add_argument("--seed", metavar="VALUE",
                     help="the cotangent of a non-scalar output (a VALUE as for --set)")
    run.add_argument("--json", action="store_true",
                     help='print one JSON object {"outputs": ..., "grads": ...}')
    run.add_argument("--device", metavar="D",
                     help="gpu, cpu, P:D or part of a device name (default: $GDL_DEVICE, "
                          "else a GPU, else a CPU)")
    run.add_argument("--max-iters", type=int, metavar="N",
                     help=f"iteration limit per loop entry (default {api.DEFAULT_MAX_ITERS:,})")
    run.add_argument("--stats", action="store_true",
                     help="also show the runtime counters (launches, bytes moved, ...)")

    check = command("check", cmd_check, "compile a program and summarise it, or show the error")
    check.add_argument("file", metavar="FILE")

    graph = command("graph", cmd_graph, "print a program's IR, and with --grad its gradient IR")
    graph.add_argument("file", metavar="FILE")
    grad_options(graph)
    graph.add_argument("--seed-shaped", action="store_true",
                       help="differentiate with a seed cotangent as a graph parameter")

    devs = command("devices", cmd_devices, "list OpenCL devices and the one a run would use")
    devs.add_argument("--device", metavar="D", help="show which device this choice selects")

    repl = command("repl", cmd_repl, "interactive session (not available yet)")
    repl.add_argument("file", metavar="FILE", nargs="?")
    return parser


def check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Option combinations argparse cannot express (exit 2 like its own errors)."""
    if args.command == "graph" and not args.grad and (args.of or args.seed_shaped):
        parser.error("graph: --of and --seed-shaped need --grad NAME")


def version() -> str:
    """The installed gdl version, without importing the package root."""
    try:
        from importlib.metadata import version as dist_version
        return dist_version("gdl")
    except Exception:  # noqa: BLE001 - any metadata failure only hides the version
        return "unknown"


def write_crash(exc: BaseException, argv: list[str]) -> str | None:
    """Save the traceback of an internal error to a temp file; its path, or None."""
    try:
        fd, path = tempfile.mkstemp(prefix="gdl-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"gdl {version()}, Python {platform.python_version()}, "
                    f"{platform.platform()}\n")
            f.write(f"command: gdl {shlex.join(argv)}\n\n")
            f.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def exit_status(exc: SystemExit) -> int:
    """argparse's exit code as an int (it exits 0 for --help, 2 for bad usage)."""
    if exc.code is None:
        return EXIT_OK
    return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run one gdl command and return its exit status (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = Console(file=sys.stdout), Console(file=sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_usage(parser, args)
    except SystemExit as exc:
        return exit_status(exc)
    ctx = Context(out, err)
    try:
        return args.func(args, ctx)
    except GdlError as exc:
        report.print_error(err, ctx.source, exc, ctx.filename)
        return EXIT_USER
    except KeyboardInterrupt:
        report.print_text(err, "gdl: interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - every other exception is a gdl bug
        report.print_text(err, report.crash_text(exc, write_crash(exc, argv)))
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
