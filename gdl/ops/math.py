"""Elementwise mathematical functions (sqrt, trigonometry, activations, rounding, clip).

Each op is one `OpDef` block with its type rule, NumPy reference, adjoint
and the C expression the fuser inlines, plus the `Call` that exposes it.
Imports `ops.base`, `dtype`, `errors`, numpy.
"""
from __future__ import annotations

DEFS = ()
CALLS = ()
