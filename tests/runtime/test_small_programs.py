"""Small programs run on PoCL's single-threaded CPU device, large ones on all cores.

PoCL's pthread device wakes its worker threads for every kernel (~80 us a
launch and read); its basic device runs kernels on the calling thread in a
few microseconds.  A device chosen by kind (the default, or "cpu") hands
programs whose tensors are all small to that sibling; a device named
explicitly is used as named.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import gdl
from gdl.runtime import device as devices

pytestmark = pytest.mark.opencl

SMALL = "var x = arange(4.0)\ny = 2 * dot(x, x)\nout y\n"
LARGE = f"var x = zeros({devices.SMALL_ELEMENTS + 1})\ny = sum(x * x)\nout y\n"


def pocl_pair():
    """The default CPU device and its single-threaded sibling, or skip."""
    chosen = devices.select("cpu")
    small = chosen.for_size(1)
    if small is chosen:
        pytest.skip("no PoCL basic device next to the CPU device")
    return chosen, small


def test_a_small_program_runs_single_threaded_and_a_large_one_does_not():
    chosen, small = pocl_pair()
    assert "basic" in gdl.compile(SMALL).run(grad=["x"], device="cpu").device
    assert small.name in gdl.compile(SMALL).run(device="cpu").device
    assert chosen.name in gdl.compile(LARGE).run(device="cpu").device
    assert chosen.for_size(devices.SMALL_ELEMENTS + 1) is chosen


def test_a_device_named_explicitly_is_used_as_named():
    chosen, _ = pocl_pair()
    index = next(f"{p}:{d}" for p, d, dev in devices.list_devices() if dev == chosen.cl_device)
    assert chosen.name in gdl.compile(SMALL).run(device=index).device


def test_both_devices_give_the_same_bits():
    chosen, small = pocl_pair()
    src = "var x = linspace(-3, 3, 5000)\ny = sum(tanh(x) * exp(x))\nout y\n"
    prog = gdl.compile(src)
    on_small = prog.run(grad=["x"], device=small)
    index = next(f"{p}:{d}" for p, d, dev in devices.list_devices() if dev == chosen.cl_device)
    on_all = prog.run(grad=["x"], device=index)
    assert on_small.device != on_all.device
    assert on_small.outputs["y"].tobytes() == on_all.outputs["y"].tobytes()
    assert on_small.grads["x"].tobytes() == on_all.grads["x"].tobytes()


def test_a_session_of_a_small_program_stays_on_one_device():
    pocl_pair()
    prog = gdl.compile("var w = [1.0, 2.0]\nloss = sum(w * w)\nout loss\n")
    s = prog.session(device="cpu")
    for _ in range(3):
        s.zero_grad()
        s.backward()
        s.sgd(0.25)
    np.testing.assert_allclose(s["w"], [0.125, 0.25])


def test_pocl_devices_set_by_the_user_is_respected():
    env = dict(os.environ, POCL_DEVICES="pthread")
    code = ("import gdl; from gdl.runtime import device as d; "
            "print(len(d.list_devices()), gdl.compile('var x = [1.0]\\nout x\\n').run().device)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    count, device = out.split(" ", 1)
    assert "basic" not in device
    if "Portable Computing Language" in device:
        assert int(count) >= 1
