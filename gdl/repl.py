"""`gdl repl [FILE]`: statements typed one at a time grow a program (issue 4, item 3).

Owns the interactive loop and nothing of the pipeline: the session is the
text of the statements accepted so far, and every request (a bare
expression, `:grad`, `:backward`, `:run`, ...) compiles that text plus a
line or two it adds, through `api.compile` and `Program.run`, and shows
the result through `report` and `printer` - the same compile -> run ->
report path as `gdl run` (architecture.md, Surfaces).  A statement that
does not compile (or, holding a `print` or `assert`, does not run) is
shown with its caret and leaves the session as it was.  Statements with
effects run once when entered; a top-level `print` is not kept, and later
runs are silent except `:run`.

The names the REPL adds are hidden from the user: the k-th value asked for
is bound to `__repl_k`, and `NAME.grad` (not GDL syntax) is read through a
hidden input `NAME__grd` of the same length, so carets keep their columns.
Gradients accumulate on the host across `:backward` calls, as PyTorch's
`.grad` does, until `:zero`: the program changes with every statement, so
there is no single compiled program whose Session could hold them.
Imports `api`, `report`, `build`, `parse`, `printer`, `syntax`, `errors`,
`builtins`, `expressions`, `runtime.device`, `runtime.plan`, rich.
"""
from __future__ import annotations

import contextlib
import difflib
import glob
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterator

import numpy as np
from rich.console import Console
from rich.text import Text

from . import api, report
from . import syntax as ast
from .build import GraphBuilder
from .builtins import LANGUAGE_BUILTINS
from .dtype import TensorType
from .errors import GdlError, Span
from .expressions import KEYWORDS
from .parse import parse
from .printer import graph_text, node_text
from .runtime import device as devices
from .runtime.plan import plan as make_plan

PROMPT, MORE = "gdl> ", "...> "
HISTORY_ENV = "GDL_HISTORY"         # where history is kept; default ~/.gdl_history
HISTORY_LENGTH = 1000
PROGRAMS_KEPT = 32                  # compiled programs cached (each keeps its kernels)
VALUE = "__repl_"                   # the k-th value a request asks for is __repl_k
GRAD = "__grd"                      # NAME.grad is read as the hidden input NAME__grd
DONE = "__repl_done"                # the output of a run that only has effects
GRAD_REF = re.compile(r"\b([A-Za-z_]\w*)\.grad\b")
HIDDEN_NAME = re.compile(r"\b__repl_\w+|\b\w+__grd\b")
SEED = re.compile(r"(?:^|\s)seed\s*=(?!=)")


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


class Shown(Exception):
    """A GdlError together with the text its caret points into."""

    def __init__(self, err: GdlError, source: str | None, filename: str):
        super().__init__(err.message)
        self.err, self.source, self.filename = err, source, filename


@dataclass(frozen=True)
class Scope:
    """The top-level names of the session after the last accepted statement."""

    names: tuple[str, ...] = ()                                 # bound to values, in order
    leaves: MappingProxyType = field(                           # name -> (kind, type)
        default_factory=lambda: MappingProxyType({}))
    fns: tuple[str, ...] = ()

    @property
    def vars(self) -> tuple[str, ...]:
        """The `var` names, which collect gradients."""
        return tuple(n for n, (kind, _) in self.leaves.items() if kind == "var")


@dataclass
class Staged:
    """A program text: the session's statements, then the user's lines, then `out`.

    `layout` holds the user's lines as laid out in the program (a command's
    expressions keep their columns by padding), `origin` the line of
    `source` each came from, and `shifts` the text inserted on each line
    (`__repl_k = `, and declarations of hidden inputs on the first line),
    so an error maps back to where the user typed it.
    """

    text: str
    head: int                          # lines before the user's lines
    layout: list[str]
    origin: list[int]
    shifts: dict[int, list[tuple[int, int]]]
    source: str | None
    filename: str
    feeds: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)        # hidden name -> shown as

    def clean(self, text: str) -> str:
        """`text` with the hidden names said as the user wrote them."""
        return HIDDEN_NAME.sub(lambda m: self.names.get(m[0], m[0]), text)

    @classmethod
    def plain(cls, text: str, source: str | None, filename: str, head: int = 0) -> "Staged":
        """A text compiled as it is, its lines after `head` being the user's."""
        layout = text.split("\n")[head:]
        return cls(text, head, layout, list(range(1, len(layout) + 1)), {}, source, filename)


# -- text helpers -------------------------------------------------------------

def depth(text: str) -> int:
    """How many brackets are open at the end of `text` (comments and strings skipped)."""
    level, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif c in "([{":
            level += 1
        elif c in ")]}":
            level -= 1
        i += 1
    return level


