"""Source spans and the errors a user can cause.

Owns: `Span`, `GdlError` and its subclasses, `GdlWarning` (what the
gradient lint finds), and `render`, which turns an error or a warning plus
the source text into the line-and-caret form (`excerpt`: the line and caret
alone, for other reports that point into the source).  Errors hold data,
not presentation: colour and layout belong to the report and CLI layers.
Imports nothing from gdl.

Internal bugs are never `GdlError`s: they are plain exceptions (or failed
asserts), so tools can tell "you wrote something wrong" from "gdl is broken".
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A 1-based source range; `end_column` is one past the last character."""

    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"

    def to(self, other: "Span | None") -> "Span":
        """The span from the start of self to the end of other."""
        if other is None:
            return self
        return Span(self.line, self.column, other.end_line, other.end_column)


class Spanned:
    """Where an error or a warning sits: the 1-based `line` and `column` of its
    `span`, None where no source position exists."""

    span: Span | None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def at(self) -> str:
        """`line L, column C: `, or nothing without a span: how its str() begins."""
        return f"line {self.span.line}, column {self.span.column}: " if self.span else ""


class GdlError(Spanned, Exception):
    """A mistake in a program or in how it is run, with where it sits.

    `line`/`column` are 1-based, or None where no source position exists
    (errors in the arguments of a run, such as an unknown gradient name).
    """

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, notes: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = tuple(notes)

    def __str__(self) -> str:
        text = self.at() + self.message
        for note in self.notes:
            text += f"\n  note: {note}"
        return text


class GdlSyntaxError(GdlError):
    """The text is not a GDL program (found token versus expected ones)."""

    kind = "syntax error"


class GdlTypeError(GdlError):
    """A well-formed program whose names, dtypes or shapes do not fit."""

    kind = "type error"


class GdlRuntimeError(GdlError):
    """A failure while running: assert, iteration limit, index range, bad inputs, no device."""

    kind = "runtime error"


@dataclass(frozen=True)
class GdlWarning(Spanned):
    """Something legal that is probably a mistake, found at compile time (gdl/lint.py).

    Data like a GdlError, but never raised: a run goes on.  `code` names the
    check (`where-nan`, `disconnected`, `non-differentiable`, `endless-loop`);
    `hint` says how to fix it, or is empty.
    """

    code: str
    message: str
    span: Span | None = None
    hint: str = ""
    notes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return f"warning[{self.code}]"

    def __str__(self) -> str:
        return f"{self.at()}{self.kind}: {self.message}" + (f"\n  hint: {self.hint}"
                                                           if self.hint else "")


def render(source: str | None, err: GdlError | GdlWarning, filename: str = "<program>") -> str:
    """The error or warning as plain text: location, message, the source line and a caret."""
    head = f"{err.kind}: {err.message}"
    if err.span is None or source is None:
        lines = [head]
    else:
        lines = [f"{filename}:{err.span.line}:{err.span.column}: {head}"]
        lines += excerpt(source, err.span)
    lines.extend(f"  note: {n}" for n in err.notes)
    if getattr(err, "hint", ""):
        lines.append(f"  hint: {err.hint}")
    return "\n".join(lines)


def excerpt(source: str, span: Span) -> list[str]:
    """The source line of `span` and a caret under it (nothing if `source` lacks the line)."""
    src_lines = source.splitlines()
    if not 1 <= span.line <= len(src_lines):
        return []
    text = src_lines[span.line - 1].replace("\t", " ")
    width = 1
    if span.end_line == span.line:
        width = max(1, span.end_column - span.column)
    width = min(width, max(1, len(text) - span.column + 1))
    gutter = f"{span.line:>4} | "
    return [gutter + text, " " * (len(gutter) + span.column - 1) + "^" * width]
