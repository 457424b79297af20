"""Every op of the table `gdl.ops.OPS`, one row each (style.md "One place per op").

- coverage: each op has a reference (numpy or interpret), a lowering, and an
  adjoint (or region rules) if it is differentiable; each op has forward,
  gradient and error cases here, so an op added to the table without tests
  fails `test_every_op_has_test_cases`;
- forward: OpenCL against a float64 oracle with OpenCL's ULP bounds (and the
  interpreter against the same oracle), integers and bools exactly, on a few
  shapes with NumPy broadcasting;
- gradients: every adjoint against central finite differences in float64 on
  the interpreter, and the same gradient graph run on OpenCL in f64;
- errors: bad operands raise GdlTypeError naming the op and what was found;
- special values: NaN comparisons, pow(0, 0), norm'(0), pow's exponent
  gradient at base 0.

Programs are batched (one OpenCL program per batch of op instances) because
each PoCL build costs a few tenths of a second.
"""
from __future__ import annotations


from typing import Any

import numpy as np
import pytest

import gdl
from gdl.autodiff import grad_graph
from gdl.dtype import BOOL, F32, F64, I32, DType
from gdl.errors import GdlTypeError
from gdl.interp import evaluate
from gdl.ops import OPS, emitter
from gdl.ops.base import Alias, Elementwise, Host, Kernel, Reduce, View
from gdl.ir import Builder, IdSource
from gdl.verify import verify

from helpers import (assert_exact, assert_ulp_close, check_grads, cl_device, make_graph,
                     need_fp64, one_op_graph, run_both, run_interp, run_opencl, scalar_of)

from op_cases import error_cases, forward_cases, grad_cases, no_user_errors
from op_cases.base import CONTROL_OPS, EFFECT_OPS, TAPE_OPS, GradCase, Inst, T


@pytest.fixture(scope="module")
def device():
    return cl_device()


# ====================================================================== coverage

@pytest.mark.parametrize("name", sorted(OPS))
def test_op_record_is_complete(name):
    """A reference, a lowering, and (if differentiable) an adjoint or region rules."""
    op = OPS[name]
    assert op.name == name
    assert op.numpy is not None or op.interpret is not None, f"{name}: no reference semantics"
    assert isinstance(op.lower, (Elementwise, Reduce, Kernel, View, Alias, Host)), \
        f"{name}: no lowering ({op.lower!r})"
    if op.differentiable:
        assert op.adjoint is not None or op.ad_rules is not None, \
            f"{name} is differentiable but has no adjoint"
    if op.ad_rules is not None:
        for hook in ("decision_types", "record", "replay", "forward", "adjoint"):
            assert callable(getattr(op.ad_rules, hook, None)), f"{name}: ad_rules.{hook}"
    if isinstance(op.lower, Reduce):
        assert op.lower.combine in ("add", "mul", "max", "min"), name
    assert op.promote in ("all", "float", "tail", "tail_float", "none"), name


# ====================================================================== inputs

INSTANCES = forward_cases(20240611)
BY_ID = {i.id: i for i in INSTANCES}
assert len(BY_ID) == len(INSTANCES), "duplicate instance ids"


def batch_graph(insts: list[Inst]):
    """One graph computing every instance of a batch, each from its own leaves."""
    leaves = {}
    for k, inst in enumerate(insts):
        for j, t in enumerate(inst.in_types):
            leaves[f"i{k}_{j}"] = t

    def build(e, p):
        outs = {}
        for k, inst in enumerate(insts):
            args = [p[f"i{k}_{j}"] for j in range(len(inst.in_types))]
            outs[f"o{k}"] = e.op(inst.op, *args, **inst.attrs)
        return outs
    graph = make_graph(leaves, build)
    inputs = {f"i{k}_{j}": x for k, inst in enumerate(insts) for j, x in enumerate(inst.inputs)}
    return graph, inputs


