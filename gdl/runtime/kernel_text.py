"""The vocabulary of generated kernels: templates, argument specs, names, strides.

Every kernel generator (elementwise groups in `codegen`, reductions in
`gen_reduce`, and the other `gen_*` modules) describes its kernel as a
`KernelSpec`: the full source text, the arguments the executor binds (device
buffers of values, host scalars, sizes) and the work size.  Kernel names are
hashes of their text, so one program can hold every kernel of a plan.
Imports `ir`, `dtype`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from ..dtype import DType

FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable"


def template(name: str) -> Template:
    """A kernel template from the package's kernels/ folder, its header comment dropped.

    The comment documents the template's placeholders; generated programs
    need it once, not once per kernel.
    """
    text = (resources.files("gdl") / "kernels" / name).read_text()
    if text.startswith("/*"):
        text = text[text.index("*/") + 2:].lstrip("\n")
    return Template(text)


def c_type(dt: DType) -> str:
    return dt.c_name


def strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides of a contiguous tensor."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return tuple(reversed(out))


def broadcast_strides(shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """Strides reading `shape` as if broadcast to `target` (0 on stretched axes)."""
    lead = len(target) - len(shape)
    own = strides(shape)
    return tuple(0 if i < lead or shape[i - lead] == 1 else own[i - lead]
                 for i in range(len(target)))


_VALUE_NAME = re.compile(r"\b(c?[vw])(\d+)\b")


def local_value_names(text: str) -> str:
    """`text` with its value registers (v123, w123, cv123) numbered from 0 in order
    of appearance, so kernels that differ only in the graph's value ids have one
    text, one name and one compilation (a program of many alike `if` branches)."""
    numbers: dict[str, int] = {}

    def renumber(m: re.Match) -> str:
        return f"{m.group(1)}{numbers.setdefault(m.group(2), len(numbers))}"

    return _VALUE_NAME.sub(renumber, text)


def kernel_name(prefix: str, text: str) -> str:
    return f"{prefix}_{hashlib.sha1(text.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class DynOffset:
    """A run-time part of a view's offset: `stride` times the index `value`.

    The executor checks the index against `size` (negative counts from the
    end) and reports a bad one at `span`, the indexing expression.
    """

    value: Any          # an i32 scalar Value
    stride: int
    size: int
    span: Any


@dataclass(frozen=True)
class StridedView:
    """Where a value's elements sit in a buffer: `base`'s buffer, offset, strides.

    A plain buffer is the view with offset 0 and row-major strides; slices,
    transposes and run-time indices compose into one of these, so kernels
    read them in place.  Strides may be 0 (broadcast) or negative.
    """

    base: Any           # the Value whose device buffer holds the elements
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int = 0
    dynamic: tuple[DynOffset, ...] = ()

    @property
    def contiguous(self) -> bool:
        """Row-major and gap-free from its offset: readable as `base[offset + k]`."""
        return all(st == want for st, want, d in zip(self.strides, strides(self.shape),
                                                      self.shape) if d != 1)


def plain_view(v) -> StridedView:
    """The view of a whole, contiguous buffer."""
    return StridedView(v, v.type.shape, strides(v.type.shape))


@dataclass(frozen=True)
class Arg:
    """One kernel argument.

    `kind`: "in" (the device buffer of `value`), "host" (the host scalar
    `value` as a C scalar of `dtype`), "out" (a fresh buffer that becomes
    `value`), "partial" (a scratch buffer shared by the kernels of one
    launch), "u32"/"i32" (the int `value`), "offset" (the element offset
    of the StridedView `value`, run-time indices included, as an i32),
    "reps" (the trip count of a loop run inside one kernel, as a u32), or,
    in a checked plan (check_nan), "flags" (the run's NaN/Inf flag buffer)
    and "step" (the number of the launch, as a u32).
    """

    kind: str
    value: Any          # a Value for in/host/out, an int for u32
    dtype: DType | None = None


@dataclass(frozen=True)
class KernelSpec:
    """A generated kernel: its name, full source text, arguments, work size.

    `checks`: it tests values for NaN/Inf (a checked plan), so its program
    needs the check macros.
    """

    name: str
    source: str
    args: tuple[Arg, ...]
    global_size: int
    uses_fp64: bool
    uses_random: tuple[str, ...] = ()
    checks: bool = False
