"""Shared test helpers: golden-file comparison and the `--update-golden` option.

`golden(name, text)` compares `text` with `tests/golden/<name>`; run
`pytest --update-golden` to (re)write the files on purpose, then review the
diff before committing it (style.md habit 7).
"""
from __future__ import annotations

import difflib
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* with the text the tests produce")


def golden_path(name: str) -> Path:
    """The file for a golden name, which must stay inside tests/golden."""
    path = (GOLDEN_DIR / name).resolve()
    if GOLDEN_DIR.resolve() not in path.parents:
        raise ValueError(f"golden name {name!r} points outside {GOLDEN_DIR}")
    return path


@pytest.fixture
def golden(request):
    """A function `golden(name, text)`: assert text equals the golden file, or rewrite it."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = golden_path(name)
        if update:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8", newline="\n")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} does not exist; create it with "
                        "`pytest --update-golden` and review it", pytrace=False)
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(difflib.unified_diff(
                expected.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=f"golden/{name}", tofile="produced"))
            pytest.fail(f"output differs from golden/{name} (rerun with --update-golden "
                        f"if the change is intended):\n{diff}", pytrace=False)

    return check