class Batches:
    """Runs each batch once (interpreter and OpenCL) and remembers the results."""

    def __init__(self, device):
        self.device = device
        self.done: dict[str, Any] = {}

    def result(self, inst: Inst) -> tuple[np.ndarray, np.ndarray]:
        if inst.batch not in self.done:
            insts = [i for i in INSTANCES if i.batch == inst.batch]
            graph, inputs = batch_graph(insts)
            verify(graph)
            ref = run_interp(graph, inputs)["outputs"]
            try:
                cl = run_opencl(graph, inputs, self.device)["outputs"]
            except Exception as err:      # every instance of the batch reports it
                cl = err
            self.done[inst.batch] = (insts, ref, cl)
        insts, ref, cl = self.done[inst.batch]
        if isinstance(cl, Exception):
            raise cl
        k = insts.index(inst)
        return ref[f"o{k}"], cl[f"o{k}"]


@pytest.fixture(scope="module")
def batches(device):
    return Batches(device)


def oracle64(inst: Inst) -> np.ndarray:
    if inst.oracle is not None:
        return inst.oracle(*inst.inputs)
    args = [np.asarray(x, np.float64) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
            for x in inst.inputs]
    with np.errstate(all="ignore"):
        return np.asarray(OPS[inst.op].numpy(*args, **inst.attrs), np.float64)


def reduction_tolerance(inst: Inst, ref: np.ndarray, dt: DType) -> np.ndarray:
    """A compensated (Kahan) sum is within ~2 eps of sum |x| plus 2 ulp of the result."""
    eps = np.finfo(dt.np).eps
    if inst.op == "sum":
        mag = np.sum(np.abs(inst.inputs[0].astype(np.float64)), axis=inst.attrs["axis"],
                     keepdims=inst.attrs["keepdims"])
    elif inst.op == "dot":
        mag = np.sum(np.abs(inst.inputs[0].astype(np.float64) * inst.inputs[1]))
    else:                                   # norm: relative error of sum of squares / 2
        return 4 * np.spacing(np.abs(ref).astype(dt.np)).astype(np.float64) + \
            eps * np.abs(ref)
    return 2 * np.spacing(np.abs(ref).astype(dt.np)).astype(np.float64) + 2 * eps * mag


@pytest.mark.opencl
@pytest.mark.parametrize("inst", [pytest.param(i, id=i.id) for i in INSTANCES])
def test_forward_matches_reference(inst, batches, device):
    """OpenCL and the interpreter against a float64 oracle (floats) or exactly."""
    if F64 in (t.dtype for t in inst.in_types) or inst.out_type.dtype == F64:
        need_fp64(device)
    ref, cl = batches.result(inst)
    t = inst.out_type
    for what, got in (("interpreter", ref), ("OpenCL", cl)):
        assert got.shape == t.shape and got.dtype == t.dtype.np, (what, got.shape, got.dtype, t)
    if inst.op in ("rand", "randn"):
        # language.md §3.1: rand is bit-identical; randn within 1e-5 rel / 1e-6 abs.
        if inst.op == "rand":
            assert_exact(cl, ref, inst.id)
        else:
            np.testing.assert_allclose(cl, ref, rtol=1e-5, atol=1e-6)
        return
    if not t.dtype.is_float or inst.op in ("const", "fill", "arange", "stop_grad", "reshape",
                                           "broadcast_to", "where"):
        assert_exact(cl, ref, f"OpenCL vs interpreter: {inst.id}")
        if not t.dtype.is_float and inst.op not in ("const", "fill", "arange"):
            assert_exact(ref, oracle64(inst).astype(t.dtype.np) if t.dtype != BOOL else
                         oracle64(inst).astype(bool), f"interpreter vs oracle: {inst.id}")
        return
    want = oracle64(inst)
    if inst.op in ("sum", "dot", "norm"):
        tol = reduction_tolerance(inst, want, t.dtype)
        for what, got in (("interpreter", ref), ("OpenCL", cl)):
            err = np.abs(got.astype(np.float64) - want)
            assert (err <= tol).all(), f"{what} {inst.id}: err {err.max()} > tol {tol.min()}"
        return
    for what, got in (("interpreter", ref), ("OpenCL", cl)):
        ulps = inst.ulps + (1 if what == "interpreter" and inst.ulps > 0.5 else 0)
        assert_ulp_close(got, want, ulps, what=f"{what} {inst.id}")


