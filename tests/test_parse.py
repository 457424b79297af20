"""Tests for gdl/parse.py and gdl/grammar.lark: source text -> syntax records or GdlSyntaxError."""
import pytest

from gdl import syntax as s
from gdl.errors import GdlSyntaxError, Span
from gdl.parse import parse


def stmt(src):
    """The single statement of a one-statement program."""
    prog = parse(src)
    assert len(prog.stmts) == 1, prog.stmts
    return prog.stmts[0]


def expr(src):
    """The expression of `y = <src>`."""
    node = stmt("y = " + src)
    assert isinstance(node, s.Assign)
    return node.value


def show(e):
    """A compact, fully parenthesised text of an expression, for structural checks."""
    if isinstance(e, s.Num):
        return repr(e.value)
    if isinstance(e, s.Bool):
        return "true" if e.value else "false"
    if isinstance(e, s.Str):
        return repr(e.value)
    if isinstance(e, s.Name):
        return e.name
    if isinstance(e, s.Unary):
        return f"({e.op} {show(e.operand)})"
    if isinstance(e, s.BinChain):
        parts = [show(e.operands[0])]
        for op, operand in zip(e.ops, e.operands[1:]):
            parts += [op, show(operand)]
        return "(" + " ".join(parts) + ")"
    if isinstance(e, s.Compare):
        return f"({show(e.left)} {e.op} {show(e.right)})"
    if isinstance(e, s.Power):
        return f"({show(e.base)} ** {show(e.exponent)})"
    if isinstance(e, s.Call):
        args = [show(a) for a in e.args] + [f"{k.name}={show(k.value)}" for k in e.kwargs]
        return f"{e.func}({', '.join(args)})"
    if isinstance(e, s.Index):
        return f"{show(e.target)}[{', '.join(show(x) for x in e.subscripts)}]"
    if isinstance(e, s.Slice):
        parts = ["" if p is None else show(p) for p in (e.start, e.stop, e.step)]
        return ":".join(parts) if e.step is not None else ":".join(parts[:2])
    if isinstance(e, s.ListLit):
        return "[" + ", ".join(show(x) for x in e.items) + "]"
    raise AssertionError(f"not an expression: {e!r}")


def syntax_error(src):
    with pytest.raises(GdlSyntaxError) as info:
        parse(src)
    return info.value


# ------------------------------------------------------------ statements

def test_var_decl_with_and_without_type():
    v = stmt("var x = arange(4.0)")
    assert isinstance(v, s.VarDecl) and v.name == "x" and v.type is None
    assert show(v.value) == "arange(4.0)"
    v = stmt("var w: f64[3, 2] = ones([3, 2])")
    assert (v.type.dtype, v.type.shape) == ("f64", (3, 2))


@pytest.mark.parametrize("text, dtype, shape", [
    ("f32", "f32", ()), ("f32[]", "f32", ()), ("f32[4]", "f32", (4,)),
    ("f64[3, 2]", "f64", (3, 2)), ("i32[10]", "i32", (10,)), ("bool", "bool", ()),
])
def test_types(text, dtype, shape):
    d = stmt(f"input a: {text}")
    assert isinstance(d, s.InputDecl) and d.default is None
    assert (d.type.dtype, d.type.shape) == (dtype, shape)
    assert all(isinstance(n, int) for n in d.type.shape)


def test_input_with_default():
    d = stmt("input lr: f32 = 0.1")
    assert d.name == "lr" and show(d.default) == "0.1"


@pytest.mark.parametrize("op", ["=", "+=", "-=", "*=", "/="])
def test_assignments(op):
    a = stmt(f"b {op} b * 2")
    assert isinstance(a, s.Assign) and (a.name, a.op) == ("b", op)
    assert show(a.value) == "(b * 2)"


def test_out_names_and_spans():
    o = stmt("out y, z")
    assert o.names == (("y", Span(1, 5, 1, 6)), ("z", Span(1, 8, 1, 9)))


