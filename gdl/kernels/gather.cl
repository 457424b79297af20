/* Kernels that place elements (embed, concat): one work-item per output
 * element, which finds where its value comes from.  Placeholders: NAME,
 * PARAMS (buffers, then `n` and the sizes), BODY (coordinates c0.. of gid,
 * then the store). */
__kernel void $NAME($PARAMS)
{
    const uint gid = get_global_id(0);
    if (gid >= n)
        return;
$BODY
}
