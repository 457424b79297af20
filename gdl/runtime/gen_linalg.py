"""Kernel generators for `Kernel(name)` lowerings of the linalg ops (see codegen.kernels_for).

Owns the lowering of `matmul`.  Operands are read as M x K and K x N
matrices through index maps (a vector is a 1 x K or K x 1 matrix, a
`transpose_*` flag swaps the operand's strides), so no operand is copied.
A product runs in one of four layouts, nn, tn, nt, tt (which operands are
read transposed), each with kernel text of its own for a register `Tile`
(tuning.py: per device kind, optionally timed once per device):

- nn, tn, tt: the "rows" scheme (kernels/matmul_tiled.cl).  One operand is
  contiguous along an output dimension (B's rows for nn and tn; A's rows,
  i.e. A^T's columns, for tt): a work-item loads it as vectors and
  broadcasts the other operand's elements against them, accumulating a
  tile of outputs in registers.  Each output is the in-order sum over k
  with fused products whatever the tile, grouping or k blocking, so tuning
  never changes results (and the plain kernel gives the same bits).
- nt: the "dot" scheme (kernels/matmul_dot.cl).  Both operands are
  contiguous along k, so each output is a dot product of two rows, summed
  as `lanes`-wide vectors and then by one fixed tree: the order depends on
  the shape and the lane count (8 on CPUs, 4 on GPU-like devices).
- the plain kernel (kernels/matmul.cl), one output per work-item, for
  outputs narrower than any tile (same order as the rows scheme).

A dimension of size 1 makes an operand's two layouts the same memory, so
N = 1 (matrix @ vector) runs as nt or tt, and M = 1 as nn or nt.
Kernel text depends on the dtype, layout and tile; sizes (and the number of
tiles per work-item) are arguments, so new shapes reuse the build (a size
below the tile's width picks a narrower tile: one more build).  A vector .
vector product is the `dot` reduction (compensated, ordered partials).
Products are fused into sums (FP_CONTRACT ON inside these kernels only):
PoCL leaves `fma()`, like every builtin, an out-of-line call that spills
the register tile (~10x slower), and a device contracts the same way on
every run, so results stay bitwise repeatable.
`fastest` times tiles for tuning.py's first choice on a device (the only
place here that runs kernels).
Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`, `runtime.gen_reduce`,
`runtime.tuning`; numpy and pyopencl only to time.
"""
from __future__ import annotations

import time
from dataclasses import replace
from types import MappingProxyType
from typing import NamedTuple

from ..dtype import F64, I32, DType
from ..ir import Node
from ..ops.linalg import matmul_dims
from . import gen_reduce, tuning
from .kernel_text import FP64_PRAGMA, Arg, KernelSpec, kernel_name, template
from .tuning import DOT, ROWS, Tile

# The kernel scheme of each layout.
SCHEMES = MappingProxyType({"nn": ROWS, "tn": ROWS, "tt": ROWS, "nt": DOT})

# Fewest work-items a grouped launch aims for: PoCL splits a launch into one
# work-group per core, and several work-items per core keep them even.
MIN_ITEMS = 64


class Gemm(NamedTuple):
    """One matmul kernel for one shape: its name and text (which depend on the
    dtype, layout and tile only), work size, and its integer arguments after
    the three buffers (M, N, K, then for the rows scheme the tiles per
    work-item along U and V)."""

    name: str
    text: str
    global_size: int
    sizes: tuple[int, ...]


TUNE_MIN_WORK = 1 << 24        # multiply-adds of the smallest product that starts a tuning