def test_while():
    w = stmt("while norm(b) < 1000 {\n    b = b * 2\n}")
    assert isinstance(w, s.While) and show(w.cond) == "(norm(b) < 1000)"
    assert [type(x) for x in w.body] == [s.Assign]
    assert w.span == Span(1, 1, 3, 2)


def test_if_else_if_else_flattened():
    src = ("if a > 0 {\n  c = 1\n} else if a < 0 {\n  c = 2\n}"
           " else if b {\n  c = 3\n} else {\n  c = 4\n}")
    node = stmt(src)
    assert isinstance(node, s.If)
    assert [show(c) for c, _, _ in node.branches] == ["(a > 0)", "(a < 0)", "b"]
    assert [show(body[0].value) for _, body, _ in node.branches] == ["1", "2", "3"]
    assert [span for _, _, span in node.branches] == [
        Span(1, 1, 1, 9), Span(3, 8, 3, 16), Span(5, 8, 5, 12)]
    assert show(node.orelse[0].value) == "4"
    assert node.span == Span(1, 1, 9, 2)


def test_if_without_else():
    node = stmt("if c { x = 1 }")
    assert len(node.branches) == 1 and node.orelse is None


def test_fn_def_and_return():
    f = stmt("fn sq(a, b) {\n  return a * a + b\n}")
    assert isinstance(f, s.FnDef) and f.name == "sq" and f.name_span == Span(1, 4, 1, 6)
    assert [p for p, _ in f.params] == ["a", "b"] and f.params[1][1] == Span(1, 10, 1, 11)
    (ret,) = f.body
    assert isinstance(ret, s.Return) and show(ret.value) == "((a * a) + b)"
    assert stmt("fn k() { return 1 }").params == ()


def test_assert_with_and_without_message():
    a = stmt('assert x > 0, "x must be \\"positive\\"\\n"')
    assert isinstance(a, s.Assert) and show(a.cond) == "(x > 0)"
    assert a.message == 'x must be "positive"\n'
    assert stmt("assert ok").message is None


def test_print_statement():
    p = stmt("print(a, b + 1)")
    assert isinstance(p, s.Print) and [show(x) for x in p.args] == ["a", "(b + 1)"]
    assert p.span == Span(1, 1, 1, 16)
    assert stmt("print()").args == ()


def test_expression_statement():
    e = stmt("a + 1")
    assert isinstance(e, s.ExprStmt) and show(e.expr) == "(a + 1)"
    assert e.span == e.expr.span == Span(1, 1, 1, 6)


def test_seed_program():
    src = ("var a = randn(seed=7)\nb = a * 2\nwhile norm(b) < 1000 {\n    b = b * 2\n}\n"
           "if sum(b) > 0 {\n    c = b\n} else {\n    c = 100 * b\n}\nout c\n")
    kinds = [type(x) for x in parse(src).stmts]
    assert kinds == [s.VarDecl, s.Assign, s.While, s.If, s.Out]


# ------------------------------------------------------------ expressions

@pytest.mark.parametrize("src, want", [
    ("-x**2", "(- (x ** 2))"),
    ("2**-1", "(2 ** (- 1))"),
    ("a ** b ** c", "(a ** (b ** c))"),
    ("a ** -b ** c", "(a ** (- (b ** c)))"),
    ("- -x", "(- (- x))"),
    ("a - b - c", "(a - b - c)"),
    ("a + b * c - d", "(a + (b * c) - d)"),
    ("a * b / c // d % e @ f", "(a * b / c // d % e @ f)"),
    ("-a * b", "((- a) * b)"),
    ("not a == b", "(not (a == b))"),
    ("not not a", "(not (not a))"),
    ("a or b and c", "(a or (b and c))"),
    ("a and b or c and d", "((a and b) or (c and d))"),
    ("a < b + 1", "(a < (b + 1))"),
    ("(a < b) == c", "((a < b) == c)"),
    ("a <= b and c >= d or e != f", "(((a <= b) and (c >= d)) or (e != f))"),
    ("(a + b) * c", "((a + b) * c)"),
    ("x @ w + b", "((x @ w) + b)"),
    ("-x[0]", "(- x[0])"),
    ("f(x)[1] ** 2", "(f(x)[1] ** 2)"),
])
def test_precedence_and_associativity(src, want):
    assert show(expr(src)) == want


