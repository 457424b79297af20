/* C = op(A) @ op(B) for an M x K by K x N product (vectors are 1 x K or
 * K x 1 matrices).  Work-item gid computes a register block of 4 consecutive
 * columns of one row: C[i, j0 .. j0+3], each accumulated over k = 0 .. K-1
 * in that order (no split, no atomics), so the summation order depends on
 * the shape only and results are bitwise repeatable.  In the last, partial
 * block the missing columns re-read column N-1 (in bounds) and are not stored.
 * No local memory and no barriers (they are slow on CPU devices).
 * Placeholders: NAME, T (element C type), ACC (accumulator type: T, or uint
 * for wrapping i32), A_AT (expression: A(i, k) as read through op's index
 * map), B_AT0 .. B_AT3 (B(k, j0 + c)), RESULT0 .. RESULT3 (the stored values
 * of acc0 .. acc3).  Sizes are arguments, so shapes do not rebuild. */
__kernel void $NAME(__global const $T *a, __global const $T *b, __global $T *c,
                    const uint M, const uint N, const uint K)
{
    const uint gid = get_global_id(0);
    const uint blocks = (N + 3u) / 4u;
    if (gid >= M * blocks)
        return;
    const uint i = gid / blocks;
    const uint j0 = (gid - i * blocks) * 4u;
    const uint j1 = min(j0 + 1u, N - 1u);
    const uint j2 = min(j0 + 2u, N - 1u);
    const uint j3 = min(j0 + 3u, N - 1u);
    $ACC acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    for (uint k = 0; k < K; ++k) {
        const $ACC x = ($ACC)$A_AT;
        acc0 += x * ($ACC)$B_AT0;
        acc1 += x * ($ACC)$B_AT1;
        acc2 += x * ($ACC)$B_AT2;
        acc3 += x * ($ACC)$B_AT3;
    }
    __global $T *row = c + i * N;
    row[j0] = $RESULT0;
    if (j0 + 1u < N)
        row[j0 + 1u] = $RESULT1;
    if (j0 + 2u < N)
        row[j0 + 2u] = $RESULT2;
    if (j0 + 3u < N)
        row[j0 + 3u] = $RESULT3;
}
