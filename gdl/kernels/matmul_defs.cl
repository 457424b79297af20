/* Unaligned vector access for the matmul kernels, defined once per program
 * and element type.  Placeholder: T (the OpenCL C element type).
 * Under clang (PoCL, and most other drivers), a dereference of a vector type
 * aligned to its element is one unaligned vector load or store; PoCL leaves
 * vloadN/vstoreN (like every builtin) as out-of-line calls, which spill the
 * register tile and cost ~10x.  Other compilers get vloadN/vstoreN, as does
 * a build with -DGDL_MM_PORTABLE (how the tests cover that path). */
#ifndef GDL_MM_DEFS_$T
#define GDL_MM_DEFS_$T
#if defined(__clang__)
typedef $T gdl_mm_${T}4 __attribute__((ext_vector_type(4), aligned(sizeof($T))));
typedef $T gdl_mm_${T}8 __attribute__((ext_vector_type(8), aligned(sizeof($T))));
#endif
#endif
#ifndef GDL_MM_ACCESS
#define GDL_MM_ACCESS
#if defined(__clang__) && !defined(GDL_MM_PORTABLE)
#define GDL_MM_LOAD(T, n, p) (*(__global const gdl_mm_##T##n *)(p))
#define GDL_MM_STORE(T, n, p, v) (*(__global gdl_mm_##T##n *)(p) = (v))
#else
#define GDL_MM_LOAD(T, n, p) vload##n(0, (p))
#define GDL_MM_STORE(T, n, p, v) vstore##n((v), 0, (p))
#endif
#endif