def test_chain_is_flat_with_operator_spans():
    e = expr("a - b - c")
    assert isinstance(e, s.BinChain) and e.ops == ("-", "-") and len(e.operands) == 3
    assert e.op_spans == (Span(1, 7, 1, 8), Span(1, 11, 1, 12))
    assert e.span == Span(1, 5, 1, 14)


def test_single_operand_levels_make_no_chain():
    assert isinstance(expr("x"), s.Name)
    assert isinstance(expr("(x)"), s.Name)
    assert isinstance(expr("x * y"), s.BinChain) and expr("x * y").ops == ("*",)


@pytest.mark.parametrize("src, value, is_float", [
    ("3", 3, False), ("3.0", 3.0, True), ("1e-3", 1e-3, True), (".5", 0.5, True),
    ("3.", 3.0, True), ("2E3", 2000.0, True), ("0", 0, False),
])
def test_numbers(src, value, is_float):
    n = expr(src)
    assert isinstance(n, s.Num) and n.value == value and n.is_float is is_float
    assert type(n.value) is (float if is_float else int)


def test_bools_and_lists():
    assert show(expr("true")) == "true" and show(expr("false")) == "false"
    assert show(expr("[[1, 2], [3, 4]]")) == "[[1, 2], [3, 4]]"
    assert show(expr("[1, 2,]")) == "[1, 2]"
    assert expr("[]").items == ()
    assert expr("[[1, 2], [3, 4]]").span == Span(1, 5, 1, 21)


@pytest.mark.parametrize("src, want", [
    ("x[0]", "x[0]"), ("x[-1]", "x[(- 1)]"), ("x[1:3]", "x[1:3]"), ("x[:, 0]", "x[:, 0]"),
    ("x[::2]", "x[::2]"), ("x[i]", "x[i]"), ("x[0][1]", "x[0][1]"), ("x[1:]", "x[1:]"),
    ("x[:2]", "x[:2]"), ("x[::-1]", "x[::(- 1)]"), ("x[1:5:2]", "x[1:5:2]"), ("x[:]", "x[:]"),
])
def test_indexing(src, want):
    assert show(expr(src)) == want


def test_slice_parts():
    (sl,) = expr("x[::2]").subscripts
    assert isinstance(sl, s.Slice) and sl.start is None and sl.stop is None
    assert show(sl.step) == "2"
    (sl,) = expr("x[1:]").subscripts
    assert show(sl.start) == "1" and sl.stop is None and sl.step is None


def test_chained_index_nests_left():
    e = expr("x[0][1]")
    assert isinstance(e.target, s.Index) and show(e.target) == "x[0]"


def test_calls():
    c = expr("sum(x, axis=0, keepdims=true)")
    assert isinstance(c, s.Call) and c.func == "sum" and [show(a) for a in c.args] == ["x"]
    assert [(k.name, show(k.value)) for k in c.kwargs] == [("axis", "0"), ("keepdims", "true")]
    assert show(expr("rand([3], seed=1,)")) == "rand([3], seed=1)"
    assert expr("eye()").args == ()
    assert c.span == Span(1, 5, 1, 34) and c.func_span == Span(1, 5, 1, 8)
    assert c.kwargs[0].span == Span(1, 12, 1, 18)


def test_names():
    for name in ["iffy", "_x1", "true_", "notx", "Orbit", "f32"]:
        assert expr(name).name == name


# ------------------------------------------------------------ spans

