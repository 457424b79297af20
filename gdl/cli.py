"""The `gdl` command line: `gdl run|check|graph|devices|repl` (language.md §7).

Owns argument parsing, reading program files, turning `--set`/`--seed`
values (GDL constant expressions or `@file.npy`) into arrays, and the exit
statuses: 0 success; 1 a user error (any GdlError, a missing file, a bad
value); 2 a usage error (argparse's); 3 an internal error, shown as a short
banner naming a file that holds the traceback, never as a traceback.
Presentation lives in `report`; running lives in `api`.
Imports `api`, `report`, `errors`, `parse`, `printer`, `runtime.device`;
`graphview`/`graphdot` (rich's tree views), `check`, `repl` and the package
metadata only in the commands that use them, so a fresh `gdl run` starts fast.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console
from rich.text import Text

from . import api, report
from .dtype import TensorType
from .errors import GdlError
from .parse import parse
from .printer import graph_text
from .runtime import device as devices

EXIT_OK, EXIT_USER, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
VALUE_NAME = "__v"      # the name a --set/--seed expression is bound to when evaluated
NPY_MAGIC = b"\x93NUMPY"   # how every .npy file starts


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
    ctx.filename = path
    if path == "-":                 # the program on standard input, as most tools allow
        ctx.filename = "<stdin>"
        ctx.source = sys.stdin.read()
        return api.compile(ctx.source, ctx.filename)
    try:
        text = api.read_source(path)
    except GdlError as err:
        if err.span is not None:    # not UTF-8: show the line, the bad bytes replaced
            ctx.source = Path(path).read_bytes().decode("utf-8", "replace")
        raise
    ctx.source = text
    return api.compile(text, path)


def load_npy(path: str, option: str) -> np.ndarray:
    """The array in a `.npy` file given as `@path` (no pickles)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(NPY_MAGIC))
        arr = None
        # np.load takes any other bytes for a pickle and says so, which misleads.
        if head == NPY_MAGIC or head.startswith(b"PK"):
            arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise GdlError(f"bad value for {option}: no such file: {path}") from None
    except IsADirectoryError:
        raise GdlError(f"bad value for {option}: {path} is a directory, not a .npy file") from None
    except (OSError, ValueError, EOFError) as err:
        raise GdlError(f"bad value for {option}: cannot read {path} as a .npy array "
                       f"({err})") from None
    if arr is None:
        raise GdlError(f"bad value for {option}: {path} is not a .npy file: it starts with "
                       f"{head!r}, expected the header numpy.save writes ({NPY_MAGIC!r})")
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
    """Run FILE and print its gradient report (or one JSON object); --check, --out FILE.npz.

    A --check that fails exits 1 after the report is printed.
    """
    from .check import all_passed, check_gradients
    prog = load_program(ctx, args.file)
    if args.check and not args.grad:
        raise GdlError("--check compares gradients with finite differences: name the vars "
                       "to check with --grad NAME")
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
    # Compile-time gradient warnings go to stderr first; they never stop the run.
    warnings = prog.lint(args.grad, args.of) if args.grad else prog.warnings
    report.print_warnings(ctx.err, ctx.source, warnings, ctx.filename)
    # With --json, stdout holds exactly one JSON object, so `print` goes to stderr.
    printed = ctx.err if args.json else ctx.out
    result = prog.run(inputs, grad=args.grad, of=args.of, seed=seed, device=device,
                      max_iters=args.max_iters,
                      on_print=lambda text: printed.print(text, markup=False, highlight=False),
                      check_nan=args.check_nan)
    influencing = prog.influencing(of) if of is not None else None
    checks = None
    if args.check:
        checks = check_gradients(prog, args.grad, of=of, inputs=inputs, seed=seed,
                                 device=device, max_iters=args.max_iters, ad=result.grads)
    if args.out:
        report.save_npz(args.out, result)
    if args.json:
        obj = report.result_json(result, stats=args.stats, of=of, influencing=influencing,
                                 check=checks, details=True, warnings=warnings)
        ctx.out.file.write(json.dumps(obj) + "\n")
    else:
        report.print_result(ctx.out, result, of=of, stats=args.stats, influencing=influencing,
                            check=checks, source=ctx.source)
    return EXIT_USER if checks is not None and not all_passed(checks) else EXIT_OK


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    """Compile FILE and summarise its declarations, or show the first error.

    Gradient warnings go to stderr: of differentiating --of w.r.t. the --grad
    vars, as `gdl run` would, or without --grad of every var (gdl/lint.py).
    """
    prog = load_program(ctx, args.file)
    warnings = prog.lint(args.grad or None, args.of)
    report.print_text(ctx.out, report.program_summary(prog, args.file))
    report.print_warnings(ctx.err, ctx.source, warnings, ctx.filename)
    return EXIT_OK


