/* Stage two of a reduction: fold the P partials of each output in order.
 * Placeholders: NAME, T, ACC, IDENTITY, COMBINE, POST (as in reduce.cl). */
__kernel void $NAME(__global const $ACC *partial, __global $T *out, const uint M,
                    const uint P, const uint K)
{
    const uint m = get_global_id(0);
    if (m >= M)
        return;
    $ACC acc = $IDENTITY;
    $ACC comp = 0;
    for (uint p = 0; p < P; ++p) {
        const $ACC v = partial[m * P + p];
        $COMBINE
    }
    out[m] = $POST;
}
