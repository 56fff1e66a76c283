"""Calico selector text → ``ir.expressions.Expr`` (semantics reference §3.4).

The grammar is the one of libcalico-go's tokenizer and parser (lib/selector/tokenizer,
lib/selector/parser): only space and tab separate tokens (a newline is an error); ``has(``,
``all(`` and ``global(`` are recognised with their parenthesis attached (``has (x)`` is an
error); ``!=`` is read before ``!``; the word operators ``in``, ``not in``/``notin``,
``contains``, ``starts with`` and ``ends with`` only directly after a label and only when a
non-label character (or the end) follows; strings are ``'…'`` or ``"…"`` without escapes; a
label is ``[A-Za-z0-9_./-]+`` of at most 512 characters. Any number of ``!`` collapse by parity
and bind to one operand; ``&&`` binds tighter than ``||``. The empty selector (or one of only
blanks) is ``all()``.

Errors raise ``SelectorError`` whose message names the 1-based column and what was expected.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from kubefence.ir.expressions import All, And, Compare, Expr, Global, Has, InSet, Not, Op, Or

__all__ = ["MAX_LABEL", "SelectorError", "conjoin", "contains_global", "parse_selector", "prefix_keys"]

MAX_LABEL: Final = 512
MAX_DEPTH: Final = 100
_BLANKS: Final = " \t"
_LABEL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_OPERATORS: Final = "==, !=, in, not in, contains, starts with or ends with"


class SelectorError(ValueError):
    """A syntax error at ``column`` (1-based) of the selector text."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.detail = message


class _Kind(enum.Enum):
    LABEL = "a label"
    STRING = "a quoted string"
    LBRACE = "'{'"
    RBRACE = "'}'"
    COMMA = "','"
    EQ = "'=='"
    NE = "'!='"
    IN = "'in'"
    NOT_IN = "'not in'"
    CONTAINS = "'contains'"
    STARTS_WITH = "'starts with'"
    ENDS_WITH = "'ends with'"
    ALL = "'all()'"
    GLOBAL = "'global()'"
    HAS = "'has(…)'"
    LPAREN = "'('"
    RPAREN = "')'"
    AND = "'&&'"
    OR = "'||'"
    NOT = "'!'"
    EOF = "the end of the selector"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    column: int
    value: str = ""


_SINGLE: Final = {
    "(": _Kind.LPAREN,
    ")": _Kind.RPAREN,
    "{": _Kind.LBRACE,
    "}": _Kind.RBRACE,
    ",": _Kind.COMMA,
}
_PAIRS: Final = {"=": ("==", _Kind.EQ), "&": ("&&", _Kind.AND), "|": ("||", _Kind.OR)}
_WORD_OPERATORS: Final = (
    (("contains",), _Kind.CONTAINS),
    (("starts", "with"), _Kind.STARTS_WITH),
    (("ends", "with"), _Kind.ENDS_WITH),
    (("not", "in"), _Kind.NOT_IN),
    (("in",), _Kind.IN),
)
_FUNCTIONS: Final = (("all(", _Kind.ALL), ("global(", _Kind.GLOBAL))
_COMPARISONS: Final = {
    _Kind.EQ: Op.EQ,
    _Kind.NE: Op.NE,
    _Kind.CONTAINS: Op.CONTAINS,
    _Kind.STARTS_WITH: Op.STARTS_WITH,
    _Kind.ENDS_WITH: Op.ENDS_WITH,
}


# -- tokenizer ---------------------------------------------------------------------------------


