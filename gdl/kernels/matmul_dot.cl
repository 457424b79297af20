/* C = A @ B^T (B stored N x K: both operands contiguous along k), a
 * ROWS x 4 block of outputs per work-item.  Each output accumulates LANES
 * interleaved partial sums as vectors along k (k = l, l + LANES, ... in
 * order in lane l, products fused: FP_CONTRACT ON), then adds the lanes by
 * one fixed tree and the K mod LANES remaining products in order: the
 * summation order is a function of the shape and LANES only.  Rows and
 * columns past M and N re-read the last one and are not stored.  No local
 * memory, no barriers, no atomics.
 * Placeholders: NAME, T, ROWS, LANES, POINTERS (row pointers a0.., b0..b3),
 * ZERO, BODY (one vector step), REDUCE (into the 4-vectors of sums s0..),
 * TAIL (one scalar k step), STORE. */
__kernel void $NAME(__global const $T *a, __global const $T *b, __global $T *c,
                    const uint M, const uint N, const uint K)
{
#pragma OPENCL FP_CONTRACT ON
    const uint tiles = (N + 3u) / 4u;
    const uint gid = get_global_id(0);
    if (gid >= (M + ${ROWS}u - 1u) / ${ROWS}u * tiles)
        return;
    const uint i0 = gid / tiles * ${ROWS}u;
    const uint j0 = (gid - gid / tiles * tiles) * 4u;
$POINTERS
$ZERO
    uint k = 0;
    for (; k + ${LANES}u <= K; k += ${LANES}u) {
$BODY
    }
$REDUCE
    for (; k < K; ++k) {
$TAIL
    }
$STORE
}
