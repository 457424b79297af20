"""`gdl repl [FILE]`: statements typed one at a time grow a program (issue 4, item 3).

Owns the terminal side of the REPL: the line loop (prompts, gathering a
statement until its brackets close, Ctrl-C and end of input), the
`:commands`, how values, graphs and errors are shown, Tab completion and
history.  What a request is - the session's statements plus a line or
two, compiled through `api.compile` and run through `Program.run`, its
errors mapped back to where the user typed - is `workspace`'s, which
`Repl` builds on; results are shown through `report` and `printer`, the
same compile -> run -> report path as `gdl run` (architecture.md,
Surfaces).  A statement that does not compile (or, holding a `print` or
`assert`, does not run) is shown with its caret and leaves the session as
it was.  Statements with effects run once when entered; a top-level
`print` is not kept, and later runs are silent except `:run`.  Gradient
lint warnings (gdl/lint.py) show as errors do but stop nothing: those of a
statement's own `grad(...)` calls when it is entered, and those of the
gradients `:grad` and `:backward` take.
Imports `workspace`, `api`, `report`, `printer`, `builtins`,
`expressions`, `dtype`, `errors`, `runtime.plan`, rich.
"""
from __future__ import annotations

import contextlib
import difflib
import glob
import os
import re
import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterator

import numpy as np
from rich.console import Console
from rich.text import Text

from . import api, report
from .builtins import LANGUAGE_BUILTINS
from .errors import GdlError
from .expressions import KEYWORDS
from .printer import graph_text, node_text
from .runtime.plan import plan as make_plan
from .workspace import (VALUE, Shown, Staged, Workspace, depth, leading, may_take_else,
                        split_seed)

PROMPT, MORE = "gdl> ", "...> "
HISTORY_ENV = "GDL_HISTORY"         # where history is kept; default ~/.gdl_history
HISTORY_LENGTH = 1000


@dataclass(frozen=True)
class Command:
    """One `:command`: its arguments and what it is for (what `:help` prints)."""

    name: str
    args: str
    help: str


COMMANDS = (
    Command(":help", "", "list these commands"),
    Command(":graph", "[EXPR]", "the session's graph as text (or the graph computing EXPR)"),
    Command(":grad", "Y X [seed=S]", "dY/dX: the adjoint nodes autodiff appends, and the value"),
    Command(":backward", "Y [seed=S]", "add dY/dv into v.grad for every var v (until :zero)"),
    Command(":zero", "", "set every var's .grad to zeros"),
    Command(":run", "", "run the session and show its names' values (or the `out` names)"),
    Command(":set", "NAME = EXPR", "override a var's value, or feed an input, for later runs"),
    Command(":type", "EXPR", "the static type of EXPR, without running it"),
    Command(":kernels", "[EXPR]", "the generated OpenCL of the session (or of EXPR)"),
    Command(":list", "", "the statements so far, numbered as the graph's @lines"),
    Command(":load", "FILE", "enter the statements of a .gdl file (`out` names show in :run)"),
    Command(":reset", "", "forget every statement, value set and gradient"),
    Command(":quit", "", "leave (also :q, :exit or Ctrl-D)"),
)
ALIASES = MappingProxyType({":q": ":quit", ":exit": ":quit", ":h": ":help", ":?": ":help"})


# -- the REPL -------------------------------------------------------------------