class _Tokenizer:
    """Splits selector text into tokens, each with its 1-based column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        while True:
            self.skip_blanks()
            if self.pos >= len(self.text):
                self.tokens.append(_Token(_Kind.EOF, self.pos + 1))
                return self.tokens
            self.tokens.append(self.next_token())

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _BLANKS:
            self.pos += 1

    def next_token(self) -> _Token:
        char, start = self.text[self.pos], self.pos + 1
        if char in _SINGLE:
            self.pos += 1
            return _Token(_SINGLE[char], start)
        if char in "'\"":
            return self.string(char, start)
        if char == "!":
            kind = _Kind.NE if self.text.startswith("!=", self.pos) else _Kind.NOT
            self.pos += 2 if kind is _Kind.NE else 1
            return _Token(kind, start)
        if char in _PAIRS:
            pair, kind = _PAIRS[char]
            if not self.text.startswith(pair, self.pos):
                raise SelectorError(start, f"expected '{pair}', found {char!r} alone")
            self.pos += 2
            return _Token(kind, start)
        if self.tokens and self.tokens[-1].kind is _Kind.LABEL:
            return self.operator(start)
        return self.word(start)

    def string(self, quote: str, start: int) -> _Token:
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise SelectorError(start, f"unterminated string: no closing {quote} (escapes are not supported)")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return _Token(_Kind.STRING, start, value)

    def operator(self, start: int) -> _Token:
        """A word operator directly after a label."""
        for words, kind in _WORD_OPERATORS:
            end = self.words_at(words)
            if end is not None:
                self.pos = end
                return _Token(kind, start)
        label = self.tokens[-1].value
        raise SelectorError(start, f"expected an operator ({_OPERATORS}) after label {label!r}")

    def words_at(self, words: tuple[str, ...]) -> int | None:
        """Where ``words`` (blanks between them) end at the current position, if they are there
        and a word boundary follows the last one."""
        pos = self.pos
        for i, word in enumerate(words):
            if not self.text.startswith(word, pos):
                return None
            pos += len(word)
            if i < len(words) - 1:
                while pos < len(self.text) and self.text[pos] in _BLANKS:
                    pos += 1
        if pos < len(self.text) and self.text[pos] in _LABEL_CHARS:
            return None
        return pos

    def word(self, start: int) -> _Token:
        """``has(label)``, ``all()``, ``global()`` or a label."""
        if self.text.startswith("has(", self.pos):
            self.pos += len("has(")
            self.skip_blanks()
            label = self.label(expected="a label inside has(…)")
            self.close(start, "has(")
            return _Token(_Kind.HAS, start, label)
        for name, kind in _FUNCTIONS:
            if self.text.startswith(name, self.pos):
                self.pos += len(name)
                self.close(start, name)
                return _Token(kind, start)
        return _Token(_Kind.LABEL, start, self.label(expected="a label, '(', '!', has(…), all() or global()"))

    def close(self, start: int, name: str) -> None:
        self.skip_blanks()
        if not self.text.startswith(")", self.pos):
            raise SelectorError(self.pos + 1, f"expected ')' to close {name} opened at column {start}")
        self.pos += 1

    def label(self, expected: str) -> str:
        begin = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _LABEL_CHARS:
            self.pos += 1
        label = self.text[begin : self.pos]
        if not label:
            raise SelectorError(begin + 1, f"expected {expected}, found {self.describe(begin)}")
        if len(label) > MAX_LABEL:
            raise SelectorError(begin + 1, f"label is {len(label)} characters long (at most {MAX_LABEL})")
        return label

    def describe(self, pos: int) -> str:
        if pos >= len(self.text):
            return "the end of the selector"
        char = self.text[pos]
        if char in "\n\r":
            return f"{char!r} (a selector is one line: only spaces and tabs may separate tokens)"
        return repr(char)


# -- parser ------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens: or → and → unary → primary."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind is not _Kind.EOF:
            self.i += 1
        return token

    def skip(self, kind: _Kind) -> bool:
        """Take the next token if it is a ``kind``."""
        if self.tokens[self.i].kind is kind:
            self.take()
            return True
        return False

    def expect(self, kind: _Kind, what: str) -> _Token:
        token = self.take()
        if token.kind is not kind:
            raise SelectorError(token.column, f"expected {what}, found {token.kind.value}")
        return token

    def root(self) -> Expr:
        if self.peek.kind is _Kind.EOF:
            return All()
        expr = self.or_expr()
        token = self.peek
        if token.kind is not _Kind.EOF:
            raise SelectorError(token.column, f"expected '&&', '||' or the end, found {token.kind.value}")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.peek.kind is _Kind.OR:
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.unary()]
        while self.peek.kind is _Kind.AND:
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Expr:
        negated = False
        while self.peek.kind is _Kind.NOT:
            self.take()
            negated = not negated
        expr = self.primary()
        return Not(expr) if negated else expr

    def primary(self) -> Expr:
        token = self.take()
        if token.kind is _Kind.HAS:
            return Has(token.value)
        if token.kind is _Kind.ALL:
            return All()
        if token.kind is _Kind.GLOBAL:
            return Global()
        if token.kind is _Kind.LABEL:
            return self.operation(token.value)
        if token.kind is _Kind.LPAREN:
            return self.group(token)
        raise SelectorError(
            token.column, f"expected a label, '(', '!', has(…), all() or global(), found {token.kind.value}"
        )

    def group(self, opening: _Token) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SelectorError(
                opening.column, f"parentheses nested deeper than {MAX_DEPTH} (kubefence limit)"
            )
        expr = self.or_expr()
        self.expect(_Kind.RPAREN, f"')' to close the '(' at column {opening.column}")
        self.depth -= 1
        return expr

    def operation(self, label: str) -> Expr:
        token = self.take()
        if token.kind in _COMPARISONS:
            value = self.expect(_Kind.STRING, f"a quoted string after {token.kind.value}")
            return Compare(label, _COMPARISONS[token.kind], value.value)
        if token.kind in (_Kind.IN, _Kind.NOT_IN):
            return InSet(label, self.string_set(), negated=token.kind is _Kind.NOT_IN)
        hint = ""
        if label == "has" and token.kind is _Kind.LPAREN:
            hint = " (write has(key) without a blank before the parenthesis)"
        raise SelectorError(
            token.column,
            f"expected an operator ({_OPERATORS}) after label {label!r}, found {token.kind.value}{hint}",
        )

    def string_set(self) -> frozenset[str]:
        """``{ "a", "b", }``: empty sets and a trailing comma are allowed."""
        self.expect(_Kind.LBRACE, "'{' to start a set")
        values: list[str] = []
        while self.peek.kind is _Kind.STRING:
            values.append(self.take().value)
            if not self.skip(_Kind.COMMA):
                break
        self.expect(_Kind.RBRACE, "a quoted string, ',' or '}' in the set")
        return frozenset(values)


def parse_selector(text: str) -> Expr:
    """The expression of a Calico selector; ``SelectorError`` when it is not valid."""
    return _Parser(_Tokenizer(text).run()).root()


# -- helpers used by the dialect -----------------------------------------------------------------


def contains_global(expr: Expr) -> bool:
    """Whether ``global()`` appears anywhere in the expression."""
    if isinstance(expr, Global):
        return True
    if isinstance(expr, Not):
        return contains_global(expr.item)
    if isinstance(expr, And | Or):
        return any(contains_global(item) for item in expr.items)
    return False


def prefix_keys(
    expr: Expr, prefix: str, *, all_is: Expr | None = None, global_is: Expr | None = None
) -> Expr:
    """The expression with every label key prefixed, as Calico rewrites namespace (``pcns.``)
    and service-account (``pcsa.``) selectors to match endpoint labels. ``all_is`` /
    ``global_is`` replace ``all()`` / ``global()`` when given."""
    if isinstance(expr, Has):
        return Has(prefix + expr.key)
    if isinstance(expr, Compare):
        return Compare(prefix + expr.key, expr.op, expr.value)
    if isinstance(expr, InSet):
        return InSet(prefix + expr.key, expr.values, expr.negated)
    if isinstance(expr, Not):
        return Not(prefix_keys(expr.item, prefix, all_is=all_is, global_is=global_is))
    if isinstance(expr, And | Or):
        items = tuple(prefix_keys(i, prefix, all_is=all_is, global_is=global_is) for i in expr.items)
        return And(items) if isinstance(expr, And) else Or(items)
    if isinstance(expr, All):
        return all_is if all_is is not None else expr
    return global_is if global_is is not None else expr


def conjoin(*exprs: Expr | None) -> Expr:
    """``a && b && …`` of the given expressions; None and ``all()`` are left out (none: all())."""
    items: list[Expr] = []
    for expr in exprs:
        if expr is None or isinstance(expr, All):
            continue
        items.extend(expr.items if isinstance(expr, And) else (expr,))
    if not items:
        return All()
    return items[0] if len(items) == 1 else And(tuple(items))
