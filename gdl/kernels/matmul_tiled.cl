/* C = op(A) @ op(B) with register tiles: the "rows" scheme (gen_linalg).
 * A tile is ROWS x COLS outputs: COLS along the "vector" dimension V (the
 * operand read as contiguous LANES-wide vectors at every k) and ROWS along
 * the "broadcast" dimension U (the other operand, one element per row per
 * k, broadcast).  nn and tn put V on C's columns (B's rows are contiguous);
 * tt puts V on C's rows (A^T's columns are A's rows) and stores transposed.
 * A work-item computes GU x GV neighbouring tiles (arguments, at most the
 * tile's group each) and may walk k in blocks, all its tiles per block, with
 * the partial sums parked in private memory: the operands' blocks are then
 * reused from cache, where a long K would stream whole panels from memory
 * for every tile.  Ungrouped, unblocked tiles (GPU-like devices) keep
 * everything in registers; GU and GV are then 1 and unused.
 * Every output is the sum over k = 0 .. K-1 in order with each product fused
 * (FP_CONTRACT ON here; the prelude's OFF elsewhere), so the bits depend on
 * the shape only: not on the tile, the grouping or the blocking.
 * Edges: the last tile along V shifts back to end at V (V >= COLS is
 * required) and stores only the outputs the tile before it left; rows past
 * U re-read row U-1 and are not stored.  No local memory, no barriers (slow
 * on CPU devices), no atomics.
 * Placeholders: NAME, T, CODE (the body, generated for one tile shape). */
__kernel void $NAME(__global const $T *a, __global const $T *b, __global $T *c,
                    const uint M, const uint N, const uint K, const uint GU,
                    const uint GV)
{
#pragma OPENCL FP_CONTRACT ON
$CODE
}
