"""Cases of the core ops: arithmetic, comparisons, logic, where, casts, shape
ops, sum/norm/dot, initialisers."""
from __future__ import annotations

import numpy as np

from gdl.dtype import BOOL, F32, F64, I32, DType, StackType

from .base import CONTROL_OPS, FLOATS, TAPE_OPS, F, GradCase, Inst, T, values

BINARY_SHAPES = {            # label: shapes, strided broadcast?
    "same": (((3, 4), (3, 4)), False),
    "row": (((3, 4), (4,)), True),
    "outer": (((3, 1), (1, 4)), True),
    "scalar": (((), (5,)), False),
    "scalar2": (((2, 3), ()), False),
}
BINARY_DOMAINS = {
    "add": ("normal", "normal"), "sub": ("normal", "normal"), "mul": ("normal", "normal"),
    "div": ("normal", "nonzero"), "pow": ("pow_base", "pow_exp"),
    "lt": ("ties", "ties"), "le": ("ties", "ties"), "gt": ("ties", "ties"),
    "ge": ("ties", "ties"), "eq": ("ties", "ties"), "ne": ("ties", "ties"),
    "and": (None, None), "or": (None, None),
}
ULPS = {"add": 0.5, "sub": 0.5, "mul": 0.5, "neg": 0.5, "div": 2.5, "pow": 16, "exp": 3,
        "log": 3, "cast": 0.5}


def binary_dtypes(op: str) -> tuple[DType, ...]:
    if op in ("and", "or"):
        return (BOOL,)
    if op == "div":
        return FLOATS
    if op in ("eq", "ne"):
        return FLOATS + (I32, BOOL)
    return FLOATS + (I32,)


