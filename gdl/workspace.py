"""The REPL's workspace: the accepted statements, and requests compiled and run against them.

Owns what a request of `gdl repl` is, not how it is typed or shown: the
session is the text of the statements accepted so far, and a request (a
chunk of statements, a bare expression, the expressions of a command)
is *staged* as that text plus the lines it adds, compiled through
`api.compile` (cached, so a program's kernels are built once) and run
through `Program.run` with the values `:set` gave and the hidden feeds.
Any GdlError of a staged program comes back as `Shown`: the error with its
span moved to where the user typed it and the hidden names said as the
user wrote them.  Nothing here prints; `repl` builds the terminal loop,
the commands and the display on top of `Workspace`.

The names a request adds are hidden from the user: the k-th value asked
for is bound to `__repl_k`, and `NAME.grad` (not GDL syntax) is read
through a hidden input `NAME__grd` of the same length, so carets keep
their columns.  Gradients accumulate here across `:backward` calls, as
PyTorch's `.grad` does, until `:zero`: the program changes with every
statement, so there is no single compiled program whose Session could
hold them.
Imports `api`, `build`, `parse`, `syntax`, `errors`, `dtype`,
`runtime.device`, numpy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable

import numpy as np

from . import api
from . import syntax as ast
from .build import GraphBuilder
from .dtype import TensorType
from .errors import GdlError, GdlWarning, Span
from .parse import parse
from .runtime import device as devices

PROGRAMS_KEPT = 32                  # compiled programs cached (each keeps its kernels)
VALUE = "__repl_"                   # the k-th value a request asks for is __repl_k
GRAD = "__grd"                      # NAME.grad is read as the hidden input NAME__grd
DONE = "__repl_done"                # the output of a run that only has effects
GRAD_REF = re.compile(r"\b([A-Za-z_]\w*)\.grad\b")
HIDDEN_NAME = re.compile(r"\b__repl_\w+|\b\w+__grd\b")
SEED = re.compile(r"(?:^|\s)seed\s*=(?!=)")


class Shown(Exception):
    """A GdlError (or a lint GdlWarning) together with the text its caret points into."""

    def __init__(self, err: GdlError | GdlWarning, source: str | None, filename: str):
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


@dataclass
class Entry:
    """A chunk of statements that compiled (and ran, if it shows or prints), not yet accepted."""

    program: api.Program
    staged: Staged
    result: api.Result | None           # None when nothing needed a run
    printed: list[str]                  # what its `print`s wrote, in order
    values: tuple[str, ...]             # the hidden outputs of its bare expressions
    statements: list[str]               # the statements' texts, to keep
    outs: list[str]                     # the names its `out` statements list
    scope: Scope                        # the session's names once it is accepted


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


def relined(text: str, st: Staged) -> str:
    """A message about a staged program, hidden names renamed and `line N` counted
    where the user typed it."""
    def line(m: re.Match) -> str:
        i = int(m[1]) - st.head - 1
        return f"line {st.origin[i] if 0 <= i < len(st.origin) else m[1]}"
    return re.sub(r"\bline (\d+)", line, st.clean(text))


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


# -- the workspace ---------------------------------------------------------------

class Workspace:
    """The statements accepted so far, values set, gradients, and compiled programs.

    Every request is compiled from text, so a statement that fails leaves
    the workspace as it was; `accept` is the only method that adds to it.
    """

    def __init__(self, device: str | None = None):
        self.device_spec = device
        self.device: devices.Device | None = None
        self.programs: dict[str, api.Program] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every statement, set value and gradient (the device stays)."""
        self.statements: list[str] = []
        self.shown: list[str] = []
        self.sets: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.scope = Scope()

    @property
    def session_text(self) -> str:
        """The accepted statements, as one program text (what :list numbers)."""
        return "\n".join(self.statements)

    def evaluate(self, text: str, filename: str = "<input>") -> Entry:
        """Compile a chunk of statements in the session (running it if it shows or prints).

        Nothing changes until `accept`; an error is raised as `Shown`.
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
        result: api.Result | None = None
        printed: list[str] = []
        if exprs or effects(tuple(keep)):
            result = self.run(prog, st, on_print=printed.append)
        stored = [span_text(text, s.span) for s in keep if not isinstance(s, ast.Print)]
        return Entry(prog, st, result, printed, tuple(f"{VALUE}{k}" for k in range(len(exprs))),
                     stored, outs, scope_of(builder))

    def accept(self, entry: Entry) -> int:
        """Add an evaluated chunk's statements to the session; how many there were."""
        self.statements.extend(entry.statements)
        self.shown.extend(n for n in dict.fromkeys(entry.outs) if n not in self.shown)
        self.scope = entry.scope
        return len(entry.statements)

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
                               f"one with `:set {leaf.name} = ...`", leaf.span)
        if self.device is None:
            self.device = devices.select(self.device_spec)
        try:
            return prog.run(inputs, device=self.device, on_print=on_print or (lambda _: None),
                            **kwargs)
        except GdlError as err:
            raise self.located(err, st) from None

    def located(self, err: GdlError | GdlWarning, st: Staged) -> Shown:
        """An error (or a lint warning) of a staged program, pointing where the user
        typed (hidden names renamed)."""
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
        if isinstance(err, GdlWarning):     # its text names lines of the staged program too
            return Shown(replace(err, message=relined(err.message, st), span=span,
                                 hint=relined(err.hint, st)), source, filename)
        try:
            mapped = type(err)(st.clean(err.message), span, tuple(map(st.clean, err.notes)))
        except TypeError:
            mapped = GdlError(st.clean(err.message), span)
        return Shown(mapped, source, filename)

    def warnings(self, found: tuple[GdlWarning, ...], st: Staged, typed_only: bool = False
                 ) -> list[Shown]:
        """Lint warnings of a staged program where the user typed them; with
        `typed_only`, only those in the request's own lines (not the session's)."""
        return [self.located(w, st) for w in found
                if not typed_only or (w.span is not None and w.span.line > st.head)]

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

    def constant(self, text: str, t: TensorType) -> np.ndarray | None:
        """A constant expression evaluated as type `t` (weak literals stay exact), or None."""
        st = Staged.plain(f"input {VALUE}set: {t} = {text}\nout {VALUE}set", None, "<input>",
                          head=2)
        try:
            prog = self.compile(st)
            return self.run(prog, st).outputs[f"{VALUE}set"]
        except Shown:
            return None


def scope_of(builder: GraphBuilder) -> Scope:
    """The user's top-level names in a built program (hidden ones left out)."""
    leaves = {lf.name: (lf.kind, lf.value.type) for lf in builder.leaves
              if not HIDDEN_NAME.fullmatch(lf.name)}
    names = tuple(n for n in builder.top.names if not HIDDEN_NAME.fullmatch(n))
    return Scope(names, MappingProxyType(leaves),
                 tuple(n for n in builder.functions if not HIDDEN_NAME.fullmatch(n)))

