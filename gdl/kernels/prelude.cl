/* Shared helpers for generated kernels.  Placeholder: FP64 (the cl_khr_fp64
 * pragma when a kernel uses doubles).  FP_CONTRACT OFF: no silent fma, so a
 * result does not depend on the compiler's contraction choices. */
#pragma OPENCL FP_CONTRACT OFF
$FP64

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
