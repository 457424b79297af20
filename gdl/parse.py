"""Source text -> `syntax.Program`: the front end's only entry point.

Owns: the lark LALR parser built from `grammar.lark` (once per process, on
first use; kept in the disk cache, since building the tables costs a fresh
process about 100 ms and loading them about 5 ms), the post-lexer that
handles bracket newlines and `}` + newline + `else`, the tree -> AST
conversion, and turning lark's errors into `GdlSyntaxError`s with a span and
a plain-words message.
Imports: lark, gdl.syntax, gdl.errors, gdl.cachefiles (and the standard library).

No semantics here: names, types and scopes are checked by `build.py`.  The
conversion never raises, because lark would wrap the error in `VisitError`.
Nothing recurses over expression depth: the grammar keeps operator chains
flat and the conversion uses `Transformer_NonRecursive`.
"""
from __future__ import annotations

import functools
import io
import re
import sys
from pathlib import Path
from types import MappingProxyType

import lark
from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import cachefiles
from . import syntax as s
from .errors import GdlSyntaxError, Span

_OPENERS = MappingProxyType({"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"})
_BRACKETS = MappingProxyType({"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"})
_CLOSERS = MappingProxyType({close: open_ for open_, close in _OPENERS.items()})


def parse(source: str) -> s.Program:
    """Parse GDL source text into a `Program`, or raise `GdlSyntaxError`."""
    parser = _parser()
    try:
        tree = parser.parse(source)
    except UnexpectedInput as err:
        raise _syntax_error(parser, source, err) from None
    return _ToAst().transform(tree)


_OPTIONS = MappingProxyType({"parser": "lalr", "lexer": "basic", "propagate_positions": True,
                             "maybe_placeholders": False})


@functools.lru_cache(maxsize=None)
def _parser() -> Lark:
    """The LALR parser, made once per process: reading and compiling the grammar is slow."""
    grammar = Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")
    return _load_parser(grammar)


def _load_parser(grammar: str) -> Lark:
    """A parser for `grammar` from the disk cache, else built (and then cached).

    The entry's name hashes everything the tables depend on: the grammar
    text, the options, the terminals the post-lexer keeps, and the lark and
    Python versions (the entry is lark's own pickle).  So an edited grammar
    or an upgraded lark is a new entry, and an entry that fails to load is
    rebuilt and overwritten.
    """
    name = cachefiles.key("gdl-parser-v1", grammar, repr(sorted(_OPTIONS.items())),
                          repr(_PostLexer.always_accept), lark.__version__,
                          repr(sys.version_info[:2])) + ".pickle"
    data = cachefiles.read("parser", name)
    if data is not None:
        try:
            return Lark.load(io.BytesIO(data))
        except Exception:  # noqa: BLE001 - any failure to unpickle means: build it again
            pass
    parser = Lark(grammar, postlex=_PostLexer(), **_OPTIONS)
    if cachefiles.entry("parser", name) is not None:
        out = io.BytesIO()
        parser.save(out)        # the post-lexer is pickled by reference to its class
        cachefiles.write("parser", name, out.getvalue())
    return parser


class _PostLexer:
    """Drop the newlines that do not end a statement (stateless between parses)."""

    always_accept = ("_NL",)

    def process(self, stream):
        """Drop newlines inside ( ) and [ ], and those between `}` and `else`."""
        stack: list[Token] = []
        held: list[Token] = []      # newlines right after a `}`
        after_brace = False
        for tok in stream:
            if tok.type == "_NL":
                if stack and stack[-1].type != "LBRACE":
                    continue
                if after_brace:
                    held.append(tok)
                else:
                    yield tok
                continue
            if held and tok.type != "ELSE":
                yield from held
            held = []
            after_brace = tok.type == "RBRACE"
            _track(stack, tok)
            yield tok
        yield from held


def _track(stack: list, tok: Token) -> None:
    """Update a stack of open brackets with one token (a mismatched closer is left alone)."""
    if tok.type in _OPENERS:
        stack.append(tok)
    elif tok.type in _CLOSERS and stack and stack[-1].type == _CLOSERS[tok.type]:
        stack.pop()


# ------------------------------------------------------------ tree -> AST

def _span(meta) -> Span:
    """The span of a rule, from lark's propagated positions."""
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(tok: Token) -> Span:
    """The span of one token."""
    return Span(tok.line, tok.column, tok.end_line, tok.end_column)