def forward(rng) -> list[Inst]:
    out: list[Inst] = []
    # Binary elementwise ops, one batch per (dtype, shape case).
    for op, doms in BINARY_DOMAINS.items():
        for dt in binary_dtypes(op):
            for label, (shapes, strided) in BINARY_SHAPES.items():
                if dt in (F64, BOOL) and label in ("outer", "scalar2"):
                    continue
                kinds = ["wrap", "wrap"] if dt == I32 and op in ("add", "sub", "mul") else doms
                ins = tuple(values(k, s, dt, rng) for k, s in zip(kinds, shapes))
                ulps = ULPS.get(op, 0) + (1 if dt == F64 and op in ("pow",) else 0)
                out.append(Inst(op, f"{dt}-{label}", tuple(T(dt, *s) for s in shapes), {}, ins,
                                f"binary-{dt}-{label}", ulps))
    # Unary ops at a few shapes.
    unary = {"neg": ("normal", FLOATS + (I32,)), "exp": ("exp", FLOATS),
             "log": ("pos_wide", FLOATS), "not": (None, (BOOL,)),
             "stop_grad": ("normal", FLOATS + (I32, BOOL))}
    for op, (kind, dts) in unary.items():
        for dt in dts:
            for shape in ((), (7,), (3, 4)):
                k = "wrap" if dt == I32 else kind
                out.append(Inst(op, f"{dt}-{list(shape)}", (T(dt, *shape),), {},
                                (values(k, shape, dt, rng),), f"unary-{dt}",
                                ULPS.get(op, 0) + (1 if dt == F64 and op in ("exp", "log") else 0)))
    # Casts between every pair of dtypes (saturation has its own test below).
    for src in (F32, F64, I32, BOOL):
        for dst in (F32, F64, I32, BOOL):
            x = values("wrap" if src == I32 else "normal", (2, 5), src, rng)
            if src.is_float:
                x.flat[0] = 0.0                   # zero is false
                x.flat[1] = -0.0
                x.flat[2] = 2.5                   # truncation toward zero
                x.flat[3] = -2.5
            out.append(Inst("cast", f"{src}-to-{dst}", (T(src, 2, 5),), {"dtype": dst}, (x,),
                            f"unary-{src}", 0.5,
                            oracle=(lambda a: np.asarray(a, np.float64)) if dst.is_float
                            else None))
    # Shape ops.
    for dt in (F32, I32):
        x = values("normal", (2, 3), dt, rng)
        out.append(Inst("reshape", f"{dt}-[2,3]-to-[3,2]", (T(dt, 2, 3),), {"shape": (3, 2)},
                        (x,), f"unary-{dt}"))
        out.append(Inst("reshape", f"{dt}-[2,3]-to-[6,1]", (T(dt, 2, 3),), {"shape": (6, 1)},
                        (x,), f"unary-{dt}"))
        out.append(Inst("broadcast_to", f"{dt}-[]-to-[2,3]", (T(dt),), {"shape": (2, 3)},
                        (values("normal", (), dt, rng),), f"unary-{dt}"))
        for s, to in (((3,), (2, 3)), ((3, 1), (2, 3, 4))):
            out.append(Inst("broadcast_to", f"{dt}-{list(s)}-to-{list(to)}", (T(dt, *s),),
                            {"shape": to}, (values("normal", s, dt, rng),), f"unary-{dt}"))
    # where: bool condition, broadcasting all three.
    for dt in (F32, F64, I32):
        shapes = ((3, 4), (3, 4), (3, 4))
        out.append(Inst("where", f"{dt}-same", tuple(T(d, *s) for d, s in zip(
            (BOOL, dt, dt), shapes)), {}, (values("", shapes[0], BOOL, rng),
                                           values("normal", shapes[1], dt, rng),
                                           values("normal", shapes[2], dt, rng)),
            f"binary-{dt}-same"))
        shapes = ((3, 1), (4,), ())
        out.append(Inst("where", f"{dt}-bcast", tuple(T(d, *s) for d, s in zip(
            (BOOL, dt, dt), shapes)), {}, (values("", shapes[0], BOOL, rng),
                                           values("normal", shapes[1], dt, rng),
                                           values("normal", shapes[2], dt, rng)),
            f"binary-{dt}-row"))
    # Reductions, including the two-stage path (few outputs over long rows).
    sums = [((7,), None, False), ((3, 4), (0,), False), ((3, 4), (1,), True),
            ((3, 4), None, True), ((2, 3, 4), (0, 2), False), ((2, 3, 4), (1,), True),
            ((2, 3, 4, 5), (1, 3), False), ((9000,), None, False), ((3, 5000), (1,), False),
            ((5000, 3), (0,), False)]
    for dt in FLOATS + (I32,):
        for shape, axis, keep in sums:
            x = values("wrap" if dt == I32 else "normal", shape, dt, rng)
            out.append(Inst("sum", f"{dt}-{list(shape)}-axis{list(axis or [])}"
                            f"{'-keep' if keep else ''}", (T(dt, *shape),),
                            {"axis": axis, "keepdims": keep}, (x,), f"reduce-{dt}"))
        for n in (5, 9000):
            a = values("wrap" if dt == I32 else "normal", (n,), dt, rng)
            b = values("wrap" if dt == I32 else "normal", (n,), dt, rng)
            out.append(Inst("dot", f"{dt}-[{n}]", (T(dt, n), T(dt, n)), {}, (a, b),
                            f"reduce-{dt}"))
    for dt in FLOATS:
        for shape in ((), (7,), (3, 4), (9000,)):
            out.append(Inst("norm", f"{dt}-{list(shape)}", (T(dt, *shape),), {},
                            (values("normal", shape, dt, rng),), f"reduce-{dt}"))
    # Initialisers (no operands but the random seed).
    for dt in (F32, F64, I32, BOOL):
        vals = {F32: [0.1, -2.5, 1e-30], F64: [0.1, -2.5, 1e-300], I32: [-2**31, 7, 2**31 - 1],
                BOOL: [True, False, True]}[dt]
        out.append(Inst("const", f"{dt}", (), {"value": tuple(vals), "dtype": dt,
                                                "shape": (3,)}, (), "init"))
        out.append(Inst("fill", f"{dt}", (), {"value": vals[1], "dtype": dt, "shape": (2, 3)},
                        (), "init"))
    for dt, (start, step) in ((I32, (-3, 2)), (F32, (0.5, 0.25)), (F64, (-1.0, 0.1))):
        out.append(Inst("arange", f"{dt}", (), {"start": start, "step": step, "count": 6,
                                                 "dtype": dt}, (), "init"))
    for op in ("rand", "randn"):
        for dt in FLOATS:
            out.append(Inst(op, f"{dt}", (T(I32),), {"dtype": dt, "shape": (3, 5)},
                            (np.int32(42),), "init"))
    return out



