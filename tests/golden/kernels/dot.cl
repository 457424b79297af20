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

__kernel void gdl_fused_b925ba27487d(__global float *out0,
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

        const float v0 = (0.0e+00f + convert_float(gid) * 1.0e+00f);
        out0[gid] = (float)v0;
    }


}

__kernel void gdl_fused_40da2a8ce3f6(__global const float *in0,
        __global float *out0,
        __global float *fin0,
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

        const float v0 = in0[gid];
        const float v1 = 2.0e+00f;
        const float v2 = (v1 * v0);
        const float v3 = (v2 + v2);
        out0[gid] = (float)v3;
        { const float y = (v0 * v0) - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v4 = a0;
    const float v1 = 2.0e+00f;
    const float v5 = (v1 * v4);
    fin0[0] = (float)v5;
}
