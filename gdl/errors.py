"""Source spans and the errors a user can cause.

Owns: `Span`, `GdlError` and its subclasses, and `render`, which turns an
error plus the source text into the line-and-caret form.  Errors hold data,
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


class GdlError(Exception):
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

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def __str__(self) -> str:
        where = f"line {self.span.line}, column {self.span.column}: " if self.span else ""
        text = where + self.message
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


def render(source: str | None, err: GdlError, filename: str = "<program>") -> str:
    """The error as plain text: location, message, the source line and a caret."""
    head = f"{err.kind}: {err.message}"
    if err.span is None or source is None:
        lines = [head]
    else:
        src_lines = source.splitlines()
        lines = [f"{filename}:{err.span.line}:{err.span.column}: {head}"]
        if 1 <= err.span.line <= len(src_lines):
            text = src_lines[err.span.line - 1].replace("\t", " ")
            width = 1
            if err.span.end_line == err.span.line:
                width = max(1, err.span.end_column - err.span.column)
            width = min(width, max(1, len(text) - err.span.column + 1))
            gutter = f"{err.span.line:>4} | "
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) + err.span.column - 1) + "^" * width)
    lines.extend(f"  note: {n}" for n in err.notes)
    return "\n".join(lines)
