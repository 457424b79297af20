/* The NaN/Inf check of a checked run (check_nan): what a kernel records for
 * a value x that is not finite, computed at step s.  The flag is 4 s + kind
 * (kind 0 NaN, 1 +Inf, 2 -Inf), so the smallest flag of a slot is its
 * earliest step, and at one step NaN comes before +Inf before -Inf; steps
 * past 2^30 - 1 count as that one.  GDL_NFL is the same lane by lane for a
 * vector x, all ones in its finite lanes (U: uint8 for float8, ulong4 for
 * double4, the unsigned type of its comparisons).  Included only in the
 * programs of checked plans.  No placeholders. */
#define GDL_NF_STEP(s) (min((uint)(s), 0x3FFFFFFFu) * 4u)
#define GDL_NF(x, s) (GDL_NF_STEP(s) + (isnan(x) ? 0u : ((x) > 0 ? 1u : 2u)))
#define GDL_NFL(x, s, U) select((U)GDL_NF_STEP(s) + select(select((U)2, (U)1, as_##U((x) > 0)), \
                                                        (U)0, as_##U(isnan(x))), \
                                (U)UINT_MAX, as_##U(isfinite(x)))
