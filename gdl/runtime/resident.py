"""Arithmetic on device-resident tensors between runs: `a + b` and `x - lr * g`.

A Session accumulates gradients (`g + d`) and takes SGD steps (`x - lr * g`)
without moving a byte of its tensors to or from the host: each is one
launch of a small elementwise kernel generated here, one program per dtype,
built through `Device.program` (so once per device, counted) with
FP_CONTRACT OFF, so `x - lr * g` rounds like NumPy's (no fused multiply-add).
Results go to fresh buffers from the device's pool and inputs are never
written: run-time values stay immutable, so a value held elsewhere (an
output, a cached host copy) never changes under its holder.
Launches are enqueued without waiting; every one is counted.
Imports `runtime.device`, `runtime.kernel_text`, `runtime.values`, `dtype`, numpy.
"""
from __future__ import annotations

from string import Template

import numpy as np

from ..dtype import DType, TensorType
from .device import Device
from .kernel_text import FP64_PRAGMA
from .values import DevTensor

LOCAL = 64          # global sizes are rounded up to a multiple of this, as the executor does

SOURCE = Template("""\
#pragma OPENCL FP_CONTRACT OFF
$FP64

__kernel void gdl_add_$T(__global const $T* a, __global const $T* b, __global $T* out,
                         const int n)
{
    const int i = get_global_id(0);
    if (i < n)
        out[i] = a[i] + b[i];
}

__kernel void gdl_sgd_$T(__global const $T* x, __global const $T* g, const $T lr,
                         __global $T* out, const int n)
{
    const int i = get_global_id(0);
    if (i < n)
        out[i] = x[i] - lr * g[i];
}
""")


def source(dtype: DType) -> str:
    """The OpenCL program holding the add and sgd kernels for one float dtype."""
    assert dtype.is_float, dtype
    return SOURCE.substitute(T=dtype.c_name, FP64=FP64_PRAGMA if dtype.c_name == "double"
                             else "")


def _launch(device: Device, t: TensorType, name: str, args: tuple) -> DevTensor:
    """One launch of kernel `name` over `t`'s elements: `args`, then the output and size."""
    import pyopencl as cl
    out = device.allocate(t.nbytes)
    if t.size:
        kern = device.kernel(device.program(source(t.dtype)), f"{name}_{t.dtype.c_name}")
        kern.set_args(*args, out, np.int32(t.size))
        cl.enqueue_nd_range_kernel(device.queue, kern, (-(-t.size // LOCAL) * LOCAL,), None)
        device.counters.launches += 1
    return DevTensor(out, t)


def add(device: Device, a, b, t: TensorType) -> DevTensor:
    """`a + b` (device buffers of type `t`) in a new device tensor."""
    return _launch(device, t, "gdl_add", (a, b))


def sgd(device: Device, x, g, lr: float, t: TensorType) -> DevTensor:
    """`x - lr * g` (device buffers of type `t`; `lr` rounded to its dtype) in a new tensor."""
    return _launch(device, t, "gdl_sgd", (x, g, t.dtype.np.type(lr)))
