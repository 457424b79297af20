"""Faults: a rejected kernel is an internal error with its build log and saved
source; a .gdl program has no way to touch files or run code."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gdl
from gdl.runtime import device as devices

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.opencl
def test_a_kernel_the_compiler_rejects_is_an_internal_error_with_log_and_source():
    dev = devices.select()
    bad = "__kernel void broken(__global float *x) { x[0] = no_such_name; }\n"
    with pytest.raises(devices.KernelBuildError) as info:
        dev.program(bad)
    err = info.value
    assert not isinstance(err, gdl.GdlError), "a gdl bug, not the user's mistake"
    assert "no_such_name" in err.log and "build log" in str(err)
    assert err.path is not None and Path(err.path).read_text() == bad
    assert err.path in str(err)
    os.unlink(err.path)


CRASHING_RUN = """
import sys
from gdl.runtime import codegen
real = codegen.program_source
codegen.program_source = lambda specs: real(specs) + "\\n#error injected for the test\\n"
from gdl import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.opencl
def test_the_command_line_reports_a_build_failure_as_a_bug(tmp_path):
    env = dict(os.environ, GDL_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", CRASHING_RUN, "run",
                           str(ROOT / "programs" / "seed" / "dot.gdl"), "--grad", "x"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "internal error: this is a bug in gdl" in done.stderr
    assert "source is saved in" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("src", [
    'x = open("secrets.txt")\nout x\n',
    'x = read("data.npy")\nout x\n',
    'x = load("data.npy")\nout x\n',
    'import os\n',
    'x = eval("1 + 1")\nout x\n',
    'x = exec("print(1)")\nout x\n',
    'x = __import__("os")\nout x\n',
    'x = system("rm -rf /")\nout x\n',
    'x = @data.npy\nout x\n',
])
def test_programs_cannot_touch_files_or_run_code(src):
    with pytest.raises(gdl.GdlError):
        gdl.compile(src)
