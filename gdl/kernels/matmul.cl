/* C = op(A) @ op(B), M x K by K x N: the plain kernel, for products too
 * narrow for a register tile.  Work-item gid computes C[i, j] (row-major
 * gid) as a sum over k = 0 .. K-1 in order, each product fused into the
 * running sum (FP_CONTRACT ON: one rounding per step, as the tiled kernels
 * do, so every kernel gives the same bits for one shape).  No split, no
 * atomics, no local memory.
 * Placeholders: NAME, T (element type; uint for wrapping i32), A_AT and
 * B_AT (expressions for A(i, k) and B(k, j) through op's index map). */
__kernel void $NAME(__global const $T *a, __global const $T *b, __global $T *c,
                    const uint M, const uint N, const uint K)
{
#pragma OPENCL FP_CONTRACT ON
    const uint gid = get_global_id(0);
    if (gid >= M * N)
        return;
    const uint i = gid / N;
    const uint j = gid - i * N;
    $T acc = 0;
    for (uint k = 0; k < K; ++k)
        acc = acc + $A_AT * $B_AT;
    c[gid] = acc;
}
