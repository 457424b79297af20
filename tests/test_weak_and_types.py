"""Weak literals, promotion and the builder's type errors (language.md §2-§4).

Weak literals take the dtype of what they meet, exactly; they become strong
(i32, f32, bool) when loop-carried, joined at an `if`, declared without a
type, or output.  Strong dtypes promote bool < i32 < f32 < f64; `/` of
integers gives f32; integers wrap.  Type errors sit at the right line and
name what they are about.  Hypothesis checks broadcasting and reduction
shapes against NumPy.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdl
from gdl.dtype import (BOOL, F32, F64, I32, TensorType, broadcast_all, broadcast_shapes,
                       common_dtype, meet_weak, promote)
from gdl.errors import GdlTypeError
from gdl.interp import evaluate
from gdl.ops import OPS


def outputs(src: str, inputs=None) -> dict:
    """The outputs of a program on the reference interpreter."""
    return evaluate(gdl.compile(src).graph, inputs)["outputs"]


def out_type(src: str, name: str) -> TensorType:
    prog = gdl.compile(src)
    return prog.graph.output_value(name).type


# ====================================================================== weak literals

def test_declared_f64_literals_are_exact():
    x = outputs("var x: f64[2] = [0.1, 0.2]\nout x")["x"]
    assert x.dtype == np.float64
    assert x.tolist() == [0.1, 0.2]                       # not float32(0.1) widened


def test_f32_declaration_rounds_the_literal_once():
    x = outputs("var x: f32 = 0.1\nout x")["x"]
    assert x.dtype == np.float32 and x == np.float32(0.1)


@pytest.mark.parametrize("expr,want", [
    ("2 * x", [0.2, 0.4]),
    ("x * 0.1", [0.1 * 0.1, 0.2 * 0.1]),
    ("x + 1", [1.1, 1.2]),
    ("x / 3", [0.1 / 3, 0.2 / 3]),
    ("x - 2 * 3.5", [0.1 - 7.0, 0.2 - 7.0]),
    ("0.1 ** x", [0.1 ** 0.1, 0.1 ** 0.2]),
])
def test_weak_literals_take_the_tensor_dtype_exactly(expr, want):
    src = f"var x: f64[2] = [0.1, 0.2]\ny = {expr}\nout y"
    assert out_type(src, "y") == TensorType(F64, (2,))
    np.testing.assert_array_equal(outputs(src)["y"], np.array(want))


@pytest.mark.opencl
def test_weak_literals_are_exact_on_the_device_too():
    """Literals inlined into kernels keep every bit of their f64 value."""
    from gdl.runtime.device import select
    dev = select()
    if not dev.has_fp64:
        pytest.skip("no fp64")
    prog = gdl.compile("input x: f64[2]\na = 2 * x\nb = x * 0.1\nc = x + 1\nd = x / 3\n"
                       "e = x - 2 * 3.5\nf = x * (1 / 3)\nout a, b, c, d, e, f")
    x = np.array([0.1, 0.2])
    got = prog.run(inputs={"x": x}, device=dev).outputs
    want = {"a": 2 * x, "b": x * 0.1, "c": x + 1, "d": x / 3, "e": x - 7.0, "f": x * (1 / 3)}
    for name, w in want.items():
        assert got[name].dtype == np.float64, name
        np.testing.assert_array_equal(got[name], w, err_msg=name)


def test_weak_constant_expression_bound_to_a_name_stays_weak():
    out = outputs("var x: f64 = 1.0\nlr = 0.02\nk = lr * 3\ny = k * x\nout y")
    assert out["y"].dtype == np.float64 and out["y"] == 0.02 * 3


@pytest.mark.parametrize("src,dtype", [
    ("var w: f64[3] = ones([3])\nout w", np.float64),
    ("var w: f64[3] = zeros([3]) + 0.1\nout w", np.float64),
    ("var w: f64[2] = arange(2)\nout w", np.float64),
    ("var w: f64[3] = rand([3], seed=1)\nout w", np.float64),
    ("var w: f32[3] = ones([3])\nout w", np.float32),
])
def test_initialisers_without_dtype_are_weak(src, dtype):
    assert outputs(src)["w"].dtype == dtype


def test_weak_rand_is_the_f64_stream():
    """A weak rand declared f64 draws the f64 stream (53 bits), not a widened f32 one."""
    w = outputs("var w: f64[4] = rand([4], seed=3)\nout w")["w"]
    f32 = outputs("w = rand([4], seed=3)\nout w")["w"]
    assert not np.array_equal(w, f32.astype(np.float64))
    np.testing.assert_allclose(w, f32, atol=2**-24)


@pytest.mark.parametrize("src,dtype", [
    ("y = arange(3) * 0.5", F32),        # a float literal meeting i32 gives f32
    ("y = arange(3) + 1", I32),
    ("y = arange(3.0)", F32),
    ("y = arange(3)", I32),
    ("y = arange(3) / arange(1, 4)", F32),   # / of integers is f32
    ("y = 7 / 2", F32),
    ("y = arange(3) / 2", F32),
    ("y = (arange(3) > 0) + 1", I32),     # an int literal meeting bool gives i32
    ("y = 0.1", F32),                     # a weak output becomes strong with the default
    ("y = 3", I32),
    ("y = true and false", BOOL),
    ("y = [1, 2.5]", F32),
    ("y = sum([1, 2, 3])", I32),
])
def test_default_dtypes_and_promotion(src, dtype):
    assert out_type(src + "\nout y", "y").dtype == dtype


@pytest.mark.parametrize("decl,other,want", [
    ("f32[2]", "f64[2]", F64), ("f64[2]", "f32[2]", F64), ("f32[2]", "i32[2]", F32),
    ("i32[2]", "bool[2]", I32), ("f64[2]", "i32[2]", F64),
])
def test_strong_dtypes_promote(decl, other, want):
    src = f"input a: {decl}\ninput b: {other}\ny = a * b\nz = b + a\nout y, z"
    assert out_type(src, "y").dtype == want and out_type(src, "z").dtype == want


def test_integer_division_values():
    y = outputs("y = arange(1, 4) / 2\nout y")["y"]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.array([0.5, 1.0, 1.5], np.float32))


@pytest.mark.parametrize("expr,want", [
    ("2147483647 + 1", -2**31),
    ("65536 * 65536", 0),
    ("-2147483647 - 2", 2**31 - 1),
    ("46341 * 46341", 46341 * 46341 - 2**32),
])
def test_integer_literals_wrap(expr, want):
    y = outputs(f"y = {expr}\nout y")["y"]
    assert y.dtype == np.int32 and int(y) == want


@pytest.mark.opencl
def test_integer_tensors_wrap_on_both_runtimes():
    prog = gdl.compile("input n: i32[3]\ny = n * 65536 + 2147483647\nout y")
    n = np.array([1, 32768, -1], np.int32)
    want = ((n.astype(np.int64) * 65536 + 2**31 - 1) % 2**32).astype(np.uint32).view(np.int32)
    np.testing.assert_array_equal(evaluate(prog.graph, {"n": n})["outputs"]["y"], want)
    np.testing.assert_array_equal(prog.run(inputs={"n": n}).outputs["y"], want)


# ---------------------------------------------------------------- weak becomes strong

def test_weak_value_joined_at_an_if_becomes_f32():
    """Both branches bind a literal: the join is f32, so 0.1 is rounded to float32."""
    out = outputs("var x: f64 = 0.0\nif x >= 0 {\n    c = 0.1\n} else {\n    c = 0.2\n}\n"
                  "d = c + x\nout c, d")
    assert out["c"].dtype == np.float32
    assert out["d"].dtype == np.float64
    assert out["d"] == np.float64(np.float32(0.1)) and out["d"] != 0.1


def test_weak_value_carried_by_a_loop_becomes_f32():
    out = outputs("var x: f64 = 0.0\nc = 0.1\nn = 0\nwhile n < 2 {\n    c = c * 1.0\n"
                  "    n = n + 1\n}\nd = c + x\nout c, d, n")
    assert out["c"].dtype == np.float32 and out["n"].dtype == np.int32
    assert out["d"] == np.float64(np.float32(0.1))


def test_weak_carried_value_meeting_f64_in_the_body_is_a_type_error():
    """`b = 0.5` is carried as f32, so `b * x` with f64 x changes its type: an error."""
    with pytest.raises(GdlTypeError) as info:
        gdl.compile("var x: f64 = 1.0\nb = 0.5\nn = 0\nwhile n < 2 {\n    b = b * x\n"
                    "    n = n + 1\n}\nout b")
    assert info.value.line == 4
    assert "`b`" in info.value.message and "f32" in info.value.message \
        and "f64" in info.value.message


def test_undeclared_var_type_is_the_default():
    prog = gdl.compile("var x = 0.1\nvar n = [1.0, 2.0]\ny = x * n\nout y")
    assert prog.graph.leaf("x").value.type == TensorType(F32, ())
    assert out_type("var x = 0.1\nvar n = [1.0, 2.0]\ny = x * n\nout y", "y").dtype == F32


# ====================================================================== type errors

@pytest.mark.parametrize("src,line,fragments", [
    # branch type disagreement: at the `if` header
    ("var x: f32 = 1.0\n\nif x > 0 {\n    c = x\n} else {\n    c = arange(3)\n}\nout c",
     3, ["`c`", "f32", "i32[3]"]),
    ("var x: f32 = 1.0\nif x > 0 {\n    c = x\n} else {\n    c = 2 * f64x\n}\nout c",
     5, ["f64x"]),          # (an unknown name inside a branch is reported where it is)
    # a loop that changes a carried value's type: at the `while` line
    ("var x: f32 = 1.0\nn = 0\nwhile n < 3 {\n    n = n + 0.5\n}\nout n",
     3, ["`n`", "i32", "f32"]),
    ("var x: f32[2] = [1.0, 2.0]\nb = x\nwhile sum(b) < 3 {\n    b = sum(b * x)\n}\nout b",
     3, ["`b`", "f32[2]", "f32"]),
    # non-bool conditions
    ("var x: f32 = 1.0\nif x {\n    y = 1\n}\nout x", 2, ["bool", "f32"]),
    ("var x: f32 = 1.0\nwhile 1 {\n    x = x\n}\nout x", 2, ["bool", "i32"]),
    ("var x: f32[2] = [1.0, 2.0]\nif x > 0 {\n    x = x\n}\nout x", 2, ["bool", "bool[2]"]),
    # a block-local name used after its block
    ("var x: f32 = 1.0\nif x > 0 {\n    z = x\n}\ny = z\nout y", 5, ["`z`", "line 3"]),
    ("var x: f32 = 1.0\nn = 0\nwhile n < 2 {\n    t = x * 2\n    n = n + 1\n}\nout t",
     7, ["`t`", "line 4"]),
    # rebinding built-ins and keywords
    ("var x: f32 = 1.0\nexp = 2\nout x", 2, ["`exp`", "built-in"]),
    ("var sum: f32 = 1.0\nout sum", 1, ["`sum`", "built-in"]),
    ("var x: f32 = 1.0\nif x > 0 {\n    norm = x\n}\nout x", 3, ["`norm`"]),
    # vars of integer / bool dtype
    ("var n: i32 = 3\nout n", 1, ["`n`", "i32", "input"]),
    ("var b: bool[2] = [true, false]\nout b", 1, ["`b`", "bool[2]"]),
    ("var n = 3\nout n", 1, ["`n`", "i32"]),
    # unknown names
    ("var x: f32 = 1.0\ny = q + 1\nout y", 2, ["`q`"]),
    ("var x: f32 = 1.0\nout q", 2, ["`q`"]),
    ("var x: f32 = 1.0\ny = frobnicate(x)\nout y", 2, ["`frobnicate`"]),
    # declarations must match their value exactly
    ("var x: f64[2] = [1.0, 2.0, 3.0]\nout x", 1, ["f64[2]", "f32[3]"]),
    ("var x: f64[2] = ones([2], dtype=f32)\nout x", 1, ["f64[2]", "f32[2]"]),
    ("var x: f32 = 1.0\nvar z: f32 = x\nout z", 2, ["`x`"]),
    ("var x: f32 = 1.0\nvar x: f32 = 2.0\nout x", 2, ["`x`", "twice"]),
    # broadcasting shows both shapes
    ("var a: f32[5] = ones([5])\nvar b: f32[7] = ones([7])\ny = a * b\nout y", 3,
     ["f32[5]", "f32[7]"]),
])
def test_type_errors_have_lines_and_names(src, line, fragments):
    with pytest.raises(GdlTypeError) as info:
        gdl.compile(src)
    err = info.value
    assert err.line == line, (err.line, err.message)
    assert err.column is not None and err.column >= 1
    for frag in fragments:
        assert frag in err.message, (frag, err.message)


def test_program_without_out_is_an_error():
    with pytest.raises(GdlTypeError, match="out"):
        gdl.compile("var x: f32 = 1.0")


def test_loop_type_error_names_both_types_at_the_while_header():
    src = ("var x: f32 = 1.0\nb = x\n  while b < 3 {\n    b = b * 2.0\n"
           "    b = arange(2) * b\n}\nout b")
    with pytest.raises(GdlTypeError) as info:
        gdl.compile(src)
    assert (info.value.line, info.value.column) == (3, 3)
    assert "f32[2]" in info.value.message


def test_huge_integer_literal_is_a_gdl_error():
    with pytest.raises(GdlTypeError, match="too large") as info:
        gdl.compile("x = 1\ny = 99999999999999999999 + 1\nout y")
    assert info.value.line == 2


def test_empty_list_literal_is_a_compile_time_error():
    with pytest.raises(GdlTypeError):
        gdl.compile("y = []\nout y")


@pytest.mark.parametrize("src", ["y = zeros([0])\nout y", "y = ones([2, 0])\nout y",
                                 "input a: f32[0]\nout a", "y = arange(3, 3)\nout y"])
def test_empty_shapes_are_compile_time_errors(src):
    with pytest.raises(GdlTypeError, match="at least 1|empty"):
        gdl.compile(src)


# ====================================================================== the dtype helpers

def test_promotion_lattice():
    order = [BOOL, I32, F32, F64]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert promote(a, b) == order[max(i, j)]


@pytest.mark.parametrize("strong,kind,want", [
    (F64, "float", F64), (F32, "float", F32), (I32, "float", F32), (BOOL, "float", F32),
    (F64, "int", F64), (I32, "int", I32), (BOOL, "int", I32), (BOOL, "bool", BOOL),
    (I32, "bool", I32),
])
def test_meet_weak(strong, kind, want):
    assert meet_weak(strong, kind) == want
    assert common_dtype([(strong, strong.kind), (None, kind)])[0] == want


def test_common_dtype_of_weak_values_stays_weak():
    assert common_dtype([(None, "int"), (None, "float")]) == (None, "float")
    assert common_dtype([(None, "bool"), (None, "int")]) == (None, "int")


# ---------------------------------------------------------------- hypothesis: shapes

dims = st.integers(min_value=1, max_value=4)
shapes = st.lists(dims, min_size=0, max_size=4).map(tuple)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: start from one, drop leading dims, set some to 1."""
    a = draw(shapes)
    lead = draw(st.integers(0, len(a)))
    b = tuple(1 if draw(st.booleans()) else d for d in a[lead:])
    return (a, b) if draw(st.booleans()) else (b, a)


