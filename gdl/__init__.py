"""GDL: a graph-definition language for automatic differentiation on OpenCL.

    import gdl
    prog = gdl.load("programs/seed/dot.gdl")
    res = prog.run(grad=["x"])
    res.outputs["y"], res.grads["x"]
"""
from .api import Program, Result, compile, load
from .session import Session
from .errors import GdlError, GdlRuntimeError, GdlSyntaxError, GdlTypeError, GdlWarning

__version__ = "0.1.0"

__all__ = ("compile", "load", "Program", "Result", "Session", "GdlError", "GdlSyntaxError",
           "GdlTypeError", "GdlRuntimeError", "GdlWarning", "__version__")
