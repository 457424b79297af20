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

__kernel void gdl_fused_44062b93f830(__global const float *in0,
        __global float *out0,
        const uint n,
        const uint chunk,
        const uint P)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);

    uint gid = start;

    for (; gid < stop; ++gid) {

        const float v0 = in0[0];
        const float v1 = 2.0e+00f;
        const float v2 = (v0 * v1);
        out0[gid] = (float)v2;
    }


}

__kernel void gdl_fused_ff9d44d919bd(__global const float *in0,
        __global float *out0,
        __global uchar *fin0,
        const uint n,
        const uint chunk,
        const uint P)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);
    float a0 = 0; float k0 = 0;
    uint gid = start;

    for (; gid < stop; ++gid) {

        const float v0 = in0[0];
        const float v1 = 2.0e+00f;
        const float v2 = (v0 * v1);
        out0[gid] = (float)v2;
        { const float y = (v2 * v2) - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v3 = sqrt(a0);
    const float v4 = 1.0e+03f;
    const uchar v5 = (v3 < v4);
    fin0[0] = (uchar)v5;
}

__kernel void gdl_fused_2285d97180c4(__global const float *in0,
        __global uchar *fin0,
        const uint n,
        const uint chunk,
        const uint P)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);
    float a0 = 0; float k0 = 0;
    uint gid = start;

    for (; gid < stop; ++gid) {

        const float v0 = in0[0];
        { const float y = (v0 * v0) - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v1 = sqrt(a0);
    const float v2 = 1.0e+03f;
    const uchar v3 = (v1 < v2);
    fin0[0] = (uchar)v3;
}

__kernel void gdl_fused_beba90f4eb3f(__global const float *in0,
        __global uchar *fin0,
        const uint n,
        const uint chunk,
        const uint P)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);
    float a0 = 0; float k0 = 0;
    uint gid = start;

    for (; gid < stop; ++gid) {

        const float v0 = in0[0];
        { const float y = v0 - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v1 = a0;
    const float v2 = 0.0e+00f;
    const uchar v3 = (v1 > v2);
    fin0[0] = (uchar)v3;
}

__kernel void gdl_fused_6671b19f50e7(__global const float *in0,
        __global float *out0,
        const uint n,
        const uint chunk,
        const uint P)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);

    uint gid = start;

    for (; gid < stop; ++gid) {

        const float v0 = in0[0];
        const float v1 = 1.0e+02f;
        const float v2 = (v1 * v0);
        out0[gid] = (float)v2;
    }


}

__kernel void gdl_fused_fde513bd747f(__global const float *in0,
        __global float *out0,
        const uint n,
        const uint chunk,
        const uint P,
        const uint reps)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);

    uint gid = start;

    for (; gid < stop; ++gid) {

        float cv0 = in0[0];
        for (uint it = 0; it < reps; ++it) {
            const float v0 = cv0;
            const float v1 = 2.0e+00f;
            const float v2 = (v0 * v1);
            const float nv53 = v2;
            cv0 = nv53;
        }
        out0[gid] = (float)cv0;
    }


}