@pytest.mark.opencl
@pytest.mark.parametrize("n", [9999, 300])
def test_float_sums_are_compensated(n, device):
    """1 + (n-1) tiny terms: a plain f32 loop loses every tiny term; Kahan keeps them."""
    x = np.full(n, 1e-8, np.float32)
    x[0] = 1.0
    exact = np.sum(x.astype(np.float64))
    graph = make_graph({"x": T(F32, n)}, lambda e, p: {
        "s": e.sum(p["x"], (0,)), "d": e.op("dot", p["x"], p["x"])})
    got = run_opencl(graph, {"x": x}, device)["outputs"]
    assert_ulp_close(got["s"], exact, 1.0, what="sum")
    assert_ulp_close(got["d"], np.sum(x.astype(np.float64) ** 2), 1.0, what="dot")


@pytest.mark.opencl
def test_same_program_twice_on_one_device_reuses_kernels(device):
    import warnings
    src = "var x: f32[3] = [1.0, 2.0, 3.0]\ny = exp(x) * 1.5\nout y"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gdl.compile(src).run(device=device)
        gdl.compile(src).run(device=device)
    names = [w.category.__name__ for w in caught]
    assert "RepeatedKernelRetrieval" not in names, names


# ---------------------------------------------------------------- integers, casts

@pytest.mark.opencl
def test_integer_arithmetic_wraps(device):
    """i32 + - * and unary minus wrap (two's complement) on both runtimes."""
    i32 = T(I32, 4)
    graph = make_graph({"a": i32, "b": i32}, lambda e, p: {
        "add": e.op("add", p["a"], p["b"]), "sub": e.op("sub", p["a"], p["b"]),
        "mul": e.op("mul", p["a"], p["b"]), "neg": e.op("neg", p["a"]),
        "pow": e.op("pow", p["b"], e.const([31, 2, 3, 0], I32))})
    a = np.array([2**31 - 1, -2**31, 65536, 46341], np.int32)
    b = np.array([1, 1, 65536, -46341], np.int32)
    want = {"add": [-2**31, -2**31 + 1, 131072, 0],
            "sub": [2**31 - 2, 2**31 - 1, 0, 92682],
            "mul": [2**31 - 1, -2**31, 0, -2147488281 + 2**32],
            "neg": [-2**31 + 1, -2**31, -65536, -46341],
            "pow": [1, 1, 65536**3 % 2**32, 1]}
    for runtime in run_both(graph, {"a": a, "b": b}, device):
        for name, w in want.items():
            w = np.array(w, np.int64).astype(np.uint32).view(np.int32)
            assert_exact(runtime["outputs"][name], w, name)


SAT_IN = [np.nan, 3e9, -3e9, np.inf, -np.inf, 2.9, -2.9, -0.5, 2147483520.0, 2147483648.0]
SAT_OUT = [0, 2**31 - 1, -2**31, 2**31 - 1, -2**31, 2, -2, 0, 2147483520, 2**31 - 1]


def test_cast_to_i32_saturates_interpreter():
    """i32(x) truncates toward zero and saturates; NaN gives 0 (language.md §3)."""
    graph = make_graph({"x": T(F32, len(SAT_IN))},
                       lambda e, p: {"y": e.op("cast", p["x"], dtype=I32)})
    got = run_interp(graph, {"x": np.array(SAT_IN, np.float32)})["outputs"]["y"]
    assert_exact(got, np.array(SAT_OUT, np.int32), "f32 -> i32")


def test_cast_to_i32_saturates_interpreter_f64():
    """The f64 path of the reference does saturate (contrast with the f32 bug above)."""
    graph = make_graph({"x": T(F64, len(SAT_IN))},
                       lambda e, p: {"y": e.op("cast", p["x"], dtype=I32)})
    got = run_interp(graph, {"x": np.array(SAT_IN)})["outputs"]["y"]
    assert_exact(got, np.array(SAT_OUT, np.int32))


@pytest.mark.opencl
@pytest.mark.parametrize("src", [F32, F64])
def test_cast_to_i32_saturates_opencl(src, device):
    if src == F64:
        need_fp64(device)
    graph = make_graph({"x": T(src, len(SAT_IN))},
                       lambda e, p: {"y": e.op("cast", p["x"], dtype=I32)})
    got = run_opencl(graph, {"x": np.array(SAT_IN, src.np)}, device)["outputs"]["y"]
    assert_exact(got, np.array(SAT_OUT, np.int32), f"{src} -> i32")