def matmul(node: Node, device=None) -> list[KernelSpec]:
    """The kernel of one matmul node, tiled for `device` (None: the CPU defaults)."""
    a, b = node.inputs
    if a.type.rank == 1 and b.type.rank == 1:
        # Vector . vector is a dot product: use its (compensated) reduction.
        return gen_reduce.reduction(Node("dot", node.inputs, (), node.outputs, (), node.span))
    ta, tb = bool(node.attr("transpose_a")), bool(node.attr("transpose_b"))
    m, k, _, n = matmul_dims(a.type, b.type, ta, tb)
    dt = node.out.type.dtype
    layout = layout_of(m, n, ta, tb)
    # Timing tiles costs seconds: worth it for a product big enough to feel it.
    timer = fastest if m * n * k >= TUNE_MIN_WORK else None
    tile = tuning.tile_for(device, SCHEMES[layout], dt, timer)
    g = gemm_kernel(dt, layout, tile, m, n, k)
    args = (Arg("in", a), Arg("in", b), Arg("out", node.out)) + tuple(
        Arg("u32", v) for v in g.sizes)
    return [KernelSpec(g.name, g.text, args, g.global_size, dt == F64)]


def layout_of(m: int, n: int, ta: bool, tb: bool) -> str:
    """The layout a product runs as: "nn", "tn", "nt" or "tt".

    With N = 1, B's K x 1 and 1 x K forms are the same memory, and with
    M = 1 so are A's, so those flags are free: matrix @ vector runs as nt
    (a dot product per row) or tt (vectors down A^T's columns), and a
    single row as nn or nt, the forms that read those operands fastest.
    """
    if n == 1:
        tb = True
    if m == 1:
        ta = False
    return ("t" if ta else "n") + ("t" if tb else "n")


