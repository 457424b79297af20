"""The speed bench of issue 5: `python bench/run.py [--quick] [--only W1,W3] [--json FILE]`.

Times forward + gradient per call of workloads W1-W4 for GDL (`run()` with
host arrays, and a Session with values resident), NumPy written by hand, and
PyTorch eager and JAX jit where installed, interleaved in one process; times
W5, the CLI as a fresh process; prints W1's time per element from 2^16 to
2^26 elements; and measures the limits the targets are fractions of (device
copy bandwidth for W1, NumPy's GEMM rate for W2) interleaved with the peers,
so a limit and a peer are timed under the same load.  Every peer's results
are checked against a float64 reference, and a disagreement prints FAIL.

Why a report on stdout and progress on stderr: the report is what goes into
a closing note or a file (`> bench.txt`), and `--json` keeps every sample.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:            # run as a script: make `bench` importable
    sys.path.insert(0, str(ROOT))

from bench import timing, workloads as wls  # noqa: E402
from bench.workloads import GDL_RUN, GDL_SESSION, JAX, NUMPY, TORCH  # noqa: E402

SECTIONS = ("W1", "W2", "W3", "W4", "W5", "curve", "nancheck")
PEER_FLAGS = {"gdl-run": GDL_RUN, "gdl-session": GDL_SESSION, "numpy": NUMPY,
              "torch": TORCH, "jax": JAX}
CURVE_RANGE = (22, 26)      # issue 5: time per element within 1.3x over 2^22..2^26


@dataclass(frozen=True)
class Settings:
    """How long to time: the full run, or --quick for a look in about a minute or two."""

    warmup: int
    min_reps: int
    max_reps: int
    budget_s: float
    min_batch_s: float
    curve: tuple[int, int]
    curve_reps: int
    curve_budget_s: float
    w5_reps: int


FULL = Settings(warmup=2, min_reps=7, max_reps=50, budget_s=20.0, min_batch_s=0.05,
                curve=(16, 26), curve_reps=5, curve_budget_s=5.0, w5_reps=5)
QUICK = Settings(warmup=2, min_reps=3, max_reps=20, budget_s=4.0, min_batch_s=0.02,
                 curve=(16, 22), curve_reps=3, curve_budget_s=1.0, w5_reps=3)


# -- small helpers ---------------------------------------------------------------------

def parse_size(text: str) -> int:
    """An integer written as 4096, 2^12, 2**12 or 1<<12."""
    t = text.strip().replace(" ", "")
    m = re.fullmatch(r"(\d+)(?:\^|\*\*)(\d+)", t)
    if m:
        return int(m.group(1)) ** int(m.group(2))
    m = re.fullmatch(r"(\d+)<<(\d+)", t)
    if m:
        return int(m.group(1)) << int(m.group(2))
    if t.isdigit():
        return int(t)
    raise ValueError(f"not a size: {text!r} (write 4096, 2^12 or 1<<12)")


def parse_sizes(items: list[str]) -> dict[str, dict[str, int]]:
    """`W1.N=2^20,W2.B=256` (any number of flags) as {"W1": {"N": ...}, "W2": {...}}."""
    out: dict[str, dict[str, int]] = {}
    for item in ",".join(items).split(","):
        if not item.strip():
            continue
        m = re.fullmatch(r"\s*(W\d)\.(\w+)\s*=\s*(.+)", item)
        if not m:
            raise ValueError(f"--sizes wants WORKLOAD.NAME=SIZE, e.g. W1.N=2^20; "
                             f"found {item!r}")
        out.setdefault(m.group(1), {})[m.group(2)] = parse_size(m.group(3))
    return out


def pow2(n: int) -> str:
    """`2^24` for powers of two, else the number."""
    return f"2^{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt_ratio(r: float | None) -> str:
    """A time ratio with two or three significant digits: 0.42x, 1.00x, 12.3x, 135x."""
    if r is None:
        return "-"
    if r < 10:
        return f"{r:.2f}x"
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]

    def line(cells):
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return indent + "  ".join(parts).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


class Report:
    """The printed report and the JSON record, built side by side."""

    def __init__(self):
        self.record: dict[str, Any] = {"targets": []}
        self.targets: list[tuple[str, str, bool | None]] = []
        self.failures: list[str] = []

    def out(self, text: str = "") -> None:
        print(text, flush=True)

    def target(self, what: str, measured: str, met: bool | None) -> None:
        self.targets.append((what, measured, met))
        self.record["targets"].append({"target": what, "measured": measured, "met": met})


# -- the header ----------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_jiffies() -> tuple[float, float] | None:
    """(busy, total) seconds of all CPUs since boot, from /proc/stat; None where absent."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return (sum(fields) - idle) / tick, sum(fields) / tick


