"""Run a Plan on a device queue: the only module that enqueues or reads buffers.

Launches are enqueued back to back on one in-order queue with no `finish`
between them; the host waits only where it needs a value: one blocking
read per loop or branch decision on a device value, and one per output.
Host values (counters, reverse-loop indices, taped decisions) need none.
Every launch, copy, read and byte is counted on the device's `Counters`.
A checked plan (check_nan) also gets a flag buffer, numbers its launches
(the kernels' `step` argument) and tells a `nancheck.Watch` the loop
iterations as they run; the flags come back with the results, in the same
wait, and `nonfinite` holds the run's first NaN/Inf origin.
Imports `runtime.plan`, `runtime.device`, `runtime.nancheck`, `ops`, `dtype`, `errors`,
numpy.
"""
from __future__ import annotations

from types import MappingProxyType

from typing import Any, Callable

import numpy as np

from ..dtype import TensorType
from ..errors import GdlRuntimeError
from ..ir import Value
from ..ops import OPS
from ..ops.control import iteration_limit_error
from ..ops.effects import assertion_error, print_text
from ..ops.views import checked_index
from ..weak import typed_const
from . import memory
from .device import Device
from .nancheck import NONE, Origin, Watch
from .plan import DEVICE, HOST, HostStep, IfStep, Launch, Plan, RegionPlan, WhileStep
from .tapes import TapeRunner
from .values import ConstTensor, DevTensor

SCALAR_ARG = MappingProxyType({"float": np.float32, "double": np.float64, "int": np.int32, "uchar": np.uint8})
LOCAL = 64          # global sizes are rounded up to a multiple of this
SHARE_MIN_BYTES = 1 << 16    # arrays this large are shared with a CPU device, not copied


def _cl():
    import pyopencl
    return pyopencl


# ---------------------------------------------------------------- run-time values

# ---------------------------------------------------------------- executor

