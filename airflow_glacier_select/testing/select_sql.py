"""The Glacier Select SQL dialect, evaluated over a CSV archive.

Glacier Select runs one ``SELECT`` over one CSV archive: a projection (``*`` or a list
of expressions), ``FROM ARCHIVE`` (or ``OBJECT`` / ``S3Object``) with an optional alias,
and an optional ``WHERE``. It has no GROUP BY, ORDER BY, JOIN, DISTINCT, UNION,
aggregates, LIMIT or subqueries; those fail with ``UnsupportedSyntax`` as on the service.

Semantics follow the S3 / Glacier Select SQL reference and, where it is silent, the
service's reported behaviour:

* every CSV value is a string until CAST says otherwise, and an empty field is the empty
  string, not NULL;
* a column the record does not have (``_5`` on a three-field record, or a header name
  that is not in the header) is MISSING; it behaves as NULL in expressions, ``IS NULL``
  is true for it, and it is written as an empty field;
* comparing values of different types (a string column with a number, say) is false for
  ``=``, true for ``<>`` / ``!=`` and an ``ExternalEvalException`` for ordering
  comparisons, so ``CAST(s._1 AS INT) > 5`` is how a numeric filter is written;
* logic is three-valued (NULL AND FALSE is FALSE, NULL OR TRUE is TRUE) and a record is
  selected only when WHERE is TRUE. NOT binds tighter than AND, AND tighter than OR;
* unquoted names match header names case-insensitively, double-quoted names exactly.

The SQL is parsed once into a tree, bound to the header (when FileHeaderInfo is USE) and
compiled into Python closures, so each record costs only the closures it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from airflow_glacier_select.testing.select_csv import CsvInput, CsvOutput, SelectError, read_records

__all__ = ["SelectError", "evaluate_select", "iter_select", "parse_select"]

MAX_EXPRESSION_LENGTH = 128_000
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class _Missing:
    """The value of a column a record does not have (PartiQL's MISSING); one instance."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
Value = str | int | float | Decimal | bool | datetime | None | _Missing
Record = Sequence[str]
Compiled = Callable[[Record], Value]

# ---------------------------------------------------------------------------------------
# Lexer

_KEYWORD_TEXT = """SELECT FROM WHERE AS AND OR NOT LIKE ESCAPE IS NULL MISSING BETWEEN IN CAST TRUE FALSE
    CASE WHEN THEN ELSE END GROUP ORDER BY JOIN INNER LEFT RIGHT FULL OUTER CROSS ON DISTINCT
    UNION INTERSECT EXCEPT LIMIT OFFSET HAVING ALL"""
KEYWORDS = frozenset(_KEYWORD_TEXT.split())
UNSUPPORTED_KEYWORDS = {
    "GROUP": "GROUP BY",
    "ORDER": "ORDER BY",
    "HAVING": "HAVING",
    "JOIN": "JOIN",
    "INNER": "JOIN",
    "LEFT": "JOIN",
    "RIGHT": "JOIN",
    "FULL": "JOIN",
    "CROSS": "JOIN",
    "DISTINCT": "DISTINCT",
    "UNION": "UNION",
    "INTERSECT": "INTERSECT",
    "EXCEPT": "EXCEPT",
    "LIMIT": "LIMIT",
    "OFFSET": "OFFSET",
}
AGGREGATES = frozenset({"COUNT", "SUM", "AVG", "MIN", "MAX"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<op><>|!=|<=|>=|\|\||[=<>+\-*/%(),.])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # KEYWORD IDENTIFIER QUOTED_IDENTIFIER LITERAL NUMBER OPERATOR EOF
    text: str
    line: int
    column: int

    @property
    def upper(self) -> str:
        return self.text.upper()

    def describe(self) -> str:
        text = "<EOF>" if self.kind == "EOF" else self.text
        return f"{self.kind}:{text}"

    def where(self) -> str:
        return f"at line {self.line}, column {self.column}"


def tokenize(expression: str) -> list[Token]:
    """Split SQL text into tokens, each knowing its line and column for error messages."""
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        column = pos - line_start + 1
        if match is None:
            char = expression[pos]
            if char in "'\"":
                raise SelectError(
                    "LexerInvalidLiteral",
                    f"Unterminated {'string literal' if char == chr(39) else 'quoted identifier'} "
                    f"at line {line}, column {column}.",
                )
            raise SelectError(
                "LexerInvalidChar", f"Invalid character {char!r} at line {line}, column {column}."
            )
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "space":
            if kind == "word":
                kind = "KEYWORD" if text.upper() in KEYWORDS else "IDENTIFIER"
            tokens.append(Token(_KIND_NAMES.get(kind, kind), text, line, column))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = pos + text.rindex("\n") + 1
        pos = match.end()
    tokens.append(Token("EOF", "", line, pos - line_start + 1))
    return tokens


_KIND_NAMES = {"number": "NUMBER", "string": "LITERAL", "quoted": "QUOTED_IDENTIFIER", "op": "OPERATOR"}

# ---------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Column:
    """``_N`` (position, 1-based) or a header name; ``quoted`` names match exactly.

    ``qualifier`` is the table alias written before the dot (``s`` in ``s._1``), if any.
    """

    name: str
    quoted: bool
    token: Token
    qualifier: Token | None = None


@dataclass(frozen=True)
class Unary:
    op: str  # NOT, NEG
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # AND OR = <> < <= > >= + - * / % ||
    left: Node
    right: Node
    token: Token


@dataclass(frozen=True)
class Like:
    value: Node
    pattern: Node
    escape: Node | None
    negated: bool


@dataclass(frozen=True)
class Between:
    value: Node
    low: Node
    high: Node
    negated: bool
    token: Token


@dataclass(frozen=True)
class In:
    value: Node
    options: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class IsTest:
    value: Node
    what: str  # NULL MISSING TRUE FALSE
    negated: bool


@dataclass(frozen=True)
class Cast:
    value: Node
    type_name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    token: Token
    trim_side: str = "BOTH"


@dataclass(frozen=True)
class Case:
    operand: Node | None
    whens: tuple[tuple[Node, Node], ...]
    default: Node | None


Node = Literal | Column | Unary | Binary | Like | Between | In | IsTest | Cast | Call | Case


@dataclass(frozen=True)
class SelectStatement:
    """A parsed query: ``projection`` is None for ``SELECT *``."""

    projection: tuple[Node, ...] | None
    table: str
    alias: str | None
    where: Node | None


# ---------------------------------------------------------------------------------------
# Parser

CAST_TYPES = {
    "INT": "INT",
    "INTEGER": "INT",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DOUBLE": "FLOAT",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "STRING": "STRING",
    "VARCHAR": "STRING",
    "CHAR": "STRING",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "TIMESTAMP": "TIMESTAMP",
}
FUNCTIONS = {  # name -> allowed argument counts
    "LOWER": (1,),
    "UPPER": (1,),
    "TRIM": (1, 2),
    "CHAR_LENGTH": (1,),
    "CHARACTER_LENGTH": (1,),
    "SUBSTRING": (2, 3),
    "COALESCE": tuple(range(1, 64)),
    "NULLIF": (2,),
}
TABLE_NAMES = ("ARCHIVE", "OBJECT", "S3OBJECT")
_COMPARISONS = ("=", "<>", "!=", "<", "<=", ">", ">=")


class _Parser:
    """Recursive descent over the token list; precedence from loosest to tightest:
    OR, AND, NOT, predicates (comparison, LIKE, BETWEEN, IN, IS), ||, + -, * / %, unary -.
    """

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tok
        if token.kind != "EOF":
            self.pos += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.tok.kind == "KEYWORD" and self.tok.upper in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "OPERATOR" and self.tok.text in ops

    def accept_keyword(self, word: str) -> bool:
        if self.at_keyword(word):
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str) -> Token:
        if not self.at_keyword(word):
            raise SelectError(
                "ParseExpectedKeyword",
                f"Expected keyword {word} but found {self.tok.describe()} {self.tok.where()}.",
            )
        return self.advance()

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.unexpected(f"expected '{op}'")
        return self.advance()

    def unexpected(self, hint: str = "") -> SelectError:
        token = self.tok
        if token.kind == "EOF":
            return SelectError(
                "ParseExpectedExpression",
                f"Unexpected end of expression {token.where()}{'; ' + hint if hint else ''}.",
            )
        return SelectError(
            "ParseUnexpectedToken",
            f"Unexpected token found {token.describe()} {token.where()}{'; ' + hint if hint else ''}.",
        )

    # statement
    def statement(self) -> SelectStatement:
        if not self.at_keyword("SELECT"):
            raise SelectError(
                "ParseUnexpectedToken",
                f"A Glacier Select expression must start with SELECT, found {self.tok.describe()} "
                f"{self.tok.where()}.",
            )
        self.advance()
        projection: tuple[Node, ...] | None
        if self.at_op("*"):
            self.advance()
            projection = None
            if self.at_op(","):
                raise SelectError(
                    "ParseAsteriskIsNotAloneInSelectList",
                    f"Other expressions are not allowed in the SELECT list with '*' {self.tok.where()}.",
                )
        else:
            if self.at_keyword("FROM"):
                raise SelectError("ParseEmptySelect", f"The SELECT list is empty {self.tok.where()}.")
            items = []
            while True:
                if self.at_op("*"):
                    raise SelectError(
                        "ParseAsteriskIsNotAloneInSelectList",
                        f"Other expressions are not allowed in the SELECT list with '*' {self.tok.where()}.",
                    )
                items.append(self.expression())
                # CSV output has no header, so a projection's alias names nothing
                self.optional_alias("IDENTIFIER", "QUOTED_IDENTIFIER")
                if not self.at_op(","):
                    break
                self.advance()
            projection = tuple(items)
        if not self.at_keyword("FROM"):
            if self.tok.kind == "EOF":
                raise SelectError("ParseSelectMissingFrom", f"The FROM clause is missing {self.tok.where()}.")
            raise self.unexpected("expected FROM")
        self.advance()
        table_token = self.tok
        if table_token.kind not in ("IDENTIFIER", "QUOTED_IDENTIFIER"):
            raise self.unexpected("expected the archive (FROM ARCHIVE)")
        self.advance()
        table = table_token.text.strip('"')
        if table.upper() not in TABLE_NAMES:
            raise SelectError(
                "UnsupportedSyntax",
                f"FROM must name the archive (ARCHIVE, OBJECT or S3Object), not {table_token.text!r} "
                f"{table_token.where()}.",
            )
        if self.at_op("[", "."):
            raise SelectError("UnsupportedSyntax", f"FROM paths are for JSON input only {self.tok.where()}.")
        alias = self.optional_alias("IDENTIFIER")
        if self.at_op(","):
            raise SelectError(
                "UnsupportedSyntax", f"Glacier Select reads one archive: no joins {self.tok.where()}."
            )
        where = None
        if self.accept_keyword("WHERE"):
            where = self.expression()
        if self.tok.kind != "EOF":
            raise self.unexpected()
        return SelectStatement(projection, table, alias, where)

    def optional_alias(self, *kinds: str) -> str | None:
        """``AS name`` or a bare ``name`` after a projection or the FROM table."""
        if self.accept_keyword("AS"):
            if self.tok.kind not in kinds:
                raise SelectError(
                    "ParseExpectedIdentForAlias",
                    f"Expected an alias after AS but found {self.tok.describe()} {self.tok.where()}.",
                )
            return self.advance().text
        if self.tok.kind in kinds:
            return self.advance().text
        return None

    # expressions
    def expression(self) -> Node:
        return self.or_expr()

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at_keyword("OR"):
            token = self.advance()
            node = Binary("OR", node, self.and_expr(), token)
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at_keyword("AND"):
            token = self.advance()
            node = Binary("AND", node, self.not_expr(), token)
        return node

    def not_expr(self) -> Node:
        if self.accept_keyword("NOT"):
            return Unary("NOT", self.not_expr())
        return self.predicate()

    def predicate(self) -> Node:
        left = self.concat()
        if self.at_op(*_COMPARISONS):
            token = self.advance()
            op = "<>" if token.text == "!=" else token.text
            return Binary(op, left, self.concat(), token)
        if self.at_keyword("IS"):
            self.advance()
            negated = self.accept_keyword("NOT")
            if not self.at_keyword("NULL", "MISSING", "TRUE", "FALSE"):
                raise self.unexpected("expected NULL or MISSING after IS")
            return IsTest(left, self.advance().upper, negated)
        negated = False
        if (
            self.at_keyword("NOT")
            and self.peek().kind == "KEYWORD"
            and self.peek().upper in ("LIKE", "BETWEEN", "IN")
        ):
            self.advance()
            negated = True
        if self.accept_keyword("LIKE"):
            pattern = self.concat()
            escape = self.concat() if self.accept_keyword("ESCAPE") else None
            return Like(left, pattern, escape, negated)
        if self.at_keyword("BETWEEN"):
            token = self.advance()
            low = self.concat()
            self.expect_keyword("AND")
            return Between(left, low, self.concat(), negated, token)
        if self.accept_keyword("IN"):
            self.expect_op("(")
            options = [self.expression()]
            while self.at_op(","):
                self.advance()
                options.append(self.expression())
            self.expect_op(")")
            return In(left, tuple(options), negated)
        return left

    def concat(self) -> Node:
        node = self.additive()
        while self.at_op("||"):
            token = self.advance()
            node = Binary("||", node, self.additive(), token)
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at_op("+", "-"):
            token = self.advance()
            node = Binary(token.text, node, self.multiplicative(), token)
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.at_op("*", "/", "%"):
            token = self.advance()
            node = Binary(token.text, node, self.unary(), token)
        return node

    def unary(self) -> Node:
        if self.at_op("-"):
            self.advance()
            operand = self.unary()
            if isinstance(operand, Literal) and isinstance(operand.value, (int, float, Decimal)):
                return Literal(-operand.value)
            return Unary("NEG", operand)
        if self.at_op("+"):
            self.advance()
            return self.unary()
        return self.primary()

    def primary(self) -> Node:
        token = self.tok
        if token.kind == "NUMBER":
            self.advance()
            return Literal(_number_literal(token.text))
        if token.kind == "LITERAL":
            self.advance()
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "KEYWORD":
            word = token.upper
            if word in ("NULL", "MISSING", "TRUE", "FALSE"):
                self.advance()
                return Literal({"NULL": None, "MISSING": MISSING, "TRUE": True, "FALSE": False}[word])
            if word == "CAST":
                return self.cast()
            if word == "CASE":
                return self.case()
            raise self.unexpected()
        if self.at_op("("):
            self.advance()
            node = self.expression()
            self.expect_op(")")
            return node
        if token.kind == "IDENTIFIER" and self.peek().kind == "OPERATOR" and self.peek().text == "(":
            return self.call()
        if token.kind in ("IDENTIFIER", "QUOTED_IDENTIFIER"):
            return self.column()
        raise self.unexpected("expected an expression")

    def column(self) -> Node:
        first = self.advance()
        if self.at_op("."):
            self.advance()
            name_token = self.tok
            if name_token.kind not in ("IDENTIFIER", "QUOTED_IDENTIFIER", "KEYWORD"):
                if self.at_op("*"):
                    raise SelectError(
                        "UnsupportedSyntax",
                        f"'{first.text}.*' is not supported, use '*' {name_token.where()}.",
                    )
                raise self.unexpected("expected a column name after '.'")
            self.advance()
            qualifier: Token | None = first
        else:
            name_token, qualifier = first, None
        quoted = name_token.kind == "QUOTED_IDENTIFIER"
        name = name_token.text[1:-1].replace('""', '"') if quoted else name_token.text
        return Column(name, quoted, name_token, qualifier)

    def cast(self) -> Node:
        self.advance()
        if not self.at_op("("):
            raise SelectError(
                "ParseExpectedLeftParenAfterCast",
                f"Expected '(' after CAST but found {self.tok.describe()} {self.tok.where()}.",
            )
        self.advance()
        value = self.expression()
        self.expect_keyword("AS")
        type_token = self.tok
        if type_token.kind != "IDENTIFIER" or type_token.upper not in CAST_TYPES:
            raise SelectError(
                "ParseExpectedTypeName",
                f"Expected a type name ({', '.join(sorted(set(CAST_TYPES)))}) but found "
                f"{type_token.describe()} {type_token.where()}.",
            )
        self.advance()
        if self.at_op("("):  # DECIMAL(p, s): precision and scale are ignored, as on the service
            while not self.at_op(")") and self.tok.kind != "EOF":
                self.advance()
            self.expect_op(")")
        self.expect_op(")")
        return Cast(value, CAST_TYPES[type_token.upper])

    def case(self) -> Node:
        self.advance()
        operand = None if self.at_keyword("WHEN") else self.expression()
        whens = []
        while self.accept_keyword("WHEN"):
            condition = self.expression()
            self.expect_keyword("THEN")
            whens.append((condition, self.expression()))
        if not whens:
            raise SelectError("ParseExpectedWhenClause", f"CASE needs a WHEN clause {self.tok.where()}.")
        default = self.expression() if self.accept_keyword("ELSE") else None
        self.expect_keyword("END")
        return Case(operand, tuple(whens), default)

    def call(self) -> Node:
        name_token = self.advance()
        name = name_token.upper
        self.advance()  # (
        if name in AGGREGATES:
            raise SelectError(
                "UnsupportedSyntax",
                f"Glacier Select does not support aggregate functions: {name_token.text} "
                f"{name_token.where()}.",
            )
        if name not in FUNCTIONS:
            raise SelectError(
                "UnsupportedFunction",
                f"Function {name_token.text} is not supported {name_token.where()}; supported: "
                f"{', '.join(sorted(FUNCTIONS))}.",
            )
        if name == "TRIM":
            return self.trim_call(name_token)
        args = [self.expression()]
        if name == "SUBSTRING" and self.accept_keyword("FROM"):
            args.append(self.expression())
            if self.tok.kind == "IDENTIFIER" and self.tok.upper == "FOR":
                self.advance()
                args.append(self.expression())
        while self.at_op(","):
            self.advance()
            args.append(self.expression())
        self.expect_op(")")
        if len(args) not in FUNCTIONS[name]:
            raise SelectError(
                "EvaluatorInvalidArguments",
                f"{name_token.text} takes {' or '.join(map(str, FUNCTIONS[name][:3]))} arguments, "
                f"got {len(args)} {name_token.where()}.",
            )
        return Call(name, tuple(args), name_token)

    def trim_call(self, name_token: Token) -> Node:
        side = "BOTH"
        if self.tok.kind == "IDENTIFIER" and self.tok.upper in ("BOTH", "LEADING", "TRAILING"):
            side = self.advance().upper
        if self.accept_keyword("FROM"):
            args = [self.expression()]
        else:
            first = self.expression()
            args = [self.expression(), first] if self.accept_keyword("FROM") else [first]
        self.expect_op(")")
        return Call("TRIM", tuple(args), name_token, side)


def _number_literal(text: str) -> int | float | Decimal:
    if "e" in text or "E" in text:
        return float(text)
    if "." in text:
        return Decimal(text)
    return int(text)


def _reject_unsupported(tokens: list[Token]) -> None:
    """Name the first clause Glacier Select does not support, before any parse error."""
    for index, token in enumerate(tokens):
        after_dot = index > 0 and tokens[index - 1].kind == "OPERATOR" and tokens[index - 1].text == "."
        if token.kind != "KEYWORD" or after_dot:
            continue
        if token.upper in UNSUPPORTED_KEYWORDS:
            raise SelectError(
                "UnsupportedSyntax",
                f"Glacier Select does not support {UNSUPPORTED_KEYWORDS[token.upper]} "
                f"({token.text} {token.where()}).",
            )
        if token.upper == "SELECT" and index > 0:
            raise SelectError(
                "UnsupportedSyntax", f"Glacier Select does not support subqueries {token.where()}."
            )


def parse_select(expression: str) -> SelectStatement:
    """Parse a Glacier Select SQL expression; raise SelectError naming the bad token."""
    if not isinstance(expression, str) or not expression.strip():
        raise SelectError("ParseEmptySelect", "The SQL expression is empty.")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise SelectError(
            "ExpressionTooLong",
            f"The SQL expression is {len(expression)} characters; at most 128,000 are allowed.",
        )
    tokens = tokenize(expression)
    _reject_unsupported(tokens)
    return _Parser(tokens).statement()


# ---------------------------------------------------------------------------------------
# Values


def _type_name(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    return "null"


def _is_null(value: Value) -> bool:
    return value is None or value is MISSING


def format_value(value: Value) -> str:
    """How a value is written to an output CSV field (NULL and MISSING are empty)."""
    if _is_null(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return str(value)


_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_TIMESTAMP_TEXT = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?T?"
    r"|(?P<date>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?(?P<offset>Z|[+-]\d{2}:\d{2})"
)


def _check_int(number: int) -> int:
    if not _INT_MIN <= number <= _INT_MAX:
        raise SelectError("IntegerOverflow", f"Int overflow or underflow: {number} does not fit in 8 bytes.")
    return number


def _parse_timestamp(text: str) -> datetime:
    match = _TIMESTAMP_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    if match.group("year"):
        return datetime(
            int(match.group("year")),
            int(match.group("month") or 1),
            int(match.group("day") or 1),
            tzinfo=timezone.utc,
        )
    year, month, day = (int(part) for part in match.group("date").split("-"))
    offset = match.group("offset")
    tz = timezone.utc
    if offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    fraction = (match.group("fraction") or "0")[:6].ljust(6, "0")
    return datetime(
        year,
        month,
        day,
        int(match.group("hour")),
        int(match.group("minute")),
        int(match.group("second") or 0),
        int(fraction),
        tzinfo=tz,
    )


def _to_int(value: Value) -> int:
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return _check_int(int(value))
    if isinstance(value, (int, float, Decimal)):  # bool is an int: TRUE is 1
        return _check_int(int(value))
    raise ValueError(value)


def _to_number(value: Value) -> float | Decimal:
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        return Decimal(value.strip())
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)) if not isinstance(value, float) else value
    raise ValueError(value)