@pytest.mark.opencl
def test_cast_to_i32_saturates_opencl_without_nan(device):
    """Everything but NaN already saturates on the device."""
    graph = make_graph({"x": T(F32, len(SAT_IN) - 1)},
                       lambda e, p: {"y": e.op("cast", p["x"], dtype=I32)})
    got = run_opencl(graph, {"x": np.array(SAT_IN[1:], np.float32)}, device)["outputs"]["y"]
    assert_exact(got, np.array(SAT_OUT[1:], np.int32))


# ====================================================================== gradients

GRAD_CASES = grad_cases(7)
GRAD_OPS = {c.op for c in GRAD_CASES}


def seeded_grad(case: GradCase):
    """(forward graph, seeded gradient graph, seed) of one case."""
    g = one_op_graph(case.op, list(case.in_types), **case.attrs)
    wrt = [f"x{j}" for j in case.wrt]
    gg = verify(grad_graph(g, wrt, "y", seeded=True))
    out_t = g.body.results[0].type
    seed = np.random.default_rng(3).standard_normal(out_t.shape)
    return g, gg, seed


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GRAD_CASES])
def test_adjoint_matches_finite_differences(case):
    """<grad, v> == (f(x + eps v) - f(x - eps v)) / 2 eps, on the interpreter in f64."""
    g, gg, seed = seeded_grad(case)
    xs = {f"x{j}": x for j, x in enumerate(case.inputs)}
    res = run_interp(gg, xs, seed=seed)
    for j in case.wrt:
        got = res["grads"][f"x{j}"]
        assert got.shape == case.in_types[j].shape, (got.shape, case.in_types[j])
        assert got.dtype == case.in_types[j].dtype.np     # gradients keep the var's dtype
    check_grads(scalar_of(g, "y", seed), xs, res["grads"], eps=case.eps, rtol=case.rtol,
                atol=1e-9)


@pytest.fixture(scope="module")
def grad_batches(device):
    """Every gradient case in one f64 program per broadcast kind, run on OpenCL.

    The cases' outputs are contracted with fixed seeds into one scalar loss
    L = sum_k sum(seed_k * op_k(...)); each case has its own leaves, so
    dL/d(leaf) is exactly that case's seeded gradient.
    """
    need_fp64(device)
    results = {}
    for strided in (False, True):
        cases = [c for c in GRAD_CASES if c.strided == strided]
        leaves, inputs, seeds = {}, {}, []
        for k, c in enumerate(cases):
            for j, t in enumerate(c.in_types):
                leaves[f"c{k}_{j}"] = t
                inputs[f"c{k}_{j}"] = c.inputs[j]
            seeds.append(seeded_grad(c)[2])

        def build(e, p):
            total = None
            for k, c in enumerate(cases):
                y = e.op(c.op, *[p[f"c{k}_{j}"] for j in range(len(c.in_types))], **c.attrs)
                y = e.cast(y, F64)
                term = e.sum(e.mul(y, e.const(seeds[k], F64)), tuple(range(y.type.rank)))
                total = term if total is None else e.add(total, term)
            return {"L": total}
        graph = make_graph(leaves, build)
        wrt = [f"c{k}_{j}" for k, c in enumerate(cases) for j in c.wrt]
        gg = verify(grad_graph(graph, wrt, "L", seeded=False))
        try:
            results[strided] = (cases, run_opencl(gg, inputs, device)["grads"])
        except Exception as err:
            results[strided] = (cases, err)
    return results


@pytest.mark.opencl
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GRAD_CASES])
def test_adjoint_on_opencl_f64(case, grad_batches):
    """The same adjoints run on the device in f64 agree with the interpreter's."""
    cases, grads = grad_batches[case.strided]
    if isinstance(grads, Exception):
        raise grads
    k = cases.index(case)
    _, gg, seed = seeded_grad(case)
    want = run_interp(gg, {f"x{j}": x for j, x in enumerate(case.inputs)}, seed=seed)["grads"]
    for j in case.wrt:
        got = grads[f"c{k}_{j}"]
        assert got.dtype == case.in_types[j].dtype.np
        np.testing.assert_allclose(got, want[f"x{j}"], rtol=1e-11 if case.rtol < 1e-6 else 1e-5,
                                   atol=1e-12, err_msg=f"{case.id} operand {j}")