def cmd_graph(args: argparse.Namespace, ctx: Context) -> int:
    """Show FILE's graph after any stage: a readable tree, the stable text (--text), or DOT."""
    from . import graphdot, graphview
    prog = load_program(ctx, args.file)
    names = graphview.stage_names(bool(args.grad))
    if args.stage is not None and args.stage not in names:
        report.print_text(ctx.err, f"gdl graph: error: stage `{args.stage}` needs --grad NAME; "
                                   f"without it the stages are: {', '.join(names)}")
        return EXIT_USAGE
    graphs = dict(graphview.stages(prog, args.grad, args.of, args.seed_shaped))
    wrt = tuple(dict.fromkeys(args.grad))
    of = graphs["autodiff"].of if wrt else None
    final = "autodiff+simplify" if wrt else "simplify"      # the graph a run would plan
    if args.stage is not None or args.all_stages:
        shown = [(s, graphview.stage_title(s, of, wrt)) for s in names
                 if args.all_stages or s == args.stage]
    else:   # these titles keep the --text form of the default as it always was
        shown = [("simplify", "program (after build, simplify)")]
        if wrt:
            shown.append((final, f"gradients of {of} with respect to {', '.join(wrt)} "
                                 "(after autodiff, simplify)"))
    dot_stage = shown[-1][0] if shown[-1][0] in graphs else final
    if args.dot:
        dot = graphdot.to_dot(graphs[dot_stage], graphview.stage_title(dot_stage, of, wrt))
        if args.dot == "-":
            ctx.out.file.write(report.encodable(ctx.out, Text(dot)).plain)
            return EXIT_OK
        try:
            with open(args.dot, "w", encoding="utf-8") as f:
                f.write(dot)
        except OSError as err:
            raise GdlError(f"cannot write {args.dot}: {err.strerror or err}") from None
    views = []
    for stage, title in shown:
        if stage == graphview.PLAN_STAGE:
            views.append(graphview.plan_tree(graphview.plan_of(graphs[final]), title,
                                             args.consts))
        elif args.text:
            views.append(graph_text(graphs[stage], title))
        else:
            views.append(graphview.graph_tree(graphs[stage], title, prog.source, args.consts))
    if args.text:
        report.print_text(ctx.out, "\n".join(
            v if isinstance(v, str) else graphview.render(v, ctx.out.width,
                                                        encoding=ctx.out.encoding)
            for v in views))
    else:
        for view in views:
            ctx.out.print(graphview.encodable_view(ctx.out, view))
            ctx.out.print()
        ctx.out.print(graphview.encodable_view(ctx.out, graphview.legend(args.consts)))
    if args.dot:
        report.print_text(ctx.err, f"wrote the graph after {dot_stage} as Graphviz DOT to "
                                   f"{args.dot} (draw it with: dot -Tsvg {args.dot} -o graph.svg)")
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
    small = chosen.for_size(1)
    if small is not chosen:
        why += (f";\n  programs whose tensors all have at most {devices.SMALL_ELEMENTS:,} "
                f"elements run on {small.name}, quicker to launch")
    report.print_text(ctx.out, report.devices_text(rows, index) + "\n"
                               f"* used by `gdl run`: {why}\n"
                               f"  choose another with --device gpu|cpu|P:D|NAME-PART "
                               f"or the {devices.ENV_VAR} environment variable")
    return EXIT_OK


def cmd_repl(args: argparse.Namespace, ctx: Context) -> int:
    """Start the interactive REPL, with FILE's statements entered first if given."""
    from . import repl      # only `gdl repl` pays for readline and the REPL's imports
    if args.file:           # a file that cannot be read ends here; one that fails to compile
        api.read_source(args.file)      # is shown in the REPL, to be fixed there
    return repl.main(ctx.out, file=args.file, device=args.device)


# -- parsing and the entry point ---------------------------------------------

EXIT_STATUS_HELP = """\
exit status:
  0  success
  1  a user error: an error in the program (shown with its line and a caret),
     a missing file, a bad --set/--seed value, a failed --check
  2  a usage error: an unknown command or option, or an option value of the
     wrong form (--max-iters -5)
  3  an internal error, a bug in gdl: a short banner names the file holding
     the traceback"""

MAIN_EPILOG = f"""\
examples:
  gdl run programs/seed/dot.gdl --grad x          outputs, and dy/dx with its norm
  gdl run programs/seed/dot.gdl --grad x --check  ... checked by finite differences
  gdl run prog.gdl --set x=-0.7 --json            override a var; one JSON object
  gdl check prog.gdl                              compile only: declarations or the error
  gdl graph prog.gdl --grad x                     the graph and its adjoint nodes
  gdl devices                                     OpenCL devices, and which one runs
  gdl repl prog.gdl                               an interactive session
  gdl COMMAND --help                              a command's options and examples

{EXIT_STATUS_HELP}"""

