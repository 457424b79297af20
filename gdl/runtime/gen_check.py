"""The NaN/Inf checks of a checked plan (check_nan), as kernel text.

Values inside a fused kernel never reach memory, so a checked kernel tests
each float value where it computes it (`Checks`).  Per work-item it keeps,
for the group's k-th checked value, the smallest flag `4 * step + kind`
(gdl/kernels/nonfinite.cl) in a register `fk`, and at the end folds it into
the flag buffer with one atomic_min at `nf[ns + k]`: `ns` (the group's first
slot) and `step` (the launch's number, which the executor passes) are
arguments, so the kernel's text does not depend on where it sits in the
plan.  In a kernel that repeats a loop's body the step of iteration `it`
is `step + it`.  A node computed by a kernel of its own (a reduction along
an axis, a matmul, a scan) is checked by `scan`, one pass over its output.
Imports `ir`, `dtype`, `runtime.kernel_text`.
"""
from __future__ import annotations

from ..dtype import F64, TensorType
from ..ir import Node, Value
from .kernel_text import Arg, KernelSpec, c_type, kernel_name, template

SCAN_CHUNK = 1024       # elements one work-item of `scan` tests


def checked_nodes(nodes) -> list[Node]:
    """The nodes whose values a checked kernel tests, in order: computed floats.

    Literals are left out: one that is not finite is caught on the host,
    where its const step runs.
    """
    return [n for n in nodes if n.op != "const" and len(n.outputs) == 1
            and isinstance(n.out.type, TensorType) and n.out.type.dtype.is_float]


def test_line(reg: str, k: int, it: str, lanes: str | None = None) -> str:
    """Record value `reg` when it is not finite: in `fk`, or lane by lane in the
    vector register `gk` of the unsigned type `lanes` (uint8, ulong4)."""
    if lanes is not None:
        return f"        g{k} = min(g{k}, GDL_NFL({reg}, step + {it}, {lanes}));"
    return f"        f{k} = isfinite({reg}) ? f{k} : min(f{k}, GDL_NF({reg}, step + {it}));"


def params(first_slot: int) -> tuple[list[str], list[Arg]]:
    """The parameters a checking kernel adds: the flag buffer, its first slot, the step."""
    return (["__global uint *nf", "const uint ns", "const uint step"],
            [Arg("flags", None), Arg("u32", first_slot), Arg("step", None)])


class Checks:
    """The tests one kernel of a checked group emits, and what they need.

    In the loops over elements a test is only `yk += v - v` (NaN exactly when
    v is not finite): PoCL computes isfinite/isnan on vectors lane by lane,
    which would cost several times the checked computation.  When a
    work-item's poisons show a NaN, it replays its elements (the same code,
    so the same values) with the full tests, which find the step, the loop
    iteration and the kind.  `slots` gives each checked value its index k
    from the group's first slot; `lanes` is the unsigned type of the vector
    loop's comparisons (uint8 for float8, ulong4 for double4).
    """

    def __init__(self, slots: dict, first_slot: int, lanes: str | None):
        self.slots = slots
        self.first_slot = first_slot
        self.lanes = lanes
        self.it = "0u"                          # the loop iteration a test is at
        self.tested: dict[int, None] = {}      # k of the registers fk
        self.vector_tested: dict[int, None] = {}   # k of the lane registers gk
        self.poisons: dict[str, str] = {}      # register -> C type
        self.full: dict[str, str] = {}         # a poison line -> its full test

    def test(self, v: Value, reg: str, ctype: str, vector: bool, looping: bool = True
             ) -> list[str]:
        """The test of `v`, held in `reg` of C type `ctype`, where the group checks it.

        Outside the loops over elements (an epilogue) a value is computed
        once and gets the full test at once.
        """
        k = self.slots.get(v)
        if k is None:
            return []
        self.tested[k] = None
        if vector:
            self.vector_tested[k] = None
        full = test_line(reg, k, self.it, self.lanes if vector else None)
        if not looping:
            return [full]
        poison = f"{'y' if vector else 'z'}{k}"
        self.poisons[poison] = ctype
        fast = f"        {poison} += {reg} - {reg};"
        self.full[fast.strip()] = full.strip()
        return [fast]

    def params(self) -> tuple[list[str], list[Arg]]:
        return params(self.first_slot) if self.tested else ([], [])

    def declarations(self) -> list[str]:
        """The registers, nothing recorded yet."""
        return ([f"    uint f{k} = UINT_MAX;" for k in self.tested]
                + [f"    {self.lanes} g{k} = ({self.lanes})UINT_MAX;" for k in self.vector_tested]
                + [f"    {t} {name} = 0;" for name, t in self.poisons.items()])

    def replayed(self, lines: list[str]) -> list[str]:
        """Loop body lines with each poison line replaced by its full test."""
        out = []
        for line in lines:
            key = line.strip()
            out.append(line.replace(key, self.full[key]) if key in self.full else line)
        return out

    def end(self, vector_body: list[str], scalar_body: list[str], index: str,
            lanes: int) -> list[str]:
        """The replay (where a poison shows a NaN), lane folds, and the flushes."""
        lines = []
        if self.poisons:
            scalars = [n for n in self.poisons if n[0] == "z"]
            vectors = [n for n in self.poisons if n[0] == "y"]
            poisoned = ([f"isnan({' + '.join(scalars)})"] if scalars else []) + (
                [f"any(isnan({' + '.join(vectors)}))"] if vectors else [])
            lines.append(f"    if ({' || '.join(poisoned)}) {{")
            lines.append("    gid = start;")
            if vector_body:
                lines.append(f"    for (; gid + {lanes} <= stop; gid += {lanes}) {{")
                lines += self.replayed(vector_body) + ["    }"]
            lines.append("    for (; gid < stop; ++gid) {")
            lines += ([index] if index else []) + self.replayed(scalar_body) + ["    }"]
            n = int(self.lanes[-1]) if self.lanes else 0
            lines += [f"    {{ {self.lanes[:-1]} l[{n}]; vstore{n}(g{k}, 0, l); "
                      f"for (int q = 0; q < {n}; ++q) f{k} = min(f{k}, (uint)l[q]); }}"
                      for k in self.vector_tested]
            lines.append("    }")
        lines += [f"    if (f{k} != UINT_MAX) atomic_min(nf + ns + {k}, f{k});"
                  for k in self.tested]
        return lines


def scan(value: Value, slot: int) -> KernelSpec:
    """A kernel testing every element of `value` (computed just before) into `slot`."""
    t = value.type
    text = template("nonfinite_scan.cl").substitute(NAME="$NAME", T=c_type(t.dtype))
    name = kernel_name("gdl_nfscan", text)
    items = -(-t.size // SCAN_CHUNK)
    args = (Arg("in", value),) + tuple(params(slot)[1]) + (Arg("u32", t.size),
                                                           Arg("u32", SCAN_CHUNK))
    return KernelSpec(name, text.replace("$NAME", name), args, max(items, 1), t.dtype == F64,
                      checks=True)
