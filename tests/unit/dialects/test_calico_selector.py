"""Calico selector parser: grammar, precedence, errors with columns and absent-label semantics
(semantics reference §3.4; projectcalico/calico libcalico-go/lib/selector/tokenizer/tokenizer.go
and parser/parser.go)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubefence.dialects.calico_selector import (
    SelectorError,
    conjoin,
    contains_global,
    parse_selector,
    prefix_keys,
)
from kubefence.ir.expressions import All, And, Compare, Expr, Global, Has, InSet, Not, Op, Or


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", All(), id="empty-is-all"),
        pytest.param(" \t ", All(), id="blanks-are-all"),
        pytest.param("all()", All(), id="all"),
        pytest.param("all( \t)", All(), id="all-inner-blanks"),
        pytest.param("global()", Global(), id="global"),
        pytest.param("has(a/b.c-d_e)", Has("a/b.c-d_e"), id="has"),
        pytest.param("has( \tx )", Has("x"), id="has-inner-blanks"),
        pytest.param('a=="x"', Compare("a", Op.EQ, "x"), id="eq-no-blanks"),
        pytest.param('a!="x"', Compare("a", Op.NE, "x"), id="ne-before-not"),
        pytest.param("a == 'say \"hi\"'", Compare("a", Op.EQ, 'say "hi"'), id="single-quotes"),
        pytest.param('a contains "x"', Compare("a", Op.CONTAINS, "x"), id="contains"),
        pytest.param('a starts  with "x"', Compare("a", Op.STARTS_WITH, "x"), id="starts-with"),
        pytest.param('a ends\twith "x"', Compare("a", Op.ENDS_WITH, "x"), id="ends-with-tab"),
        pytest.param('k in {"a", "b"}', InSet("k", frozenset({"a", "b"})), id="in"),
        pytest.param('k in{"a",}', InSet("k", frozenset({"a"})), id="in-trailing-comma"),
        pytest.param("k in {}", InSet("k", frozenset()), id="in-empty"),
        pytest.param("k not in {}", InSet("k", frozenset(), negated=True), id="not-in-empty"),
        pytest.param("k notin {'a'}", InSet("k", frozenset({"a"}), negated=True), id="notin"),
        pytest.param('!a=="x"', Not(Compare("a", Op.EQ, "x")), id="not-binds-comparison"),
        pytest.param("!!has(a)", Has("a"), id="double-not"),
        pytest.param("!!!has(a)", Not(Has("a")), id="triple-not"),
        pytest.param(
            '!a=="x" && b=="y"',
            And((Not(Compare("a", Op.EQ, "x")), Compare("b", Op.EQ, "y"))),
            id="not-binds-tighter-than-and",
        ),
        pytest.param(
            "has(a) || has(b) && has(c)",
            Or((Has("a"), And((Has("b"), Has("c"))))),
            id="and-binds-tighter-than-or",
        ),
        pytest.param(
            "(has(a) || has(b)) && has(c)",
            And((Or((Has("a"), Has("b"))), Has("c"))),
            id="parentheses",
        ),
        pytest.param("!(has(a) || has(b))", Not(Or((Has("a"), Has("b")))), id="not-group"),
        pytest.param('in == "x"', Compare("in", Op.EQ, "x"), id="word-as-label"),
        pytest.param('hasx == "1"', Compare("hasx", Op.EQ, "1"), id="has-prefix-label"),
        pytest.param('a == ""', Compare("a", Op.EQ, ""), id="empty-string"),
    ],
)
def test_grammar(text: str, expected: Expr) -> None:
    """§3.4 grammar: `!=` before `!`, `!` parity, precedence ! > && > ||, sets, quotes."""
    assert parse_selector(text) == expected


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        pytest.param("has (x)", 5, "without a blank before the parenthesis", id="has-space"),
        pytest.param('a == "x"\n', 9, "only spaces and tabs", id="trailing-newline"),
        pytest.param('a == "x" &&\nb == "y"', 12, "only spaces and tabs", id="newline-between"),
        pytest.param('a inx {"x"}', 3, "expected an operator", id="word-boundary-in"),
        pytest.param('a containsx "x"', 3, "expected an operator", id="word-boundary-contains"),
        pytest.param('a starts "x"', 3, "expected an operator", id="starts-without-with"),
        pytest.param('a = "x"', 3, "expected '=='", id="single-equals"),
        pytest.param('a == "x" & b == "y"', 10, "expected '&&'", id="single-ampersand"),
        pytest.param('a == "x" | b == "y"', 10, "expected '||'", id="single-bar"),
        pytest.param('a == "x', 6, "unterminated string", id="unterminated"),
        pytest.param("a == b", 6, "expected a quoted string", id="unquoted-value"),
        pytest.param("a", 2, "found the end", id="label-alone"),
        pytest.param("k in {,}", 7, "in the set", id="set-leading-comma"),
        pytest.param('k in {"a" "b"}', 11, "in the set", id="set-missing-comma"),
        pytest.param('k in "a"', 6, "'{' to start a set", id="set-without-braces"),
        pytest.param("(has(a)", 8, "')' to close the '(' at column 1", id="unclosed-paren"),
        pytest.param("has(a))", 7, "expected '&&', '||' or the end", id="extra-paren"),
        pytest.param("has(a) has(b)", 8, "expected '&&', '||' or the end", id="missing-operator"),
        pytest.param("has()", 5, "expected a label inside has", id="has-empty"),
        pytest.param("has(a", 6, "expected ')' to close has(", id="has-unclosed"),
        pytest.param("all(x)", 5, "expected ')' to close all(", id="all-with-argument"),
        pytest.param("&& has(a)", 1, "expected a label", id="leading-and"),
        pytest.param('a == "x" ||', 12, "found the end", id="dangling-or"),
        pytest.param("!", 2, "found the end", id="lone-not"),
        pytest.param('a€ == "x"', 2, "expected an operator", id="non-ascii-label"),
        pytest.param("x" * 513 + ' == "y"', 1, "at most 512", id="label-too-long"),
        pytest.param("(" * 101 + "has(a)" + ")" * 101, 101, "nested deeper", id="too-deep"),
    ],
)
def test_errors_name_column_and_expectation(text: str, column: int, fragment: str) -> None:
    """Syntax errors the Calico tokenizer/parser rejects; kubefence names the column."""
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"column {column}: ")


def test_label_of_512_characters_is_accepted() -> None:
    """tokenizer.go MaxLabelLength = 512."""
    assert parse_selector("x" * 512 + ' == "y"') == Compare("x" * 512, Op.EQ, "y")


def test_selector_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="column 1"):
        parse_selector("==")


@pytest.mark.parametrize(
    ("text", "absent", "other", "same"),
    [
        pytest.param('k == "v"', False, False, True, id="eq"),
        pytest.param('k != "v"', True, True, False, id="ne-matches-absent"),
        pytest.param('k in {"v"}', False, False, True, id="in"),
        pytest.param('k not in {"v"}', True, True, False, id="not-in-matches-absent"),
        pytest.param("k not in {}", True, True, True, id="not-in-empty-matches-all"),
        pytest.param("k in {}", False, False, False, id="in-empty-matches-none"),
        pytest.param('k contains "v"', False, False, True, id="contains"),
        pytest.param('k starts with "v"', False, False, True, id="starts-with"),
        pytest.param('k ends with "v"', False, False, True, id="ends-with"),
        pytest.param("has(k)", False, True, True, id="has"),
        pytest.param("!has(k)", True, False, False, id="not-has"),
        pytest.param('!k == "v"', True, True, False, id="not-eq-matches-absent"),
        pytest.param("all()", True, True, True, id="all"),
    ],
)
def test_absent_label_semantics(text: str, absent: bool, other: bool, same: bool) -> None:
    """§3.4 evaluation table and trap §8.9: `!=`/`not in` match a missing label, the others don't."""
    expr = parse_selector(text)
    assert expr.matches({}) is absent
    assert expr.matches({"k": "w"}) is other
    assert expr.matches({"k": "v"}) is same