def others_share(start: tuple[float, float] | None, own_start: float) -> float | None:
    """The share of all CPUs that other processes used since `start`.

    Why: the machine may be shared, and a bench whose neighbours took half
    the cores is noise; PyTorch suffers most, since one descheduled OpenMP
    thread stalls its whole parallel region.
    """
    end = cpu_jiffies()
    if start is None or end is None or end[1] <= start[1]:
        return None
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system - own_start
    return max(0.0, (end[0] - start[0] - own) / (end[1] - start[1]))


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gdl"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in gdl/' if dirty else ''}" if head else "unknown"


def peer_versions() -> dict[str, str]:
    """Which peers are installed, with what the report should say about each."""
    import numpy as np
    found = {NUMPY: f"NumPy {np.__version__}"}
    try:
        import torch
        found[TORCH] = f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        found[TORCH] = "PyTorch not installed"
    try:
        import jax
        found[JAX] = f"JAX {jax.__version__} ({jax.default_backend()})"
    except ImportError:
        found[JAX] = "JAX not installed"
    return found


def header(rep: Report, quick: bool) -> None:
    import pyopencl

    from gdl.runtime import device as devices
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    device = devices.select().describe()
    versions = peer_versions()
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    rep.out(f"GDL bench (issue 5), {'--quick' if quick else 'full'} run, {when}")
    rep.out(f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs "
            f"({cpu_model()}), load average {load1:.2f} at start")
    rep.out(f"device:  {device}")
    rep.out(f"gdl:     {git_state()}; pyopencl {pyopencl.VERSION_TEXT}")
    rep.out(f"peers:   {'; '.join(versions.values())}")
    rep.record["machine"] = {"cpus": os.cpu_count(), "cpu": cpu_model(), "load1": load1,
                             "device": device, "peers": versions, "when": when,
                             "gdl": git_state(), "quick": quick}


# -- one workload ------------------------------------------------------------------------

def make_limit(wl: wls.Workload):
    """The machine's limit a workload's rate is a fraction of, as an interleavable call."""
    if wl.wid == "W1":
        return timing.CopyLimit()
    if wl.wid == "W2":
        p = wl.params
        return timing.GemmLimit(p["B"], p["D"], p["O"], wls.w2_flops(p))
    return None