def may_take_else(text: str) -> bool:
    """Whether complete `text` ends with an `if` that an `else` on the next line could extend."""
    if not text.rstrip().endswith("}"):
        return False
    try:
        stmts = parse(text).stmts
    except GdlError:
        return False
    return bool(stmts) and isinstance(stmts[-1], ast.If) and not stmts[-1].orelse


def span_text(text: str, span: Span) -> str:
    """The source text a span covers."""
    lines = text.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.column - 1:span.end_column - 1]
    parts = [lines[span.line - 1][span.column - 1:]]
    parts += lines[span.line:span.end_line - 1]
    parts.append(lines[span.end_line - 1][:span.end_column - 1])
    return "\n".join(parts)


def unshift(shifts: list[tuple[int, int]], column: int) -> int:
    """A column of a line with text inserted, as a column of the line as typed."""
    moved = 0
    for at, length in shifts:
        start = at + moved
        if column < start:
            break
        if column < start + length:
            return at                   # inside the inserted text: the expression's start
        moved += length
    return column - moved


def effects(stmts: tuple) -> bool:
    """Whether statements (nested blocks and fn bodies included) print or assert."""
    stack = [iter(stmts)]
    while stack:
        s = next(stack[-1], None)
        if s is None:
            stack.pop()
        elif isinstance(s, (ast.Print, ast.Assert)):
            return True
        elif isinstance(s, (ast.While, ast.FnDef)):
            stack.append(iter(s.body))
        elif isinstance(s, ast.If):
            stack.extend(iter(body) for _, body, _ in s.branches)
            stack.append(iter(s.orelse or ()))
    return False


def split_seed(rest: str, at: int) -> tuple[str, int, tuple[str, int] | None]:
    """`Y ... seed=S` as (the part before, its column, (S, its column) or None).

    `at` is the 0-based column of `rest` in the command line.
    """
    for m in SEED.finditer(rest):
        if depth(rest[:m.start()]) == 0:
            seed = rest[m.end():]
            lead = len(seed) - len(seed.lstrip())
            return rest[:m.start()], at, (seed.strip(), at + m.end() + lead)
    return rest, at, None


def leading(text: str) -> int:
    """The number of blanks `text` starts with."""
    return len(text) - len(text.lstrip())


# -- the REPL -------------------------------------------------------------------

