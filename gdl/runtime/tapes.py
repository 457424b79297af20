"""Tapes at run time: host lists of decisions, growable device buffers of tensors.

A tape of host values (loop decisions, trip counts, tapes of those) is a
Python list.  A tape of device tensors is one device buffer whose slots are
written in place and that doubles when full: the tapes autodiff makes are
used linearly (each version pushed to once), which `filled` checks.  Their
cotangent tapes (second-order differentiation through loops) add in place
with small generated kernels.
Imports `runtime.plan`, `runtime.values`, numpy, pyopencl.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .device import human_bytes
from .plan import host_type
from .values import DevTape, DevTensor, HostTape


def _cl():
    import pyopencl
    return pyopencl


class TapeRunner:
    """The tape steps of one executor: push, get, zeros, add_at, add."""

    def __init__(self, executor):
        self.x = executor

    def step(self, node, specs, env: dict) -> None:
        op = node.op
        if op == "stack_new":
            elem = node.attr("elem")
            env[node.out] = HostTape([], 0) if host_type(elem) else DevTape(elem)
            return
        tape = env[node.inputs[0]]
        if isinstance(tape, HostTape):
            if op == "push":
                v = env[node.inputs[1]]
                v = v if isinstance(v, (HostTape, DevTape)) else np.asarray(self.x.host(v))
                env[node.out] = tape.push(v, int(self.x.host(env[node.inputs[2]])))
            else:
                assert op == "get", op
                env[node.out] = tape.get(int(self.x.host(env[node.inputs[1]])))
            return
        getattr(self, op)(node, specs, tape, env)

    def _copy(self, dst, src, nbytes: int, dst_offset: int = 0, src_offset: int = 0) -> None:
        _cl().enqueue_copy(self.x.queue, dst, src, byte_count=nbytes, dst_offset=dst_offset,
                           src_offset=src_offset)
        self.x.counters.launches += 1
        self.x.counters.bytes_on_device += nbytes

    def push(self, node, specs, tape: DevTape, env: dict) -> None:
        i = int(self.x.host(env[node.inputs[2]]))
        assert i == tape.length == tape.filled[0], "tapes are used linearly"
        buf, cap = tape.store
        if tape.length == cap:                       # full: double the storage
            new_cap = self._grown(node, tape, cap)
            new = self.x.device.allocate(new_cap * tape.nbytes)
            if tape.length:
                self._copy(new, buf, tape.length * tape.nbytes)
            tape.store[0], tape.store[1] = new, new_cap
        self._copy(tape.store[0], self.x.buffer(env[node.inputs[1]]), tape.nbytes,
                   dst_offset=i * tape.nbytes)
        tape.filled[0] += 1
        env[node.out] = DevTape(tape.elem, tape.store, tape.length + 1, tape.filled)

    def _grown(self, node, tape: DevTape, cap: int) -> int:
        """The next capacity of a full tape: double, or as much as the device still
        holds; an error naming the loop when not even one more iteration fits."""
        dev = self.x.device
        fits = min(dev.room(), dev.buffer_limit) // tape.nbytes
        need = cap + 1

        def what():
            line = f" at line {node.span.line}" if node.span else ""
            return (f"the tape of the loop{line} ({human_bytes(tape.nbytes)} per iteration, "
                    f"{need:,} iterations so far)", node.span)
        if fits < need:
            dev.reserve(need * tape.nbytes, what)    # raises, naming the loop
        # At most half of what is left: the loop body needs room too, and when
        # memory runs out it is the tape's growth that should say so.
        return min(max(16, 2 * cap), max(fits // 2, need))

    def get(self, node, specs, tape: DevTape, env: dict) -> None:
        i = int(self.x.host(env[node.inputs[1]]))
        assert 0 <= i < tape.length, (i, tape.length)
        out = self.x.device.allocate(tape.nbytes)
        self._copy(out, tape.store[0], tape.nbytes, src_offset=i * tape.nbytes)
        env[node.out] = DevTensor(out, tape.elem)

    def stack_zeros(self, node, specs, tape: DevTape, env: dict) -> None:
        n = max(tape.length, 1) * tape.nbytes
        buf = self.x.device.allocate(n)
        _cl().enqueue_fill_buffer(self.x.queue, buf, np.uint8(0), 0, n)
        self.x.counters.launches += 1
        env[node.out] = DevTape(tape.elem, [buf, max(tape.length, 1)], tape.length,
                                [tape.length])

    def stack_add_at(self, node, specs, tape: DevTape, env: dict) -> None:
        """Element i += v, in place (the cotangent tape is used linearly)."""
        i = int(self.x.host(env[node.inputs[1]]))
        assert 0 <= i < tape.length, (i, tape.length)
        n = tape.elem.size
        self.launch(specs[0], n, tape.store[0], np.uint32(i * n),
                    self.x.buffer(env[node.inputs[2]]), np.uint32(n))
        env[node.out] = DevTape(tape.elem, tape.store, tape.length, tape.filled)

    def stack_add(self, node, specs, tape: DevTape, env: dict) -> None:
        other = env[node.inputs[1]]
        assert other.length == tape.length, (other.length, tape.length)
        n = max(tape.length, 1) * tape.elem.size
        out = self.x.device.allocate(n * tape.elem.dtype.itemsize)
        self.launch(specs[0], n, out, tape.store[0], other.store[0], np.uint32(n))
        env[node.out] = DevTape(tape.elem, [out, max(tape.length, 1)], tape.length,
                                [tape.length])

    def launch(self, spec, size: int, *args: Any) -> None:
        kern = self.x.kernel(spec.name)
        kern.set_args(*args)
        local = 64
        _cl().enqueue_nd_range_kernel(self.x.queue, kern, (-(-size // local) * local,), None)
        self.x.counters.launches += 1
