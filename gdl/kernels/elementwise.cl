/* A fused elementwise group: one work-item per element of the group's shape.
 * Placeholders (string.Template): NAME, PARAMS (inputs, scalars, outputs,
 * sizes), INDEX (coordinate decomposition for broadcast inputs), BODY (loads,
 * the inlined op expressions, stores).  Inputs with the group's own shape read
 * element gid; broadcast inputs read through strides (0 on stretched axes),
 * so a broadcast never copies. */
__kernel void $NAME($PARAMS)
{
    const $IDX gid = get_global_id(0);
    if (gid >= n)
        return;
$INDEX
$BODY
}
