"""The small KQL subset the emulator's Resource Graph understands.

Supported: `resources` then any of `| where <expr>`, `| project a, b, alias = x.y`,
`| order by col [asc|desc]` (KQL's default is desc), `| take N` / `| limit N`, `| count`.
In `where`: `and`/`or`/`not(...)`/parentheses; `==` `!=` `=~` `!~` `in` `in~` `!in` `!in~`
`contains` `!contains` `startswith` `endswith` `has` `!has`; `isnull()` `isnotnull()` `isempty()`
`isnotempty()`. Columns may be dotted paths (`properties.publicNetworkAccess`) or `tags['name']`.
Anything else raises KqlError, so a query the emulator cannot honour fails loudly, never silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
Stage = Callable[[list[Row]], list[Row]]


class KqlError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
     |(?P<num>-?\d+(?:\.\d+)?)
     |(?P<word>!?[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z]+)?~?)
     |(?P<op>=~|!~|==|!=|\(|\)|,|\||=|\[|\]|\.)
    )""",
    re.VERBOSE,
)

_COMPARATORS = {
    "==", "!=", "=~", "!~", "in", "in~", "!in", "!in~",
    "contains", "!contains", "startswith", "endswith", "has", "!has",
}
_NULL_FUNCS = {"isnull", "isnotnull", "isempty", "isnotempty"}


@dataclass(frozen=True)
class Token:
    kind: str  # str | num | word | op
    text: str

    @property
    def value(self) -> Any:
        if self.kind == "str":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        if self.kind == "num":
            return float(self.text) if "." in self.text else int(self.text)
        if self.kind == "word" and self.text.lower() in ("true", "false"):
            return self.text.lower() == "true"
        raise KqlError(f"expected a literal, got {self.text!r}")


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = query.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise KqlError(f"unexpected character at {pos}: {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append(Token(kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Cursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise KqlError("unexpected end of query")
        self.pos += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.text.lower() == text:
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            found = self.peek()
            raise KqlError(f"expected {text!r}, got {found.text if found else 'end of query'!r}")

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)


def column_path(cur: _Cursor) -> tuple[str, ...]:
    first = cur.next()
    if first.kind != "word":
        raise KqlError(f"expected a column name, got {first.text!r}")
    parts = [first.text]
    while True:
        if cur.accept("."):
            part = cur.next()
            if part.kind != "word":
                raise KqlError(f"expected a property name after '.', got {part.text!r}")
            parts.append(part.text)
        elif cur.accept("["):
            part = cur.next()
            if part.kind != "str":
                raise KqlError("expected a quoted name inside [ ]")
            parts.append(part.value)
            cur.expect("]")
        else:
            return tuple(parts)


def lookup(row: Any, path: tuple[str, ...]) -> Any:
    value = row
    for part in path:
        if not isinstance(value, dict):
            return None
        # KQL is case-sensitive here, but ARM property casing varies between API versions.
        value = value[part] if part in value else next(
            (v for k, v in value.items() if k.lower() == part.lower()), None
        )
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _compare(op: str, value: Any, literal: Any) -> bool:
    negate = op.startswith("!") and op not in ("!=",)
    base = op[1:] if negate else op
    if base in ("in", "in~"):
        items = literal if isinstance(literal, list) else [literal]
        if base == "in~":
            result = _text(value).lower() in {_text(i).lower() for i in items}
        else:
            result = any(value == i for i in items)
    elif base == "==":
        result = value == literal
    elif base == "!=":
        result = value != literal
    elif base in ("=~", "~"):  # "~" is what is left of "!~"
        result = value is not None and _text(value).lower() == _text(literal).lower()
    elif base in ("contains", "has"):
        result = _text(literal).lower() in _text(value).lower()
    elif base == "startswith":
        result = _text(value).lower().startswith(_text(literal).lower())
    elif base == "endswith":
        result = _text(value).lower().endswith(_text(literal).lower())
    else:
        raise KqlError(f"unsupported operator {op!r}")
    return not result if negate else result


Predicate = Callable[[Row], bool]


def _parse_or(cur: _Cursor) -> Predicate:
    terms = [_parse_and(cur)]
    while cur.accept("or"):
        terms.append(_parse_and(cur))
    return terms[0] if len(terms) == 1 else (lambda row: any(t(row) for t in terms))


def _parse_and(cur: _Cursor) -> Predicate:
    terms = [_parse_unary(cur)]
    while cur.accept("and"):
        terms.append(_parse_unary(cur))
    return terms[0] if len(terms) == 1 else (lambda row: all(t(row) for t in terms))