class Executor:
    """Runs one Plan on one Device; holds the built kernels and literal buffers."""

    def __init__(self, device: Device, plan: Plan):
        self.device = device
        self.plan = plan
        self.queue = device.queue
        self.counters = device.counters
        if any(s.uses_fp64 for s in plan.specs) and not device.has_fp64:
            raise GdlRuntimeError(
                f"the program computes in f64, but {device.describe()} has no double precision "
                "(cl_khr_fp64); run it on a device that has it (--device / GDL_DEVICE) or use "
                "f32")
        memory.check(plan, device)          # before building or allocating anything
        self.program = device.program(plan.source) if plan.specs else None
        self.consts: dict[Value, ConstTensor] = {}
        self.tapes = TapeRunner(self)
        self.bound: dict[str, list] = {}      # the arguments each kernel was last given
        self.finals: set[Value] = set()     # results a run() hands back: written to host memory
        self.initials: dict[str, DevTensor] = {}
        self.decisions: list[tuple] = []
        self.max_iters = 1_000_000
        self.printer: Callable[[str], None] = print
        self.watch = Watch(plan.checked, plan.init_slots) if plan.check else None
        self.flags = None                       # a checked plan's flag buffer: a uint per slot
        self.nonfinite: Origin | None = None    # a checked run's first NaN/Inf, if any

    # -- buffers
    def upload(self, array: np.ndarray):
        cl = _cl()
        array = np.ascontiguousarray(array)
        buf = self.device.allocate(array.nbytes)
        cl.enqueue_copy(self.queue, buf, array, is_blocking=True)
        self.counters.bytes_to_device += array.nbytes
        return buf

    def share(self, array: np.ndarray) -> DevTensor | None:
        """On a CPU device, a buffer over the host array itself: no copy at all.

        The caller's array must not change while the run uses it (run() hands
        in its own converted copies).  None where sharing does not apply.
        """
        if self.device.kind != "cpu" or array.nbytes < SHARE_MIN_BYTES:
            return None
        cl = _cl()
        array = np.ascontiguousarray(array)
        flags = cl.mem_flags.READ_ONLY | cl.mem_flags.USE_HOST_PTR
        return cl.Buffer(self.device.context, flags, hostbuf=array)

    def host_backed(self, t: TensorType) -> tuple[Any, np.ndarray]:
        """A CPU-device buffer whose memory is a NumPy array: results land in place."""
        return self.device.host_pool.landing(t.shape, t.dtype.np)

    def buffer(self, value) -> Any:
        """The device buffer of a run-time value, uploading host values if needed."""
        if isinstance(value, DevTensor):
            return value.buf
        if isinstance(value, ConstTensor):
            if value.buf is None:
                value.buf = self.upload(value.array)
            return value.buf
        return self.upload(np.asarray(value))

    def as_device(self, value, t: TensorType) -> DevTensor:
        if isinstance(value, DevTensor):
            return value
        return DevTensor(self.buffer(value), t, np.asarray(self.host(value)))

    def host(self, value) -> Any:
        """The host copy of a value; a device tensor costs one counted blocking read."""
        if isinstance(value, ConstTensor):
            return value.array
        if isinstance(value, DevTensor):
            if value.host is None:
                cl = _cl()
                arr = np.empty(value.type.shape, value.type.dtype.np)
                cl.enqueue_copy(self.queue, arr, value.buf, is_blocking=True)
                self.counters.blocking_reads += 1
                self.counters.bytes_from_device += arr.nbytes
                value.host = arr
            return value.host
        return value

    # -- regions
    def run_region(self, rp: RegionPlan, args: list) -> list:
        env: dict[Value, Any] = dict(zip(rp.region.params, args, strict=True))
        for step, dead in zip(rp.steps, rp.drops, strict=True):
            if isinstance(step, Launch):
                self.launch(step, env)
            elif isinstance(step, HostStep):
                self.host_step(step, env)
            elif isinstance(step, WhileStep):
                self.while_step(step, env)
            elif isinstance(step, IfStep):
                self.if_step(step, env)
            else:
                raise AssertionError(step)
            for v in dead:              # its buffer goes back to the pool for the next step
                env.pop(v, None)
        return [env[r] for r in rp.region.results]

    def kernel(self, name: str):
        return self.device.kernel(self.program, name)

    def launch(self, step: Launch, env: dict, reps: int = 0) -> None:
        cl = _cl()
        partial = None
        scratch: dict[str, Any] = {}
        for spec in step.specs:
            args = []
            at_step = None          # where a checking kernel takes the launch's number
            for a in spec.args:
                if a.kind == "in":
                    args.append(self.buffer(env[a.value]))
                elif a.kind == "host":
                    args.append(SCALAR_ARG[a.dtype.c_name](self.host(env[a.value])))
                elif a.kind == "out":
                    t = a.value.type
                    if a.value in self.finals and self.device.kind == "cpu":
                        buf, array = self.host_backed(t)
                        env[a.value] = DevTensor(buf, t, landing=array)
                    else:
                        buf = self.device.allocate(t.nbytes)
                        env[a.value] = DevTensor(buf, t)
                    args.append(buf)
                elif a.kind == "offset":
                    args.append(np.int32(self.offset(a.value, env)))
                elif a.kind == "i32":
                    args.append(np.int32(a.value))
                elif a.kind == "reps":
                    args.append(np.uint32(reps))
                elif a.kind == "flags":
                    args.append(self.flags)
                elif a.kind == "step":
                    at_step = len(args)
                    args.append(np.uint32(self.watch.log.step))
                elif a.kind == "partial":
                    if partial is None:     # M * P accumulators of at most 8 bytes
                        partial = self.device.allocate(spec.global_size * 8)
                    args.append(partial)
                elif a.kind == "scratch":   # (name, bytes): shared by the launch's kernels
                    name, nbytes = a.value
                    if name not in scratch:
                        scratch[name] = self.device.allocate(nbytes)
                    args.append(scratch[name])
                else:
                    args.append(np.uint32(a.value))
            kern = self.kernel(spec.name)
            key = [a.int_ptr if isinstance(a, cl.MemoryObjectHolder) else a for a in args]
            if at_step is not None:
                key[at_step] = None                     # new each launch: set on its own
            bound = self.bound.get(spec.name)
            if bound is None:
                kern.set_args(*args)
            else:       # unchanged arguments stay bound; a loop changes one or two a launch
                for i, (was, now) in enumerate(zip(bound, key)):
                    if now is None or was != now:
                        kern.set_arg(i, args[i])
            self.bound[spec.name] = key                 # handles, so no buffer is kept alive
            size = -(-spec.global_size // LOCAL) * LOCAL
            cl.enqueue_nd_range_kernel(self.queue, kern, (size,), None)
            self.counters.launches += 1
        if self.watch is not None:
            self.watch.log.advance(max(reps, 1))    # a repeating kernel: a step per iteration

    def offset(self, view, env: dict) -> int:
        """A view's element offset with its run-time indices checked and added."""
        total = view.offset
        for d in view.dynamic:
            total += checked_index(d.span, self.host(env[d.value]), d.size) * d.stride
        return total

    def host_step(self, step: HostStep, env: dict) -> None:
        node = step.node
        if step.kind == "const":
            if node.out not in self.consts:
                arr = OPS["const"].numpy(**node.attr_dict)
                self.consts[node.out] = ConstTensor(arr)
            env[node.out] = self.consts[node.out]
            if self.watch is not None:
                self.watch.literal(node, env[node.out].array)
        elif step.kind == "host":
            ins = [np.asarray(self.host(env[v])) for v in node.inputs]
            out = OPS[node.op].numpy(*ins, **node.attr_dict)
            env[node.out] = typed_const(np.asarray(out), node.out.type.dtype)
        elif step.kind == "alias":
            src = env[node.inputs[0]]
            t = node.out.type
            if isinstance(src, DevTensor):
                env[node.out] = DevTensor(src.buf, t, None if src.host is None
                                          else src.host.reshape(t.shape))
            elif isinstance(src, ConstTensor):      # a literal stays one upload per plan
                if node.out not in self.consts:
                    self.consts[node.out] = ConstTensor(src.array.reshape(t.shape))
                env[node.out] = self.consts[node.out]
            else:
                env[node.out] = np.asarray(src).reshape(t.shape)
        elif step.kind == "effect":
            values = [self.host(env[v]) for v in node.inputs]
            if node.op == "assert":
                if not bool(np.asarray(values[0])):
                    raise assertion_error(node)
            else:
                self.printer(print_text(node, values))
        else:
            self.tapes.step(node, step.specs, env)

    def decide(self, value) -> bool:
        return bool(np.asarray(self.host(value)))

    def while_step(self, step: WhileStep, env: dict) -> None:
        if step.repeat is not None:
            self.counted_while(step, env)
            return
        node = step.node
        k = node.attr("n_carried")
        carried = [self.resident(env[v], r, v.type) for v, r in zip(node.inputs[:k], step.carried)]
        inv = [env[v] for v in node.inputs[k:]]
        count = 0
        log = self.watch.log if self.watch is not None else None
        if log is not None:
            log.enter(node)
        go = self.run_region(step.cond, carried + inv)[0]
        while self.decide(go):
            if count == self.max_iters:
                raise iteration_limit_error(node, self.max_iters)
            if log is not None:
                log.iterate(count)
            *out, go = self.run_region(step.body, carried + inv)     # body, then next decision
            carried = [self.resident(x, r, v.type)
                       for x, r, v in zip(out, step.carried, node.outputs)]
            count += 1
        if log is not None:
            log.leave(count)
        self.decisions.append(("while", node.span, count))
        for o, x in zip(node.outputs, carried):
            env[o] = x

    def counted_while(self, step: WhileStep, env: dict) -> None:
        """A loop counted on the host, its device values updated by one looping kernel."""
        node = step.node
        k = node.attr("n_carried")
        carried = [self.resident(env[v], r, v.type) for v, r in zip(node.inputs[:k], step.carried)]
        inv = [env[v] for v in node.inputs[k:]]
        params, results = step.body.region.params, step.body.region.results
        host_steps = [s for s in step.body.steps if isinstance(s, HostStep)]
        scope: dict[Value, Any] = {}
        count = 0
        log = self.watch.log if self.watch is not None else None
        if log is not None:
            log.enter(node)
        go = self.run_region(step.cond, carried + inv)[0]
        while self.decide(go):          # a host value: no device read
            if count == self.max_iters:
                raise iteration_limit_error(node, self.max_iters)
            if log is not None:
                log.iterate(count)
            scope = dict(zip(params, carried + inv))
            for s in host_steps:
                self.host_step(s, scope)
            carried = [scope[r] if where == HOST else x
                       for x, r, where in zip(carried, results, step.carried)]
            go = scope[results[k]]
            count += 1
        self.decisions.append(("while", node.span, count))
        out = dict(zip(node.outputs, carried))
        if log is not None:
            log.leave(count)
            log.repeating(node, count)
        if count:                       # device values are still the entry ones in `scope`
            self.launch(step.repeat, scope, reps=count)
            for _, _, o in step.repeat.group.carried:
                out[o] = scope[o]
        if log is not None:
            log.repeated()
        for o in node.outputs:
            env[o] = out[o]

    def if_step(self, step: IfStep, env: dict) -> None:
        node = step.node
        taken = self.decide(env[node.inputs[0]])
        self.decisions.append(("if", node.span, taken))
        branch = step.then if taken else step.other
        out = self.run_region(branch, [env[v] for v in node.inputs[1:]])
        for o, x, r in zip(node.outputs, out, step.outputs):
            env[o] = self.resident(x, r, o.type)

    def resident(self, value, where: str, t) -> Any:
        """`value` moved to the residency the plan fixed for a carried/joined value."""
        if where == DEVICE and isinstance(t, TensorType) and not isinstance(value, DevTensor):
            return self.as_device(value, t)
        if where == HOST and isinstance(value, (DevTensor, ConstTensor)):
            return np.asarray(self.host(value))
        return value

    # -- whole graph
    def run(self, fed: dict[str, np.ndarray], seed: np.ndarray | None, max_iters: int,
            wanted: tuple[str, ...] = (), printer: Callable[[str], None] = print
            ) -> tuple[dict, dict]:
        """Outputs, and the gradients named in `wanted`, as NumPy arrays.

        Gradients not wanted are computed by the same reverse pass but never
        read back.
        """
        if self.watch is not None:
            self.start_watch(fed, seed)
        values = {}
        for name, arr in fed.items():
            leaf = self.plan.graph.leaf(name).value
            t = leaf.type
            if self.plan.body.of(leaf) == HOST:
                values[name] = arr          # a scalar the host decides with: no upload
                continue
            shared = self.share(arr)
            if shared is not None:
                values[name] = DevTensor(shared, t, host=arr)
            else:
                values[name] = DevTensor(self.upload(arr), t)
        graph = self.plan.graph
        n = len(graph.outputs)
        chosen = [(name, i) for i, name in enumerate(graph.outputs)]
        chosen += [(name, n + i) for i, name in enumerate(graph.grads) if name in wanted]
        finals = {graph.body.results[i] for _, i in chosen}
        if seed is not None:
            seed = DevTensor(self.upload(seed), graph.seed.type)
        results = self.run_resident(values, seed, max_iters, printer, finals)
        picked = [(name, results[i], graph.body.results[i]) for name, i in chosen]
        flags = () if self.watch is None else (
            (np.empty(max(len(self.plan.checked), 1), np.uint32), self.flags),)
        self.read_all([value for _, value, _ in picked], flags)
        if self.watch is not None:
            self.nonfinite = self.watch.finish(flags[0][0])
        arrays = [(name, self.to_numpy(value, v)) for name, value, v in picked]
        # An output may bear a variable's name: outputs and gradients stay apart.
        return dict(arrays[:n]), dict(arrays[n:])

    def start_watch(self, fed: dict[str, np.ndarray], seed: np.ndarray | None) -> None:
        """A checked run begins: no step yet, every flag cleared, fed values looked at."""
        self.watch.start()
        for leaf in self.plan.graph.leaves:
            if leaf.name in fed:
                self.watch.leaf(leaf.name, leaf.kind, leaf.span, fed[leaf.name])
        if seed is not None:
            self.watch.leaf("seed", "seed", None, seed)
        nbytes = 4 * max(len(self.plan.checked), 1)
        if self.flags is None:
            self.flags = self.device.allocate(nbytes)
        _cl().enqueue_fill_buffer(self.queue, self.flags, np.uint32(NONE), 0, nbytes)
        self.counters.launches += 1

    def read_all(self, values: list, extra: tuple = ()) -> None:
        """Read device tensors back together: transfers queued, one wait (one blocking read).

        `extra`: (host array, buffer) pairs read in the same wait (a checked run's flags).
        """
        cl = _cl()
        pending = {id(v): v for v in values if isinstance(v, DevTensor) and v.host is None}
        for host, buf in extra:
            cl.enqueue_copy(self.queue, host, buf, is_blocking=False)
            self.counters.bytes_from_device += host.nbytes
        if not pending and not extra:
            return
        for v in pending.values():
            if v.landing is not None:
                # A CPU device wrote into this host memory itself (USE_HOST_PTR, page
                # aligned): the wait below is all it takes, no transfer command.
                v.host = v.landing
                continue
            v.host = np.empty(v.type.shape, v.type.dtype.np)
            cl.enqueue_copy(self.queue, v.host, v.buf, is_blocking=False)
            self.counters.bytes_from_device += v.host.nbytes
        self.queue.finish()
        self.counters.blocking_reads += 1

    def run_resident(self, values: dict[str, Any], seed: DevTensor | None, max_iters: int,
                     printer: Callable[[str], None] = print, finals: frozenset = frozenset()
                     ) -> list:
        """Run with leaves given as run-time values (others initialised on the device).

        Returns the body's results as run-time values, nothing read back: a
        Session keeps variables and gradients on the device this way.
        `self.decisions` lists each loop's trip count and each branch taken.
        """
        self.max_iters = max_iters
        self.printer = printer
        self.finals = finals
        self.decisions = []
        graph = self.plan.graph
        args = []
        for leaf in graph.leaves:
            if leaf.name in values:
                args.append(values[leaf.name])
            else:
                args.append(self.initial(leaf.name))
        if graph.seed is not None:
            args.append(seed)
        body = self.plan.body
        args = [self.resident(a, body.of(p), p.type) for a, p in zip(args, body.region.params)]
        return self.run_region(body, args)

    def initial(self, name: str) -> DevTensor:
        """A leaf's initial value, computed on the device once per executor.

        Initialisers are pure functions of literals (and of the seeds written
        in them), and values are never written in place, so one computation
        serves every run.
        """
        if name in self.initials:
            if self.watch is not None:      # computed (and checked) in an earlier run
                self.watch.before(self.watch.initial.get(name))
            return self.initials[name]
        if self.watch is not None:
            self.watch.computed.append(name)
        leaf = self.plan.graph.leaf(name)
        (value,) = self.run_region(self.plan.inits[name], [])
        value = self.initials[name] = self.as_device(value, leaf.value.type)
        value.shared = True
        return value

    def to_numpy(self, value, v: Value) -> np.ndarray:
        """The array handed to the caller: its own copy where the run-time value is kept."""
        arr = np.asarray(self.host(value))
        keep = isinstance(value, ConstTensor) or getattr(value, "shared", False)
        return arr.astype(v.type.dtype.np, copy=keep).reshape(v.type.shape)