def bench_workload(rep: Report, wl: wls.Workload, peers: list[str], st: Settings
                   ) -> dict[str, Any]:
    """Time, check and print one workload; its record (medians, checks, counters)."""
    sizes = ", ".join(f"{k}={pow2(v)}" for k, v in wl.params.items())
    rep.out("")
    rep.out(f"{wl.wid}  {wl.spec.title}")
    notes = wl.notes()
    rep.out(f"    {sizes + '; ' if sizes else ''}grad {', '.join(wl.grads)}"
            f"{'; ' + notes if notes else ''}")
    record: dict[str, Any] = {"params": wl.params, "peers": {}}
    runners: dict[str, wls.Runner] = {}
    skipped: list[str] = []
    errors: dict[str, str] = {}
    for peer in peers:
        progress(f"{wl.wid}: preparing {peer}")
        try:
            runners[peer] = wls.make_runner(peer, wl)
        except wls.Unavailable as why:
            skipped.append(f"{peer}: skipped: {why}")
        except Exception as err:  # noqa: BLE001 - report it, bench the others
            errors[peer] = f"{type(err).__name__}: {err}"
    calls = {p: r.call for p, r in runners.items()}
    limit = None
    try:
        limit = make_limit(wl)
    except Exception as err:  # noqa: BLE001
        errors["limit"] = f"{type(err).__name__}: {err}"
    if limit is not None:
        rep.out(f"    limit: {limit.describe()}")
        calls[limit.label] = limit.call

    def on_error(peer: str, err: BaseException) -> None:
        errors[peer] = f"{type(err).__name__}: {err}"

    progress(f"{wl.wid}: timing {', '.join(calls)}")
    times = timing.measure(calls, warmup=st.warmup, min_reps=st.min_reps,
                           max_reps=st.max_reps, budget_s=st.budget_s,
                           min_batch_s=st.min_batch_s, on_error=on_error)
    progress(f"{wl.wid}: checking results")
    ref = wl.reference()
    checks: dict[str, list[str]] = {}
    for peer, t in times.items():
        if peer not in runners:
            continue
        try:
            checks[peer] = wls.check(wl, runners[peer].result(t.last), ref)
        except Exception as err:  # noqa: BLE001
            checks[peer] = [f"reading the result failed: {type(err).__name__}: {err}"]

    work = wl.work()
    limit_rate = None
    if limit is not None and limit.label in times:
        amount = limit.bytes if isinstance(limit, timing.CopyLimit) else limit.flops
        limit_rate = amount / times[limit.label].median / 1e9
        record["limit"] = {"what": limit.describe(), "rate": limit_rate,
                           "best_rate": amount / min(times[limit.label].samples) / 1e9}
    med = {p: t.median for p, t in times.items() if p in runners}
    headers = ["peer", "time/call", "±", "calls"]
    if work:
        headers += [work[1]] + (["% limit"] if limit_rate else [])
    headers += ["GDL run()/peer", "GDL Session/peer", "check"]
    rows = []
    for peer, t in times.items():
        is_limit = peer not in runners
        row = [peer, fmt_time(t.median), f"{t.spread * 100:.0f}%",
               f"{len(t.samples)}x{t.batch}"]
        rate = None
        if work:
            rate = limit_rate if is_limit else work[0] / t.median / 1e9
            row.append(f"{rate:.3g}")
            if limit_rate:
                row.append(f"{100 * rate / limit_rate:.1f}%")
        if is_limit:
            row += ["", "", ""]
            rows.append(row)
            continue
        ratios = [med[g] / t.median if g in med else None for g in (GDL_RUN, GDL_SESSION)]
        row += [fmt_ratio(r) for r in ratios]
        row.append("ok" if not checks[peer] else "FAIL")
        rows.append(row)
        record["peers"][peer] = {"median_s": t.median, "spread": t.spread,
                                 "samples_s": t.samples, "batch": t.batch, "rate": rate,
                                 "limit_fraction": rate / limit_rate if rate and limit_rate
                                 else None, "problems": checks[peer]}
    if rows:
        rep.out(table(headers, rows))
    for peer, problems in checks.items():
        for p in problems:
            rep.out(f"  FAIL {peer} disagrees with the float64 reference: {p}")
            rep.failures.append(f"{wl.wid} {peer}: {p}")
    for peer, text in errors.items():
        rep.out(f"  ERROR {peer}: {text}")
        rep.failures.append(f"{wl.wid} {peer}: error: {text}")
        record["peers"][peer] = {"error": text}
    for line in skipped:
        rep.out(f"  {line}")
    record["skipped"] = skipped
    if wl.wid == "W4":
        record["counters"] = counters(rep, runners, times)
    record["medians"] = med
    del runners
    gc.collect()
    return record


def counters(rep: Report, runners: dict[str, wls.Runner], times: dict) -> dict[str, Any]:
    """GDL's device counters for one call of each GDL peer (issue 5's W4 asks 1 and 1)."""
    found = {}
    for peer in (GDL_RUN, GDL_SESSION):
        r = runners.get(peer)
        if r is None or r.counted is None or peer not in times:
            continue
        c = r.counted()
        found[peer] = c
        rep.out(f"  {peer} counters per call: {c['launches']} launches, "
                f"{c['blocking_reads']} blocking reads, {c['bytes_to_device']} B to and "
                f"{c['bytes_from_device']} B from the device, {c['kernel_builds']} builds")
    return found