def test_prefix_keys_rewrites_every_key() -> None:
    """libcalico-go updateprocessors: namespace selectors get ``pcns.``, SA selectors ``pcsa.``."""
    expr = parse_selector('a == "1" && !has(b) || c not in {"x"} || all()')
    assert prefix_keys(expr, "pcsa.") == Or(
        (
            And((Compare("pcsa.a", Op.EQ, "1"), Not(Has("pcsa.b")))),
            InSet("pcsa.c", frozenset({"x"}), negated=True),
            All(),
        )
    )
    assert prefix_keys(Global(), "pcns.", global_is=Not(All())) == Not(All())
    assert prefix_keys(All(), "pcns.", all_is=Has("x")) == Has("x")


def test_conjoin_flattens_and_drops_all() -> None:
    assert conjoin(None, All()) == All()
    assert conjoin(Has("a"), None) == Has("a")
    assert conjoin(And((Has("a"), Has("b"))), All(), Has("c")) == And((Has("a"), Has("b"), Has("c")))


def test_contains_global_looks_everywhere() -> None:
    assert contains_global(parse_selector("has(a) && !(global() || has(b))"))
    assert not contains_global(parse_selector("has(a) && all()"))


# -- property: rendering and re-parsing keeps the meaning -------------------------------------

_KEYS = st.sampled_from(["a", "b", "x/y"])
_VALUES = st.sampled_from(["1", "2", "", "12"])
_LEAVES: st.SearchStrategy[Expr] = st.one_of(
    st.just(All()),
    st.builds(Has, _KEYS),
    st.builds(Compare, _KEYS, st.sampled_from(list(Op)), _VALUES),
    st.builds(InSet, _KEYS, st.frozensets(_VALUES, max_size=3), st.booleans()),
)
_EXPRS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(And, st.tuples(inner, inner)),
        st.builds(Or, st.tuples(inner, inner, inner)),
    ),
    max_leaves=8,
)
_LABELS = st.dictionaries(_KEYS, _VALUES, max_size=3)


@given(_EXPRS, st.lists(_LABELS, min_size=1, max_size=5))
def test_rendered_expression_reparses_to_the_same_meaning(
    expr: Expr, label_sets: list[dict[str, str]]
) -> None:
    """``str()`` of ir.expressions renders Calico syntax (its docstring); the parser reads it
    back with the same meaning on every label set."""
    again = parse_selector(str(expr))
    for labels in label_sets:
        assert again.matches(labels) == expr.matches(labels)


@given(st.text(alphabet='ab=!&|()"{} ,\tin', max_size=20))
def test_parser_never_crashes(text: str) -> None:
    """Any text either parses or raises SelectorError, never another exception."""
    try:
        parse_selector(text)
    except SelectorError:
        pass
