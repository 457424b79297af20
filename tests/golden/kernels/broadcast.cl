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

__kernel void gdl_fused_4f1675e731c4(__global const float *in0,
        __global const float *in1,
        __global const float *in2,
        __global float *out0,
        const uint n,
        const uint chunk,
        const uint P,
        const uint d1,
        const uint d0,
        const int sin1_1,
        const int sin2_0)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);

    uint gid = start;

    for (; gid < stop; ++gid) {
        uint rest = gid;
        const uint c1 = rest % d1; rest /= d1;
        const uint c0 = rest;
        const float v0 = in0[gid];
        const float v1 = in1[(int)c1 * sin1_1];
        const float v2 = in2[(int)c0 * sin2_0];
        const float v3 = 1.0e+06f;
        const float v4 = (v0 * v1);
        const float v5 = (v4 + v2);
        const float v6 = exp(v5);
        const float v7 = (v6 / v3);
        out0[gid] = (float)v7;
    }


}

__kernel void gdl_red_4549a7dd0c28(__global const float *in0, __global float *out, const uint M, const uint K,
                    const uint P, const uint chunk)
{
    const uint gid = get_global_id(0);
    if (gid >= M * P)
        return;
    const uint m = gid / P;
    const uint p = gid - m * P;
    const uint k0 = p * chunk;
    const uint k1 = min(k0 + chunk, K);
    const uint base = m;
    float acc = 0;
    float comp = 0;
    for (uint k = k0; k < k1; ++k) {
        const uint idx = base + k * M;
        const float a0 = (float)in0[idx];
        const float v = a0;
        { const float y = v - comp; const float t = acc + y; comp = isfinite(t) ? (t - acc) - y : (float)0; acc = t; }
    }
    out[gid] = acc;
}