def test_spans_of_statements_and_leaves():
    prog = parse("var x: f32[2] = [1.5, 2]\n  y = x * 2.0\n")
    v, a = prog.stmts
    assert v.span == Span(1, 1, 1, 25) and v.name_span == Span(1, 5, 1, 6)
    assert v.type.span == Span(1, 8, 1, 14)
    assert v.value.items[0].span == Span(1, 18, 1, 21)
    assert a.span == Span(2, 3, 2, 14) and a.name_span == Span(2, 3, 2, 4)
    assert a.value.operands[1].span == Span(2, 11, 2, 14)


def test_spans_of_operators():
    c = expr("a  <  b")
    assert c.op_span == Span(1, 8, 1, 9) and c.span == Span(1, 5, 1, 12)
    p = expr("-x ** 2")
    assert p.span == Span(1, 5, 1, 12) and p.operand.op_span == Span(1, 8, 1, 10)
    i = expr("x[1:3]")
    assert i.span == Span(1, 5, 1, 11) and i.subscripts[0].span == Span(1, 7, 1, 10)


def test_multiline_call_span():
    c = expr("f(a,\n   b)")
    assert c.span == Span(1, 5, 2, 6)


# ------------------------------------------------------------ layout

def test_newlines_inside_brackets_are_ignored():
    prog = parse("y = f(a,\n      b,\n)\nz = [\n  [1, 2],\n  [3, 4]\n]\nw = x[\n0]\n")
    assert [show(x.value) for x in prog.stmts] == ["f(a, b)", "[[1, 2], [3, 4]]", "x[0]"]
    assert show(parse("y = (a\n+ b)").stmts[0].value) == "(a + b)"


def test_semicolons_blank_lines_and_repeated_separators():
    prog = parse("\n\n;a = 1; b = 2;;\n\n\n c = 3 ;\n\n")
    assert [x.name for x in prog.stmts] == ["a", "b", "c"]
    assert parse("").stmts == () and parse("\n;\n").stmts == ()


def test_crlf_tabs_and_comments():
    src = "# header\r\nvar x = 1\t# trailing\r\n\tif x > 0 {\r\n\t\ty = x\r\n\t}\r\nout y\r\n"
    prog = parse(src)
    assert [type(x) for x in prog.stmts] == [s.VarDecl, s.If, s.Out]
    assert prog.stmts[1].span.line == 3 and prog.stmts[1].span.column == 2
    assert prog.stmts[1].branches[0][1][0].span == Span(4, 3, 4, 8)


def test_blocks_on_one_line_empty_and_else_on_next_line():
    w = stmt("while x { b = b * 2 }")
    assert len(w.body) == 1
    assert stmt("while x {}").body == ()
    assert stmt("while x {\n\n}").body == ()
    assert len(stmt("while x { a = 1; b = 2 }").body) == 2
    i = stmt("if a {\n  c = 1\n}\nelse {\n  c = 2\n}")
    assert i.orelse is not None and len(i.branches) == 1
    i = stmt("if a { c = 1 }\n\n# comment\nelse if b { c = 2 }\nelse { c = 3 }")
    assert len(i.branches) == 2 and i.orelse is not None


def test_statement_after_block_needs_separator_but_nested_blocks_work():
    prog = parse("while a {\n  if b {\n    c = 1\n  }\n}\nd = 2")
    assert [type(x) for x in prog.stmts] == [s.While, s.Assign]
    assert isinstance(prog.stmts[0].body[0], s.If)


def test_long_sum_and_deep_parentheses():
    e = expr(" + ".join(["x"] * 3000))
    assert isinstance(e, s.BinChain) and len(e.operands) == 3000 and len(e.ops) == 2999
    e = expr("(" * 300 + "x + 1" + ")" * 300)
    assert show(e) == "(x + 1)"
    e = expr("-" * 500 + "x")
    depth = 0
    while isinstance(e, s.Unary):
        e, depth = e.operand, depth + 1
    assert depth == 500
    assert isinstance(expr("[" * 300 + "1" + "]" * 300), s.ListLit)


# ------------------------------------------------------------ errors