def _parse_unary(cur: _Cursor) -> Predicate:
    if cur.accept("not"):
        cur.expect("(")
        inner = _parse_or(cur)
        cur.expect(")")
        return lambda row: not inner(row)
    if cur.accept("("):
        inner = _parse_or(cur)
        cur.expect(")")
        return inner
    token = cur.peek()
    if token is not None and token.text.lower() in _NULL_FUNCS:
        func = cur.next().text.lower()
        cur.expect("(")
        path = column_path(cur)
        cur.expect(")")
        empty: Callable[[Any], bool] = lambda v: v is None or v == "" or v == [] or v == {}  # noqa: E731
        checks: dict[str, Predicate] = {
            "isnull": lambda row: lookup(row, path) is None,
            "isnotnull": lambda row: lookup(row, path) is not None,
            "isempty": lambda row: empty(lookup(row, path)),
            "isnotempty": lambda row: not empty(lookup(row, path)),
        }
        return checks[func]
    path = column_path(cur)
    op = cur.next().text.lower()
    if op not in _COMPARATORS:
        raise KqlError(f"unsupported operator {op!r}")
    literal: Any
    if op in ("in", "in~", "!in", "!in~"):
        cur.expect("(")
        literal = [cur.next().value]
        while cur.accept(","):
            literal.append(cur.next().value)
        cur.expect(")")
    else:
        literal = cur.next().value
    return lambda row: _compare(op, lookup(row, path), literal)


def _stage_where(cur: _Cursor) -> Stage:
    predicate = _parse_or(cur)
    return lambda rows: [r for r in rows if predicate(r)]


def _stage_project(cur: _Cursor) -> Stage:
    columns: list[tuple[str, tuple[str, ...]]] = []
    while True:
        path = column_path(cur)
        if cur.accept("="):
            if len(path) != 1:
                raise KqlError("a project alias must be a plain name")
            columns.append((path[0], column_path(cur)))
        else:
            columns.append((path[-1], path))
        if not cur.accept(","):
            break
    return lambda rows: [{name: lookup(r, p) for name, p in columns} for r in rows]


def _stage_order(cur: _Cursor) -> Stage:
    cur.expect("by")
    keys: list[tuple[tuple[str, ...], bool]] = []
    while True:
        path = column_path(cur)
        descending = True  # KQL sorts descending unless told otherwise
        if cur.accept("asc"):
            descending = False
        else:
            cur.accept("desc")
        keys.append((path, descending))
        if not cur.accept(","):
            break

    def run(rows: list[Row]) -> list[Row]:
        ordered = list(rows)
        for path, descending in reversed(keys):  # stable sorts, least significant key first
            present = [r for r in ordered if lookup(r, path) is not None]
            missing = [r for r in ordered if lookup(r, path) is None]
            present.sort(key=lambda r: _text(lookup(r, path)).lower(), reverse=descending)
            ordered = present + missing
        return ordered

    return run


def _stage_take(cur: _Cursor) -> Stage:
    count = cur.next().value
    if not isinstance(count, int) or count < 0:
        raise KqlError("take/limit needs a non-negative integer")
    return lambda rows: rows[:count]


def compile_query(query: str) -> list[Stage]:
    """Compile the query into stages applied to the rows of the `resources` table."""
    segments: list[list[Token]] = [[]]
    for token in tokenize(query):
        if token.text == "|":
            segments.append([])
        else:
            segments[-1].append(token)
    table = segments[0]
    if len(table) != 1 or table[0].text.lower() != "resources":
        raise KqlError("the emulator only knows the 'resources' table")
    stages: list[Stage] = []
    for segment in segments[1:]:
        cur = _Cursor(segment)
        if cur.at_end():
            raise KqlError("empty pipeline stage")
        word = cur.next().text.lower()
        if word == "where":
            stages.append(_stage_where(cur))
        elif word == "project":
            stages.append(_stage_project(cur))
        elif word in ("order", "sort"):
            stages.append(_stage_order(cur))
        elif word in ("take", "limit"):
            stages.append(_stage_take(cur))
        elif word == "count":
            stages.append(lambda rows: [{"Count": len(rows)}])
        else:
            raise KqlError(f"unsupported KQL operator {word!r}")
        if not cur.at_end():
            raise KqlError(f"unexpected {cur.next().text!r} in '{word}' stage")
    return stages


def run_query(query: str, rows: list[Row]) -> list[Row]:
    for stage in compile_query(query):
        rows = stage(rows)
    return rows
