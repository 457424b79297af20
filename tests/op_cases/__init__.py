"""The op-table test's cases, one module per op family (see base.py)."""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from .base import GradCase, Inst


def families():
    """Every case module of this package, in name order."""
    return [importlib.import_module(f"{__name__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
            if m.name != "base"]


def forward_cases(seed: int) -> list[Inst]:
    rng = np.random.default_rng(seed)
    return [i for fam in families() for i in fam.forward(rng)]


def grad_cases(seed: int) -> list[GradCase]:
    rng = np.random.default_rng(seed)
    return [c for fam in families() if hasattr(fam, "grads") for c in fam.grads(rng)]


def error_cases() -> dict:
    cases: dict = {}
    for fam in families():
        for op, rows in getattr(fam, "ERRORS", {}).items():
            cases.setdefault(op, []).extend(rows)
    return cases


def no_user_errors() -> frozenset:
    return frozenset().union(*(getattr(fam, "NO_USER_ERRORS", frozenset())
                               for fam in families()))