# -- targets -----------------------------------------------------------------------------

def ratio_target(rep: Report, what: str, rec: dict | None, gdl: str, peer: str,
                 limit: float) -> None:
    if rec is None:                 # the workload was not in this run's sections
        return
    med = rec.get("medians", {})
    if gdl in med and peer in med:
        r = med[gdl] / med[peer]
        rep.target(what, f"{r:.2f}x", r <= limit)
    else:
        rep.target(what, "not measured", None)


def workload_targets(rep: Report, recs: dict[str, dict]) -> None:
    w1, w2 = recs.get("W1"), recs.get("W2")
    if w1 is not None:
        frac = w1["peers"].get(GDL_SESSION, {}).get("limit_fraction")
        rep.target("W1 Session >= 60% of copy bandwidth (75% stretch)",
                   f"{100 * frac:.1f}%" if frac else "not measured",
                   frac >= 0.60 if frac else None)
    ratio_target(rep, "W1 run() <= 0.5x JAX jit", w1, GDL_RUN, JAX, 0.5)
    if w2 is not None:
        for gdl in (GDL_SESSION, GDL_RUN):
            rate = w2["peers"].get(gdl, {}).get("rate")
            rep.target(f"W2 {gdl} >= 40 GFLOP/s (100 stretch)",
                       f"{rate:.1f} GFLOP/s" if rate else "not measured",
                       rate >= 40 if rate else None)
    for gdl in (GDL_RUN, GDL_SESSION) if "W3" in recs else ():
        ratio_target(rep, f"W3 {gdl} <= 1.0x PyTorch", recs["W3"], gdl, TORCH, 1.0)
    for gdl in (GDL_RUN, GDL_SESSION) if "W4" in recs else ():
        ratio_target(rep, f"W4 {gdl} <= 1.5x PyTorch", recs["W4"], gdl, TORCH, 1.5)
    for gdl in (GDL_RUN, GDL_SESSION):
        c = recs.get("W4", {}).get("counters", {}).get(gdl)
        if c:
            rep.target(f"W4 {gdl}: 1 launch and 1 blocking read per call",
                       f"{c['launches']} and {c['blocking_reads']}",
                       c["launches"] == 1 and c["blocking_reads"] == 1)


# -- W5 and the curve -------------------------------------------------------------------

def gdl_command() -> list[str]:
    """The `gdl` console script of this interpreter's environment."""
    here = Path(sys.executable).parent / "gdl"
    if here.exists():
        return [str(here)]
    found = shutil.which("gdl")
    if found:
        return [found]
    raise RuntimeError("no `gdl` command found (pip install -e . in this environment)")


def bench_w5(rep: Report, st: Settings) -> dict[str, Any]:
    rep.out("")
    rep.out("W5  `gdl run programs/seed/dot.gdl --grad x` as a fresh process")
    progress("W5: timing the CLI")
    try:
        argv = gdl_command() + ["run", "programs/seed/dot.gdl", "--grad", "x"]
        cli = timing.process_seconds(argv, st.w5_reps, cwd=str(ROOT),
                                     check=lambda out: "28" in out)
        floor = timing.process_seconds([sys.executable, "-c", "pass"], st.w5_reps)
    except Exception as err:  # noqa: BLE001
        rep.out(f"  ERROR: {err}")
        rep.failures.append(f"W5: {err}")
        rep.target("W5 <= 0.5 s with warm caches", "error", None)
        return {"error": str(err)}
    rep.out(f"  {fmt_time(cli['median'])} median of {len(cli['samples'])} runs after one "
            f"warm-up (min {fmt_time(min(cli['samples']))}); a bare `python -c pass` "
            f"takes {fmt_time(floor['median'])}")
    rep.target("W5 <= 0.5 s with warm caches", fmt_time(cli["median"]), cli["median"] <= 0.5)
    return {"cli": cli, "python": floor}


