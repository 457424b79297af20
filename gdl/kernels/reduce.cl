/* A deterministic reduction: output element m combines K input elements.
 * Stage one: work-item (m, p) folds the contiguous chunk p of the K elements
 * in order (Kahan-compensated for float sums); with one partial per output it
 * writes the finished value directly.  Stage two (NAME_finish) folds the P
 * partials of each output in order.  The order depends on the shape only, so
 * results are bitwise repeatable.
 * Placeholders: NAME, OUT_T (C type written), ACC (accumulator C type),
 * INPUTS, SIZES, MBASE (statements: `base`, the input offset of output m),
 * KINDEX (statements: `idx`, the input index of element k of output m),
 * LOADS, PRE (value folded), IDENTITY, COMBINE (folds `v` into `acc`, may
 * use `comp`), RESULT (what is written: `acc` as a partial, or the finished
 * value). */
__kernel void $NAME($INPUTS __global $OUT_T *out, const uint M, const uint K,
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
    $ACC acc = $IDENTITY;
    $ACC comp = 0;
    for (uint k = k0; k < k1; ++k) {
$KINDEX
$LOADS
        const $ACC v = $PRE;
        $COMBINE
    }
    out[gid] = $RESULT;
}
