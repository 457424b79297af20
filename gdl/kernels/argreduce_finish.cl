/* Stage two of argmax/argmin: among the P chunk winners of output m (k at
 * partial[m * P + p], input index at partial[M * P + m * P + p]) keep the
 * best, the earliest chunk on ties.
 * Placeholders: NAME, T, BETTER (as in argreduce.cl). */
__kernel void $NAME(__global const $T *in0, __global const uint *partial, __global int *out,
                    const uint M, const uint P)
{
    const uint m = get_global_id(0);
    if (m >= M)
        return;
    uint best = 0;
    $T bv = 0;
    for (uint p = 0; p < P; ++p) {
        const uint q = m * P + p;
        const $T v = in0[partial[M * P + q]];
        if (p == 0 || $BETTER) {
            bv = v;
            best = partial[q];
        }
    }
    out[m] = (int)best;
}