def bench_nancheck(rep: Report, st: Settings) -> dict[str, Any]:
    """Issue 6: `run(check_nan=True)` costs at most 2x a normal run, per workload."""
    rep.out("")
    rep.out("--check-nan: run() with check_nan=True against a normal run() (issue 6: <= 2x)")
    import gdl
    rows, record = [], {}
    for wid in ("W1", "W2", "W3", "W4"):
        progress(f"nancheck: {wid}")
        wl = wls.load(wid)
        prog = gdl.compile(wl.source, wl.filename)
        grads = list(wl.grads)
        calls = {mode: (lambda c=(mode == "checked"): prog.run(inputs=wl.data, grad=grads,
                                                                check_nan=c))
                 for mode in ("normal", "checked")}
        times = timing.measure(calls, warmup=st.warmup, min_reps=st.min_reps,
                               max_reps=st.max_reps, budget_s=st.budget_s / 2,
                               min_batch_s=st.min_batch_s)
        clean = times["checked"].last.nonfinite is None
        ratio = times["checked"].median / times["normal"].median
        record[wid] = {"normal": times["normal"].median, "checked": times["checked"].median,
                       "ratio": ratio, "clean": clean}
        rows.append([wid, fmt_time(times["normal"].median), fmt_time(times["checked"].median),
                     f"{ratio:.2f}x", "none found" if clean else "FOUND (unexpected)"])
        rep.target(f"{wid} run(check_nan=True) <= 2x run()", f"{ratio:.2f}x",
                   ratio <= 2.0 and clean)
    rep.out(table(["workload", "run()", "check_nan", "ratio", "NaN/Inf"], rows))
    return record


def bench_curve(rep: Report, st: Settings, lo: int, hi: int, peers: list[str]
                ) -> dict[str, Any]:
    """W1's time per element at every power of two from 2^lo to 2^hi, GDL only."""
    modes = [p for p in (GDL_RUN, GDL_SESSION) if p in peers]
    rep.out("")
    rep.out(f"W1 time per element, ns (N = 2^{lo} .. 2^{hi}; GDL only, each N interleaved)")
    rows, record = [], {}
    per_elem: dict[str, dict[int, float]] = {m: {} for m in modes}
    for e in range(lo, hi + 1):
        n = 1 << e
        progress(f"curve: N = 2^{e}")
        wl = wls.load("W1", {"N": n})
        errors: dict[str, str] = {}
        runners = {}
        for m in modes:
            try:
                runners[m] = wls.make_runner(m, wl)
            except Exception as err:  # noqa: BLE001
                errors[m] = f"{type(err).__name__}: {err}"
        times = timing.measure({m: r.call for m, r in runners.items()}, warmup=1,
                               min_reps=st.curve_reps, max_reps=st.curve_reps * 4,
                               budget_s=st.curve_budget_s, min_batch_s=st.min_batch_s,
                               on_error=lambda m, err: errors.__setitem__(
                                   m, f"{type(err).__name__}: {err}"))
        ref = wl.reference()
        row = [f"2^{e}"]
        for m in modes:
            if m in times:
                per_elem[m][e] = times[m].median / n * 1e9
                problems = wls.check(wl, runners[m].result(times[m].last), ref)
                row.append(f"{per_elem[m][e]:.3g}" + (" FAIL" if problems else ""))
                for p in problems:
                    rep.failures.append(f"curve 2^{e} {m}: {p}")
            else:
                row.append("error")
        for m, text in errors.items():
            rep.failures.append(f"curve 2^{e} {m}: error: {text}")
        rows.append(row)
        record[e] = {m: per_elem[m].get(e) for m in modes}
        del runners, times, wl
        gc.collect()
    rep.out(table(["N"] + modes, rows))
    a, b = CURVE_RANGE
    spread = {}
    for m in modes:
        pts = [v for k, v in per_elem[m].items() if a <= k <= b]
        what = f"W1 {m} time per element max/min over 2^{a}..2^{b} <= 1.3"
        if len(pts) == b - a + 1:
            spread[m] = max(pts) / min(pts)
            rep.target(what, f"{spread[m]:.2f}", spread[m] <= 1.3)
        else:
            rep.target(what, f"curve ends at 2^{hi}", None)
    if spread:
        rep.out("  max/min over 2^{}..2^{}: {}".format(
            a, b, ", ".join(f"{m} {v:.2f}" for m, v in spread.items())))
    return {"ns_per_element": record, "max_over_min": spread}