RUN_EPILOG = f"""\
examples:
  gdl run prog.gdl                                the outputs only
  gdl run prog.gdl --grad x                       and dy/dx: value, L2 norm, min/max,
                                                  NaN/Inf counts
  gdl run prog.gdl --grad w --grad b --of loss    several vars; which output
  gdl run prog.gdl --grad x --check               compare with central differences
  gdl run prog.gdl --set x=-0.7 --set A=@A.npy    override a var, feed an input
  gdl run prog.gdl --grad x --seed "ones([4])"    a non-scalar output's cotangent
  gdl run prog.gdl --grad x --json                one JSON object on stdout
  gdl run prog.gdl --grad x --out res.npz         then numpy.load("res.npz")["grads/x"]
  gdl run prog.gdl --grad x --check-nan           where the first NaN/Inf came from

--check perturbs each element x of a var by +-h, h = 1e-6 * max(1, |x|), runs
the program forward in f64 (in the program's dtype with h = 1e-3 * max(1, |x|)
when the device has no f64), and compares (L(x+h) - L(x-h)) / 2h with reverse
mode.  It passes when the max relative error is within 1e-3 for a program
computing in f32 (its reverse mode runs in f32), 1e-6 for an all-f64 program,
2e-2 when the differences themselves are f32; "inconclusive" where a
perturbation changes a branch taken or a loop's trip count.

{EXIT_STATUS_HELP}"""

CHECK_EPILOG = f"""\
examples:
  gdl check prog.gdl          prints `prog.gdl: ok` and its vars, inputs and outputs
                              with their types, or the first error with a caret
  gdl check prog.gdl --grad x and warns (on stderr) where dy/dx will be NaN or zero:
                              a `where` hiding log(0), a floor on the path, ...
                              (without --grad: as if every var were differentiated)

{EXIT_STATUS_HELP}"""

DEVICES_EPILOG = """\
examples:
  gdl devices                 every OpenCL device; `*` marks the one `gdl run` uses
  gdl devices --device cpu    which device this choice would select
  GDL_DEVICE=gpu gdl run prog.gdl   choose for every run; --device D for one"""



def count(text: str) -> int:
    """An argparse type: a whole number >= 0 (a bad one is a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, found {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, found {value}")
    return value


class LazyVersion(argparse._VersionAction):
    """`--version`, reading the package metadata only when asked.

    importlib.metadata takes ~10 ms to import, a cost every command would
    pay if the version string were made while building the parser.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = f"gdl {report.version()}"
        super().__call__(parser, namespace, values, option_string)


