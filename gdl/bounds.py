"""What is known of a value's elements at compile time: a lower bound, non-zero.

The gradient lint (gdl/lint.py) asks it whether the argument of a singular
op (`log`, `/`, ...) was made safe, e.g. by the double-where trick
`log(where(x > 0, x, 1))`.  Sound, not complete: `UNKNOWN` whenever a rule
below does not apply, so an argument is called safe only when it is.
Recognised: constants; `exp`, `sigmoid` (> 0, underflow aside); `abs`,
`relu`, `sqrt`, `norm`, `x * x` and even constant powers (>= 0); `+`, `*`,
`/`, `maximum`, `minimum`, `clip`, sums, reductions, views and float casts
of known values; and `where(c, a, b)` whose condition compares the chosen
value itself with a constant (`>`, `>=`, `<`, `<=`, `==`, `!=`, through
`not`, `and`, `or`), so `where(x > 0, x, 1)` is > 0.
Imports `ir`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from .ir import Node, Region, Value

CONST_OPS = frozenset({"const", "fill"})
# Ops whose result holds only elements of their first operand.
SAME_ELEMENTS = frozenset({"reshape", "broadcast_to", "transpose", "slice", "index",
                           "stop_grad", "max", "min"})
# How a comparison reads with its operands swapped, and when it does not hold.
SWAPPED = MappingProxyType({"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq",
                            "ne": "ne"})
NEGATED = MappingProxyType({"gt": "le", "ge": "lt", "lt": "ge", "le": "gt", "eq": "ne",
                            "ne": "eq"})


@dataclass(frozen=True)
class Bound:
    """Every element is >= lo (> lo when strict), and non-zero when `nonzero`."""

    lo: float = -math.inf
    strict: bool = False
    nonzero: bool = False

    def above(self, p: float) -> bool:
        return self.lo > p or (self.lo == p and self.strict)

    def avoids_zero(self) -> bool:
        return self.nonzero or self.above(0)

    def implies(self, need: "Bound") -> bool:
        """Whether what this says is enough for `need` (a requirement, as a Bound)."""
        low = self.lo > need.lo or (self.lo == need.lo and (self.strict or not need.strict))
        return low and (not need.nonzero or self.avoids_zero())


UNKNOWN = Bound()
POSITIVE = Bound(0.0, True)
NONNEGATIVE = Bound(0.0)
NONZERO = Bound(nonzero=True)


def meet(a: Bound, b: Bound) -> Bound:
    """What holds of a value that is one of two (where, minimum, concat)."""
    lo, strict = min((a.lo, a.strict), (b.lo, b.strict))
    return Bound(lo, strict, a.avoids_zero() and b.avoids_zero())


def both(a: Bound, b: Bound) -> Bound:
    """What holds when both hold (maximum, a guard on a value already bounded)."""
    lo, strict = max((a.lo, a.strict), (b.lo, b.strict))
    return Bound(lo, strict, a.nonzero or b.nonzero)


def product(a: Bound, b: Bound) -> Bound:
    """a * b: a lower bound only when both are non-negative."""
    nonzero = a.avoids_zero() and b.avoids_zero()
    if a.lo < 0 or b.lo < 0:
        return Bound(nonzero=nonzero)
    lo = a.lo * b.lo
    strict = (a.strict or b.strict) if lo > 0 else (a.above(0) and b.above(0))
    return Bound(lo, strict, nonzero)


def of_constants(values: list[float] | None) -> Bound:
    if not values or any(math.isnan(v) for v in values):
        return UNKNOWN
    return Bound(min(values), False, all(v != 0 for v in values))


class Bounds:
    """`Bound`s of the values of one region, computed on demand and remembered.

    Values from outside the region (its params) are `UNKNOWN`.
    """

    DEPTH = 48          # how far back an argument is followed (long chains stay cheap)

    def __init__(self, region: Region):
        self.producers = {o: n for n in region.nodes for o in n.outputs}
        self.memo: dict[Value, Bound] = {}

    def constants(self, v: Value) -> list[float] | None:
        """The elements of `v` if it is a constant of the region, else None."""
        node = self.producers.get(v)
        if node is None or node.op not in CONST_OPS:
            return None
        values = node.attr("value")
        return [float(x) for x in (values if isinstance(values, tuple) else (values,))]

    def of(self, v: Value, depth: int = 0) -> Bound:
        if v not in self.memo:
            node = self.producers.get(v)
            self.memo[v] = UNKNOWN if node is None or depth > self.DEPTH else \
                self.rule(node, depth + 1)
        return self.memo[v]

    def rule(self, n: Node, depth: int) -> Bound:
        """The Bound of `n`'s output from those of its operands."""
        op, ins = n.op, n.inputs

        def arg(i: int) -> Bound:
            return self.of(ins[i], depth)

        if op in CONST_OPS:
            return of_constants(self.constants(n.out))
        if op in ("exp", "sigmoid"):
            return POSITIVE
        if op in ("abs", "sqrt"):
            return Bound(0.0, arg(0).avoids_zero())
        if op in ("relu", "norm"):
            return NONNEGATIVE
        if op in SAME_ELEMENTS or (op == "cast" and n.out.type.dtype.is_float):
            return arg(0)
        if op in ("sum", "cumsum"):
            a = arg(0)
            return Bound(a.lo, a.strict) if a.lo >= 0 else UNKNOWN
        if op == "add":
            a, b = arg(0), arg(1)
            return Bound(a.lo + b.lo, a.strict or b.strict)
        if op == "mul":
            return Bound(0.0, arg(0).avoids_zero()) if ins[0] is ins[1] else \
                product(arg(0), arg(1))
        if op == "div":
            a, b = arg(0), arg(1)
            if a.lo >= 0 and b.above(0):
                return Bound(0.0, a.above(0), a.avoids_zero())
            return Bound(nonzero=a.avoids_zero() and b.avoids_zero())
        if op == "neg":
            return Bound(nonzero=arg(0).avoids_zero())
        if op == "pow":
            e, a = self.constants(ins[1]), arg(0)
            if a.above(0):
                return POSITIVE
            even = e is not None and all(x.is_integer() and x % 2 == 0 for x in e)
            return Bound(0.0, a.avoids_zero()) if even else UNKNOWN
        if op == "maximum":
            return both(arg(0), arg(1))
        if op in ("minimum", "concat"):
            found = arg(0)
            for i in range(1, len(ins)):
                found = meet(found, arg(i))
            return found
        if op == "clip":        # at least min(lo, hi), whatever x is
            m = meet(arg(1), arg(2))
            return Bound(m.lo, m.strict)
        if op == "where":
            return meet(both(arg(1), self.guard(ins[0], ins[1], True, depth)),
                        both(arg(2), self.guard(ins[0], ins[2], False, depth)))
        return UNKNOWN

    def guard(self, c: Value, v: Value, taken: bool, depth: int = 0) -> Bound:
        """What condition `c` being `taken` (true or false) says of `v`."""
        n = self.producers.get(c)
        if n is None or depth > self.DEPTH:
            return UNKNOWN
        if n.op == "not":
            return self.guard(n.inputs[0], v, not taken, depth + 1)
        if n.op in ("and", "or"):
            a, b = (self.guard(i, v, taken, depth + 1) for i in n.inputs)
            return both(a, b) if (n.op == "and") == taken else meet(a, b)
        if n.op not in SWAPPED:
            return UNKNOWN
        a, b = n.inputs
        op, k = (n.op, b) if a is v else (SWAPPED[n.op], a) if b is v else (None, None)
        values = self.constants(k) if op else None
        if not values or any(math.isnan(x) for x in values):
            return UNKNOWN
        op = op if taken else NEGATED[op]
        if op in ("gt", "ge"):
            return Bound(max(values), op == "gt")
        if op == "eq":
            return of_constants(values)
        if op == "ne":
            return Bound(nonzero=all(x == 0 for x in values))
        top = max(values)       # v < k or v <= k: non-zero where k is at most 0
        return Bound(nonzero=top < 0 or (top == 0 and op == "lt"))
