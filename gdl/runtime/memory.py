"""How much device memory a plan needs at once, checked before anything runs.

Drivers allocate lazily (PoCL does): a program too big for the device would
otherwise fail in the middle of a run with a bare driver error.  From the
static plan and its liveness (`RegionPlan.drops`) this module estimates the
peak: the buffers alive together at the worst step, nested loops and
branches included, the fed values and initial values as well.  A loop's tape
grows with its trip count, unknown before the run: `tapes.py` checks each
growth as the loop runs instead.  `Device.reserve` checks every allocation
as the last word; this check comes first and names the biggest buffers.
Imports `dtype`, `errors`, `runtime.plan`, `runtime.device`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dtype import TensorType
from ..errors import GdlRuntimeError, Span
from .device import MEMORY_ENV, human_bytes
from .plan import HostStep, IfStep, Launch, Plan, RegionPlan, WhileStep

SHOWN = 3           # buffers an error names


@dataclass(frozen=True)
class Buffer:
    """One buffer of the estimate: what it holds, for the message."""

    what: str
    nbytes: int
    span: Span | None


def _value_buffer(v, span: Span | None) -> Buffer | None:
    t = v.type
    if not isinstance(t, TensorType) or t.nbytes == 0:
        return None
    name = f"`{v.name}`" if v.name else "a value"
    return Buffer(f"{name} ({t})", t.nbytes, span)


def _made(step) -> tuple[dict, int, list[Buffer]]:
    """(buffers a step leaves in its region, bytes it needs only while it runs,
    the live buffers of its worst moment inside)."""
    made: dict = {}
    if isinstance(step, Launch):
        spans = {o: n.span for n in step.nodes for o in n.outputs}
        scratch = 0
        for spec in step.specs:
            for a in spec.args:
                if a.kind == "out":
                    b = _value_buffer(a.value, spans.get(a.value))
                    if b is not None:
                        made[a.value] = b
                elif a.kind == "scratch":
                    scratch += a.value[1]
                elif a.kind == "partial":
                    scratch += spec.global_size * 8
        return made, scratch, []
    if isinstance(step, HostStep):
        if step.kind in ("const", "tape") and step.node.op in ("const", "get"):
            b = _value_buffer(step.node.out, step.node.span)
            if b is not None:
                made[step.node.out] = b
        return made, 0, []
    if isinstance(step, (WhileStep, IfStep)):
        subs = [step.cond, step.body] if isinstance(step, WhileStep) else [step.then, step.other]
        worst = max((peak(sub) for sub in subs), key=lambda p: p[0])
        for o in step.node.outputs:
            b = _value_buffer(o, step.node.span)
            if b is not None:
                made[o] = b
        return made, worst[0], worst[1]
    return made, 0, []


def peak(rp: RegionPlan) -> tuple[int, list[Buffer]]:
    """The most bytes the region's own buffers take at once, and those buffers."""
    live: dict = {}
    best, best_live = 0, []
    for step, dead in zip(rp.steps, rp.drops):
        made, transient, inner = _made(step)
        live.update(made)
        total = sum(b.nbytes for b in live.values()) + transient
        if total > best:
            best, best_live = total, list(live.values()) + inner
        for v in dead:
            live.pop(v, None)
    return best, best_live


def check(plan: Plan, device) -> int:
    """The plan's estimated peak in bytes; an error naming the biggest buffers if
    it is more than the device can hold."""
    spans = {lf.value: lf.span for lf in plan.graph.leaves}
    leaves = [b for b in (_value_buffer(p, spans.get(p)) for p in plan.body.region.params) if b]
    body, inside = peak(plan.body)
    total = body + sum(b.nbytes for b in leaves)
    too_big = [b for b in inside + leaves if b.nbytes > device.buffer_limit]
    if total <= device.memory_limit and not too_big:
        return total
    biggest = sorted(too_big or inside + leaves, key=lambda b: -b.nbytes)[:SHOWN]
    named = ", ".join(f"{b.what} {human_bytes(b.nbytes)}"
                      + (f" at line {b.span.line}" if b.span else "") for b in biggest)
    if too_big:
        why = (f"{named} {'is' if len(biggest) == 1 else 'are'} more than {device.name} "
               f"allows in one buffer ({human_bytes(device.buffer_limit)})")
    else:
        why = (f"the program needs about {human_bytes(total)} of device memory at once, more "
               f"than the {human_bytes(device.memory_limit)} gdl may use on {device.name}; "
               f"the biggest buffers: {named}")
    span = next((b.span for b in biggest if b.span is not None), None)
    raise GdlRuntimeError(why, span, (f"set {MEMORY_ENV} (e.g. 2GiB) to choose the limit",))