def grads(rng) -> list[GradCase]:
    out = []
    f = lambda kind, s: values(kind, s, F64, rng)  # noqa: E731
    for op in ("add", "sub", "mul", "div", "pow"):
        doms = BINARY_DOMAINS[op]
        for label, (shapes, strided) in BINARY_SHAPES.items():
            ins = tuple(f(k, s) for k, s in zip(doms, shapes))
            out.append(GradCase(op, label, tuple(T(F64, *s) for s in shapes), {}, ins,
                                (0, 1), strided=strided))
    for op, kind in (("neg", "normal"), ("exp", "normal"), ("log", "pos")):
        for shape in ((), (3, 4)):
            out.append(GradCase(op, str(list(shape)), (T(F64, *shape),), {},
                                (f(kind, shape),), (0,)))
    for label, shapes, strided in (("same", ((3, 4),) * 3, False),
                                   ("bcast", ((3, 1), (4,), ()), True)):
        c = rng.random(shapes[0]) < 0.5
        out.append(GradCase("where", label, (T(BOOL, *shapes[0]), T(F64, *shapes[1]),
                                             T(F64, *shapes[2])), {},
                            (c, f("normal", shapes[1]), f("normal", shapes[2])), (1, 2),
                            strided=strided))
    out.append(GradCase("cast", "f64-to-f64", (T(F64, 5),), {"dtype": F64},
                        (f("normal", (5,)),), (0,)))
    out.append(GradCase("cast", "f64-to-f32", (T(F64, 5),), {"dtype": F32},
                        (f("normal", (5,)),), (0,), eps=1e-3, rtol=1e-3))
    out.append(GradCase("cast", "f32-to-f64", (T(F32, 5),), {"dtype": F64},
                        (values("normal", (5,), F32, rng),), (0,), eps=1e-3, rtol=1e-3))
    out.append(GradCase("reshape", "[2,3]-to-[3,2]", (T(F64, 2, 3),), {"shape": (3, 2)},
                        (f("normal", (2, 3)),), (0,)))
    out.append(GradCase("broadcast_to", "[]-to-[2,3]", (T(F64),), {"shape": (2, 3)},
                        (f("normal", ()),), (0,)))
    for s, to in (((3,), (2, 3)), ((3, 1), (2, 3, 4))):
        out.append(GradCase("broadcast_to", f"{list(s)}-to-{list(to)}", (T(F64, *s),),
                            {"shape": to}, (f("normal", s),), (0,), strided=True))
    for shape, axis, keep in (((7,), None, False), ((3, 4), None, True),
                              ((3, 4), (1,), False), ((2, 3, 4), (0, 2), True)):
        out.append(GradCase("sum", f"{list(shape)}-axis{list(axis or [])}"
                            f"{'-keep' if keep else ''}", (T(F64, *shape),),
                            {"axis": axis, "keepdims": keep}, (f("normal", shape),), (0,),
                            strided=axis is not None))
    for shape in ((), (7,), (3, 4)):
        out.append(GradCase("norm", str(list(shape)), (T(F64, *shape),), {},
                            (f("normal", shape),), (0,)))
    out.append(GradCase("dot", "[6]", (T(F64, 6), T(F64, 6)), {},
                        (f("normal", (6,)), f("normal", (6,))), (0, 1)))
    return out



