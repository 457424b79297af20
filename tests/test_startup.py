"""Start-up: the disk cache (parser tables, kernel binaries) and lazy imports.

A fresh `gdl run` should not rebuild what an earlier process built, nor
import what it does not use.  These tests pin that the caches are used, that
they stay correct when their inputs change or their files are damaged or
cannot be written, and which heavy modules `import gdl` leaves alone.
Speed itself is measured by the bench, not here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lark
import pytest

import gdl
from gdl import cachefiles, parse
from gdl.runtime import device as devices

ROOT = Path(__file__).resolve().parent.parent
DOT = ROOT / "programs" / "seed" / "dot.gdl"
GRAMMAR = (ROOT / "gdl" / "grammar.lark").read_text(encoding="utf-8")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A private, empty cache directory for this test (and its subprocesses)."""
    path = tmp_path / "cache"
    monkeypatch.setenv(cachefiles.ENV_VAR, str(path))
    return path


def python(code: str, cache: Path | str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with GDL_CACHE_DIR=cache; fail on a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env[cachefiles.ENV_VAR] = str(cache)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


NO_BUILD = """
import lark
def refuse(*args, **kwargs):
    raise AssertionError("the parser was built, not loaded from the cache")
lark.Lark.__init__ = refuse
"""


def refuse_to_build(*args, **kwargs):
    raise AssertionError("the parser was built, not loaded from the cache")


# -- the parser ----------------------------------------------------------------

def test_a_second_process_loads_the_parser_from_the_cache(cache_dir):
    python("import gdl; gdl.compile('y = 1\\nout y')", cache_dir)
    entries = list((cache_dir / "parser").glob("*.pickle"))
    assert len(entries) == 1
    python(NO_BUILD + "import gdl\nassert gdl.compile('y = 2 * 3\\nout y').run()"
           ".outputs['y'] == 6", cache_dir)


def test_an_edited_grammar_is_a_new_entry(cache_dir, monkeypatch):
    parse._load_parser(GRAMMAR)
    edited = GRAMMAR.replace('"while"', '"whilst"')
    assert edited != GRAMMAR
    parser = parse._load_parser(edited)
    assert len(list((cache_dir / "parser").glob("*.pickle"))) == 2
    loop = "var x = 1.0\nwhilst x < 2 {\n  x = x * 2\n}\n"
    parser.parse(loop)
    monkeypatch.setattr(lark.Lark, "__init__", refuse_to_build)
    with pytest.raises(lark.exceptions.UnexpectedInput):
        parse._load_parser(GRAMMAR).parse(loop)         # the original, from its own entry
    parse._load_parser(edited).parse(loop)              # the edit, loaded and still edited


def test_a_damaged_parser_entry_is_rebuilt(cache_dir):
    parse._load_parser(GRAMMAR)
    (entry,) = (cache_dir / "parser").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    parser = parse._load_parser(GRAMMAR)
    assert parser.parse("y = 1\nout y\n")
    assert entry.read_bytes() != b"not a pickle"


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cachefiles.ENV_VAR, str(blocker / "cache"))   # under a file: no mkdir
    assert parse._load_parser(GRAMMAR).parse("y = 1\nout y\n")
    assert not cachefiles.write("parser", "x", b"data")
    assert cachefiles.read("parser", "x") is None


def test_an_empty_cache_dir_variable_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv(cachefiles.ENV_VAR, "")
    assert cachefiles.directory() is None
    assert parse._load_parser(GRAMMAR).parse("y = 1\nout y\n")


# -- imports --------------------------------------------------------------------

def test_import_gdl_leaves_pyopencl_and_rich_alone(cache_dir):
    proc = python("import sys, gdl\n"
                  "print(sorted(m for m in ('pyopencl', 'rich') if m in sys.modules))",
                  cache_dir)
    assert proc.stdout.strip() == "[]"


def test_the_cli_imports_graph_views_and_opencl_only_when_used(cache_dir):
    proc = python("import sys, gdl.cli\n"
                  "print(sorted(m for m in ('pyopencl', 'gdl.graphview', 'gdl.graphdot', "
                  "'gdl.repl') if m in sys.modules))", cache_dir)
    assert proc.stdout.strip() == "[]"


# -- kernel binaries and whole runs ---------------------------------------------

def run_dot(device) -> None:
    """Run the seed program on `device` and check its result."""
    res = gdl.load(str(DOT)).run(grad=["x"], device=device)
    assert float(res.outputs["y"]) == 28.0
    assert res.grads["x"].tolist() == [0.0, 4.0, 8.0, 12.0]


@pytest.mark.opencl
def test_kernel_binaries_are_kept_for_recurring_programs(cache_dir, monkeypatch):
    kernels = cache_dir / "kernels"
    run_dot(devices.select())           # first sighting: remembered, no binary yet
    seen = {p.name[:-len(".seen")] for p in kernels.glob("*.seen")}
    assert seen and not list(kernels.glob("*.bin"))
    run_dot(devices.select())           # built again (a new device, as in a new process)
    assert {p.name[:-len(".bin")] for p in kernels.glob("*.bin")} == seen

    def refuse(*args, **kwargs):
        raise AssertionError("built from source although a binary was cached")

    with monkeypatch.context() as m:
        m.setattr(devices.Device, "_from_source", refuse)
        run_dot(devices.select())       # from the binaries alone
    for binary in kernels.glob("*.bin"):
        binary.write_bytes(b"not a binary")
    run_dot(devices.select())           # refused by the driver: built from source again
    assert all(p.read_bytes() != b"not a binary" for p in kernels.glob("*.bin"))


@pytest.mark.opencl
def test_cold_and_warm_cli_runs_agree(cache_dir):
    """`gdl run` with an empty cache, then as a binary is stored, then from the cache."""
    code = ("import sys\nfrom gdl.cli import main\n"
            f"sys.exit(main(['run', {str(DOT)!r}, '--grad', 'x', '--json']))")
    for _ in range(3):
        res = json.loads(python(code, cache_dir).stdout)
        assert {k: res[k] for k in ("outputs", "grads")} == {
            "outputs": {"y": 28.0}, "grads": {"x": [0.0, 4.0, 8.0, 12.0]}}
    assert list((cache_dir / "parser").glob("*.pickle"))
    assert list((cache_dir / "kernels").glob("*.bin"))
