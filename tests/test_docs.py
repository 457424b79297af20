"""Every example in docs/ runs: GDL blocks against the results the text states,
error examples against the line and words they show, Python blocks as written.

A ```gdl block is followed by an HTML comment `<!-- run: {...} expect: {...} -->`
(Program.run's arguments, then outputs and grads; `tolerance: x` optionally)
or `<!-- [run: {...}] error: {"line": n, "contains": [...]} -->`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import gdl

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```(gdl|python)\n(.*?)```\s*(?:<!--(.*?)-->)?", re.S)
pytestmark = pytest.mark.opencl


def examples():
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for k, m in enumerate(BLOCK.finditer(path.read_text())):
            found.append(pytest.param(m.group(1), m.group(2), m.group(3),
                                      id=f"{path.stem}-{k + 1}"))
    return found


def annotation(text: str | None) -> dict:
    """The JSON pieces of `run: {...} expect: {...} error: {...} tolerance: x`."""
    assert text, "a gdl example needs a <!-- run/expect or error --> comment after it"
    out = {}
    for key in ("run", "expect", "error"):
        m = re.search(rf"{key}:\s*(\{{.*?\}})\s*(?=run:|expect:|error:|tolerance:|$)", text, re.S)
        if m:
            out[key] = json.loads(m.group(1))
    m = re.search(r"tolerance:\s*([0-9.e-]+)", text)
    out["tolerance"] = float(m.group(1)) if m else 1e-5
    return out


def run_kwargs(run: dict) -> dict:
    kwargs = dict(run)
    if "seed" in kwargs:
        kwargs["seed"] = np.asarray(kwargs["seed"], np.float32)
    if "inputs" in kwargs:
        kwargs["inputs"] = {k: np.asarray(v) for k, v in kwargs["inputs"].items()}
    return kwargs


def test_the_docs_have_examples():
    assert len(examples()) >= 20


@pytest.mark.parametrize("lang,code,note", examples())
def test_doc_example(lang, code, note):
    if lang == "python":
        exec(compile(code, "<docs>", "exec"), {})
        return
    ann = annotation(note)
    kwargs = run_kwargs(ann.get("run", {}))
    if "error" in ann:
        with pytest.raises(gdl.GdlError) as info:
            gdl.compile(code).run(**kwargs)
        want = ann["error"]
        assert info.value.line == want["line"], str(info.value)
        for words in want["contains"]:
            assert words in str(info.value), str(info.value)
        return
    res = gdl.compile(code).run(**kwargs)
    tol = ann["tolerance"]
    for part, got in (("outputs", res.outputs), ("grads", res.grads)):
        for name, value in ann["expect"].get(part, {}).items():
            np.testing.assert_allclose(np.asarray(got[name], np.float64), value, rtol=tol,
                                       atol=tol, err_msg=f"{part} {name}")
