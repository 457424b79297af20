"""Error cases of the effect ops (their behaviour is in test_statements.py)."""
from __future__ import annotations

from .base import F


def forward(rng) -> list:
    return []


ERRORS = {
    "assert": [([F(2)], {"message": None}, ["assert", "bool scalar", "f32[2]"])],
}
NO_USER_ERRORS = frozenset({"print"})          # prints any tensor