class Repl:
    """One interactive session: feed it lines with `push`, it prints to `console`."""

    def __init__(self, console: Console, device: str | None = None):
        self.console = console
        self.device_spec = device
        self.device: devices.Device | None = None
        self.programs: dict[str, api.Program] = {}
        self.done = False
        self.buffer: list[str] = []
        self.pending_else = False
        self.reset()

    def reset(self) -> None:
        """Forget every statement, set value and gradient (the device stays)."""
        self.statements: list[str] = []
        self.shown: list[str] = []
        self.sets: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.scope = Scope()

    @property
    def more(self) -> bool:
        """Whether the input so far is unfinished (the continuation prompt shows)."""
        return bool(self.buffer)

    @property
    def session_text(self) -> str:
        """The accepted statements, as one program text (what :list numbers)."""
        return "\n".join(self.statements)

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
            path = crash_file(exc)
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
        text = text.replace("\r\n", "\n")
        layout = text.split("\n")
        try:
            tree = parse("\n".join(GRAD_REF.sub(lambda m: m[1] + GRAD, ln) for ln in layout))
        except GdlError as err:
            raise self.located(err, Staged.plain(text, text, filename)) from None
        exprs = [s for s in tree.stmts if isinstance(s, ast.ExprStmt)]
        outs = [name for s in tree.stmts if isinstance(s, ast.Out) for name, _ in s.names]
        keep = [s for s in tree.stmts if not isinstance(s, (ast.ExprStmt, ast.Out))]
        for i, ln in enumerate(layout):
            for m in GRAD_REF.finditer(ln):
                at = (i + 1, m.start() + 1)
                if any((s.span.line, s.span.column) <= at < (s.span.end_line, s.span.end_column)
                       for s in keep):
                    raise Shown(GdlError(
                        f"`{m[0]}` can be read in an expression typed at the prompt, not in a "
                        "statement (the session's statements are re-run and must not change)",
                        Span(i + 1, m.start() + 1, i + 1, m.end() + 1)), text, filename)
        inserts = [(s.span.line - 1, s.span.column, f"{VALUE}{k}") for k, s in enumerate(exprs)]
        st = self.stage(layout, list(range(1, len(layout) + 1)), inserts, text, filename)
        try:
            builder = GraphBuilder(parse(st.text), source=st.text)
            builder.build()
        except GdlError as err:
            raise self.located(err, st) from None
        prog = self.compile(st)
        if exprs or effects(tuple(keep)):
            printed: list[str] = []
            result = self.run(prog, st, on_print=printed.append)
            for line in printed:
                self.say(line)
            for k, s in enumerate(exprs):
                self.show_value(prog, result, f"{VALUE}{k}", st)
        stored = [span_text(text, s.span) for s in keep if not isinstance(s, ast.Print)]
        self.statements.extend(stored)
        self.shown.extend(n for n in dict.fromkeys(outs) if n not in self.shown)
        self.scope = scope_of(builder)
        return len(stored)

    def stage(self, layout: list[str], origin: list[int],
              inserts: list[tuple[int, int, str]], source: str | None, filename: str,
              outs: tuple[str, ...] | None = None) -> Staged:
        """The program text for a request, with the user's lines below the session's.

        `inserts` are (layout line, 1-based column, hidden name): the value
        starting there is bound to that name and becomes an output.
        """
        lines = [GRAD_REF.sub(lambda m: m[1] + GRAD, ln) for ln in layout]
        st = Staged("", 0, layout, origin, {}, source, filename)
        decls = []
        for i, ln in enumerate(layout):
            for m in GRAD_REF.finditer(ln):
                hidden = m[1] + GRAD
                st.names[hidden] = m[0]
                if hidden not in st.feeds:
                    st.feeds[hidden] = self.grad_of(m[1], Span(origin[i], m.start() + 1,
                                                               origin[i], m.end() + 1), st)
                    decls.append(f"input {hidden}: {self.scope.leaves[m[1]][1]}")
        for i, col, name in sorted(inserts, reverse=True):
            prefix = f"{name} = "
            lines[i] = lines[i][:col - 1] + prefix + lines[i][col - 1:]
            st.shifts.setdefault(i, []).insert(0, (col, len(prefix)))
            st.names[name] = "the value"
        if decls:       # on the first user line, so @lines of the user's nodes stay put
            prefix = "; ".join(decls) + "; "
            lines[0] = prefix + lines[0]
            st.shifts.setdefault(0, []).insert(0, (1, len(prefix)))
        head = list(self.statements)
        st.head = sum(s.count("\n") + 1 for s in head)
        if outs is None:
            outs = tuple(name for _, _, name in sorted(inserts))
        tail = []
        if not outs:
            tail, outs = [f"{DONE} = true"], (DONE,)
        st.text = "\n".join(head + lines + tail + ["out " + ", ".join(outs)])
        return st

    def grad_of(self, name: str, span: Span, st: Staged) -> np.ndarray:
        """The accumulated gradient `NAME.grad`, or an error saying why there is none."""
        leaf = self.scope.leaves.get(name)
        if leaf is None or leaf[0] != "var":
            what = f"`{name}` is not a var" if name in self.scope.names or leaf else \
                f"there is no var `{name}`"
            raise Shown(GdlError(f"{what}, so `{name}.grad` does not exist; only `var`s "
                                 "collect gradients", span), st.source, st.filename)
        if name not in self.grads:
            raise Shown(GdlError(f"`{name}.grad` is empty: no `:backward` has filled it yet "
                                 "(`:zero` sets it to zeros)", span), st.source, st.filename)
        return self.grads[name]

    def pieces(self, line: str, parts: list[tuple[str, int]]) -> Staged:
        """Stage expressions taken from a command line, each at its 0-based column."""
        layout = [" " * col + text for text, col in parts]
        for padded in layout:
            try:
                stmts = parse(GRAD_REF.sub(lambda m: m[1] + GRAD, padded)).stmts
            except GdlError as err:
                raise self.located(err, Staged.plain(padded, line, "<input>")) from None
            if len(stmts) != 1 or not isinstance(stmts[0], ast.ExprStmt):
                span = stmts[0].span if stmts else Span(1, len(padded) + 1, 1, len(padded) + 2)
                raise Shown(GdlError("expected an expression here", span), line, "<input>")
        inserts = [(i, col + 1, f"{VALUE}{i}") for i, (_, col) in enumerate(parts)]
        return self.stage(layout, [1] * len(parts), inserts, line, "<input>")

    def compile(self, st: Staged) -> api.Program:
        """The compiled program of a staged text (cached: its kernels are kept too)."""
        prog = self.programs.get(st.text)
        if prog is None:
            try:
                prog = api.compile(st.text, "<session>")
            except GdlError as err:
                raise self.located(err, st) from None
            if len(self.programs) >= PROGRAMS_KEPT:
                self.programs.pop(next(iter(self.programs)))
            self.programs[st.text] = prog
        return prog

    def run(self, prog: api.Program, st: Staged, on_print: Callable[[str], None] | None = None,
            **kwargs: Any) -> api.Result:
        """Run a staged program with the values set by `:set` and the hidden feeds."""
        inputs = {n: v for n, v in self.sets.items() if prog.graph.leaf(n) is not None}
        inputs.update(st.feeds)
        for leaf in prog.graph.leaves:
            if leaf.kind == "input" and leaf.init is None and leaf.name not in inputs:
                raise GdlError(f"input `{leaf.name}` has no default and no value yet; give it "
                               f"one with `:set {leaf.name} = ...`")
        if self.device is None:
            self.device = devices.select(self.device_spec)
        try:
            return prog.run(inputs, device=self.device, on_print=on_print or (lambda _: None),
                            **kwargs)
        except GdlError as err:
            raise self.located(err, st) from None

    def located(self, err: GdlError, st: Staged) -> Shown:
        """An error of a staged program, pointing where the user typed (hidden names renamed)."""
        span, source, filename = None, st.source, st.filename
        if err.span is not None:
            i = err.span.line - st.head - 1
            if err.span.line <= st.head and self.statements:
                span, source, filename = err.span, self.session_text, "<session>"
            elif 0 <= i < len(st.layout):
                column = unshift(st.shifts.get(i, []), err.span.column)
                j = err.span.end_line - st.head - 1
                if 0 <= j < len(st.layout):
                    end = (st.origin[j], unshift(st.shifts.get(j, []), err.span.end_column))
                else:
                    end = (st.origin[i], column + 1)
                span = Span(st.origin[i], column, *end)
        try:
            mapped = type(err)(st.clean(err.message), span, tuple(map(st.clean, err.notes)))
        except TypeError:
            mapped = GdlError(st.clean(err.message), span)
        return Shown(mapped, source, filename)

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

    def values(self, line: str, parts: list[tuple[str, int]]) -> list[np.ndarray]:
        """The values of expressions typed in a command, computed in the session."""
        st = self.pieces(line, parts)
        prog = self.compile(st)
        result = self.run(prog, st)
        return [result.outputs[f"{VALUE}{i}"] for i in range(len(parts))]

    def session_program(self, expr: tuple[str, int] | None, line: str
                        ) -> tuple[api.Program, Staged]:
        """The session with every name (or the `out` names) as outputs, or just `expr`."""
        if expr is not None:
            st = self.pieces(line, [expr])
        else:
            names = tuple(self.shown) or self.scope.names
            if not names:
                raise GdlError("the session has no values yet: enter a statement first "
                               "(e.g. `var x = arange(4.0)`)")
            st = self.stage([], [], [], None, "<session>", outs=names)
        return self.compile(st), st

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

    def constant(self, text: str, t: TensorType) -> np.ndarray | None:
        """A constant expression evaluated as type `t` (weak literals stay exact), or None."""
        st = Staged.plain(f"input {VALUE}set: {t} = {text}\nout {VALUE}set", None, "<input>",
                          head=2)
        try:
            prog = self.compile(st)
            return self.run(prog, st).outputs[f"{VALUE}set"]
        except Shown:
            return None

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