def _to_bool(value: Value) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, (int, float, Decimal)):
        return bool(value)
    raise ValueError(value)


def _to_timestamp(value: Value) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return _parse_timestamp(value)
    raise ValueError(value)


_CASTS: dict[str, Callable[[Value], Value]] = {
    "STRING": format_value,
    "INT": _to_int,
    "FLOAT": lambda value: float(_to_number(value)),
    "DECIMAL": lambda value: (
        Decimal(str(number)) if isinstance(number := _to_number(value), float) else number
    ),
    "BOOL": _to_bool,
    "TIMESTAMP": _to_timestamp,
}


def cast_value(value: Value, type_name: str) -> Value:
    """CAST(value AS type_name); NULL and MISSING pass through, bad input is CastFailed."""
    if _is_null(value):
        return value
    try:
        return _CASTS[type_name](value)
    except (ValueError, InvalidOperation, OverflowError):
        raise SelectError(
            "CastFailed",
            f"Attempt to convert from one data type to another using CAST failed: "
            f"{format_value(value)!r} cannot be cast to {type_name}.",
        ) from None


def _eval_error(detail: str) -> SelectError:
    return SelectError(
        "ExternalEvalException",
        f"The query cannot be evaluated. Please check the query and file and try again: {detail}",
    )


def compare(op: str, left: Value, right: Value, token: Token | None = None) -> bool | None:
    """SQL comparison with Glacier Select's typing: NULL/MISSING give NULL, mixed types
    are unequal, and ordering mixed types is an error."""
    if _is_null(left) or _is_null(right):
        return None
    left_type, right_type = _type_name(left), _type_name(right)
    if left_type != right_type:
        if op == "=":
            return False
        if op == "<>":
            return True
        where = f" {token.where()}" if token else ""
        raise _eval_error(
            f"cannot compare {left_type} {format_value(left)!r} with {right_type} "
            f"{format_value(right)!r} using {op}{where}; use CAST"
        )
    a: Any = left
    b: Any = right
    if op == "=":
        return bool(a == b)
    if op == "<>":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _truth(value: Value, what: str) -> bool | None:
    if _is_null(value):
        return None
    if isinstance(value, bool):
        return value
    raise _eval_error(f"{what} needs a boolean, got {_type_name(value)} {format_value(value)!r}")