_ESCAPES = MappingProxyType({"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"'})


def _unescape(literal: str) -> str:
    """The text of a double-quoted literal; an unknown escape `\\x` stands for `x`."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), literal[1:-1])


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Turn lark's parse tree into `syntax` records, bottom-up and without recursion.

    Each callback is named after a grammar rule or alias and gets the rule's
    propagated `meta` and its converted children `c` (kept tokens included).
    """

    def start(self, meta, c):
        return s.Program(tuple(c))

    def block(self, meta, c):
        return tuple(c)

    # statements

    def var_decl(self, meta, c):
        type_ = c[1] if len(c) == 3 else None
        return s.VarDecl(_span(meta), str(c[0]), _tok_span(c[0]), type_, c[-1])

    def input_decl(self, meta, c):
        default = c[2] if len(c) == 3 else None
        return s.InputDecl(_span(meta), str(c[0]), _tok_span(c[0]), c[1], default)

    def assign(self, meta, c):
        return s.Assign(_span(meta), str(c[0]), _tok_span(c[0]), str(c[1]), c[2])

    def out_stmt(self, meta, c):
        return s.Out(_span(meta), tuple((str(t), _tok_span(t)) for t in c))

    def while_stmt(self, meta, c):
        return s.While(_span(meta), c[0], c[1])

    def if_stmt(self, meta, c):
        # c is IF cond body (ELSE IF cond body)* (ELSE body)?
        branches, orelse, i = [], None, 0
        while True:
            cond = c[i + 1]
            branches.append((cond, c[i + 2], _tok_span(c[i]).to(cond.span)))
            i += 3
            if i == len(c):
                break
            if isinstance(c[i + 1], Token):     # `else if`
                i += 1
            else:
                orelse = c[i + 1]
                break
        return s.If(_span(meta), tuple(branches), orelse)

    def fn_def(self, meta, c):
        params = tuple((str(t), _tok_span(t)) for t in c[1:-1])
        return s.FnDef(_span(meta), str(c[0]), _tok_span(c[0]), params, c[-1])

    def return_stmt(self, meta, c):
        return s.Return(_span(meta), c[0])

    def assert_stmt(self, meta, c):
        message = _unescape(str(c[1])) if len(c) == 2 else None
        return s.Assert(_span(meta), c[0], message)

    def print_stmt(self, meta, c):
        return s.Print(_span(meta), tuple(c))

    def expr_stmt(self, meta, c):
        return s.ExprStmt(c[0].span, c[0])

    def type(self, meta, c):
        return s.TypeExpr(_span(meta), str(c[0]), tuple(int(t) for t in c[1:]))

    # expressions

    def _chain(self, meta, c):
        """One flat `BinChain` for `e0 op e1 op e2 ...` at a single level."""
        return s.BinChain(_span(meta), tuple(c[0::2]), tuple(str(t) for t in c[1::2]),
                          tuple(_tok_span(t) for t in c[1::2]))

    or_expr = and_expr = sum = product = _chain

    def comparison(self, meta, c):
        return s.Compare(_span(meta), str(c[1]), c[0], c[2], _tok_span(c[1]))

    def unary(self, meta, c):
        return s.Unary(_span(meta), str(c[0]), c[1])

    def power(self, meta, c):
        return s.Power(_span(meta), c[0], c[2], _tok_span(c[1]))

    def index(self, meta, c):
        return s.Index(_span(meta), c[0], tuple(c[1:]))

    def slice(self, meta, c):
        parts = [None]
        for item in c:
            if isinstance(item, Token):         # a `:` starts the next part
                parts.append(None)
            else:
                parts[-1] = item
        parts += [None] * (3 - len(parts))
        return s.Slice(_span(meta), *parts)

    def call(self, meta, c):
        args = tuple(a for a in c[1:] if not isinstance(a, s.Keyword))
        kwargs = tuple(a for a in c[1:] if isinstance(a, s.Keyword))
        return s.Call(_span(meta), str(c[0]), _tok_span(c[0]), args, kwargs)

    def kwarg(self, meta, c):
        return s.Keyword(_span(meta), str(c[0]), c[1])

    def list_lit(self, meta, c):
        return s.ListLit(_span(meta), tuple(c))

    def int_lit(self, meta, c):
        return s.Num(_span(meta), int(c[0]), False)

    def float_lit(self, meta, c):
        return s.Num(_span(meta), float(c[0]), True)

    def true_lit(self, meta, c):
        return s.Bool(_span(meta), True)

    def false_lit(self, meta, c):
        return s.Bool(_span(meta), False)

    def string(self, meta, c):
        return s.Str(_span(meta), _unescape(str(c[0])))

    def name(self, meta, c):
        return s.Name(_span(meta), str(c[0]))


# ---------------------------------------------------------------- errors

_EXPR_START = frozenset({"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "LPAR", "LSQB", "MINUS", "NOT"})
_STMT_START = frozenset({"VAR", "INPUT", "OUT", "WHILE", "IF", "FN", "RETURN", "ASSERT", "PRINT"})
_COMPARE = frozenset({"LT", "LE", "GT", "GE", "EQEQ", "NE"})
_OPERATORS = _COMPARE | {"OR", "AND", "PLUS", "MINUS", "STAR", "SLASH", "DSLASH",
                         "PERCENT", "AT", "POW", "LSQB"}
_ASSIGN = frozenset({"EQUAL", "PLUS_EQ", "MINUS_EQ", "STAR_EQ", "SLASH_EQ"})
_STMT_END = frozenset({"_NL", "SEMICOLON", "LBRACE", "RBRACE"})
_DECLARE = frozenset({"VAR", "INPUT", "FN"})
_WORDS = MappingProxyType({"NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string"})


def _syntax_error(parser: Lark, source: str, err: UnexpectedInput) -> GdlSyntaxError:
    """Translate a lark error into a `GdlSyntaxError` that says what was found and expected."""
    if isinstance(err, UnexpectedCharacters):
        char = source[err.pos_in_stream]
        if char.isascii() and char.isprintable():
            shown = f"`{char}`"
        elif char.isprintable():
            shown = f"`{char}` (U+{ord(char):04X})"
        else:                           # a control or invisible character: its code only
            shown = f"U+{ord(char):04X}"
        message = f"unexpected character {shown}"
        if char.isalpha() and not char.isascii():
            message += ": names are ASCII letters, digits and `_`"
        elif char == '"':
            message += ": the string is not closed on this line"
        elif char == "'":
            message += ": strings use double quotes"
        else:
            message += ": expected a name, a number, an operator, a bracket or `#`"
        return GdlSyntaxError(message, Span(err.line, err.column, err.line, err.column + 1))
    tokens = _tokens(parser, source)
    stop = err.token if isinstance(err, UnexpectedToken) and err.token.type != "$END" else None
    bad = _bad_number(source, tokens, stop) if stop is not None else None
    if bad is not None:
        return bad
    expected = _accepts(parser, source, stop)
    if stop is not None:
        return _unexpected_token(parser, stop, expected, tokens)
    return _unexpected_end(parser, expected, tokens)


# A number and whatever runs into it: letters, digits, `_`, `.`, a sign after `e`.
_NUMBER_RUN = re.compile(r"(?:[\w.]|(?<=[eE])[+-])+")


def _bad_number(source: str, tokens: list[Token], stop: Token) -> GdlSyntaxError | None:
    """The error for a malformed number such as `1.2.3`, `1e` or `0x10`, else None.

    The lexer splits those into a number and a name or number glued to it
    (`1.2` `.3`, `1` `e`), which no rule accepts, so the parse stops at the
    second piece; the mistake is the whole run of characters, from its start.
    """
    if stop.type not in ("NAME", "INT", "FLOAT"):
        return None
    prev = next((t for t in reversed(tokens) if t.end_pos <= stop.start_pos), None)
    if prev is None or prev.type not in ("INT", "FLOAT") or prev.end_pos != stop.start_pos:
        return None
    text = _NUMBER_RUN.match(source, prev.start_pos).group()
    if re.match(r"0[xXbBoO]", text):
        why = "numbers are decimal, with no 0x, 0b or 0o"
    elif "_" in text:
        why = "`_` cannot group digits"
    elif text.count(".") > 1:
        why = "a number has at most one `.`"
    elif re.search(r"\d[eE]([+-]|$|[^\d+-])", text):
        why = "an exponent needs digits, as in `1e3`"
    else:
        number, rest = str(prev), text[len(str(prev)):]
        why = f"names cannot start with a digit; to multiply, write `{number} * {rest}`"
    message = f"bad number `{text}`: {why}; expected a number such as `12`, `1.5`, `.5` or `1e-3`"
    return GdlSyntaxError(message, Span(prev.line, prev.column, prev.line,
                                        prev.column + len(text)))


def _accepts(parser: Lark, source: str, stop: Token | None) -> set[str]:
    """The terminals that could come next just before `stop` (None: at the end).

    The table entry of the failing state is not enough: LALR merges lookaheads,
    so a reduce state lists tokens no continuation accepts.  Re-parsing up to
    the bad token and asking the interactive parser gives the exact set.
    """
    ip = parser.parse_interactive(source)
    for tok in ip.iter_parse():
        if stop is not None and tok.start_pos == stop.start_pos and tok.type == stop.type:
            break
    return ip.accepts()


def _tokens(parser: Lark, source: str) -> list[Token]:
    """The source's tokens up to the first bad character (the error is never past it)."""
    tokens: list[Token] = []
    try:
        tokens.extend(parser.lex(source))
    except UnexpectedCharacters:
        pass
    return tokens


def _open_before(tokens: list[Token], pos: int | None) -> list[Token]:
    """The brackets still open before source offset `pos` (None: the end), innermost last."""
    stack: list[Token] = []
    for tok in tokens:
        if pos is not None and tok.start_pos >= pos:
            break
        _track(stack, tok)
    return stack


def _unexpected_token(parser: Lark, tok: Token, expected: set[str],
                      tokens: list[Token]) -> GdlSyntaxError:
    """The message for a token the grammar does not allow where it stands."""
    found = _describe_found(parser, tok)
    opened = _open_before(tokens, tok.start_pos)
    inner = opened[-1] if opened else None
    before = [t for t in tokens if t.start_pos < tok.start_pos]
    # Newlines inside ( ) and [ ] are dropped, so a missing `)` or `]` shows up
    # at a later line's token; the mistake is the bracket, so point there.
    unclosed = (inner is not None and inner.type != "LBRACE" and tok.line > inner.line
                and not _closed_later(tokens, inner))
    if unclosed and (tok.type in _STMT_START or _OPENERS[inner.type] in expected):
        return _never_closed(inner, f"{found} at line {tok.line}, column {tok.column}",
                             _describe_expected(parser, expected))
    # `while = 2`: a keyword where a statement's name goes (after `var` the name is missing).
    if (tok.type in _ASSIGN and before and _is_keyword(parser, before[-1].type)
            and before[-1].type not in _DECLARE
            and (len(before) == 1 or before[-2].type in _STMT_END)):
        word = before[-1]
        return GdlSyntaxError(f"unexpected keyword `{word}`: `{word}` is a keyword and cannot "
                              "be used as a name; expected a name", _tok_span(word))
    if tok.type in _CLOSERS and not any(t.type == _CLOSERS[tok.type] for t in opened):
        what = "block" if tok.type == "RBRACE" else f"`{_BRACKETS[_CLOSERS[tok.type]]}`"
        message = f"unexpected {found}: no {what} is open here"
        if inner is not None:
            message += f"; expected {_closing(inner)}"
    elif tok.type in _CLOSERS and inner.type != _CLOSERS[tok.type]:
        message = f"unexpected {found}: expected {_closing(inner)}"
    elif tok.type in _COMPARE and "AND" in expected:
        message = (f"unexpected {found}: comparisons do not chain (write `a < b and b < c`); "
                   f"expected {_describe_expected(parser, expected)}")
    elif tok.type == "ELSE" and "ELSE" not in expected:
        message = f"unexpected {found}: `else` must follow the `}}` that closes an `if` block"
    elif tok.type == "EQUAL" and inner is not None and _token_before(tokens, inner) == "PRINT":
        message = f"unexpected {found}: `print` takes the values to print, not keyword arguments"
    elif tok.type == "EQUAL" and "AND" in expected:
        message = (f"unexpected {found}: only a plain name can be assigned to (`name = value`); "
                   "to compare values use `==`")
    elif _is_keyword(parser, tok.type) and "NAME" in expected:
        message = (f"unexpected {found}: `{tok}` is a keyword and cannot be used as a name; "
                   f"expected {_describe_expected(parser, expected)}")
    elif expected == {"NAME", "RPAR"} and _in_call(tokens, inner):
        message = (f"unexpected {found}: positional arguments must come before keyword "
                   "arguments; expected a name or `)`")
    else:
        message = f"unexpected {found}: expected {_describe_expected(parser, expected)}"
    return GdlSyntaxError(message, _tok_span(tok))


def _unexpected_end(parser: Lark, expected: set[str], tokens: list[Token]) -> GdlSyntaxError:
    """The message for input that stops too soon: at a bracket left open, else just
    past the last token."""
    opened = _open_before(tokens, None)
    if opened:
        closer = _OPENERS[opened[-1].type]
        want = f"`{_BRACKETS[closer]}`" if closer in expected else _describe_expected(parser,
                                                                                      expected)
        return _never_closed(opened[-1], "the end of input", want)
    real = [t for t in tokens if t.type != "_NL"]
    span = Span(1, 1, 1, 1)
    if real:
        span = Span(real[-1].end_line, real[-1].end_column, real[-1].end_line, real[-1].end_column)
    message = f"unexpected end of input: expected {_describe_expected(parser, expected)}"
    return GdlSyntaxError(message, span)


def _never_closed(opener: Token, found: str, expected: str) -> GdlSyntaxError:
    """The error at a bracket that nothing after it closes: where the fix goes."""
    what = "the block opened here" if opener.type == "LBRACE" else f"this `{opener}`"
    return GdlSyntaxError(f"{what} is never closed: expected {expected}, found {found}",
                          _tok_span(opener))


def _closed_later(tokens: list[Token], opener: Token) -> bool:
    """Whether a later token closes `opener` (then the mistake is elsewhere)."""
    stack: list[Token] = []
    for tok in tokens[next(i for i, t in enumerate(tokens) if t is opener):]:
        _track(stack, tok)
        if not stack:
            return True
    return False


def _token_before(tokens: list[Token], tok: Token) -> str | None:
    """The type of the token just before `tok` (None at the start)."""
    at = next(i for i, t in enumerate(tokens) if t is tok)
    return tokens[at - 1].type if at else None


def _in_call(tokens: list[Token], inner: Token | None) -> bool:
    """Whether the innermost open bracket is a call's `(` (not an `fn`'s parameter list)."""
    if inner is None or inner.type != "LPAR":
        return False
    at = next(i for i, t in enumerate(tokens) if t is inner)
    return at >= 1 and tokens[at - 1].type == "NAME" and (at < 2 or tokens[at - 2].type != "FN")


def _closing(opener: Token) -> str:
    """'`}` to close the block opened at line 3', for an open bracket."""
    return f"`{_BRACKETS[_OPENERS[opener.type]]}` to close {_opened_at(opener)}"


def _opened_at(opener: Token) -> str:
    """Name an open bracket and where it sits."""
    if opener.type == "LBRACE":
        return f"the block opened at line {opener.line}"
    return f"the `{opener}` opened at line {opener.line}, column {opener.column}"


def _text(parser: Lark, terminal: str) -> str:
    """The literal text of a terminal such as RBRACE, or its name if it has none."""
    for term in parser.terminals:
        if term.name == terminal and term.pattern.type == "str":
            return term.pattern.value
    return terminal


def _is_keyword(parser: Lark, terminal: str) -> bool:
    """Whether a terminal is a reserved word like `if`."""
    return terminal not in _WORDS and _text(parser, terminal).isalpha()


def _describe_found(parser: Lark, tok: Token) -> str:
    """Words for the token that was found, e.g. "name `x`" or "`}`"."""
    if tok.type == "_NL":
        return "end of line"
    if tok.type in ("NAME", "STRING"):
        return f"{tok.type.lower()} `{tok}`"
    if tok.type in ("INT", "FLOAT"):
        return f"number `{tok}`"
    if _is_keyword(parser, tok.type):
        return f"keyword `{tok}`"
    return f"`{tok}`"


def _describe_expected(parser: Lark, expected: set[str]) -> str:
    """Plain words for a set of terminals, grouping statements, expressions and operators."""
    left = set(expected)
    groups = []
    if _STMT_START <= left and {"NAME", "INT"} <= left:
        groups.append("a statement")
        left -= _STMT_START | _EXPR_START
    elif {"NAME", "INT", "LPAR"} <= left:
        groups.append("an expression")
        left -= _EXPR_START
    if len(left & _OPERATORS) >= 2:
        left -= _OPERATORS | {"LPAR"}           # after a name, `(` starts a call
        groups.append("an operator")
    if "_NL" in left:
        left -= {"_NL", "SEMICOLON", "$END"}
        groups.append("the end of the statement")
    if "$END" in left:
        left.discard("$END")
        groups.append("the end of the program")
    # Closing brackets first: they are the likeliest fix.
    order = sorted(left, key=lambda t: (t not in _CLOSERS, _text(parser, t)))
    words = [_WORDS.get(t) or f"`{_text(parser, t)}`" for t in order] + groups
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