def scope_of(builder: GraphBuilder) -> Scope:
    """The user's top-level names in a built program (hidden ones left out)."""
    leaves = {lf.name: (lf.kind, lf.value.type) for lf in builder.leaves
              if not HIDDEN_NAME.fullmatch(lf.name)}
    names = tuple(n for n in builder.top.names if not HIDDEN_NAME.fullmatch(n))
    return Scope(names, MappingProxyType(leaves),
                 tuple(n for n in builder.functions if not HIDDEN_NAME.fullmatch(n)))


def crash_file(exc: BaseException) -> str | None:
    """Save an internal error's traceback to a temp file; its path, or None."""
    try:
        fd, path = tempfile.mkstemp(prefix="gdl-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("gdl repl\n\n" + "".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


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


def version() -> str:
    """The installed gdl version, for the banner."""
    try:
        from importlib.metadata import version as dist_version
        return dist_version("gdl")
    except Exception:  # noqa: BLE001 - missing metadata only hides the version
        return ""


def main(console: Console, file: str | None = None, device: str | None = None,
         history: str | None = None) -> int:
    """The line loop of `gdl repl`: 0 when the user leaves (`:quit` or end of input).

    On a terminal it prompts and edits lines with readline; with piped
    input it reads lines silently, so a script of statements can be fed in.
    """
    repl = Repl(console, device)
    interactive = sys.stdin.isatty()
    if interactive:
        repl.say(f"GDL {version()} - statements grow the graph, expressions show their "
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