@pytest.mark.parametrize("dst", [I32, BOOL])
def test_casts_to_integers_pass_no_gradient(dst):
    graph = make_graph({"x": T(F64, 3)}, lambda e, p: {
        "y": e.op("mul", p["x"], e.cast(e.op("cast", p["x"], dtype=dst), F64))})
    gg = verify(grad_graph(graph, ["x"], "y", seeded=True))
    x = np.array([1.5, -2.5, 3.0])
    got = run_interp(gg, {"x": x}, seed=np.ones(3))["grads"]["x"]
    # d/dx (x * c(x)) with c piecewise constant is c(x) alone.
    c = np.trunc(x) if dst == I32 else (x != 0).astype(float)
    np.testing.assert_array_equal(got, c)


def test_stop_grad_passes_no_gradient():
    graph = make_graph({"x": T(F64, 3)}, lambda e, p: {
        "y": e.sum(e.mul(p["x"], e.op("stop_grad", e.op("exp", p["x"]))), (0,))})
    gg = verify(grad_graph(graph, ["x"], "y", seeded=False))
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(run_interp(gg, {"x": x})["grads"]["x"], np.exp(x), rtol=1e-15)


@pytest.mark.parametrize("op", sorted(o for o in OPS if not OPS[o].differentiable))
def test_nondifferentiable_ops_have_no_adjoint(op):
    assert OPS[op].adjoint is None and OPS[op].ad_rules is None, op


# ====================================================================== errors

def infer_error(op: str, in_types: list, **attrs) -> GdlTypeError:
    """The GdlTypeError that building `op` on operands of `in_types` raises."""
    b = Builder(IdSource())
    vals = [b.fresh(t) for t in in_types]
    with pytest.raises(GdlTypeError) as info:
        emitter(b).op(op, *vals, **attrs)
    return info.value


ERROR_CASES = error_cases()
NO_USER_ERRORS = no_user_errors()


@pytest.mark.parametrize("op,types,attrs,fragments", [
    pytest.param(op, types, attrs, frags, id=f"{op}-{k}")
    for op, cases in ERROR_CASES.items() for k, (types, attrs, frags) in enumerate(cases)])
def test_bad_operands_raise_type_errors(op, types, attrs, fragments):
    err = infer_error(op, types, **attrs)
    for frag in fragments:
        assert frag in err.message, f"{op}: {frag!r} not in {err.message!r}"


def test_if_condition_must_be_a_bool_scalar():
    b = Builder(IdSource())
    p = b.fresh(T(BOOL, 2))
    with pytest.raises(GdlTypeError, match=r"bool scalar, found bool\[2\]"):
        OPS["if"].infer((p.type,), {}, None, (b.region((), ()), b.region((), ())))


@pytest.mark.parametrize("src,line,fragments", [
    ("var a: f32[5] = ones([5])\nvar b: f32[7] = ones([7])\ny = a + b\nout y", 3,
     ["f32[5]", "f32[7]", "+"]),
    ("var a: f32[2,3] = ones([2,3])\ny = dot(a, a)\nout y", 2, ["dot", "f32[2, 3]"]),
    ("var a: f32 = 1.0\ny = a and a\nout y", 2, ["and", "f32"]),
    ("var a: f32[3,4] = ones([3,4])\n\ny = sum(a, axis=2)\nout y", 3, ["sum", "axis 2"]),
    ("var a: f32[3,4] = ones([3,4])\ny = sum(a, axis=-3)\nout y", 2, ["sum", "axis -3"]),
    ("y = -true\nout y", 1, ["-", "bool"]),
])
def test_type_errors_from_source_name_the_op_and_line(src, line, fragments):
    with pytest.raises(GdlTypeError) as info:
        gdl.compile(src)
    assert info.value.line == line, info.value
    for frag in fragments:
        assert frag in info.value.message, (frag, info.value.message)


def test_log_of_an_integer_is_promoted_to_f32():
    prog = gdl.compile("y = log(arange(1, 4))\nz = exp(arange(3))\nout y, z")
    out = evaluate(prog.graph)["outputs"]
    assert out["y"].dtype == np.float32 and out["z"].dtype == np.float32
    np.testing.assert_allclose(out["y"], np.log([1, 2, 3]), rtol=1e-6)
    np.testing.assert_allclose(out["z"], np.exp([0, 1, 2]), rtol=1e-6)


