"""The REPL's workspace (gdl/workspace.py): the text helpers that stage a request.

The workspace's requests (compile, run, errors mapped to the user's
columns) are exercised through the REPL in tests/test_repl.py.
"""
from __future__ import annotations

from gdl.workspace import depth, may_take_else, split_seed, unshift


def test_depth_counts_open_brackets_outside_comments_and_strings():
    assert depth("while x < 3 {") == 1
    assert depth("y = f(a, [1, 2]") == 1
    assert depth('assert x > 0, "{"  # }') == 0
    assert depth("}") == -1


def test_an_if_without_else_may_take_one():
    assert may_take_else("if true {\n  k = 1\n}")
    assert not may_take_else("if true {\n  k = 1\n} else {\n  k = 2\n}")
    assert not may_take_else("while false {\n}")


def test_split_seed_keeps_columns():
    rest = "sum(y) seed=ones([4])"
    main, at, seed = split_seed(rest, 10)
    assert main == "sum(y)" and at == 10
    assert seed == ("ones([4])", 10 + rest.index("ones"))
    assert split_seed("where(seed == 1, a, b)", 0)[2] is None


def test_unshift_maps_columns_back_over_inserted_text():
    shifts = [(3, 11)]              # "__repl_0 = " inserted before column 3
    assert unshift(shifts, 1) == 1
    assert unshift(shifts, 5) == 3      # inside the inserted text: the expression's start
    assert unshift(shifts, 14) == 3
    assert unshift(shifts, 16) == 5
