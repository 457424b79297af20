#pragma OPENCL FP_CONTRACT OFF


/* i32 ** i32, wrapping; a negative exponent truncates 1 / a^k toward zero. */
inline int gdl_ipow(int a, int b)
{
    if (b < 0)
        return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
    uint r = 1u, x = as_uint(a);
    while (b) {
        if (b & 1)
            r *= x;
        x *= x;
        b >>= 1;
    }
    return as_int(r);
}

#pragma OPENCL FP_CONTRACT OFF

/*
 * GDL random streams (language.md section 3.1); the reference is gdl/philox.py.
 *
 * A string.Template: codegen substitutes
 *   T           result C type, float or double
 *   FP64_PRAGMA the cl_khr_fp64 enable pragma line when T is double, else empty
 * and calls gdl_rand_T(seed, k) / gdl_randn_T(seed, k) from fused kernels.
 *
 * Element k of the output uses key (seed, 0) and counter
 * ((uint)k, (uint)(k >> 32), 0, 0).  Integer work is exact (mul_hi for the
 * high words) and every float step is a single correctly rounded operation,
 * so uniform values match the reference bit for bit; normal values differ
 * only by the device's log, cos and sqrt.  The helpers are guarded so that
 * several instances of this template may share one program.
 */

#ifndef GDL_PHILOX_DEFINED
#define GDL_PHILOX_DEFINED

#define GDL_PHILOX_M0 0xD2511F53u
#define GDL_PHILOX_M1 0xCD9E8D57u
#define GDL_PHILOX_W0 0x9E3779B9u
#define GDL_PHILOX_W1 0xBB67AE85u

/* 2 pi rounded to each type; only the one for T is ever expanded. */
#define GDL_PHILOX_TWO_PI_float 0x1.921fb6p+2f
#define GDL_PHILOX_TWO_PI_double 0x1.921fb54442d18p+2

/* rand: 24 bits of w0 for float, 27 bits of w0 and 26 of w1 for double. */
#define GDL_PHILOX_UNIFORM_float(w) (convert_float((w).x >> 8) * 0x1p-24f)
#define GDL_PHILOX_UNIFORM_double(w)                                        \
    (convert_double(((ulong)((w).x >> 5) << 26) | (ulong)((w).y >> 6))      \
     * 0x1p-53)

/* Random123's Philox4x32-10: ten rounds, the key bumped between rounds. */
uint4 gdl_philox4x32_10(uint4 ctr, uint2 key)
{
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            key.x += GDL_PHILOX_W0;
            key.y += GDL_PHILOX_W1;
        }
        const uint hi0 = mul_hi(GDL_PHILOX_M0, ctr.x);
        const uint lo0 = GDL_PHILOX_M0 * ctr.x;
        const uint hi1 = mul_hi(GDL_PHILOX_M1, ctr.z);
        const uint lo1 = GDL_PHILOX_M1 * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

#endif /* GDL_PHILOX_DEFINED */

#ifndef GDL_PHILOX_SAMPLERS_float
#define GDL_PHILOX_SAMPLERS_float

float gdl_philox_uniform_float(const uint4 w)
{
    return GDL_PHILOX_UNIFORM_float(w);
}

/* randn: Box-Muller on u1 in (0, 1] and u2 in [0, 1), in precision T. */
float gdl_philox_normal_float(const uint4 w)
{
    const float u1 = convert_float((w.x >> 8) + 1u) * (float)0x1p-24f;
    const float u2 = convert_float(w.y >> 8) * (float)0x1p-24f;
    const float r = sqrt((float)(-2.0f) * log(u1));
    return r * cos(GDL_PHILOX_TWO_PI_float * u2);
}



/* Element k of rand / randn with the given seed: what fused kernels call. */
inline float gdl_rand_float(const int seed, const ulong k)
{
    const uint4 ctr = (uint4)((uint)k, (uint)(k >> 32), 0u, 0u);
    return gdl_philox_uniform_float(gdl_philox4x32_10(ctr, (uint2)(as_uint(seed), 0u)));
}