@lru_cache(maxsize=256)
def like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """Translate a LIKE pattern (% any run, _ one character) into an anchored regex."""
    if escape is not None and len(escape) != 1:
        raise SelectError("LikeInvalidInputs", f"The ESCAPE of LIKE must be one character, got {escape!r}.")
    parts = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            following = next(chars, None)
            if following is None:
                raise SelectError(
                    "LikeInvalidInputs", f"LIKE pattern {pattern!r} ends with its escape character."
                )
            parts.append(re.escape(following))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _arithmetic(op: str, left: Value, right: Value, token: Token) -> Value:
    if _is_null(left) or _is_null(right):
        return None
    if op == "||":
        if not (isinstance(left, str) and isinstance(right, str)):
            raise _eval_error(
                f"|| joins strings, got {_type_name(left)} and {_type_name(right)} {token.where()}"
            )
        return left + right
    numbers = (int, float, Decimal)
    if (
        isinstance(left, bool)
        or isinstance(right, bool)
        or not (isinstance(left, numbers) and isinstance(right, numbers))
    ):
        raise _eval_error(
            f"{op} needs numbers, got {_type_name(left)} and {_type_name(right)} {token.where()}; use CAST"
        )
    a: Any = left
    b: Any = right
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
    elif isinstance(a, Decimal) or isinstance(b, Decimal):
        a, b = Decimal(a), Decimal(b)
    if op in ("/", "%") and b == 0:
        raise SelectError("DivisionByZero", f"Division by zero {token.where()}.")
    if op == "+":
        return _check_int(a + b) if isinstance(a, int) else a + b
    if op == "-":
        return _check_int(a - b) if isinstance(a, int) else a - b
    if op == "*":
        return _check_int(a * b) if isinstance(a, int) else a * b
    if not isinstance(a, int):
        return a / b if op == "/" else a % b
    # integer division and remainder truncate toward zero, as SQL does (Python floors)
    sign = 1 if (a >= 0) == (b >= 0) else -1
    quotient = sign * (abs(a) // abs(b))
    return quotient if op == "/" else a - b * quotient


def _string_arg(value: Value, name: str) -> str:
    if not isinstance(value, str):
        raise SelectError(
            "IncorrectSqlFunctionArgumentType",
            f"{name} needs a string, got {_type_name(value)} {format_value(value)!r}.",
        )
    return value


def _int_arg(value: Value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SelectError(
            "IncorrectSqlFunctionArgumentType",
            f"{name} needs an integer position or length, got {_type_name(value)} {format_value(value)!r}.",
        )
    return value


def _substring(text: str, start: int, length: int | None) -> str:
    """SQL SUBSTRING: 1-based start; positions before 1 still count against length."""
    if length is not None and length < 0:
        raise SelectError(
            "EvaluatorInvalidArguments", f"SUBSTRING length must not be negative, got {length}."
        )
    first = max(start, 1)
    if length is None:
        return text[first - 1 :]
    stop = start + length
    return text[first - 1 : max(stop - 1, first - 1)]


def call_function(name: str, args: Sequence[Value], trim_side: str = "BOTH") -> Value:
    """Evaluate one of the supported string functions; NULL in, NULL out."""
    if name == "COALESCE":
        return next((arg for arg in args if not _is_null(arg)), None)
    if name == "NULLIF":
        return None if compare("=", args[0], args[1]) else args[0]
    if any(_is_null(arg) for arg in args):
        return None
    if name in ("LOWER", "UPPER"):
        text = _string_arg(args[0], name)
        return text.lower() if name == "LOWER" else text.upper()
    if name in ("CHAR_LENGTH", "CHARACTER_LENGTH"):
        return len(_string_arg(args[0], name))
    if name == "TRIM":
        text = _string_arg(args[0], name)
        chars = _string_arg(args[1], name) if len(args) > 1 else " "
        if trim_side == "LEADING":
            return text.lstrip(chars)
        if trim_side == "TRAILING":
            return text.rstrip(chars)
        return text.strip(chars)
    if name == "SUBSTRING":
        text = _string_arg(args[0], name)
        length = _int_arg(args[2], name) if len(args) > 2 else None
        return _substring(text, _int_arg(args[1], name), length)
    raise SelectError("UnsupportedFunction", f"Function {name} is not supported.")  # pragma: no cover


# ---------------------------------------------------------------------------------------
# Binding and compilation


class _Binder:
    """Resolves column references against the header and compiles the tree to closures."""

    def __init__(self, statement: SelectStatement, header: Sequence[str] | None) -> None:
        self.alias = statement.alias
        self.table = statement.table
        self.header = list(header) if header is not None else None

    def column_index(self, node: Column) -> int | None:
        if node.qualifier is not None:
            qualifier = node.qualifier.text
            valid = (self.alias,) if self.alias else ()
            matches = (
                qualifier in valid if node.qualifier.kind == "IDENTIFIER" else qualifier.strip('"') in valid
            )
            if not matches and not (
                self.alias is None and qualifier.strip('"').upper() == self.table.upper()
            ):
                raise SelectError(
                    "InvalidTableAlias",
                    f"The table alias {qualifier!r} is not the one given in FROM "
                    f"({self.alias or self.table}) {node.qualifier.where()}.",
                )
        name = node.name
        if not node.quoted and re.fullmatch(r"_\d+", name):
            index = int(name[1:])
            if index < 1:
                raise SelectError(
                    "InvalidColumnIndex",
                    f"Column index {name} is invalid {node.token.where()}; columns start at _1.",
                )
            return index - 1
        if self.header is None:
            return None
        found = [i for i, title in enumerate(self.header) if title == name]
        if not found and not node.quoted:
            found = [i for i, title in enumerate(self.header) if title.lower() == name.lower()]
        if len(found) > 1:
            raise SelectError(
                "AmbiguousFieldName",
                f"Field name {name!r} matches several header fields {node.token.where()}.",
            )
        return found[0] if found else None

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Literal):
            constant = node.value
            return lambda record: constant
        if isinstance(node, Column):
            index = self.column_index(node)
            if index is None:
                return lambda record: MISSING

            def column(record: Record, index: int = index) -> Value:
                return record[index] if index < len(record) else MISSING

            return column
        if isinstance(node, Unary):
            operand = self.compile(node.operand)
            if node.op == "NOT":

                def negate(record: Record) -> Value:
                    truth = _truth(operand(record), "NOT")
                    return None if truth is None else not truth

                return negate
            zero_token = Token("OPERATOR", "-", 0, 0)
            return lambda record: _arithmetic("-", 0, operand(record), zero_token)
        if isinstance(node, Binary):
            return self.compile_binary(node)
        if isinstance(node, Like):
            return self.compile_like(node)
        if isinstance(node, Between):
            value, low, high = self.compile(node.value), self.compile(node.low), self.compile(node.high)
            token, negated = node.token, node.negated

            def between(record: Record) -> Value:
                current = value(record)
                result = _and(
                    compare(">=", current, low(record), token), compare("<=", current, high(record), token)
                )
                return result if result is None or not negated else not result

            return between
        if isinstance(node, In):
            value = self.compile(node.value)
            options = [self.compile(option) for option in node.options]
            negated = node.negated

            def in_list(record: Record) -> Value:
                current = value(record)
                result: bool | None = False
                for option in options:
                    equal = compare("=", current, option(record))
                    if equal:
                        result = True
                        break
                    if equal is None:
                        result = None
                return result if result is None or not negated else not result

            return in_list
        if isinstance(node, IsTest):
            return self.compile_is(node)
        if isinstance(node, Cast):
            value = self.compile(node.value)
            type_name = node.type_name
            return lambda record: cast_value(value(record), type_name)
        if isinstance(node, Call):
            args = [self.compile(arg) for arg in node.args]
            name, side = node.name, node.trim_side
            return lambda record: call_function(name, [arg(record) for arg in args], side)
        if isinstance(node, Case):
            return self.compile_case(node)
        raise SelectError("UnsupportedSyntax", f"Unsupported expression {node!r}.")  # pragma: no cover

    def compile_binary(self, node: Binary) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        op, token = node.op, node.token
        if op == "AND":

            def conjunction(record: Record) -> Value:
                first = _truth(left(record), "AND")
                if first is False:
                    return False
                return _and(first, _truth(right(record), "AND"))

            return conjunction
        if op == "OR":

            def disjunction(record: Record) -> Value:
                first = _truth(left(record), "OR")
                if first is True:
                    return True
                second = _truth(right(record), "OR")
                if second is True:
                    return True
                return None if first is None or second is None else False

            return disjunction
        if op in ("=", "<>", "<", "<=", ">", ">="):
            return lambda record: compare(op, left(record), right(record), token)
        return lambda record: _arithmetic(op, left(record), right(record), token)

    def compile_like(self, node: Like) -> Compiled:
        value, pattern = self.compile(node.value), self.compile(node.pattern)
        escape = self.compile(node.escape) if node.escape is not None else None
        negated = node.negated

        def like(record: Record) -> Value:
            text, pat = value(record), pattern(record)
            esc = escape(record) if escape is not None else ""
            if _is_null(text) or _is_null(pat) or _is_null(esc):
                return None
            if not (isinstance(text, str) and isinstance(pat, str) and isinstance(esc, str)):
                raise SelectError(
                    "LikeInvalidInputs",
                    f"LIKE needs strings, got {_type_name(text)} LIKE {_type_name(pat)}; "
                    "use CAST(... AS STRING).",
                )
            matched = like_regex(pat, esc if escape is not None else None).fullmatch(text) is not None
            return matched != negated

        return like

    def compile_is(self, node: IsTest) -> Compiled:
        value = self.compile(node.value)
        what, negated = node.what, node.negated

        def is_test(record: Record) -> Value:
            current = value(record)
            if what == "NULL":
                result = _is_null(current)
            elif what == "MISSING":
                result = current is MISSING
            else:
                result = current is (what == "TRUE")
            return result != negated

        return is_test

    def compile_case(self, node: Case) -> Compiled:
        operand = self.compile(node.operand) if node.operand is not None else None
        whens = [(self.compile(condition), self.compile(result)) for condition, result in node.whens]
        default = self.compile(node.default) if node.default is not None else None

        def case(record: Record) -> Value:
            subject = operand(record) if operand is not None else None
            for condition, result in whens:
                test = condition(record)
                hit = compare("=", subject, test) if operand is not None else _truth(test, "CASE WHEN")
                if hit:
                    return result(record)
            return default(record) if default is not None else None

        return case


def _and(first: bool | None, second: bool | None) -> bool | None:
    if first is False or second is False:
        return False
    if first is None or second is None:
        return None
    return True


# ---------------------------------------------------------------------------------------
# Entry points


def iter_select(
    chunks: Iterable[bytes],
    expression: str,
    input_serialization: Mapping[str, Any] | None,
    output_serialization: Mapping[str, Any] | None,
) -> Iterator[bytes]:
    """Stream a Select job: CSV archive chunks in, UTF-8 output records out.

    The expression and both serializations are checked before the first chunk is read,
    so a bad job fails before any output exists; record-level errors (a failed CAST, a
    malformed quoted field) raise SelectError when that record is reached.
    """
    statement = parse_select(expression)
    csv_in = CsvInput.from_serialization(input_serialization)
    writer = CsvOutput.from_serialization(output_serialization).writer()
    return _run(statement, read_records(chunks, csv_in), csv_in.file_header_info, writer.format)


def _run(
    statement: SelectStatement,
    records: Iterator[list[str]],
    file_header_info: str,
    format_record: Callable[[Sequence[str]], str],
) -> Iterator[bytes]:
    header: list[str] | None = None
    if file_header_info in ("USE", "IGNORE"):
        first = next(records, None)
        if first is None:
            return
        header = first if file_header_info == "USE" else None
    binder = _Binder(statement, header)
    where = binder.compile(statement.where) if statement.where is not None else None
    projection = [binder.compile(node) for node in statement.projection] if statement.projection else None
    for record in records:
        if where is not None:
            verdict = where(record)
            if verdict is not True:
                if not _is_null(verdict) and verdict is not False:
                    raise _eval_error(
                        f"WHERE needs a boolean, got {_type_name(verdict)} {format_value(verdict)!r}"
                    )
                continue
        values = record if projection is None else [format_value(item(record)) for item in projection]
        yield format_record(values).encode("utf-8")


def evaluate_select(
    csv_bytes: bytes,
    expression: str,
    input_serialization: Mapping[str, Any],
    output_serialization: Mapping[str, Any],
) -> bytes:
    """Run a Glacier Select expression over a whole CSV archive and return the output CSV."""
    return b"".join(iter_select([csv_bytes], expression, input_serialization, output_serialization))
