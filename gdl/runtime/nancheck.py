"""Where a checked run's first NaN or infinity came from (check_nan).

A checked plan's kernels record, per tested node (a flag slot), the
smallest `4 * step + kind` at which it was not finite (gen_check).  The
executor numbers its launches with steps and tells a `Watch` which loop
iterations are running; after the run, `Watch.first` reads the flags back
as an `Origin`: the node with the smallest step, ties going to the lowest
slot (the earliest node of its group, slots following each group's
topological order), with the loop iterations active at that step.  The host
sees what never reaches a kernel: fed values and literals that are not
finite, which come before any launch that reads them.
Imports `ir`, `errors`, numpy.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Span
from ..ir import Node

NONE = 0xFFFFFFFF                 # a slot that recorded nothing
LAST_STEP = (1 << 30) - 1         # steps beyond this do not fit in a flag: they stay here
KINDS = ("NaN", "+Inf", "-Inf")


@dataclass(frozen=True)
class Iteration:
    """One enclosing loop at the step that produced the value, outermost first.

    `iteration` counts from 0 in the loop's own order of execution; a
    reverse loop (role adjoint) runs the forward iterations backwards, so
    its iteration k replays forward iteration trips - 1 - k.  `trips` is the
    loop's trip count at that entry (None if the run stopped inside it).
    """

    line: int | None
    column: int | None
    role: str
    iteration: int
    trips: int | None


@dataclass(frozen=True)
class Origin:
    """The first node of a run that produced a NaN or an infinity.

    `node` is the value it defines as graphs print it (`%12`), or the name
    of a fed leaf; `role` is forward, tape or adjoint (or input/var for a
    fed value); `value` is NaN, +Inf or -Inf (NaN when a step produced both).
    """

    node: str
    role: str
    op: str
    line: int | None
    column: int | None
    iterations: tuple[Iteration, ...]
    value: str
    span: Span | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: every field but the span, iterations as objects."""
        return {"node": self.node, "role": self.role, "op": self.op, "line": self.line,
                "column": self.column, "value": self.value,
                "iterations": [vars(it) for it in self.iterations]}


class _Loop:
    """One entry into a loop; its trip count once it is known."""

    __slots__ = ("node", "trips")

    def __init__(self, node: Node, trips: int | None = None):
        self.node = node
        self.trips = trips


class StepLog:
    """The run's step counter and which loop iterations each step ran in.

    A mark is written whenever the iterations change: (first step, the
    (loop, iteration) frames, and the loop a repeating kernel runs, whose
    iteration is then the step's distance from the mark).
    """

    def __init__(self):
        self.step = 0
        self.frames: list[tuple[_Loop, int]] = []
        self.starts: list[int] = [0]
        self.marks: list[tuple[tuple, _Loop | None]] = [((), None)]

    def _mark(self, repeat: _Loop | None = None) -> None:
        mark = (tuple(self.frames), repeat)
        if self.starts[-1] == self.step:
            self.marks[-1] = mark           # nothing ran under the previous one
        else:
            self.starts.append(self.step)
            self.marks.append(mark)

    def advance(self, steps: int = 1) -> None:
        self.step = min(self.step + steps, LAST_STEP)

    def enter(self, node: Node) -> None:
        """A loop starts: its condition on entry counts with iteration 0."""
        self.frames.append((_Loop(node), 0))
        self._mark()

    def iterate(self, k: int) -> None:
        self.frames[-1] = (self.frames[-1][0], k)
        self._mark()

    def leave(self, trips: int) -> None:
        self.frames.pop()[0].trips = trips
        self._mark()

    def repeating(self, node: Node, trips: int) -> None:
        """The next launch runs all `trips` iterations of the loop `node` (one step each)."""
        self._mark(_Loop(node, trips))

    def repeated(self) -> None:
        self._mark()

    def where(self, step: int) -> tuple[Iteration, ...]:
        """The loop iterations running at `step`, outermost first."""
        i = bisect.bisect_right(self.starts, step) - 1
        frames, repeat = self.marks[i]
        found = list(frames)
        if repeat is not None:
            found.append((repeat, step - self.starts[i]))
        return tuple(_iteration(loop, k) for loop, k in found)