def gemm_kernel(dt: DType, layout: str, tile: Tile | None, m: int, n: int, k: int,
                min_items: int = MIN_ITEMS) -> Gemm:
    """The kernel of an M x K by K x N product in `layout` with `tile` (None:
    the plain kernel), grouping tiles while that leaves `min_items` work-items."""
    t = elem_type(dt)
    sizes: tuple[int, ...] = (m, n, k)
    if layout == "nt" and tile is not None:
        text, size = _dot(t, tile), -(-m // tile.rows) * -(-n // 4)
    else:
        u_size, v_size = (n, m) if layout == "tt" else (m, n)
        fitted = None if tile is None else _fit(tile, v_size)
        if fitted is None:
            text, size = _plain(t, layout), m * n
        else:
            tiles_u, tiles_v = -(-u_size // fitted.rows), -(-v_size // fitted.cols)
            gu, gv = groups(fitted, tiles_u, tiles_v, min_items)
            text, size = _rows(t, layout, fitted), -(-tiles_u // gu) * -(-tiles_v // gv)
            sizes += (gu, gv)
    name = kernel_name("gdl_mm", text)
    return Gemm(name, text.replace("$NAME", name), size, sizes)


def groups(tile: Tile, tiles_u: int, tiles_v: int, min_items: int = MIN_ITEMS
           ) -> tuple[int, int]:
    """Tiles per work-item along U and V: up to `tile.group` each, fewer when
    the product has too few tiles to give every core several work-items."""
    gu = gv = tile.group
    while gu * gv > 1 and -(-tiles_u // gu) * -(-tiles_v // gv) < min_items:
        if gu >= gv:
            gu //= 2
        else:
            gv //= 2
    return gu, gv


def standalone_source(text: str, dt: DType) -> str:
    """A program of one matmul kernel (tuning and tests build these directly)."""
    return template("prelude.cl").substitute(FP64=FP64_PRAGMA if dt == F64 else "") + text


def elem_type(dt: DType) -> str:
    """The kernels' element type: i32 as uint, so sums and products wrap (no UB)."""
    return "uint" if dt == I32 else dt.c_name


def _fit(tile: Tile, vdim: int) -> Tile | None:
    """The rows-scheme tile for a vector dimension of `vdim`: `tile`, else one
    vector wide, else 4 lanes, else None (the plain kernel)."""
    for cols, lanes in ((tile.cols, tile.lanes), (tile.lanes, tile.lanes), (4, 4)):
        if cols <= vdim:
            return replace(tile, cols=cols, lanes=lanes)
    return None


def _defs(t: str) -> str:
    return template("matmul_defs.cl").substitute(T=t)


def _vec(t: str, n: int) -> str:
    return t if n == 1 else f"{t}{n}"


def _plain(t: str, layout: str) -> str:
    a_at = "a[k * M + i]" if layout[0] == "t" else "a[i * K + k]"
    b_at = "b[j * K + k]" if layout[1] == "t" else "b[k * N + j]"
    return _defs(t) + template("matmul.cl").substitute(NAME="$NAME", T=t, A_AT=a_at,
                                                       B_AT=b_at)


def _rows(t: str, layout: str, tile: Tile) -> str:
    """The rows scheme's code: U is the broadcast dimension, V the vector one."""
    rows, cols, lanes, group, kb = tile.rows, tile.cols, tile.lanes, tile.group, tile.kblock
    vt = _vec(t, lanes)
    nvec = cols // lanes
    if layout == "tt":          # V = C's rows (A^T's columns), U = C's columns (B^T's rows)
        udim, vdim, s_base, s_row, s_step, v_base, v_step = "N", "M", "b", "K", "1", "a", "M"
    else:                       # V = C's columns (B's rows), U = C's rows (A's, or A^T's)
        udim, vdim, v_base, v_step = "M", "N", "b", "N"
        s_base, s_row, s_step = ("a", "1", "M") if layout == "tn" else ("a", "K", "1")
    parked = group > 1 or kb > 0          # partial sums kept in private memory
    gu, gv = ("GU", "GV") if parked else ("1u", "1u")
    accs = [(r, v) for r in range(rows) for v in range(nvec)]
    per_tile = rows * nvec
    code = [f"const uint tiles_u = ({udim} + {rows - 1}u) / {rows}u;",
            f"const uint tiles_v = ({vdim} + {cols - 1}u) / {cols}u;",
            f"const uint groups_v = (tiles_v + {gv} - 1u) / {gv};",
            "const uint gid = get_global_id(0);",
            f"if (gid >= (tiles_u + {gu} - 1u) / {gu} * groups_v)",
            "    return;",
            f"const uint tu0 = gid / groups_v * {gu};",
            f"const uint tv0 = (gid - gid / groups_v * groups_v) * {gv};"]
    if parked:
        code += [f"{vt} park[{group * group * per_tile}];",
                 f"for (uint x = 0; x < {group * group * per_tile}u; ++x)",
                 "    park[x] = 0;"]

    def each_tile(inner: list[str]) -> list[str]:
        """`inner` once per tile of the work-item, with u0, v_start, v0 and slot set."""
        head = [f"for (uint p = 0; p < {gu}; ++p) {{",
                f"    const uint u0 = (tu0 + p) * {rows}u;",
                f"    if (u0 >= {udim})",
                "        break;",
                f"    for (uint q = 0; q < {gv}; ++q) {{",
                f"        const uint v_start = (tv0 + q) * {cols}u;",
                f"        if (v_start >= {vdim})",
                "            break;",
                f"        const uint v0 = v_start < {vdim} - {cols}u ? v_start : "
                f"{vdim} - {cols}u;",
                f"        const uint slot = (p * {group}u + q) * {per_tile}u;"]
        return head + ["        " + line for line in inner] + ["    }", "}"]

    sweep = [f"const __global {t} *s{r} = {s_base} + (size_t)(u0 + {r}u < {udim} ? "
             f"u0 + {r}u : {udim} - 1u) * {s_row};" for r in range(rows)]
    sweep.append(f"const __global {t} *vp = {v_base} + v0;")
    sweep += [f"{vt} c{r}_{v} = " + (f"park[slot + {r * nvec + v}u];" if parked else "0;")
              for r, v in accs]
    sweep += [f"size_t ks = (size_t)kb * {s_step}, kv = (size_t)kb * {v_step};",
              "for (uint k = kb; k < ke; ++k) {"]
    sweep += [f"    const {vt} y{v} = GDL_MM_LOAD({t}, {lanes}, vp + kv + {v * lanes});"
              for v in range(nvec)]
    for r in range(rows):
        sweep.append(f"    const {vt} x{r} = ({vt})(s{r}[ks]);")
        sweep += [f"    c{r}_{v} = c{r}_{v} + x{r} * y{v};" for v in range(nvec)]
    sweep += [f"    ks += {s_step};", f"    kv += {v_step};", "}"]
    store = _store(t, layout, rows, nvec, lanes)
    if parked:
        sweep += [f"park[slot + {r * nvec + v}u] = c{r}_{v};" for r, v in accs]
        if kb:
            code += [f"for (uint kb = 0; kb < K; kb += {kb}u) {{",
                     f"    const uint ke = K - kb > {kb}u ? kb + {kb}u : K;"]
        else:
            code += ["{", "    const uint kb = 0, ke = K;"]
        code += ["    " + line for line in each_tile(sweep)] + ["}"]
        code += each_tile([f"const {vt} c{r}_{v} = park[slot + {r * nvec + v}u];"
                           for r, v in accs] + store)
    else:
        code += ["const uint kb = 0, ke = K;"] + each_tile(sweep + store)
    return _defs(t) + template("matmul_tiled.cl").substitute(
        NAME="$NAME", T=t, CODE="\n".join("    " + line for line in code))


def _store(t: str, layout: str, rows: int, nvec: int, lanes: int) -> list[str]:
    """A tile's stores.  Rows past U are dropped; the last tile along V, shifted
    back, stores only from `skip` on (the columns the tile before it left)."""
    cols = nvec * lanes
    out = ["const uint skip = v_start - v0;", f"{t} e[{cols}];"]
    for r in range(rows):
        if layout == "tt":      # the tile's rows are C's columns: scalar stores down C
            out += [f"if (u0 + {r}u < N) {{",
                    f"    __global {t} *o = c + (size_t)v0 * N + u0 + {r}u;"]
            out += [f"    vstore{lanes}(c{r}_{v}, {v}, e);" for v in range(nvec)]
            out += [f"    for (uint x = skip; x < {cols}u; ++x)",
                    "        o[(size_t)x * N] = e[x];", "}"]
            continue
        out += [f"if (u0 + {r}u < M) {{",
                f"    __global {t} *o = c + (size_t)(u0 + {r}u) * N + v0;",
                "    if (skip == 0) {"]
        out += [f"        GDL_MM_STORE({t}, {lanes}, o + {v * lanes}, c{r}_{v});"
                for v in range(nvec)]
        out += ["    } else {"]
        out += [f"        vstore{lanes}(c{r}_{v}, {v}, e);" for v in range(nvec)]
        out += [f"        for (uint x = skip; x < {cols}u; ++x)", "            o[x] = e[x];",
                "    }", "}"]
    return out


def _dot(t: str, tile: Tile) -> str:
    """The dot scheme (nt): rows x 4 outputs, `lanes`-wide partial sums along k."""
    rows, lanes = tile.rows, tile.lanes
    vt, t4 = _vec(t, lanes), _vec(t, 4)
    ptrs = [f"    const __global {t} *a{r} = a + "
            f"(size_t)(i0 + {r}u < M ? i0 + {r}u : M - 1u) * K;" for r in range(rows)]
    ptrs += [f"    const __global {t} *b{c} = b + "
             f"(size_t)(j0 + {c}u < N ? j0 + {c}u : N - 1u) * K;" for c in range(4)]
    zero = [f"    {vt} " + ", ".join(f"d{r}_{c} = 0" for c in range(4)) + ";"
            for r in range(rows)]
    body = [f"        const {vt} y{c} = GDL_MM_LOAD({t}, {lanes}, b{c} + k);" for c in range(4)]
    for r in range(rows):
        body.append(f"        const {vt} x{r} = GDL_MM_LOAD({t}, {lanes}, a{r} + k);")
        body += [f"        d{r}_{c} = d{r}_{c} + x{r} * y{c};" for c in range(4)]
    reduce = []
    for r in range(rows):
        # Each d{r}_{c} to one lane of s{r}: 8 lanes add their halves, then a
        # fixed pairwise tree over the 4 left, transposing as it goes.
        half = [f"d{r}_{c}.lo + d{r}_{c}.hi" if lanes == 8 else f"d{r}_{c}" for c in range(4)]
        reduce += [f"    const {t4} " + ", ".join(f"p{r}_{c} = {half[c]}" for c in range(4))
                   + ";",
                   f"    const {t4} q{r}_0 = ({t4})(p{r}_0.s01, p{r}_1.s01) + "
                   f"({t4})(p{r}_0.s23, p{r}_1.s23);",
                   f"    const {t4} q{r}_1 = ({t4})(p{r}_2.s01, p{r}_3.s01) + "
                   f"({t4})(p{r}_2.s23, p{r}_3.s23);",
                   f"    {t4} s{r} = ({t4})(q{r}_0.s02, q{r}_1.s02) + "
                   f"({t4})(q{r}_0.s13, q{r}_1.s13);"]
    tail = [f"        const {t4} z = ({t4})(b0[k], b1[k], b2[k], b3[k]);"]
    tail += [f"        s{r} = s{r} + ({t4})(a{r}[k]) * z;" for r in range(rows)]
    store = [f"    {t} e[4];"]
    for r in range(rows):
        store += [f"    if (i0 + {r}u < M) {{",
                  f"        __global {t} *o = c + (size_t)(i0 + {r}u) * N + j0;",
                  "        if (j0 + 4u <= N) {",
                  f"            GDL_MM_STORE({t}, 4, o, s{r});",
                  "        } else {",
                  f"            vstore4(s{r}, 0, e);",
                  "            for (uint x = 0; j0 + x < N; ++x)",
                  "                o[x] = e[x];",
                  "        }",
                  "    }"]
    return _defs(t) + template("matmul_dot.cl").substitute(
        NAME="$NAME", T=t, ROWS=rows, LANES=lanes, POINTERS="\n".join(ptrs),
        ZERO="\n".join(zero), BODY="\n".join(body), REDUCE="\n".join(reduce),
        TAIL="\n".join(tail), STORE="\n".join(store))


def _problems(scheme: str) -> tuple[tuple[str, int, int, int], ...]:
    """(layout, M, N, K) of the timed products: for the rows scheme a long-K
    tn one (a weight gradient), where the tiles differ most; one build each."""
    if scheme == ROWS:
        return (("tn", 256, 256, 1024),)
    return (("nt", 256, 256, 256),)


def fastest(device, scheme: str, dt: DType, options: tuple[Tile, ...]) -> Tile:
    """The candidate with the least total time over `_problems` (best of 3
    runs each, after one to warm up); the earlier one unless clearly beaten."""
    import numpy as np
    import pyopencl as cl

    rng = np.random.default_rng(0)
    mf = cl.mem_flags
    data = []
    for layout, m, n, k in _problems(scheme):
        a = rng.integers(-4, 5, (m, k)).astype(dt.np)
        b = rng.integers(-4, 5, (k, n)).astype(dt.np)
        bufs = [cl.Buffer(device.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=h)
                for h in (a, b)]
        bufs.append(cl.Buffer(device.context, mf.READ_WRITE, m * n * dt.itemsize))
        data.append((layout, m, n, k, bufs))
    best, best_t = options[0], float("inf")
    for tile in options:
        total = 0.0
        for layout, m, n, k, bufs in data:
            g = gemm_kernel(dt, layout, tile, m, n, k)
            try:
                prog = cl.Program(device.context, standalone_source(g.text, dt))
                kern = cl.Kernel(prog.build(options=device.build_options()), g.name)
            except cl.Error:
                total = float("inf")    # a tile this device cannot build is no candidate
                break
            kern.set_args(*bufs, *(np.uint32(v) for v in g.sizes))
            size = -(-g.global_size // 64) * 64
            times = []
            for _ in range(4):
                t0 = time.perf_counter()
                cl.enqueue_nd_range_kernel(device.queue, kern, (size,), None)
                device.queue.finish()
                times.append(time.perf_counter() - t0)
            total += min(times[1:])
        if total < best_t * tuning.WIN:
            best, best_t = tile, total
    return best


# name -> function(node) -> list[KernelSpec]
GENERATORS = MappingProxyType({"matmul": matmul})
