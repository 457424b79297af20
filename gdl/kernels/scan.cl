/* A deterministic scan (running sum) along one axis: the input is L lines
 * of N elements, `inner` apart; work-item g scans line g serially, from the
 * first element or (reversed) from the last, Kahan-compensated for floats.
 * The order depends on the shape only.
 * Placeholders: NAME, T (C type of input and output), ACC (accumulator C
 * type), POS (the position of step j along the line), COMBINE (folds `v`
 * into `acc`, may use `comp`), STORE (what is written). */
__kernel void $NAME(__global const $T *in0, __global $T *out, const uint L, const uint N,
                    const uint inner)
{
    const uint g = get_global_id(0);
    if (g >= L)
        return;
    const uint o = g / inner;
    const uint base = o * N * inner + (g - o * inner);
    $ACC acc = 0;
    $ACC comp = 0;
    for (uint j = 0; j < N; ++j) {
        const uint idx = base + ($POS) * inner;
        const $ACC v = ($ACC)in0[idx];
        $COMBINE
        out[idx] = $STORE;
    }
}