def _iteration(loop: _Loop, k: int) -> Iteration:
    span = loop.node.span
    return Iteration(span.line if span else None, span.column if span else None,
                     loop.node.role or "forward", k, loop.trips)


def _origin(node: Node, value: str, iterations: tuple[Iteration, ...]) -> Origin:
    span = node.span
    return Origin(f"%{node.outputs[0].id}", node.role or "forward", node.op,
                  span.line if span else None, span.column if span else None,
                  iterations, value, span)


def kind_of(array: np.ndarray) -> str | None:
    """NaN, +Inf or -Inf for an array of floats that holds one (in that order), else None.

    A fed array may be large: a finite dot product with itself (one BLAS
    pass) clears it; otherwise its min and max tell (NaN propagates through
    both; huge finite values only overflow the dot product).
    """
    a = np.asarray(array)
    if a.dtype.kind != "f" or a.size == 0:
        return None
    flat = a.reshape(-1)
    with np.errstate(all="ignore"):
        if np.isfinite(np.dot(flat, flat)):
            return None
    lo, hi = a.min(), a.max()
    if np.isnan(lo):
        return KINDS[0]
    if hi == np.inf:
        return KINDS[1]
    return KINDS[2] if lo == -np.inf else None


class Watch:
    """The host's side of a checked plan's runs: steps, loops, what the host saw.

    One per executor; `start` begins a run.  `nodes` are the plan's checked
    nodes by slot, `init_slots` the slots of each leaf's initialiser.  The
    host sees a fed value (or a kept initial value) before anything runs,
    and a literal at the step of the next launch, which it precedes.
    """

    def __init__(self, nodes: list[Node], init_slots: dict[str, range]):
        self.nodes = nodes
        self.init_slots = init_slots
        self.initial: dict[str, Origin | None] = {}     # of each initial value computed
        self.literals: dict[Node, str | None] = {}      # the kind of each const step's value
        self.start()

    def start(self) -> None:
        self.log = StepLog()
        self.early: Origin | None = None                 # before the run: fed, kept
        self.literal_at: tuple[int, Node, str] | None = None    # the first literal seen
        self.computed: list[str] = []       # initial values computed in this run

    def leaf(self, name: str, kind: str, span: Span | None, array: np.ndarray) -> None:
        """A fed value of leaf `name` (an input or a var), before anything runs."""
        value = kind_of(array)
        if value is not None:
            self.before(Origin(name, kind, kind, span.line if span else None,
                               span.column if span else None, (), value, span))

    def before(self, origin: Origin | None) -> None:
        """A value that was not finite before the run started (fed, or a kept initial value)."""
        if self.early is None:
            self.early = origin

    def literal(self, node: Node, array: np.ndarray) -> None:
        """A const step as it runs: one whose value is not finite (a constant
        expression folded when compiling) is an origin."""
        value = self.literals.get(node, "")
        if value == "":
            value = self.literals[node] = kind_of(array)
        if value is not None and self.literal_at is None:
            self.literal_at = (self.log.step, node, value)
            self.log.advance()          # it precedes the next launch, which may read it

    def first(self, flags: np.ndarray, slots: range | None = None) -> Origin | None:
        """The first origin, from the flags read back (within `slots` if given, which
        leaves out what the host saw)."""
        lo = 0 if slots is None else slots.start
        part = flags[lo:len(flags) if slots is None else slots.stop]
        found = []              # (step, slot or -1, node, kind)
        if part.size and part.min() != NONE:
            steps = part >> 2
            slot = int(np.argmin(steps))            # the first slot of the smallest step
            found.append((int(steps[slot]), slot, self.nodes[lo + slot],
                          KINDS[part[slot] & 3]))
        if slots is None:
            if self.early is not None:
                return self.early
            if self.literal_at is not None:
                found.append((self.literal_at[0], -1) + self.literal_at[1:])
        if not found:
            return None
        step, _, node, value = min(found, key=lambda f: f[:2])
        return _origin(node, value, self.log.where(step))

    def finish(self, flags: np.ndarray) -> Origin | None:
        """The run's first origin; initial values computed now keep theirs for later runs."""
        for name in self.computed:
            self.initial[name] = self.first(flags, self.init_slots[name])
        return self.first(flags)
