"""A smoke test of the speed bench (bench/): its workloads run and its checks bite.

Why here: the bench's numbers are only worth reading if every peer computes
the same thing and a wrong result is caught, so the same functions
`bench/run.py` uses run on tiny sizes with GDL and NumPy (and PyTorch and
JAX where installed), against the float64 reference.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run as bench_run  # noqa: E402
from bench import timing, workloads  # noqa: E402

TINY = {"W1": {"N": 1 << 10}, "W2": {"B": 32, "D": 16, "O": 8}, "W3": {"N": 1 << 8},
        "W4": {}}


@pytest.mark.opencl
@pytest.mark.parametrize("wid", sorted(TINY))
def test_gdl_and_numpy_agree_with_the_reference(wid):
    wl = workloads.load(wid, TINY[wid])
    ref = wl.reference()
    for peer in (workloads.GDL_RUN, workloads.GDL_SESSION, workloads.NUMPY):
        runner = workloads.make_runner(peer, wl)
        runner.call()
        out = runner.call()          # a second call: a Session must not accumulate
        assert workloads.check(wl, runner.result(out), ref) == [], peer


@pytest.mark.parametrize("peer,module", [(workloads.TORCH, "torch"), (workloads.JAX, "jax")])
def test_installed_peers_agree_with_the_reference(peer, module):
    pytest.importorskip(module)
    for wid in ("W1", "W2", "W4"):
        wl = workloads.load(wid, TINY[wid])
        runner = workloads.make_runner(peer, wl)
        assert workloads.check(wl, runner.result(runner.call()), wl.reference()) == [], wid


def test_jax_is_skipped_on_the_while_loop_with_the_reason():
    with pytest.raises(workloads.Unavailable, match="while_loop"):
        workloads.make_runner(workloads.JAX, workloads.load("W3", TINY["W3"]))


def test_check_reports_a_wrong_gradient_and_a_wrong_loss():
    wl = workloads.load("W1", TINY["W1"])
    loss, grads = wl.reference()
    bad = dict(grads, w=grads["w"] * (1 + 1e-2))
    problems = workloads.check(wl, (loss * 1.1, bad), (loss, grads))
    assert len(problems) == 2
    assert problems[0].startswith("loss") and problems[1].startswith("dw[")


def test_sizes_are_substituted_in_code_not_in_comments():
    wl = workloads.load("W2", {"B": 4, "D": 3})
    code = [ln for ln in wl.source.splitlines() if not ln.startswith("#")]
    assert "input X: f32[4, 3]" in "\n".join(code)
    assert "var W2 = randn([3, 64], seed=5)" in "\n".join(code)
    assert '"B": 2048' in wl.source          # the header keeps the defaults
    with pytest.raises(ValueError, match="no size M"):
        workloads.load("W1", {"M": 3})


def test_measure_interleaves_and_drops_a_failing_call():
    order = []

    def make(name):
        def call():
            order.append(name)
            return name
        return call

    def broken():
        raise RuntimeError("boom")

    errors = {}
    times = timing.measure({"a": make("a"), "b": make("b"), "c": broken}, warmup=1,
                           min_reps=4, max_reps=4, budget_s=0, min_batch_s=0,
                           on_error=lambda n, e: errors.setdefault(n, str(e)))
    assert set(times) == {"a", "b"} and errors == {"c": "boom"}
    assert all(len(t.samples) == 4 and t.last == n for n, t in times.items())
    timed = order[4:]                          # after one warm-up and one calibration each
    assert timed == ["a", "b", "b", "a", "a", "b", "b", "a"]


def test_command_line_sizes():
    assert bench_run.parse_size("2^20") == bench_run.parse_size("1<<20") == 1 << 20
    assert bench_run.parse_sizes(["W1.N=2**4,W2.B=8", "W2.D=3"]) == {
        "W1": {"N": 16}, "W2": {"B": 8, "D": 3}}
    with pytest.raises(ValueError):
        bench_run.parse_sizes(["N=4"])
    assert np.isclose(workloads.w2_flops({"B": 2, "D": 3, "O": 4}), 4 * 2 * 9 + 6 * 2 * 3 * 4)
