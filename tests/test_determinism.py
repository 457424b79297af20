"""Bitwise determinism: the same program and inputs give the same bits, run after
run and process after process, on one device.

Summation orders depend only on shapes (fused sums, two-stage reductions,
GEMM tiles whose choice never changes the order), FP_CONTRACT is off outside
the matmul kernels, and no kernel uses atomics, so nothing depends on
scheduling.  The programs cover fusion with reductions, loops with tapes,
branches, matmul in every layout, scans and random initialisers.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.opencl
ROOT = Path(__file__).resolve().parents[1]

PROGRAMS = {
    "fused": ("var x = randn([100003], seed=3)\nvar w = rand([100003], seed=4)\n"
              "y = sum(tanh(x * w + 0.5) ** 2) + norm(x) * mean(w)\nout y\n", "y"),
    "mlp": ("var X = randn([96, 40], seed=1)\nvar W1 = randn([40, 72], seed=2)\n"
            "var W2 = randn([72, 10], seed=3)\nh = tanh(X @ W1)\n"
            "loss = mean((h @ W2) ** 2) + sum(transpose(W1) @ W1)\nout loss\n", "loss"),
    "loop": ("var a = randn([5000], seed=5)\nb = a\ni = 0\n"
             "while norm(b) < 1e4 {\n    b = sin(b) * 0.5 + b * 1.5\n    i = i + 1\n}\n"
             "if sum(b) > 0 {\n    c = cumsum(b)\n} else {\n    c = b * b\n}\n"
             "s = logsumexp(c * 0.001)\nout s\n", "s"),
}

RUNNER = """
import json, sys
import numpy as np
import gdl
out = {}
for name, (src, of) in json.loads(sys.argv[1]).items():
    prog = gdl.compile(src)
    variables = list(prog.variables)
    res = prog.run(grad=variables, of=of)
    out[name] = {k: np.asarray(v).tobytes().hex() for k, v in
                 [*res.outputs.items(), *(("d" + k, g) for k, g in res.grads.items())]}
print(json.dumps(out))
"""


def bits_in_a_fresh_process() -> dict:
    done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(PROGRAMS)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_same_bits_across_runs_and_processes():
    import gdl
    first, second = bits_in_a_fresh_process(), bits_in_a_fresh_process()
    assert first == second
    for name, (src, of) in PROGRAMS.items():
        prog = gdl.compile(src)
        runs = [prog.run(grad=list(prog.variables), of=of) for _ in range(3)]
        for res in runs:
            here = {k: np.asarray(v).tobytes().hex() for k, v in
                    [*res.outputs.items(), *(("d" + k, g) for k, g in res.grads.items())]}
            assert here == first[name], name