class Repl(Workspace):
    """One interactive session: feed it lines with `push`, it prints to `console`."""

    def __init__(self, console: Console, device: str | None = None):
        super().__init__(device)
        self.console = console
        self.done = False
        self.buffer: list[str] = []
        self.pending_else = False

    @property
    def more(self) -> bool:
        """Whether the input so far is unfinished (the continuation prompt shows)."""
        return bool(self.buffer)

    # -- input ----------------------------------------------------------------

    def push(self, line: str) -> None:
        """One line typed: run a command, or gather a statement until its brackets close."""
        if self.pending_else:
            if line.lstrip().startswith("else"):
                self.pending_else = False
                self.buffer.append(line)
                return self._gathered()
            self.flush()
            if not line.strip():
                return
        if not self.buffer and line.lstrip().startswith(":"):
            self.guarded(self.command, line.strip())
            return
        if not self.buffer and not line.strip():
            return
        self.buffer.append(line)
        self._gathered()

    def _gathered(self) -> None:
        """Enter the gathered lines once their brackets close (and no `else` can follow)."""
        text = "\n".join(self.buffer)
        if depth(text) > 0:
            return
        if may_take_else(text):
            self.pending_else = True
            return
        self.flush()

    def flush(self) -> None:
        """Enter what has been gathered, complete or not (at EOF, or before a new line)."""
        text = "\n".join(self.buffer)
        self.buffer, self.pending_else = [], False
        if text.strip():
            self.guarded(self.enter, text)

    def cancel(self) -> None:
        """Drop a half-typed statement (Ctrl-C)."""
        self.buffer, self.pending_else = [], False

    def guarded(self, action: Callable[..., Any], *args: Any) -> None:
        """Run one request; errors are shown (never a traceback) and the session goes on."""
        try:
            action(*args)
        except Shown as shown:
            report.print_error(self.console, shown.source, shown.err, shown.filename)
        except GdlError as err:
            report.print_error(self.console, None, err)
        except KeyboardInterrupt:
            self.say("interrupted")
        except Exception as exc:  # noqa: BLE001 - any other exception is a gdl bug
            path = report.write_crash(exc, "gdl repl\n\n")
            where = f"; the traceback is in {path}" if path else ""
            message = " ".join(str(exc).split())[:200]
            self.say(f"internal error (a bug in gdl, not in your program): "
                     f"{type(exc).__name__}: {message}{where}; the session goes on",
                     style="bold red")

    def say(self, text: str, style: str = "") -> None:
        """Print plain text (no markup), styled where the console is a terminal."""
        self.console.print(Text(text.rstrip("\n"), style=style), soft_wrap=True)

    # -- statements and expressions --------------------------------------------

    def enter(self, text: str, filename: str = "<input>") -> int:
        """Accept a chunk of statements (printing its bare expressions), or show why not.

        Returns the number of statements added to the session.
        """
        entry = self.evaluate(text, filename)
        for line in entry.printed:
            self.say(line)
        for name in entry.values:
            self.show_value(entry.program, entry.result, name, entry.staged)
        self.show_warnings(self.warnings(entry.program.warnings, entry.staged, typed_only=True))
        return self.accept(entry)

    def gradient_warnings(self, prog: api.Program, wrt: tuple[str, ...] | list[str],
                          st: Staged) -> list[Shown]:
        """The lint of d(the value)/d(wrt), less what entering the statements showed and
        `disconnected`, which the commands say themselves."""
        own = set(prog.warnings)
        return self.warnings(tuple(w for w in prog.lint(wrt, f"{VALUE}0")
                                   if w not in own and w.code != "disconnected"), st)

    def show_warnings(self, shown: list[Shown]) -> None:
        """Lint warnings as `gdl run` shows them: the line, a caret and a hint."""
        for s in shown:
            report.print_warnings(self.console, s.source, (s.err,), s.filename)

    def show_value(self, prog: api.Program, result: api.Result, name: str, st: Staged) -> None:
        """A value NumPy-style, then its type and the node that made it."""
        value = prog.graph.output_value(name)
        node = next((node_text(n) for n in prog.graph.body.nodes if value in n.outputs), None)
        if node is None:
            leaf = next((lf for lf in prog.graph.leaves if lf.value is value), None)
            node = "a parameter" if leaf is None else f"{leaf.kind} {leaf.name}" \
                if leaf.name not in st.names else f"{st.names[leaf.name]} (kept by the REPL)"
        self.say(report.value_text(result.outputs[name]))
        self.say(f"  type {value.type}   node {node}", style="dim")

    # -- commands ------------------------------------------------------------

    def command(self, line: str) -> None:
        """Dispatch one `:command` line."""
        word = line.split(None, 1)[0]
        name = ALIASES.get(word, word)
        if not any(c.name == name for c in COMMANDS):
            known = [c.name for c in COMMANDS] + list(ALIASES)
            close = difflib.get_close_matches(word, known, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise GdlError(f"unknown command `{word}`{hint} (:help lists the commands)")
        at = len(word) + leading(line[len(word):])
        getattr(self, "cmd_" + name[1:])(line, line[at:].rstrip(), at)

    def expression(self, rest: str, at: int, usage: str) -> tuple[str, int]:
        """The one expression a command takes, with its column; usage error if none."""
        if not rest.strip():
            raise GdlError(f"usage: {usage}")
        return rest.strip(), at + leading(rest)

    def cmd_help(self, line: str, rest: str, at: int) -> None:
        """The commands, each with what it is for."""
        width = max(len(f"{c.name} {c.args}") for c in COMMANDS)
        lines = ["Type GDL statements (they grow the session's graph) or expressions (their",
                 "value, type and node are shown).  NAME.grad reads a var's gradient.", ""]
        lines += [f"  {(c.name + ' ' + c.args).ljust(width)}  {c.help}" for c in COMMANDS]
        lines += ["", "Tab completes names and commands; history is kept in "
                      f"${HISTORY_ENV} (default ~/.gdl_history)."]
        self.say("\n".join(lines))

    def cmd_quit(self, line: str, rest: str, at: int) -> None:
        """Leave the loop (the caller exits 0)."""
        self.done = True

    def cmd_reset(self, line: str, rest: str, at: int) -> None:
        """Start over with an empty session."""
        self.reset()
        self.say("session cleared")

    def cmd_list(self, line: str, rest: str, at: int) -> None:
        """The session's statements, numbered as the @lines of its graph."""
        if not self.statements:
            self.say("(no statements yet)")
            return
        rows = self.session_text.split("\n")
        text = "\n".join(f"{i:>4} | {row}" for i, row in enumerate(rows, 1))
        if self.shown:
            text += "\n     out " + ", ".join(self.shown)
        self.say(text)

    def cmd_type(self, line: str, rest: str, at: int) -> None:
        """The static type of an expression: compiled, not run."""
        st = self.pieces(line, [self.expression(rest, at, ":type EXPR")])
        self.say(str(self.compile(st).graph.output_value(f"{VALUE}0").type))

    def cmd_graph(self, line: str, rest: str, at: int) -> None:
        """The graph text of the session, or of the program computing an expression."""
        expr = self.expression(rest, at, "") if rest.strip() else None
        prog, st = self.session_program(expr, line)
        what = f"the graph of {expr[0]}" if expr else "the session"
        if expr:
            st.names[f"{VALUE}0"] = f"({expr[0]})"
        report.print_text(self.console, st.clean(graph_text(prog.graph, f"{what} (after "
                                                                         "build, simplify)")))

    def cmd_kernels(self, line: str, rest: str, at: int) -> None:
        """The OpenCL source a run of the session (or of an expression) builds."""
        expr = self.expression(rest, at, "") if rest.strip() else None
        prog, _ = self.session_program(expr, line)
        report.print_text(self.console, make_plan(prog.graph).source)

    def cmd_run(self, line: str, rest: str, at: int) -> None:
        """Run the session and show its values as `gdl run` shows outputs."""
        if rest.strip():
            raise GdlError("usage: :run (takes nothing; type an expression to see its value)")
        prog, st = self.session_program(None, line)
        printed: list[str] = []
        result = self.run(prog, st, on_print=printed.append)
        for text in printed:
            self.say(text)
        report.print_result(self.console, result)

    def cmd_set(self, line: str, rest: str, at: int) -> None:
        """Override a var's value or feed an input, for every later run."""
        m = re.match(r"([A-Za-z_]\w*)\s*=(?!=)", rest.strip())
        if not m:
            raise GdlError("usage: :set NAME = EXPR (e.g. `:set x = [1, 2, 3, 4]`)")
        name = m[1]
        leaf = self.scope.leaves.get(name)
        if leaf is None:
            what = "is bound with `=`" if name in self.scope.names else "is not declared"
            raise GdlError(f"`{name}` {what}; :set gives a value to a `var` or `input` "
                           f"(re-bind other names with `{name} = ...`)")
        kind, t = leaf
        expr_at = at + leading(rest) + m.end()
        text = line[expr_at:]
        expr = self.expression(text, expr_at, ":set NAME = EXPR")
        value = self.constant(expr[0], t)
        if value is None:
            (value,) = self.values(line, [expr])
        self.sets[name] = api.convert(value, t, f"{kind} `{name}`")
        self.say(f"{name} = {report.value_text(self.sets[name])}")

    def differentiated(self, line: str, rest: str, at: int, usage: str, wrt: bool
                       ) -> tuple[api.Program, Staged, str, str | None, np.ndarray | None]:
        """The program computing Y of `:grad`/`:backward`, its label, X, and the seed."""
        main, main_at, seed = split_seed(rest, at)
        x = None
        if wrt:
            m = re.search(r"\s([A-Za-z_]\w*)\s*$", main)
            if not m:
                raise GdlError(f"usage: {usage}")
            x, main = m[1], main[:m.start()]
        y = self.expression(main, main_at, usage)
        seed_value = None
        if seed is not None:
            (seed_value,) = self.values(line, [self.expression(seed[0], seed[1], usage)])
        st = self.pieces(line, [y])
        prog = self.compile(st)
        label = y[0] if re.fullmatch(r"\w+", y[0]) else f"({y[0]})"
        t = prog.graph.output_value(f"{VALUE}0").type
        if not t.dtype.is_float:
            raise GdlError(f"`{y[0]}` is {t}: only float values have gradients")
        if t.shape and seed is None:
            command = line.split(None, 1)[0]
            raise GdlError(f"`{y[0]}` is {t}, not a scalar: give its cotangent, "
                           f"`{command} {y[0]}{' ' + x if x else ''} seed=ones({list(t.shape)})`"
                           f", or differentiate `sum({y[0]})`")
        st.names[f"{VALUE}0"] = y[0]
        return prog, st, label, x, seed_value

    def cmd_grad(self, line: str, rest: str, at: int) -> None:
        """dY/dX: the adjoint nodes appended to the graph, then the gradient's value."""
        usage = ":grad Y X [seed=S] (the gradient of Y with respect to the var X)"
        prog, st, label, x, seed = self.differentiated(line, rest, at, usage, wrt=True)
        try:
            graph = prog.gradient_graph((x,), f"{VALUE}0", seed is not None)
        except GdlError as err:
            raise self.located(err, st) from None
        self.show_warnings(self.gradient_warnings(prog, (x,), st))
        lines = [ln for ln in graph_text(graph).split("\n")
                 if "[adjoint]" in ln or "[tape]" in ln or ln.startswith("grad ")]
        self.say(f"adjoint nodes appended for d{label}/d{x}:", style="bold")
        report.print_text(self.console, "\n".join("  " + ln for ln in lines))
        result = self.run(prog, st, grad=[x], of=f"{VALUE}0", seed=seed)
        if x not in prog.influencing(f"{VALUE}0"):
            self.say(f"  ({label} does not depend on {x}: its gradient is zeros)", style="dim")
        self.say(f"d{label}/d{x} = {report.value_text(result.grads[x])}")
        self.say(f"  type {self.scope.leaves[x][1]}", style="dim")

    def cmd_backward(self, line: str, rest: str, at: int) -> None:
        """Add dY/dv into v.grad for every var v, as PyTorch's backward does."""
        usage = ":backward Y [seed=S] (adds dY/dv into v.grad for every var v)"
        prog, st, label, _, seed = self.differentiated(line, rest, at, usage, wrt=False)
        wrt = [v for v in prog.variables if v in self.scope.leaves]
        if not wrt:
            raise GdlError("there is no var to differentiate with respect to; declare one "
                           "with `var NAME = ...`")
        self.show_warnings(self.gradient_warnings(prog, wrt, st))
        result = self.run(prog, st, grad=wrt, of=f"{VALUE}0", seed=seed)
        for v in wrt:
            g = result.grads[v]
            self.grads[v] = self.grads[v] + g if v in self.grads else g.copy()
        self.say("accumulated " + ", ".join(f"d{label}/d{v} into {v}.grad" for v in wrt))

    def cmd_zero(self, line: str, rest: str, at: int) -> None:
        """Set every var's .grad to zeros, as PyTorch's `x.grad.zero_()`."""
        names = self.scope.vars
        if not names:
            raise GdlError("there are no vars, so no gradients to zero")
        for v in names:
            t = self.scope.leaves[v][1]
            self.grads[v] = np.zeros(t.shape, dtype=t.dtype.np)
        self.say(", ".join(f"{v}.grad" for v in names) + " set to zeros")

    def cmd_load(self, line: str, rest: str, at: int) -> None:
        """Enter a program file's statements."""
        path = rest.strip().strip("'\"")
        if not path:
            raise GdlError("usage: :load FILE")
        self.load(path)

    def load(self, path: str) -> None:
        """Enter the statements of a program file; errors point into the file."""
        count = self.enter(api.read_source(path), path)
        outs = f"; :run shows {', '.join(self.shown)}" if self.shown else ""
        self.say(f"loaded {path}: {count} statement{'s' if count != 1 else ''}{outs}")

    # -- completion ------------------------------------------------------------

    def completions(self, text: str, line: str, begin: int) -> list[str]:
        """What Tab offers for `text`, which starts at `begin` in `line`."""
        if line[:begin].strip() == "" and text.startswith(":"):
            words = [c.name + " " for c in COMMANDS] + [a + " " for a in ALIASES]
        elif line.lstrip().startswith(":load"):
            return sorted(p + ("/" if os.path.isdir(p) else "") for p in glob.glob(text + "*"))
        else:
            words = [*self.scope.names, *self.scope.fns, *LANGUAGE_BUILTINS, *KEYWORDS,
                     *(f"{v}.grad" for v in self.scope.vars)]
        return sorted({w for w in words if w.startswith(text)})



# -- the terminal -----------------------------------------------------------------

@contextlib.contextmanager
def line_editing(repl: Repl, history: str | None) -> Iterator[None]:
    """History and Tab completion through readline, where the platform has it."""
    try:
        import readline
    except ImportError:         # e.g. Windows without pyreadline: plain input()
        yield
        return
    path = os.path.expanduser(history or os.environ.get(HISTORY_ENV) or "~/.gdl_history")
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LENGTH)
    offered: list[str] = []

    def complete(text: str, state: int) -> str | None:
        """readline's protocol: the `state`-th candidate, computed once per Tab."""
        if state == 0:
            offered[:] = repl.completions(text, readline.get_line_buffer(),
                                          readline.get_begidx())
        return offered[state] if state < len(offered) else None

    readline.set_completer_delims(" \t\n()[]{},;=+-*/%<>!&|^~@\"'#")
    readline.set_completer(complete)
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    try:
        yield
    finally:
        readline.set_completer(None)
        with contextlib.suppress(OSError):
            readline.write_history_file(path)



def main(console: Console, file: str | None = None, device: str | None = None,
         history: str | None = None) -> int:
    """The line loop of `gdl repl`: 0 when the user leaves (`:quit` or end of input).

    On a terminal it prompts and edits lines with readline; with piped
    input it reads lines silently, so a script of statements can be fed in.
    """
    repl = Repl(console, device)
    interactive = sys.stdin.isatty()
    if interactive:
        repl.say(f"GDL {report.version('')} - statements grow the graph, expressions show their "
                 "value; :help lists the commands, :quit leaves.", style="dim")
    if file:
        repl.guarded(repl.load, file)

    def read(prompt: str) -> str:
        """One line, edited with readline on a terminal; EOFError at the end."""
        if interactive:
            return input(prompt)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    with line_editing(repl, history) if interactive else contextlib.nullcontext():
        while not repl.done:
            try:
                line = read(MORE if repl.more else PROMPT)
            except EOFError:
                if interactive:
                    console.print()
                repl.flush()
                break
            except KeyboardInterrupt:
                console.print()
                repl.say("KeyboardInterrupt (input dropped)")
                repl.cancel()
                continue
            repl.push(line)
    return 0