@pytest.mark.parametrize("src, line, column, fragments", [
    ("var x = ones([3])\ny = x * 2.0\n}\nout y\n", 3, 1, ["`}`", "no block is open"]),
    ("var x = [1.0, 2.0]\na = sum(x)\nok = 0.0 < a < 5.0\nout ok\n", 3, 14,
     ["`<`", "do not chain"]),
    ("x = a == b < c", 1, 12, ["`<`", "do not chain"]),
    ("while x {\n  b = 1\n", 1, 9, ["`}`", "block opened here is never closed"]),
    ("if a {\n  while b {\n    c = 1\n  }\n", 1, 6, ["`}`", "never closed"]),
    ("y = f(x, 2\n", 1, 6, ["`)`", "never closed", "end of input"]),
    ("y = f(x\nz = 3\n", 1, 6, ["name `z` at line 2, column 1", "`)`", "never closed"]),
    ("y = [1, 2\n", 1, 5, ["`]`", "never closed"]),
    ("y = (1 + 2]", 1, 11, ["`]`", "`)`"]),
    ("y = $x", 1, 5, ["character `$`"]),
    ("var = 3", 1, 5, ["`=`", "expected a name"]),
    ("y = 2 *", 1, 8, ["end of input", "expected an expression"]),
    ("y = 2 *\nz = 1", 1, 8, ["end of line", "expected an expression"]),
    ("y = = 3", 1, 5, ["`=`", "expected an expression"]),
    ("if x = 3 { }", 1, 6, ["`=`", "`==`"]),
    ("var if = 3", 1, 5, ["keyword `if`", "cannot be used as a name"]),
    ("fn f(while) { }", 1, 6, ["keyword `while`", "name"]),
    ("y = 3 4", 1, 7, ["number `4`", "operator"]),
    ("else { }", 1, 1, ["`else`"]),
    ("f(a=1, 2)", 1, 8, ["positional arguments"]),
    ('assert x, "abc', 1, 11, ['`"`', "string"]),
    ("var x: f32[2.0] = 1", 1, 12, ["number `2.0`"]),
    ("1x = 2", 1, 1, ["bad number `1x`", "cannot start with a digit"]),
    ("while x { y = 1 } z = 2", 1, 19, ["name `z`", "end of the statement"]),
    ("y = x +\n", 1, 8, ["end of line"]),
])
def test_syntax_errors(src, line, column, fragments):
    err = syntax_error(src)
    assert (err.line, err.column) == (line, column), err.message
    for fragment in fragments:
        assert fragment in err.message, err.message


def test_stray_close_brace_message_is_plain():
    err = syntax_error("a = 1\n\n}\n")
    assert err.message == "unexpected `}`: no block is open here"
    assert err.span == Span(3, 1, 3, 2)


def test_missing_close_brace_message():
    err = syntax_error("a = 1\nwhile a < 3 {\n  a = a + 1\n\n")
    assert err.message == ("the block opened here is never closed: "
                           "expected `}`, found the end of input")
    assert (err.line, err.column) == (2, 13)


def test_chained_comparison_message_names_the_operator():
    err = syntax_error("ok = 0.0 < a < 5.0")
    assert err.message.startswith("unexpected `<`: comparisons do not chain")
    assert err.span == Span(1, 14, 1, 15)


def test_errors_are_gdl_syntax_errors_without_lark_leaking():
    err = syntax_error("y = (")
    assert type(err) is GdlSyntaxError and err.__cause__ is None
    assert "LPAR" not in err.message and "$END" not in err.message


def test_statement_after_unclosed_paren_names_the_paren():
    """Newlines inside ( ) are dropped, so the next statement is where it shows;
    the error points at the `(` and says where the parse stopped."""
    with pytest.raises(GdlSyntaxError) as info:
        parse("var x = arange(4.0)\ny = 2 * (x +\nout y\n")
    assert (info.value.line, info.value.column) == (2, 9)
    assert "`(` is never closed" in str(info.value)
    assert "keyword `out` at line 3, column 1" in str(info.value)
