"""Differentiation rules of `while` and `if`: tapes, recorded decisions, reverse loops.

Each rule object has the hooks the autodiff pass calls with itself as `ad`:
- `decision_types(ad, node)`, `record(ad, e, node)`: the decisions the node
  makes (an `if`'s predicate, a `while`'s trip count and tapes of its
  body's decisions), so an enclosing reverse loop can replay them;
- `replay(ad, e, node, decisions)`: the node driven by recorded decisions
  (an `if` on the taped predicate, a `while` counted to the taped trip
  count), defining the node's own output values;
- `forward(ad, e, node, active)`: emit the forward node with whatever the
  reverse pass needs (a counter and tapes), return the residual;
- `adjoint(ad, e, node, cts, active, residual)`: emit the reverse nodes,
  return one cotangent (or None) per input.

The reverse of a `while` is an ordinary `while` over j = n-1 ... 0 that
takes the tapes as loop-invariant operands, recomputes the body from the
taped carried state (Futhark's choice) and sums invariants' cotangents over
the iterations.  Only the carried values the reverse body reads are taped:
a body linear in its carried values needs no tape.  Imports `ops.base`,
`ir`, `dtype`.
"""
from __future__ import annotations

from ..dtype import BOOL, I32, StackType, TensorType, differentiable
from ..ir import Builder, Region, Value, inline, used_params
from .base import Emitter

I32_SCALAR = TensorType(I32, ())


def _region_in(e: Emitter, types, build, names=()) -> Region:
    """A region over fresh params of `types`, its body made by `build(emitter, params)`.

    `names[i]` (None, or missing, for none) names param i in printed graphs:
    the name of the loop value it mirrors.
    """
    b = Builder(e.b.ids, e.b.role)
    names = tuple(names) + (None,) * (len(types) - len(names))
    params = tuple(b.fresh(t, name) for t, name in zip(types, names))
    results = build(e.__class__(b, e.table, e.span), params)
    return b.region(params, tuple(results))


def _loop_regions(ad, e: Emitter, types, cond_fn, body_fn, names) -> tuple[Region, Region]:
    """A new loop's condition and body over params of `types`, both fresh: placed with
    `ad`, so an enclosing level's copy takes them as they are (`Pass.copy`)."""
    return (ad.place(_region_in(e, types, cond_fn, names)),
            ad.place(_region_in(e, types, body_fn, names)))


def _widen(region: Region, ids_builder: Builder, extra, at: int) -> Region:
    """`region` with unused params of types `extra` inserted at position `at`."""
    fresh = tuple(ids_builder.fresh(t) for t in extra)
    params = region.params[:at] + fresh + region.params[at:]
    return Region(params, region.nodes, region.results)


def _counter_step(e: Emitter, i: Value) -> Value:
    return e.add(i, e.const(1, I32))


def _names(values) -> list[str | None]:
    """The source names of values (None where a value has none)."""
    return [v.name for v in values]


def _cotangent_names(values) -> list[str | None]:
    """Names for the cotangents of values: `ct_b` for `b`."""
    return [f"ct_{v.name}" if v.name else None for v in values]


# ====================================================================== if

class IfRules:
    """`if p {then} else {else}`: the adjoint is an `if` on the same predicate."""

    def decision_types(self, ad, node):
        then, other = node.regions
        return (TensorType(BOOL, ()),) + ad.decision_types(then) + ad.decision_types(other)

    def _recorded(self, ad, e: Emitter, node) -> list[Value]:
        """Emit `node` with its branches' decisions as extra outputs; return them."""
        then, other = node.regions
        dt, de = ad.decision_types(then), ad.decision_types(other)
        if not dt and not de:
            e.b.append(node)
            return []
        then_rec, other_rec = ad.record(then), ad.record(other)
        n = len(node.outputs)

        def with_defaults(rec: Region, mine: int, first: bool) -> Region:
            b = Builder(e.b.ids, e.b.role)
            for nd in rec.nodes:
                b.append(nd)
            eb = e.__class__(b, e.table, e.span)
            own = rec.results[n:]
            others = tuple(ad.default(eb, t) for t in (de if first else dt))
            d = own + others if first else others + own
            return b.region(rec.params, rec.results[:n] + d)

        regions = (with_defaults(then_rec, len(dt), True), with_defaults(other_rec, len(de), False))
        extra = tuple(e.b.fresh(t) for t in dt + de)
        e.b.add_defining("if", node.inputs, node.attrs, node.outputs + extra, regions, node.span)
        return list(extra)

    def record(self, ad, e, node):
        return [node.inputs[0]] + self._recorded(ad, e, node)

    def replay(self, ad, e, node, decisions):
        then, other = node.regions
        dt, de = ad.decision_types(then), ad.decision_types(other)
        p = next(decisions)
        d_then = [next(decisions) for _ in dt]
        d_else = [next(decisions) for _ in de]
        nops = len(node.inputs) - 1
        then_r = _widen(ad.replay(then), e.b, de, nops + len(dt))
        else_r = _widen(ad.replay(other), e.b, dt, nops)
        e.b.add_defining("if", (p,) + node.inputs[1:] + tuple(d_then + d_else), node.attrs,
                         node.outputs, (then_r, else_r), node.span)

    def forward(self, ad, e, node, active):
        return self._recorded(ad, e, node)

    def adjoint(self, ad, e, node, cts, active, residual):
        then, other = node.regions
        dt, de = ad.decision_types(then), ad.decision_types(other)
        d_then, d_else = residual[:len(dt)], residual[len(dt):]
        operands = node.inputs[1:]
        act = [v in active for v in operands]
        if not any(act):
            return (None,) * len(node.inputs)
        seeds = ["param" if c is not None else None for c in cts]
        nops = len(operands)

        def branch(region: Region, nd: int) -> Region:
            return ad.differentiate(ad.replay(region), act + [False] * nd, seeds)

        then_d = _widen(branch(then, len(dt)), e.b, de, nops + len(dt))
        else_d = _widen(branch(other, len(de)), e.b, dt, nops)
        given = tuple(c for c in cts if c is not None)
        adj = e.node("if", node.inputs[0], *operands, *d_then, *d_else, *given,
                     regions=(ad.copy(then_d), ad.copy(else_d)))
        out = iter(adj.outputs)
        return (None,) + tuple(next(out) if a else None for a in act)


