/* argmax/argmin: output element m is the position k (0 <= k < K) of the best
 * of its K input elements; the first on ties, a NaN beating every number.
 * Work-item (m, p) scans the contiguous chunk p of the K elements in order.
 * With one chunk per output it writes k as the i32 result; with P chunks it
 * writes k to out[gid] and the element's input index to out[M * P + gid]
 * (stage two, argreduce_finish.cl, picks among the chunks).  The order
 * depends on the shape only.
 * Placeholders: NAME, T (input C type), OUT_T (int, or uint for partials),
 * SIZES, MBASE, KINDEX (as in reduce.cl), BETTER (C condition: v beats bv),
 * STORE (statements writing best / best_idx). */
__kernel void $NAME(__global const $T *in0, __global $OUT_T *out, const uint M, const uint K,
                    const uint P, const uint chunk$SIZES)
{
    const uint gid = get_global_id(0);
    if (gid >= M * P)
        return;
    const uint m = gid / P;
    const uint p = gid - m * P;
    const uint k0 = p * chunk;
    const uint k1 = min(k0 + chunk, K);
$MBASE
    uint best = k0, best_idx = 0;
    $T bv = 0;
    for (uint k = k0; k < k1; ++k) {
$KINDEX
        const $T v = in0[idx];
        if (k == k0 || $BETTER) {
            bv = v;
            best = k;
            best_idx = idx;
        }
    }
$STORE
}
