"""Cases of the view ops (transpose, slice, run-time index), their adjoints
(embed_slice, embed_index) and concat."""
from __future__ import annotations

import numpy as np

from gdl.dtype import F32, F64, I32

from .base import F, GradCase, Inst, T, values

SLICES = {
    # label: (source shape, spec)
    "rows1:3": ((4, 3), (("s", 1, 1, 2), ("s", 0, 1, 3))),
    "col0": ((4, 3), (("s", 0, 1, 4), ("i", 0))),
    "every2nd": ((7,), (("s", 0, 2, 4),)),
    "reversed": ((5,), (("s", 4, -1, 5),)),
    "block": ((3, 4, 2), (("i", 2), ("s", 1, 2, 2), ("s", 0, 1, 2))),
    "point": ((3, 4), (("i", 1), ("i", 3))),
}


def forward(rng) -> list[Inst]:
    out = []
    for dt in (F32, I32):
        for shape, axes in (((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1))):
            out.append(Inst("transpose", f"{dt}-{list(shape)}-{list(axes)}", (T(dt, *shape),),
                            {"axes": axes}, (values("normal", shape, dt, rng),), f"unary-{dt}"))
        for label, (shape, spec) in SLICES.items():
            x = values("normal", shape, dt, rng)
            out.append(Inst("slice", f"{dt}-{label}", (T(dt, *shape),), {"spec": spec}, (x,),
                            f"unary-{dt}"))
            small = np.asarray(x)[tuple(slice(None) if s[0] == "s" else s[1] for s in spec)]
            ct_shape = tuple(s[3] for s in spec if s[0] == "s")
            ct = values("normal", ct_shape, dt, rng)
            out.append(Inst("embed_slice", f"{dt}-{label}", (T(dt, *ct_shape),),
                            {"spec": spec, "shape": shape}, (ct,), f"unary-{dt}"))
            del small
        for k in (0, 2, -1):
            x = values("normal", (3, 4), dt, rng)
            out.append(Inst("index", f"{dt}-rows-{k}", (T(dt, 3, 4), T(I32)), {"axis": 0},
                            (x, np.int32(k)), f"unary-{dt}"))
            out.append(Inst("index", f"{dt}-cols-{k}", (T(dt, 3, 4), T(I32)), {"axis": 1},
                            (x, np.int32(k)), f"unary-{dt}"))
            ct = values("normal", (4,), dt, rng)
            out.append(Inst("embed_index", f"{dt}-rows-{k}", (T(dt, 4), T(I32)),
                            {"axis": 0, "shape": (3, 4)}, (ct, np.int32(k)), f"unary-{dt}"))
        for label, shapes, axis in (("rows", ((2, 3), (1, 3), (4, 3)), 0),
                                    ("cols", ((2, 1), (2, 4)), 1), ("vec", ((3,), (2,)), 0)):
            out.append(Inst("concat", f"{dt}-{label}", tuple(T(dt, *s) for s in shapes),
                            {"axis": axis}, tuple(values("normal", s, dt, rng) for s in shapes),
                            f"unary-{dt}"))
    return out


def grads(rng) -> list[GradCase]:
    f = lambda s: values("normal", s, F64, rng)  # noqa: E731
    out = [GradCase("transpose", "[2,3,4]", (T(F64, 2, 3, 4),), {"axes": (2, 0, 1)},
                    (f((2, 3, 4)),), (0,))]
    for label, (shape, spec) in SLICES.items():
        out.append(GradCase("slice", label, (T(F64, *shape),), {"spec": spec}, (f(shape),),
                            (0,)))
        ct_shape = tuple(s[3] for s in spec if s[0] == "s")
        out.append(GradCase("embed_slice", label, (T(F64, *ct_shape),),
                            {"spec": spec, "shape": shape}, (f(ct_shape),), (0,)))
    for k in (1, -3):
        out.append(GradCase("index", f"rows-{k}", (T(F64, 3, 4), T(I32)), {"axis": 0},
                            (f((3, 4)), np.int32(k)), (0,)))
        out.append(GradCase("embed_index", f"rows-{k}", (T(F64, 4), T(I32)),
                            {"axis": 0, "shape": (3, 4)}, (f((4,)), np.int32(k)), (0,)))
    out.append(GradCase("concat", "cols", (T(F64, 2, 1), T(F64, 2, 4)), {"axis": 1},
                        (f((2, 1)), f((2, 4))), (0, 1)))
    return out


ERRORS = {
    "transpose": [([F(2, 3)], {"axes": (0, 0)}, ["transpose", "f32[2, 3]", "[0, 0]"])],
    "index": [([F(3, 4), T(F32)], {"axis": 0}, ["index", "integer", "f32"])],
    "concat": [([F(2, 3), F(2, 4)], {"axis": 0}, ["concat", "f32[2, 3]", "f32[2, 4]"]),
               ([F(2, 3), T(I32, 2, 3)], {"axis": 0}, ["concat", "f32[2, 3]", "i32[2, 3]"])],
}
# Slices and embeds are built by the indexing syntax, which checks every bound.
NO_USER_ERRORS = frozenset({"slice", "embed_slice", "embed_index"})
