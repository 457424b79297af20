"""Device memory: checked before a run allocates, and as a loop's tape grows.

Drivers allocate lazily, so a program too big for the device would fail
late with a bare driver error.  GDL_MEMORY_LIMIT lowers the limit so these
tests can reach it with small programs.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gdl
from gdl.runtime import device as devices

pytestmark = pytest.mark.opencl
ROOT = Path(__file__).resolve().parents[1]

CHAIN = """var x = zeros(4000000)
y = cumsum(x)
z = cumsum(y) + y
out z
out y
"""

LOOP = """var x = ones(262144)
input k: i32 = 3
i = 0
while i < k {
    x = sin(x)
    i = i + 1
}
s = sum(x)
out s
"""


def test_a_program_too_big_for_the_limit_is_refused_before_it_runs(monkeypatch):
    monkeypatch.setenv(devices.MEMORY_ENV, "40MiB")
    prog = gdl.compile(CHAIN)
    with pytest.raises(gdl.GdlError) as info:
        prog.run()
    err = info.value
    assert "needs about" in err.message and "at once" in err.message
    assert "`y`" in err.message and "line 2" in err.message
    assert err.line == 2
    monkeypatch.setenv(devices.MEMORY_ENV, "200MiB")
    assert gdl.compile(CHAIN).run().outputs["z"].shape == (4000000,)


def test_the_estimate_matches_the_measured_peak():
    res = gdl.compile(CHAIN).run()
    from gdl.graphview import plan_of
    from gdl.runtime import memory
    estimate, _ = memory.peak(plan_of(gdl.compile(CHAIN).graph).body)
    measured = res.stats["peak_device_bytes"]
    assert 0.5 * measured <= estimate + 16_000_000 <= 2 * measured + 16_000_000


def test_one_buffer_larger_than_the_device_allows(monkeypatch):
    monkeypatch.setenv(devices.MEMORY_ENV, "8MiB")
    prog = gdl.compile("var x = zeros(4000000)\ns = sum(x * x)\nout s\n")
    with pytest.raises(gdl.GdlError, match=r"`x` \(f32\[4000000\]\) 15.3 MiB at line 1 is "
                                           r"more than .* allows in one buffer") as info:
        prog.run()
    assert info.value.line == 1


def test_a_growing_tape_is_checked_as_the_loop_runs(monkeypatch):
    monkeypatch.setenv(devices.MEMORY_ENV, "24MiB")
    prog = gdl.compile(LOOP)
    res = prog.run(inputs={"k": 5}, grad=["x"])           # 5 MiB of tape: fits
    assert res.grads["x"].shape == (262144,)
    with pytest.raises(gdl.GdlError) as info:
        prog.run(inputs={"k": 100}, grad=["x"])
    err = info.value
    assert "tape of the loop at line 4" in err.message and "1.0 MiB per iteration" in err.message
    assert err.line == 4
    assert prog.run(inputs={"k": 5}, grad=["x"]).grads["x"].shape == (262144,)


def test_memory_limit_values(monkeypatch):
    assert devices.parse_bytes("512MiB") == 512 * 2 ** 20
    assert devices.parse_bytes("2GB") == 2 * 10 ** 9
    assert devices.parse_bytes("1024") == 1024
    monkeypatch.setenv(devices.MEMORY_ENV, "lots")
    with pytest.raises(gdl.GdlError, match="GDL_MEMORY_LIMIT='lots' is not an amount of memory"):
        gdl.compile("var x = [1.0]\nout x\n").run()


def run_cli(*args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "gdl.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT)


def test_the_command_line_shows_the_line_and_exits_1(tmp_path):
    path = tmp_path / "loop.gdl"
    path.write_text(LOOP)
    out = run_cli("run", str(path), "--grad", "x", "--set", "k=100",
                  env_extra={devices.MEMORY_ENV: "24MiB"})
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert "tape of the loop at line 4" in out.stderr and "while i < k {" in out.stderr


def test_check_shows_each_loops_tape_per_iteration(tmp_path):
    path = tmp_path / "loop.gdl"
    path.write_text(LOOP)
    out = run_cli("check", str(path))
    assert out.returncode == 0, out.stderr
    assert "loop   line 4: tape 1.0 MiB per iteration when differentiating s" in out.stdout
    out = run_cli("check", str(ROOT / "programs" / "seed" / "control_flow.gdl"))
    assert "loop   line 10: no tape when differentiating c" in out.stdout
