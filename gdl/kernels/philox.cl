#pragma OPENCL FP_CONTRACT OFF
$FP64_PRAGMA
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

#ifndef GDL_PHILOX_SAMPLERS_$T
#define GDL_PHILOX_SAMPLERS_$T

$T gdl_philox_uniform_$T(const uint4 w)
{
    return GDL_PHILOX_UNIFORM_$T(w);
}

/* randn: Box-Muller on u1 in (0, 1] and u2 in [0, 1), in precision T. */
$T gdl_philox_normal_$T(const uint4 w)
{
    const $T u1 = convert_$T((w.x >> 8) + 1u) * ($T)0x1p-24f;
    const $T u2 = convert_$T(w.y >> 8) * ($T)0x1p-24f;
    const $T r = sqrt(($T)(-2.0f) * log(u1));
    return r * cos(GDL_PHILOX_TWO_PI_$T * u2);
}



/* Element k of rand / randn with the given seed: what fused kernels call. */
inline $T gdl_rand_$T(const int seed, const ulong k)
{
    const uint4 ctr = (uint4)((uint)k, (uint)(k >> 32), 0u, 0u);
    return gdl_philox_uniform_$T(gdl_philox4x32_10(ctr, (uint2)(as_uint(seed), 0u)));
}

inline $T gdl_randn_$T(const int seed, const ulong k)
{
    const uint4 ctr = (uint4)((uint)k, (uint)(k >> 32), 0u, 0u);
    return gdl_philox_normal_$T(gdl_philox4x32_10(ctr, (uint2)(as_uint(seed), 0u)));
}

#endif
