"""Cases of the initialisers eye and linspace (attribute-only: no operand errors)."""
from __future__ import annotations

from gdl.dtype import F32, F64, I32

from .base import Inst


def forward(rng) -> list[Inst]:
    out = []
    for dt in (F32, F64, I32):
        out.append(Inst("eye", f"{dt}-4", (), {"n": 4, "dtype": dt}, (), "init"))
    for dt in (F32, F64):
        for start, stop, n in ((0.0, 1.0, 6), (-1.0, 2.0, 4), (3.0, -3.0, 7), (0.5, 9.0, 1)):
            out.append(Inst("linspace", f"{dt}-{start}-{stop}-{n}", (),
                            {"start": start, "stop": stop, "count": n, "dtype": dt}, (), "init"))
    return out


NO_USER_ERRORS = frozenset({"eye", "linspace"})