# ====================================================================== while

class WhileRules:
    """`while cond {body}`: tape the carried state, reverse in a counted loop."""

    def decision_types(self, ad, node):
        body = node.regions[1]
        return (I32_SCALAR,) + tuple(StackType(t) for t in ad.decision_types(body))

    def _augmented(self, ad, e: Emitter, node, tape_carried: list[int],
                   tape_decisions: list[int] | None) -> list[Value]:
        """Emit `node` counting its iterations and pushing the chosen tapes.

        Pushes the carried values at indices `tape_carried` (as each
        iteration starts) and the body decisions at `tape_decisions` (all
        when None).  Returns the trip count and the final tapes.
        """
        cond, body = node.regions
        k = node.attr("n_carried")
        init, inv = list(node.inputs[:k]), list(node.inputs[k:])
        body_rec = ad.record(body)
        nres = len(body.results)
        dtypes = [r.type for r in body_rec.results[nres:]]
        picked = list(range(len(dtypes))) if tape_decisions is None else tape_decisions
        tape_types = [StackType(init[i].type) for i in tape_carried] + \
                     [StackType(dtypes[j]) for j in picked]
        tapes0 = [e.op("stack_new", elem=t.elem) for t in tape_types]
        carried_types = [v.type for v in init] + [I32_SCALAR] + tape_types
        inv_types = [v.type for v in inv]
        nt = len(tape_types)

        def cond_fn(eb, ps):
            c, v = ps[:k], ps[k + 1 + nt:]
            return inline(eb.b, cond, tuple(c) + tuple(v), keep_roles=True)

        def body_fn(eb, ps):
            c, i, tapes, v = ps[:k], ps[k], ps[k + 1:k + 1 + nt], ps[k + 1 + nt:]
            outs = inline(eb.b, body_rec, tuple(c) + tuple(v), keep_roles=True, reuse=ad.reuse)
            pushed = [c[j] for j in tape_carried] + [outs[nres + j] for j in picked]
            new_tapes = [eb.op("push", s, x, i) for s, x in zip(tapes, pushed)]
            return list(outs[:nres]) + [_counter_step(eb, i)] + new_tapes

        all_types = carried_types + inv_types
        names = _names(body.params[:k]) + [None] * (1 + nt) + _names(body.params[k:])
        regions = _loop_regions(ad, e, all_types, cond_fn, body_fn, names)
        extra = tuple(e.b.fresh(t) for t in [I32_SCALAR] + tape_types)
        e.b.add_defining("while", tuple(init) + (e.const(0, I32),) + tuple(tapes0) + tuple(inv),
                         {"n_carried": k + 1 + nt}, node.outputs + extra, regions, node.span)
        return list(extra)

    def record(self, ad, e, node):
        return self._augmented(ad, e, node, [], None)

    def replay(self, ad, e, node, decisions):
        cond, body = node.regions
        k = node.attr("n_carried")
        init, inv = list(node.inputs[:k]), list(node.inputs[k:])
        n = next(decisions)
        tapes = [next(decisions) for _ in ad.decision_types(body)]
        body_rep = ad.replay(body)
        extra_inv = [n] + tapes
        all_types = [v.type for v in init] + [I32_SCALAR] + [v.type for v in inv + extra_inv]
        ninv = len(inv)

        def cond_fn(eb, ps):
            return [eb.op("lt", ps[k], ps[k + 1 + ninv])]

        def body_fn(eb, ps):
            c, i, v = ps[:k], ps[k], ps[k + 1:k + 1 + ninv]
            ts = ps[k + 2 + ninv:]
            d = [eb.op("get", t, i) for t in ts]
            outs = inline(eb.b, body_rep, tuple(c) + tuple(v) + tuple(d), reuse=ad.reuse)
            return list(outs) + [_counter_step(eb, i)]

        names = _names(body.params[:k]) + [None] + _names(body.params[k:])
        regions = _loop_regions(ad, e, all_types, cond_fn, body_fn, names)
        e.b.add_defining("while", tuple(init) + (e.const(0, I32),) + tuple(inv + extra_inv),
                         {"n_carried": k + 1}, node.outputs + (e.b.fresh(I32_SCALAR),),
                         regions, node.span)

    def forward(self, ad, e, node, active):
        cond, body = node.regions
        k = node.attr("n_carried")
        init, inv = node.inputs[:k], node.inputs[k:]
        act_v = [v in active for v in inv]
        act_c = self._active_carried(ad, body, init, act_v, active)
        body_rep = ad.replay(body)
        nd = len(body_rep.params) - len(body.params)
        rev = ad.differentiate(body_rep, act_c + act_v + [False] * nd,
                               ["param" if a else None for a in act_c])
        used = used_params(rev)
        tape_c = [i for i in range(k) if rev.params[i] in used]
        tape_d = [j for j in range(nd) if rev.params[k + len(inv) + j] in used]
        extra = self._augmented(ad, e, node, tape_c, tape_d)
        return {"n": extra[0], "tapes": extra[1:], "rev": rev, "tape_c": tape_c,
                "tape_d": tape_d, "act_c": act_c, "act_v": act_v}

    @staticmethod
    def _active_carried(ad, body: Region, init, act_v, active) -> list[bool]:
        """Carried values that depend on the active inputs, to a fixed point."""
        act_c = [v in active for v in init]
        while True:
            params = {p for p, a in zip(body.params, act_c + act_v) if a}
            inside = ad.activity(body, params)
            new = [a or (r in inside) for a, r in zip(act_c, body.results)]
            new = [a and differentiable(init[i].type) for i, a in enumerate(new)]
            if new == act_c:
                return act_c
            act_c = new

    def adjoint(self, ad, e, node, cts, active, res):
        k = node.attr("n_carried")
        inv = node.inputs[k:]
        act_c, act_v, rev = res["act_c"], res["act_v"], res["rev"]
        ic = [i for i in range(k) if act_c[i]]
        iv = [j for j in range(len(inv)) if act_v[j]]
        ct0 = [cts[i] if cts[i] is not None else e.zeros_like(node.outputs[i]) for i in ic]
        acc0 = [e.zeros_like(inv[j]) for j in iv]
        tapes = res["tapes"]
        nc, na, nt = len(ic), len(iv), len(tapes)
        carried_types = [v.type for v in ct0 + acc0] + [I32_SCALAR]
        all_types = carried_types + [t.type for t in tapes] + [v.type for v in inv]

        def cond_fn(eb, ps):
            return [eb.op("gt", ps[nc + na], eb.const(0, I32))]

        def body_fn(eb, ps):
            ct, acc, j = ps[:nc], ps[nc:nc + na], ps[nc + na]
            ts, v = ps[nc + na + 1:nc + na + 1 + nt], ps[nc + na + 1 + nt:]
            j1 = eb.sub(j, eb.const(1, I32))
            got = [eb.op("get", t, j1) for t in ts]
            c_args = [None] * k
            for i, x in zip(res["tape_c"], got):
                c_args[i] = x
            d_args = [None] * (len(rev.params) - k - len(inv) - nc)
            for jd, x in zip(res["tape_d"], got[len(res["tape_c"]):]):
                d_args[jd] = x
            outs = inline(eb.b, rev, tuple(c_args) + tuple(v) + tuple(d_args) + tuple(ct),
                          reuse=ad.reuse)
            ct_prev, ct_v = outs[:nc], outs[nc:]
            acc2 = [eb.add_cotangents(a, g) for a, g in zip(acc, ct_v)]
            return list(ct_prev) + acc2 + [j1]

        body = node.regions[1]
        names = (_cotangent_names(body.params[i] for i in ic)
                 + _cotangent_names(body.params[k + j] for j in iv)
                 + [None] * (1 + nt) + _names(body.params[k:]))
        regions = _loop_regions(ad, e, all_types, cond_fn, body_fn, names)
        rnode = e.node("while", *ct0, *acc0, res["n"], *tapes, *inv, regions=regions,
                       n_carried=nc + na + 1)
        out = {}
        for pos, i in enumerate(ic):
            out[i] = rnode.outputs[pos]
        for pos, j in enumerate(iv):
            out[k + j] = rnode.outputs[nc + pos]
        return tuple(out.get(i) for i in range(len(node.inputs)))


IF_RULES = IfRules()
WHILE_RULES = WhileRules()