# ====================================================================== special values

@pytest.mark.opencl
@pytest.mark.parametrize("dt", ["f32", "f64"])
def test_nan_comparisons(dt, device):
    """Comparisons with NaN are false, except `!=`, which is true (as NumPy)."""
    if dt == "f64":
        need_fp64(device)
    prog = gdl.compile(f"""
input a: {dt}[4]
input b: {dt}[4]
lt = a < b
le = a <= b
gt = a > b
ge = a >= b
eq = a == b
ne = a != b
out lt, le, gt, ge, eq, ne
""")
    a = np.array([np.nan, 1.0, np.nan, 2.0])
    b = np.array([1.0, np.nan, np.nan, 2.0])
    want = {"lt": [0, 0, 0, 0], "le": [0, 0, 0, 1], "gt": [0, 0, 0, 0], "ge": [0, 0, 0, 1],
            "eq": [0, 0, 0, 1], "ne": [1, 1, 1, 0]}
    inputs = {"a": a, "b": b}
    for runtime in (evaluate(prog.graph, inputs)["outputs"],
                    prog.run(inputs=inputs, device=device).outputs):
        for name, w in want.items():
            assert_exact(runtime[name], np.array(w, bool), name)


@pytest.mark.opencl
@pytest.mark.parametrize("dt", ["f32", "f64", "i32"])
def test_pow_zero_to_the_zero_is_one(dt, device):
    if dt == "f64":
        need_fp64(device)
    prog = gdl.compile(f"input a: {dt}[3]\ninput b: {dt}[3]\ny = a ** b\nout y")
    inputs = {"a": np.array([0, 0, 2]), "b": np.array([0, 2, 0])}
    want = np.array([1, 0, 1], prog.graph.output_value("y").type.dtype.np)
    assert_exact(evaluate(prog.graph, inputs)["outputs"]["y"], want)
    assert_exact(prog.run(inputs=inputs, device=device).outputs["y"], want)


@pytest.mark.opencl
def test_norm_gradient_at_zero_is_zero(device):
    need_fp64(device)
    prog = gdl.compile("var x: f64[3] = zeros([3])\ny = norm(x)\nout y")
    want = np.zeros(3)
    g = evaluate(prog.gradient_graph(["x"]))["grads"]["x"]
    np.testing.assert_array_equal(g, want)
    np.testing.assert_array_equal(prog.run(grad=["x"], device=device).grads["x"], want)


@pytest.mark.opencl
def test_pow_exponent_gradient_at_base_zero_is_zero(device):
    need_fp64(device)
    prog = gdl.compile("var a: f64[3] = [0.0, 0.0, 2.0]\nvar b: f64[3] = [2.0, 0.0, 3.0]\n"
                       "y = sum(a ** b)\nout y")
    want_b = np.array([0.0, 0.0, 8.0 * np.log(2.0)])
    want_a = np.array([0.0, 0.0, 12.0])      # b a^(b-1); 0 where b == 0
    for grads in (evaluate(prog.gradient_graph(["a", "b"]))["grads"],
                  prog.run(grad=["a", "b"], device=device).grads):
        np.testing.assert_allclose(grads["b"], want_b, rtol=1e-14)
        np.testing.assert_allclose(grads["a"], want_a, rtol=1e-14)
        assert np.isfinite(grads["a"]).all() and np.isfinite(grads["b"]).all()


# ====================================================================== the table is covered

def test_every_op_has_test_cases():
    """A new op in the table must come with forward, gradient and error cases here."""
    forward = {i.op for i in INSTANCES}
    tested_elsewhere = CONTROL_OPS | TAPE_OPS | EFFECT_OPS
    missing = set(OPS) - forward - tested_elsewhere
    assert not missing, f"ops without forward cases: {sorted(missing)}"
    diff = {o for o in OPS if OPS[o].differentiable and o not in tested_elsewhere}
    ungraded = sorted(diff - GRAD_OPS)
    assert not ungraded, f"differentiable ops without gradient cases: {ungraded}"
    no_errors = set(OPS) - set(ERROR_CASES) - NO_USER_ERRORS
    assert not no_errors, f"ops without error cases: {sorted(no_errors)}"
    assert not (set(ERROR_CASES) | forward | GRAD_OPS) - set(OPS), "cases for unknown ops"
