"""Scopes of a program being built: which value each name means, block by block.

`Block` is the builder state of one region (its nodes, its names, the outer
values it captures as params so the region stays closed).  `FnBlock` is
the scope of an inlined `fn` body: it adds nodes to the calling block's
region but sees only its parameters and the names bound where the `fn` was
defined.  Imports `syntax`, `ir`, `errors`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import syntax as ast
from .errors import Span
from .ir import Builder, IdSource, Value

Operand = Any   # Value | Weak


@dataclass
class Binding:
    operand: Operand
    span: Span | None
    kind: str            # "var", "input" or "let"


class Block:
    """The builder state of one region: its nodes, names and captured outer values.

    A lookup that reaches an enclosing block captures the outer value as a
    param of this region, so every region is closed (architecture.md).
    """

    def __init__(self, ids: IdSource, parent: "Block | None", isolated: str | None = None):
        self.b = Builder(ids)
        self.parent = parent
        self.isolated = isolated        # why outer names are unreachable (var initialisers)
        self.names: dict[str, Binding] = {}
        self.assigned: dict[str, Span | None] = {}     # names bound in this block, in order
        self.captured: dict[Value, Value] = {}         # outer value -> param
        self.imported: dict[str, Binding] = {}
        self.tombstones: dict[str, str] = {}           # block-local names of nested blocks

    def own(self, name: str) -> Binding | None:
        """The binding this block itself holds for `name` (bound or already imported)."""
        if name in self.names:
            return self.names[name]
        return self.imported.get(name)

    def lookup(self, name: str) -> Binding | None:
        """The binding of `name` here; an outer value is captured into each block between.

        A loop, not recursion: blocks nest as deep as a program's `if`s and `while`s.
        """
        path: list[Block] = []
        block = self
        found = block.own(name)
        while found is None:
            if block.parent is None or block.isolated:
                return None
            path.append(block)
            block = block.parent
            found = block.own(name)
        for blk in reversed(path):
            if isinstance(found.operand, Value):
                found = Binding(blk.capture(found.operand), found.span, found.kind)
            blk.imported[name] = found
        return found

    def visible(self) -> set[str]:
        """Every name a lookup here could find (for did-you-mean suggestions); a loop,
        as in `lookup`."""
        names: set[str] = set()
        block: Block | None = self
        while block is not None:
            names |= block.names.keys() | block.imported.keys()
            if isinstance(block, FnBlock):      # its outer names: those at the definition
                names |= block.snapshot.keys()
            block = None if block.isolated else block.parent
        return names

    def capture(self, outer: Value) -> Value:
        if outer not in self.captured:
            self.captured[outer] = self.b.fresh(outer.type, outer.name)
        return self.captured[outer]

    def bind(self, name: str, operand: Operand, span: Span | None, kind: str = "let") -> None:
        if isinstance(operand, Value) and operand.name is None:
            operand.name = name
        self.names[name] = Binding(operand, span, kind)
        self.assigned[name] = span
        self.tombstones.pop(name, None)

    def import_value(self, v: Value, owner: "Block") -> Value:
        """Value `v` of the enclosing block `owner`, captured down to this block (a loop,
        as in `lookup`)."""
        path: list[Block] = []
        block = self
        while block is not owner:
            if isinstance(block, FnBlock):      # adds to its call site's region: no params
                block = block.site
                continue
            path.append(block)
            block = block.parent
        for blk in reversed(path):
            v = blk.capture(v)
        return v

    def tombstone(self, name: str) -> str | None:
        block: Block | None = self
        while block is not None:
            if name in block.tombstones:
                return block.tombstones[name]
            block = block.parent
        return None


def assigned_names(stmts: tuple) -> list[str]:
    """Names assigned anywhere in `stmts`, nested blocks included, in order."""
    found: dict[str, None] = {}
    stack = [iter(stmts)]
    while stack:
        stmt = next(stack[-1], None)
        if stmt is None:
            stack.pop()
            continue
        if isinstance(stmt, ast.Assign):
            found[stmt.name] = None
        elif isinstance(stmt, ast.While):
            stack.append(iter(stmt.body))
        elif isinstance(stmt, ast.If):
            for _, body, _ in stmt.branches:
                stack.append(iter(body))
            if stmt.orelse:
                stack.append(iter(stmt.orelse))
    return list(found)


class FnBlock(Block):
    """The scope of one inlined `fn` call, adding nodes to the calling block's region.

    Free names resolve to the bindings of the top level when the `fn` was
    defined (`snapshot`), brought into the calling region through its chain
    of captures; the caller's own names are invisible.
    """

    def __init__(self, site: Block, top: Block, snapshot: dict[str, Binding]):
        super().__init__(site.b.ids, None)
        self.b = site.b
        self.site = site
        self.top = top
        self.snapshot = snapshot

    def own(self, name: str) -> Binding | None:
        """Its own names, else the definition-time binding, imported through the call site."""
        if name in self.names:
            return self.names[name]
        if name in self.imported:
            return self.imported[name]
        outer = self.snapshot.get(name)
        if outer is None:
            return None
        if isinstance(outer.operand, Value):
            outer = Binding(self.site.import_value(outer.operand, self.top), outer.span,
                            outer.kind)
        self.imported[name] = outer
        return outer

    def import_value(self, v: Value, owner: Block) -> Value:
        return self.site.import_value(v, owner)

    def capture(self, outer: Value) -> Value:
        return self.site.capture(outer)