ERRORS = {
    # op: [(operand types, attrs, fragments the message must show)]
    "add": [([F(5), F(7)], {}, ["+", "f32[5]", "f32[7]"]),
            ([T(BOOL, 2), T(BOOL, 2)], {}, ["+", "bool"]),
            ([F(2), T(F64, 2)], {}, ["+", "f32[2]", "f64[2]"])],
    "sub": [([F(3, 2), F(3)], {}, ["-", "f32[3, 2]", "f32[3]"])],
    "mul": [([F(5), F(7)], {}, ["*", "f32[5]", "f32[7]"])],
    "div": [([T(I32, 2), T(I32, 2)], {}, ["/", "i32"]), ([F(5), F(7)], {}, ["/", "f32[5]"])],
    "pow": [([F(5), F(7)], {}, ["**", "f32[5]", "f32[7]"]),
            ([T(BOOL), T(BOOL)], {}, ["**", "bool"])],
    "neg": [([T(BOOL, 3)], {}, ["-", "bool"])],
    "exp": [([T(I32, 3)], {}, ["exp", "i32[3]"])],
    "log": [([T(I32, 3)], {}, ["log", "i32[3]"])],
    "lt": [([F(5), F(7)], {}, ["<", "f32[5]", "f32[7]"])],
    "le": [([F(5), F(7)], {}, ["<=", "f32[5]", "f32[7]"])],
    "gt": [([F(5), F(7)], {}, [">", "f32[5]", "f32[7]"])],
    "ge": [([F(5), F(7)], {}, [">=", "f32[5]", "f32[7]"])],
    "eq": [([F(5), T(F64, 5)], {}, ["==", "f32[5]", "f64[5]"])],
    "ne": [([F(5), F(7)], {}, ["!=", "f32[5]", "f32[7]"])],
    "and": [([F(2), T(BOOL, 2)], {}, ["and", "f32[2]"]),
            ([T(BOOL, 5), T(BOOL, 7)], {}, ["and", "bool[5]", "bool[7]"])],
    "or": [([T(BOOL, 2), T(I32, 2)], {}, ["or", "i32[2]"])],
    "not": [([F(2)], {}, ["not", "f32[2]"])],
    "where": [([F(3), F(3), F(3)], {}, ["where", "f32[3]"]),
              ([T(BOOL, 5), F(7), F(7)], {}, ["where", "bool[5]", "f32[7]"]),
              ([T(BOOL, 3), F(3), T(F64, 3)], {}, ["where", "f32[3]", "f64[3]"])],
    "cast": [([StackType(F(2))], {"dtype": F64}, ["cast", "stack<f32[2]>"])],
    "sum": [([F(3, 4)], {"axis": 2, "keepdims": False}, ["sum", "axis 2", "rank-2"]),
            ([F(3, 4)], {"axis": (0, -2), "keepdims": False}, ["sum", "repeated"]),
            ([F()], {"axis": 0, "keepdims": False}, ["sum", "axis 0", "scalar"]),
            ([T(BOOL, 3)], {"axis": None, "keepdims": False}, ["sum", "bool"])],
    "norm": [([T(I32, 3)], {}, ["norm", "i32[3]"])],
    "dot": [([F(3, 4), F(4)], {}, ["dot", "f32[3, 4]", "f32[4]"]),
            ([F(3), F(4)], {}, ["dot", "f32[3]", "f32[4]"]),
            ([T(BOOL, 3), T(BOOL, 3)], {}, ["dot", "bool"])],
    "broadcast_to": [([F(3)], {"shape": (4,)}, ["broadcast", "f32[3]", "[4]"]),
                     ([F(2, 3)], {"shape": (3,)}, ["broadcast", "f32[2, 3]", "[3]"])],
    "reshape": [([F(2, 3)], {"shape": (4,)}, ["reshape", "f32[2, 3]", "[4]", "6"])],
    "stop_grad": [([StackType(F(2))], {}, ["stop_grad", "stack<f32[2]>"])],
    "rand": [([F()], {"dtype": F32, "shape": (2,)}, ["rand", "seed", "f32"]),
             ([T(I32)], {"dtype": I32, "shape": (2,)}, ["rand", "i32"])],
    "randn": [([T(I32, 2)], {"dtype": F32, "shape": (2,)}, ["randn", "seed", "i32[2]"])],
}
# Ops whose operands a user cannot get wrong: attribute-only initialisers and
# the internal tape ops (their misuse is a gdl bug, an assertion); `while`/`if`
# errors come from the builder and are tested in test_weak_and_types.py.
NO_USER_ERRORS = frozenset({"const", "fill", "arange"}) | TAPE_OPS | CONTROL_OPS


