"""Kernel generators for `Kernel(name)` lowerings of the scan ops (see codegen.kernels_for).

Imports `ir`, `ops`, `dtype`, `runtime.kernel_text`.
"""
from __future__ import annotations

from types import MappingProxyType

# name -> function(node) -> list[KernelSpec]
GENERATORS = MappingProxyType({})