@settings(max_examples=200, deadline=None)
@given(shapes, shapes)
def test_broadcast_shapes_agrees_with_numpy(a, b):
    try:
        want = np.broadcast_shapes(a, b)
    except ValueError:
        want = None
    assert broadcast_shapes(a, b) == want


@settings(max_examples=200, deadline=None)
@given(broadcastable_pair())
def test_broadcast_of_compatible_shapes(pair):
    a, b = pair
    assert broadcast_shapes(a, b) == np.broadcast_shapes(a, b)
    assert broadcast_all([a, b, ()]) == np.broadcast_shapes(a, b)
    (t,) = OPS["add"].infer((TensorType(F32, a), TensorType(F32, b)), {}, None)
    assert t.shape == np.broadcast_shapes(a, b)


@settings(max_examples=100, deadline=None)
@given(shapes, shapes)
def test_incompatible_broadcast_is_a_type_error_showing_both(a, b):
    try:
        np.broadcast_shapes(a, b)
        return
    except ValueError:
        pass
    ta, tb = TensorType(F32, a), TensorType(F32, b)
    with pytest.raises(GdlTypeError) as info:
        OPS["mul"].infer((ta, tb), {}, None)
    assert str(ta) in info.value.message and str(tb) in info.value.message


@st.composite
def shape_and_axes(draw):
    shape = draw(st.lists(dims, min_size=1, max_size=4).map(tuple))
    rank = len(shape)
    axes = draw(st.lists(st.integers(-rank, rank - 1), max_size=rank, unique_by=lambda a: a % rank))
    axis = None if draw(st.booleans()) and not axes else (
        axes[0] if len(axes) == 1 and draw(st.booleans()) else tuple(axes))
    return shape, axis, draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(shape_and_axes())
def test_sum_shape_inference_agrees_with_numpy(case):
    shape, axis, keepdims = case
    (t,) = OPS["sum"].infer((TensorType(F32, shape),), {"axis": axis, "keepdims": keepdims},
                            None)
    want = np.sum(np.zeros(shape), axis=axis, keepdims=keepdims).shape
    assert t.shape == want
    ref = OPS["sum"].numpy(np.ones(shape, np.float32), axis=axis, keepdims=keepdims)
    assert ref.shape == want and ref.dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(shape_and_axes())
def test_sum_from_source_agrees_with_numpy(case):
    shape, axis, keepdims = case
    if axis == ():
        axis = None              # `[]` is an (empty, float) list literal, not "no axes"
    axis_src = "" if axis is None else f", axis={list(axis) if isinstance(axis, tuple) else axis}"
    src = (f"input x: f64{list(shape)}\n"
           f"y = sum(x{axis_src}, keepdims={'true' if keepdims else 'false'})\nout y")
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    got = evaluate(gdl.compile(src).graph, {"x": x})["outputs"]["y"]
    np.testing.assert_array_equal(got, np.sum(x, axis=axis, keepdims=keepdims))
