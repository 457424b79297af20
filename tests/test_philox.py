"""Tests for gdl/philox.py and its OpenCL twin gdl/kernels/philox.cl.

The generator is checked against Random123's published known answers, the
rand/randn rules against a frozen vector and distribution properties, and
the kernel template against the NumPy reference on the first OpenCL device.
"""
from __future__ import annotations

import importlib.resources
import re
from string import Template

import numpy as np
import pytest

from gdl import philox

# Random123's kat_vectors for philox4x32_10: (counter, key, output).
PHILOX4X32_10_KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000),
     (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
     (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
     (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

# rand([5], seed=3) in f32, frozen by language.md section 3.1.
RAND5_SEED3_F32 = [0.8166549801826477, 0.26822400093078613, 0.7683151960372925,
                   0.13857877254486084, 0.9207435846328735]

FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable"


def template_text() -> str:
    """The kernel template, read the way codegen reads it."""
    return (importlib.resources.files("gdl") / "kernels" / "philox.cl").read_text()


def instantiate(t: str, dist: str, kernel: str) -> str:
    """The template for type t plus a test kernel `kernel` filling out[k] by `dist`."""
    fn = "gdl_rand" if dist == "uniform" else "gdl_randn"
    return Template(template_text()).substitute(
        T=t, FP64_PRAGMA=FP64_PRAGMA if t == "double" else "") + f"""
__kernel void {kernel}(__global {t} *out, const uint seed, const ulong n)
{{
    const ulong k = get_global_id(0);
    if (k >= n)
        return;
    out[k] = {fn}_{t}(as_int(seed), k);
}}
"""


# ---------------------------------------------------------------- generator

@pytest.mark.parametrize("ctr,key,expected", PHILOX4X32_10_KAT)
def test_philox_known_answers(ctr, key, expected):
    out = philox.philox4x32_10(np.array(ctr, dtype=np.uint32), key)
    assert out.dtype == np.uint32
    assert [int(w) for w in out] == list(expected)


def test_philox_vectorised_over_leading_axes():
    ctrs = np.array([c for c, _, _ in PHILOX4X32_10_KAT], dtype=np.uint32)
    out = philox.philox4x32_10(ctrs.reshape(3, 1, 4), (0, 0))
    assert out.shape == (3, 1, 4)
    assert [int(w) for w in out[0, 0]] == list(PHILOX4X32_10_KAT[0][2])


def test_philox_rejects_bad_counter_shape():
    with pytest.raises(ValueError):
        philox.philox4x32_10(np.zeros((2, 3), dtype=np.uint32), (0, 0))


def test_counter_high_word_is_k_div_2_32():
    k = (1 << 32) + 5
    got = philox._words_at(np.array([k], dtype=np.uint64), 9)[0]
    want = philox.philox4x32_10(np.array([5, 1, 0, 0], dtype=np.uint32), (9, 0))
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- rand/randn

def test_rand_known_vector_bit_for_bit():
    got = philox.uniform((5,), 3, np.float32)
    want = np.array(RAND5_SEED3_F32, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_element_k_uses_counter_k_and_key_seed():
    w = philox.philox4x32_10(np.array([7, 0, 0, 0], dtype=np.uint32), (11, 0))
    got = philox.uniform((2, 4), 11, np.float32)[1, 3]
    assert got == np.float32(int(w[0]) >> 8) * np.float32(2.0**-24)


def test_scalar_shape_is_element_zero():
    for fn in (philox.uniform, philox.normal):
        for dt in (np.float32, np.float64):
            s = fn((), 3, dt)
            assert s.shape == () and s.dtype == dt
            assert s == fn((4,), 3, dt)[0]


def test_seed_is_taken_mod_2_32():
    np.testing.assert_array_equal(philox.uniform((8,), -1), philox.uniform((8,), 2**32 - 1))
    np.testing.assert_array_equal(philox.normal((8,), 2**32 + 3), philox.normal((8,), 3))
    assert not np.array_equal(philox.uniform((8,), 1), philox.uniform((8,), 2))


def test_shape_is_row_major():
    flat = philox.uniform((24,), 5, np.float64)
    np.testing.assert_array_equal(philox.uniform((2, 3, 4), 5, np.float64), flat.reshape(2, 3, 4))


def test_rejects_bad_dtype_and_shape():
    with pytest.raises(ValueError):
        philox.uniform((3,), 0, np.int32)
    with pytest.raises(ValueError):
        philox.normal((-1,), 0, np.float32)


def test_uniform_f32_in_unit_interval_on_24_bit_grid():
    u = philox.uniform((100_000,), 1234, np.float32)
    assert u.dtype == np.float32
    assert u.min() >= 0.0 and u.max() < 1.0
    scaled = u.astype(np.float64) * 2.0**24
    np.testing.assert_array_equal(scaled, np.floor(scaled))
    assert abs(u.mean() - 0.5) < 0.01


def test_uniform_f64_in_unit_interval_and_refines_f32():
    u64 = philox.uniform((100_000,), 1234, np.float64)
    u32 = philox.uniform((100_000,), 1234, np.float32)
    assert u64.dtype == np.float64
    assert u64.min() >= 0.0 and u64.max() < 1.0
    # The f64 value's top 24 bits are the f32 value (both start with w0 >> 8).
    np.testing.assert_array_equal(np.floor(u64 * 2.0**24) * 2.0**-24, u32.astype(np.float64))
    assert abs(u64.var() - 1.0 / 12.0) < 0.005


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_moments(dtype):
    z = philox.normal((100_000,), 42, dtype)
    assert z.dtype == dtype and np.all(np.isfinite(z))
    assert abs(float(z.mean())) < 0.02
    assert abs(float(z.var()) - 1.0) < 0.03
    assert abs(float(np.mean(z.astype(np.float64) ** 3))) < 0.05


def test_normal_f32_tracks_f64():
    z32 = philox.normal((10_000,), 7, np.float32).astype(np.float64)
    z64 = philox.normal((10_000,), 7, np.float64)
    np.testing.assert_allclose(z32, z64, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- template

def test_template_shape():
    text = template_text()
    assert text.startswith("#pragma OPENCL FP_CONTRACT OFF")
    for t in ("float", "double"):
        for dist in ("uniform", "normal"):
            src = instantiate(t, dist, "k")
            assert "$" not in src
            assert (FP64_PRAGMA in src) == (t == "double")
            if t == "float":
                # Only comments and unexpanded macros may name double.
                code = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
                code = re.sub(r"(?m)^#define(.*\\\n)*.*$", "", code)
                assert "double" not in code


# ---------------------------------------------------------------- OpenCL

@pytest.fixture(scope="module")
def cl_env():
    """(pyopencl, context, queue, device) for the first OpenCL device, or skip."""
    cl = pytest.importorskip("pyopencl")
    try:
        platforms = cl.get_platforms()
    except cl.Error as exc:
        pytest.skip(f"no OpenCL platform: {exc}")
    devices = []
    for platform in platforms:
        try:
            devices += platform.get_devices()
        except cl.Error:
            continue
    if not devices:
        pytest.skip("no OpenCL device")
    device = devices[0]
    ctx = cl.Context([device])
    return cl, ctx, cl.CommandQueue(ctx), device


def _need_t(device, t):
    """Skip double on devices without cl_khr_fp64."""
    if t == "double" and "cl_khr_fp64" not in device.extensions:
        pytest.skip(f"{device.name} lacks cl_khr_fp64")


def _run(cl_env, src, kernel, np_dtype, n, seed):
    """Launch `kernel` over n elements, global size rounded up; return all of out."""
    cl, ctx, queue, device = cl_env
    prg = cl.Program(ctx, src).build()
    local = min(64, device.max_work_group_size)
    global_size = -(-n // local) * local
    sentinel = np.full(global_size, -7.0, dtype=np_dtype)
    buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=sentinel)
    getattr(prg, kernel)(queue, (global_size,), (local,), buf,
                         np.uint32(seed % 2**32), np.uint64(n))
    out = np.empty_like(sentinel)
    cl.enqueue_copy(queue, out, buf)
    queue.finish()
    return out


@pytest.mark.opencl
def test_opencl_philox_known_answers(cl_env):
    cl, ctx, queue, _ = cl_env
    src = instantiate("float", "uniform", "gdl_unused") + """
__kernel void kat(__global const uint4 *ctr, __global const uint2 *key,
                  __global uint4 *out)
{
    const size_t i = get_global_id(0);
    out[i] = gdl_philox4x32_10(ctr[i], key[i]);
}
"""
    prg = cl.Program(ctx, src).build()
    ctr = np.array([c for c, _, _ in PHILOX4X32_10_KAT], dtype=np.uint32)
    key = np.array([k for _, k, _ in PHILOX4X32_10_KAT], dtype=np.uint32)
    mf = cl.mem_flags
    ctr_buf = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=ctr)
    key_buf = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=key)
    out = np.empty_like(ctr)
    out_buf = cl.Buffer(ctx, mf.WRITE_ONLY, out.nbytes)
    prg.kat(queue, (len(ctr),), None, ctr_buf, key_buf, out_buf)
    cl.enqueue_copy(queue, out, out_buf)
    queue.finish()
    want = np.array([o for _, _, o in PHILOX4X32_10_KAT], dtype=np.uint32)
    np.testing.assert_array_equal(out, want)


@pytest.mark.opencl
@pytest.mark.parametrize("dist", ["uniform", "normal"])
@pytest.mark.parametrize("t", ["float", "double"])
def test_opencl_matches_reference(cl_env, t, dist):
    _need_t(cl_env[3], t)
    np_dtype = np.float32 if t == "float" else np.float64
    n, seed = 1000, -12345
    out = _run(cl_env, instantiate(t, dist, "gdl_rand"), "gdl_rand", np_dtype, n, seed)
    assert np.all(out[n:] == np_dtype(-7.0)), "kernel wrote past n"
    ref = (philox.uniform if dist == "uniform" else philox.normal)((n,), seed, np_dtype)
    if dist == "uniform":
        np.testing.assert_array_equal(out[:n], ref)
    elif t == "float":
        np.testing.assert_allclose(out[:n], ref, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(out[:n], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.opencl
def test_opencl_instances_share_one_program(cl_env):
    ts = ["float", "double"] if "cl_khr_fp64" in cl_env[3].extensions else ["float"]
    parts = [instantiate(t, d, f"k_{t}_{d}") for t in ts for d in ("uniform", "normal")]
    cl, ctx, _, _ = cl_env
    prg = cl.Program(ctx, "\n".join(parts)).build()
    assert {k.function_name for k in prg.all_kernels()} == {
        f"k_{t}_{d}" for t in ts for d in ("uniform", "normal")}
