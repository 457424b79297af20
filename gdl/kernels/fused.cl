/* A fusion group: elementwise nodes over one iteration space, the full
 * reductions they feed, and the scalar nodes after those reductions.
 * Work-item p walks the chunk [p * chunk, min((p + 1) * chunk, n)) in order:
 * VECTOR-wide steps first (where the group vectorises), then one element at
 * a time.  Reductions accumulate per lane with Kahan compensation, in a few
 * accumulators used in turn (one would chain every addition to the last),
 * and combine in a fixed order, so the result depends on the shape only.
 * A group with carried values repeats its nodes `reps` times per element.
 * With one work-item the epilogue runs here; with several, each writes its
 * partial sums and NAME_finish folds them in order.
 * Placeholders: NAME, PARAMS, DECLS (accumulators), VECTOR_LOOP, SCALAR_BODY,
 * INDEX (coordinates c0.. of `gid` for mapped loads), COMBINE (lanes into
 * the scalar accumulators), END (the epilogue or the partial stores). */
__kernel void $NAME($PARAMS)
{
    const uint p = get_global_id(0);
    if (p >= P)
        return;
    const uint start = p * chunk;
    const uint stop = min(start + chunk, n);
$DECLS
    uint gid = start;
$VECTOR_LOOP
    for (; gid < stop; ++gid) {
$INDEX
$SCALAR_BODY
    }
$COMBINE
$END
}
