/* The NaN/Inf check of a value a kernel of its own computed (a reduction
 * along an axis, a matmul, a scan, a gather): work-item p tests the chunk
 * [p * chunk, (p + 1) * chunk) and folds its smallest flag into slot `ns`.
 * Placeholders: NAME, T (the value's C type). */
__kernel void $NAME(__global const $T *x, __global uint *nf, const uint ns, const uint step,
                    const uint n, const uint chunk)
{
    const uint start = get_global_id(0) * chunk;
    if (start >= n)
        return;
    const uint stop = min(start + chunk, n);
    uint f = UINT_MAX;
    for (uint i = start; i < stop; ++i)
        if (!isfinite(x[i]))
            f = min(f, GDL_NF(x[i], step));
    if (f != UINT_MAX)
        atomic_min(nf + ns, f);
}