class GraphStages:
    """`graphview.ALL_STAGES` as argparse `choices`, importing graphview only when consulted.

    argparse looks at choices only to check a `--stage` value or to write
    help, and graphview (with rich's tree) would otherwise be imported by
    every command, `gdl run` included.
    """

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self):
        return iter(self.names())

    @staticmethod
    def names() -> tuple[str, ...]:
        from .graphview import ALL_STAGES
        return ALL_STAGES


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree: one sub-parser per command, each bound to its function."""
    parser = argparse.ArgumentParser(
        prog="gdl", description="GDL: a graph-definition language for automatic "
                                "differentiation, run with OpenCL.",
        epilog=MAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=LazyVersion)
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
    run.add_argument("file", metavar="FILE", help="the program (- reads it from standard input)")
    grad_options(run)
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="feed an input or override a var; VALUE is a GDL constant "
                          "expression (-0.7, [1, 2.5], ones([3])) or @file.npy")
    run.add_argument("--seed", metavar="VALUE",
                     help="the cotangent of a non-scalar output (a VALUE as for --set)")
    run.add_argument("--json", action="store_true",
                     help='print one JSON object: {"outputs": ..., "grads": ...} and "of", '
                          '"grad_info" (norm, min, max, nan, inf, influences per gradient), '
                          '"device", "seconds", "warnings" (the gradient lint\'s, also on '
                          'stderr); "stats" with --stats, "check" with --check')
    run.add_argument("--check", action="store_true",
                     help="compare each gradient with central finite differences (in f64 "
                          "on the device when it has f64; at most 64 random elements per "
                          "var); a failed check exits 1")
    run.add_argument("--out", metavar="FILE.npz",
                     help='save outputs and gradients as arrays named "outputs/NAME" and '
                          '"grads/NAME" (numpy.load(FILE)["grads/x"])')
    run.add_argument("--device", metavar="D",
                     help="gpu, cpu, P:D or part of a device name (default: $GDL_DEVICE, "
                          "else a GPU, else a CPU)")
    run.add_argument("--max-iters", type=count, metavar="N",
                     help=f"iteration limit per loop entry (default {api.DEFAULT_MAX_ITERS:,})")
    run.add_argument("--stats", action="store_true",
                     help="also show the runtime counters (launches, bytes moved, ...)")
    run.add_argument("--check-nan", action="store_true",
                     help="test every value computed for NaN/Inf and report the first node "
                          "that produced one (forward or adjoint, its line, loop iterations)")
    run.formatter_class = argparse.RawDescriptionHelpFormatter
    run.epilog = RUN_EPILOG

    check = command("check", cmd_check, "compile a program and summarise it, or show the "
                                        "error; warn where gradients will be NaN or zero")
    check.add_argument("file", metavar="FILE", help="the program (- reads it from standard input)")
    grad_options(check)
    check.formatter_class = argparse.RawDescriptionHelpFormatter
    check.epilog = CHECK_EPILOG

    graph = command("graph", cmd_graph, "show a program's graph after any stage, as a readable "
                                        "tree, the stable text form or Graphviz DOT")
    graph.formatter_class = argparse.RawDescriptionHelpFormatter
    graph.epilog = ("examples:\n"
                    "  gdl graph prog.gdl                   the program as a tree\n"
                    "  gdl graph prog.gdl --grad x          and its gradient graph "
                    "(adjoint nodes marked)\n"
                    "  gdl graph prog.gdl --grad x --all-stages\n"
                    "  gdl graph prog.gdl --stage expand_grads --text\n"
                    "  gdl graph prog.gdl --grad x --stage plan\n"
                    "  gdl graph prog.gdl --grad x --dot g.dot && dot -Tsvg g.dot -o g.svg")
    graph.add_argument("file", metavar="FILE", help="the program (- reads it from standard input)")
    grad_options(graph)
    graph.add_argument("--seed-shaped", action="store_true",
                       help="differentiate with a seed cotangent as a graph parameter")
    which = graph.add_mutually_exclusive_group()
    which.add_argument("--stage", "--after", metavar="NAME", choices=GraphStages(),
                       help="show only the graph after this stage: "
                            "%(choices)s (autodiff stages need --grad; "
                            "plan: the kernels and host steps a run would use)")
    which.add_argument("--all-stages", action="store_true",
                       help="show the graph after every stage, in order")
    graph.add_argument("--text", action="store_true",
                       help="print the stable text form instead of the tree")
    graph.add_argument("--consts", action="store_true",
                       help="show scalar constants as nodes instead of inline literals")
    graph.add_argument("--dot", metavar="FILE",
                       help="also write the last graph shown as Graphviz DOT (- for stdout only)")

    devs = command("devices", cmd_devices, "list OpenCL devices and the one a run would use")
    devs.add_argument("--device", metavar="D", help="show which device this choice selects")
    devs.formatter_class = argparse.RawDescriptionHelpFormatter
    devs.epilog = DEVICES_EPILOG

    repl = command("repl", cmd_repl, "interactive session: statements grow a graph, "
                                     "expressions show their value, :grad shows gradients")
    repl.add_argument("file", metavar="FILE", nargs="?",
                      help="a program whose statements are entered first")
    repl.add_argument("--device", metavar="D",
                      help="gpu, cpu, P:D or part of a device name (as for run)")
    repl.formatter_class = argparse.RawDescriptionHelpFormatter
    repl.epilog = ("examples:\n"
                   "  gdl repl                         an empty session\n"
                   "  gdl repl programs/seed/dot.gdl   start from a program's statements\n"
                   "\nin the session:\n"
                   "  gdl> var x = arange(4.0)\n"
                   "  gdl> y = 2 * dot(x, x)\n"
                   "  gdl> :grad y x                   the adjoint nodes, and dy/dx = [0 4 8 12]\n"
                   "  gdl> :backward y                 add dy/dx into x.grad (until :zero)\n"
                   "  gdl> x.grad\n"
                   "  gdl> :help                       every command\n"
                   "\nhistory is kept in $GDL_HISTORY (default ~/.gdl_history)")
    return parser


def check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Option combinations argparse cannot express (exit 2 like its own errors)."""
    if args.command == "graph" and not args.grad and (args.of or args.seed_shaped):
        parser.error("graph: --of and --seed-shaped need --grad NAME")
    if args.command == "check" and args.of and not args.grad:
        parser.error("check: --of needs --grad NAME")


def crash_header(argv: list[str]) -> str:
    """What a crash file says before the traceback: versions, platform and the command."""
    return (f"gdl {report.version()}, Python {platform.python_version()}, "
            f"{platform.platform()}\n"
            f"command: gdl {shlex.join(argv)}\n\n")


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
        path = report.write_crash(exc, crash_header(argv))
        report.print_text(err, report.crash_text(exc, path))
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