# -- main --------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Time GDL against NumPy, PyTorch and JAX on issue 5's workloads.")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repetitions, the curve only to 2^22 (a minute or two)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run, of {','.join(SECTIONS)}")
    ap.add_argument("--sizes", action="append", default=[],
                    help="size overrides, e.g. W1.N=2^20,W2.B=256,W2.D=128,W2.O=32,W3.N=2^16")
    ap.add_argument("--curve", metavar="LO:HI",
                    help="exponents of W1's per-element curve (default 16:26, --quick 16:22)")
    ap.add_argument("--peers", default=",".join(PEER_FLAGS),
                    help=f"comma-separated peers, of {','.join(PEER_FLAGS)}")
    ap.add_argument("--json", metavar="FILE", help="also write every sample to FILE as JSON")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    st = QUICK if args.quick else FULL
    try:
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in only if s not in SECTIONS]
        if bad:
            raise ValueError(f"--only: no section {', '.join(bad)} (there are "
                             f"{', '.join(SECTIONS)})")
        peers = [PEER_FLAGS[p.strip()] if p.strip() in PEER_FLAGS else p.strip()
                 for p in args.peers.split(",") if p.strip()]
        bad = [p for p in peers if p not in wls.PEERS]
        if bad:
            raise ValueError(f"--peers: no peer {', '.join(bad)} (there are "
                             f"{', '.join(PEER_FLAGS)})")
        sizes = parse_sizes(args.sizes)
        lo, hi = st.curve
        if args.curve:
            lo, hi = (int(x) for x in args.curve.split(":"))
        loaded = {w: wls.load(w, sizes.get(w)) for w in ("W1", "W2", "W3", "W4") if w in only}
        unused = sorted(set(sizes) - set(loaded))
        if unused:
            raise ValueError(f"--sizes names {', '.join(unused)}, which this run does not time")
    except ValueError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    busy_start = cpu_jiffies()
    t0 = os.times()
    own_start = t0.user + t0.system + t0.children_user + t0.children_system
    rep = Report()
    header(rep, args.quick)
    recs: dict[str, dict] = {}
    for wid, wl in loaded.items():
        recs[wid] = bench_workload(rep, wl, peers, st)
    loaded.clear()
    rep.record["workloads"] = recs
    workload_targets(rep, recs)
    if "W5" in only:
        rep.record["W5"] = bench_w5(rep, st)
    if "curve" in only:
        rep.record["curve"] = bench_curve(rep, st, lo, hi, peers)
    if "nancheck" in only:
        rep.record["nancheck"] = bench_nancheck(rep, st)
    elapsed = time.perf_counter() - start
    rep.out("")
    rep.out("targets (issues 5 and 6)")
    rep.out(table(["target", "measured", ""],
                  [[w, m, {True: "met", False: "missed", None: "n/a"}[ok]]
                   for w, m, ok in rep.targets]))
    rep.out("")
    if rep.failures:
        rep.out(f"FAIL: {len(rep.failures)} disagreement(s) or error(s):")
        for f in rep.failures:
            rep.out(f"  {f}")
    else:
        rep.out("all timed peers agree with the float64 reference")
    share = others_share(busy_start, own_start)
    rep.record["others_cpu_share"] = share
    if share is not None:
        rep.out(f"other processes used {100 * share:.0f}% of the CPUs during the run"
                + ("; times are noisy, rerun on a quiet machine" if share > 0.1 else ""))
    rep.out(f"bench took {elapsed:.0f} s")
    rep.record["failures"] = rep.failures
    rep.record["seconds"] = elapsed
    if args.json:
        Path(args.json).write_text(json.dumps(rep.record, indent=1, default=str) + "\n")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
