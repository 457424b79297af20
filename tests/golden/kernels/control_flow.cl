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

__kernel void gdl_fused_cff7a1ef0260(__global const float *in0,
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

        const float v2 = in0[0];
        const float v3 = 2.0e+00f;
        const float v4 = (v2 * v3);
        out0[gid] = (float)v4;
    }


}

__kernel void gdl_fused_cdb05191a507(__global const float *in0,
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

        const float v29 = in0[0];
        const float v31 = 2.0e+00f;
        const float v32 = (v29 * v31);
        out0[gid] = (float)v32;
        { const float y = (v32 * v32) - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v63 = sqrt(a0);
    const float v64 = 1.0e+03f;
    const uchar v65 = (v63 < v64);
    fin0[0] = (uchar)v65;
}

__kernel void gdl_fused_e10e7c1b652e(__global const float *in0,
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

        const float v24 = in0[0];
        { const float y = (v24 * v24) - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v26 = sqrt(a0);
    const float v27 = 1.0e+03f;
    const uchar v28 = (v26 < v27);
    fin0[0] = (uchar)v28;
}

__kernel void gdl_fused_f9f455395643(__global const float *in0,
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

        const float v12 = in0[0];
        { const float y = v12 - k0; const float t = a0 + y; k0 = isfinite(t) ? (t - a0) - y : (float)0; a0 = t; }
    }

    const float v13 = a0;
    const float v14 = 0.0e+00f;
    const uchar v15 = (v13 > v14);
    fin0[0] = (uchar)v15;
}

__kernel void gdl_fused_63a4a950ba69(__global const float *in0,
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

        const float v17 = in0[0];
        const float v18 = 1.0e+02f;
        const float v19 = (v18 * v17);
        out0[gid] = (float)v19;
    }


}

__kernel void gdl_fused_39707379ec47(__global const float *in0,
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

        float cv53 = in0[0];
        for (uint it = 0; it < reps; ++it) {
            const float v53 = cv53;
            const float v57 = 2.0e+00f;
            const float v58 = (v53 * v57);
            const float nv53 = v58;
            cv53 = nv53;
        }
        out0[gid] = (float)cv53;
    }


}

__kernel void gdl_fused_2a17576b9a08(__global const float *in0,
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

        const float v59 = in0[0];
        const float v3 = 2.0e+00f;
        const float v61 = (v59 * v3);
        out0[gid] = (float)v61;
    }


}