inline float gdl_randn_float(const int seed, const ulong k)
{
    const uint4 ctr = (uint4)((uint)k, (uint)(k >> 32), 0u, 0u);
    return gdl_philox_normal_float(gdl_philox4x32_10(ctr, (uint2)(as_uint(seed), 0u)));
}

#endif

__kernel void gdl_ew_da27a6825acc(__global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const int v0 = 7;
    const float v1 = gdl_randn_float(v0, gid);
    out0[gid] = (float)v1;
}

__kernel void gdl_ew_0678b3480661(__global const float *in0,
        __global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v2 = in0[0];
    const float v3 = 2.0e+00f;
    const float v4 = (v2 * v3);
    out0[gid] = (float)v4;
}

__kernel void gdl_ew_5c62a481cb39(__global const float *in0,
        __global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v29 = in0[0];
    const float v31 = 2.0e+00f;
    const float v32 = (v29 * v31);
    out0[gid] = (float)v32;
}

__kernel void gdl_red_263d14f5836f(__global const float *in0, __global float *out, const uint M, const uint K,
                    const uint P, const uint chunk)
{
    const uint gid = get_global_id(0);
    if (gid >= M * P)
        return;
    const uint m = gid / P;
    const uint p = gid - m * P;
    const uint k0 = p * chunk;
    const uint k1 = min(k0 + chunk, K);
    const uint base = 0;
    float acc = 0;
    float comp = 0;
    for (uint k = k0; k < k1; ++k) {
        const uint idx = k;
        const float a0 = (float)in0[idx];
        const float v = (a0 * a0);
        { const float y = v - comp; const float t = acc + y; comp = isfinite(t) ? (t - acc) - y : (float)0; acc = t; }
    }
    out[gid] = sqrt(acc);
}

__kernel void gdl_ew_1b5de8983457(__global const float *in0,
        __global uchar *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v26 = in0[0];
    const float v27 = 1.0e+03f;
    const uchar v28 = (v26 < v27);
    out0[gid] = (uchar)v28;
}

__kernel void gdl_red_b9481ec38121(__global const float *in0, __global float *out, const uint M, const uint K,
                    const uint P, const uint chunk)
{
    const uint gid = get_global_id(0);
    if (gid >= M * P)
        return;
    const uint m = gid / P;
    const uint p = gid - m * P;
    const uint k0 = p * chunk;
    const uint k1 = min(k0 + chunk, K);
    const uint base = 0;
    float acc = 0;
    float comp = 0;
    for (uint k = k0; k < k1; ++k) {
        const uint idx = k;
        const float a0 = (float)in0[idx];
        const float v = a0;
        { const float y = v - comp; const float t = acc + y; comp = isfinite(t) ? (t - acc) - y : (float)0; acc = t; }
    }
    out[gid] = acc;
}

__kernel void gdl_ew_81342c5505c7(__global const float *in0,
        __global uchar *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v13 = in0[0];
    const float v14 = 0.0e+00f;
    const uchar v15 = (v13 > v14);
    out0[gid] = (uchar)v15;
}

__kernel void gdl_ew_89c630683a32(__global const float *in0,
        __global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v17 = in0[0];
    const float v18 = 1.0e+02f;
    const float v19 = (v18 * v17);
    out0[gid] = (float)v19;
}

__kernel void gdl_ew_ef52b036f774(__global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v37 = 1.0e+00f;
    out0[gid] = (float)v37;
}

__kernel void gdl_ew_5f78be480340(__global const float *in0,
        __global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v45 = in0[0];
    const float v46 = 1.0e+02f;
    const float v47 = (v45 * v46);
    out0[gid] = (float)v47;
}

__kernel void gdl_ew_184bf4bafe3d(__global const float *in0,
        __global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v53 = in0[0];
    const float v57 = 2.0e+00f;
    const float v58 = (v53 * v57);
    out0[gid] = (float)v58;
}

__kernel void gdl_ew_49e4185cd895(__global const float *in0,
        __global float *out0,
        const uint n)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;

    const float v59 = in0[0];
    const float v3 = 2.0e+00f;
    const float v61 = (v59 * v3);
    out0[gid] = (float)v61;
}
