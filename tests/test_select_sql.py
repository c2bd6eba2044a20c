"""Glacier Select SQL engine, checked against an independent evaluation in sqlite.

Each query runs twice: through ``evaluate_select`` over the CSV bytes, and as an
equivalent SQL query in sqlite over the same CSV parsed by Python's ``csv`` module (text
columns ``c1..cN``, NULL where a record is shorter). The two must select the same rows.
sqlite's LIKE is made case-sensitive to match Select's.
"""

from __future__ import annotations

import csv
import functools
import io
import sqlite3
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_glacier_select.testing.select_sql import SelectError, evaluate_select, iter_select

Rows = list[list[str]]

PEOPLE = (
    "name,age,city,note\n"
    "alice,30,Paris,\n"
    'bob,25,"Lyon, FR",said ""hi""\n'
    'Carol,41,berlin,"two\nlines"\n'
    "dave,,Paris,x\n"
    'eve,7,"",%done_\n'
    'Frank,100,Oslo,"a,b,c"\n'
)


def csv_rows(text: str, **dialect: Any) -> Rows:
    """The oracle's parse: Python's csv module, blank records dropped."""
    return [row for row in csv.reader(io.StringIO(text, newline=""), **dialect) if row]


def sqlite_rows(rows: Rows, select_list: str, where: str | None, width: int = 0) -> Rows:
    """Run ``SELECT select_list FROM t WHERE where`` over the rows in sqlite (``width``
    columns at least, NULL where a row is shorter)."""
    width = max([width, 1, *(len(row) for row in rows)])
    db = sqlite3.connect(":memory:")
    try:
        db.execute("PRAGMA case_sensitive_like = ON")
        db.execute(f"CREATE TABLE t ({', '.join(f'c{i + 1} TEXT' for i in range(width))})")
        db.executemany(
            f"INSERT INTO t VALUES ({', '.join('?' * width)})",
            [row + [None] * (width - len(row)) for row in rows],
        )
        query = f"SELECT {select_list} FROM t" + (f" WHERE {where}" if where else "") + " ORDER BY rowid"
        return [["" if value is None else str(value) for value in row] for row in db.execute(query)]
    finally:
        db.close()


def select_rows(data: str, expression: str, csv_in: dict[str, str] | None = None, **out_dialect: Any) -> Rows:
    """Run the engine and read its output back with Python's csv module."""
    output = evaluate_select(data.encode(), expression, {"csv": csv_in or {}}, {})
    return csv_rows(output.decode(), **out_dialect)


# (Glacier Select expression, sqlite select list, sqlite WHERE) over PEOPLE with a USE header
QUERIES = [
    ("SELECT * FROM archive", "*", None),
    ("SELECT s.name, s.city FROM archive s", "c1, c3", None),
    ("SELECT s._3, s._1 FROM ARCHIVE AS s", "c3, c1", None),
    ('SELECT s."name" AS who, _2 FROM archive s', "c1, c2", None),
    ("SELECT NAME, City FROM S3Object", "c1, c3", None),
    ("SELECT * FROM archive s WHERE s.city = 'Paris'", "*", "c3 = 'Paris'"),
    ("SELECT s.name FROM archive s WHERE s.city != 'Paris'", "c1", "c3 != 'Paris'"),
    ("SELECT s.name FROM archive s WHERE s.city <> 'Paris'", "c1", "c3 <> 'Paris'"),
    ("SELECT s.name FROM archive s WHERE s.name < 'c'", "c1", "c1 < 'c'"),
    ("SELECT s.name FROM archive s WHERE s.name <= 'bob'", "c1", "c1 <= 'bob'"),
    ("SELECT s.name FROM archive s WHERE s.name > 'Carol'", "c1", "c1 > 'Carol'"),
    ("SELECT s.name FROM archive s WHERE s.name >= 'dave'", "c1", "c1 >= 'dave'"),
    ("SELECT s.name FROM archive s WHERE s.age = ''", "c1", "c2 = ''"),
    # string comparison is by character, not by number: '100' < '25'
    ("SELECT s.name FROM archive s WHERE s.age < '25'", "c1", "c2 < '25'"),
    (
        "SELECT s.name FROM archive s WHERE s.age <> '' AND CAST(s.age AS INT) > 26",
        "c1",
        "c2 <> '' AND CAST(c2 AS INTEGER) > 26",
    ),
    (
        "SELECT s.name FROM archive s WHERE s.age <> '' AND CAST(s.age AS FLOAT) BETWEEN 7 AND 30",
        "c1",
        "c2 <> '' AND CAST(c2 AS REAL) BETWEEN 7 AND 30",
    ),
    (
        "SELECT s.name FROM archive s WHERE s.age <> '' AND CAST(s.age AS INTEGER) NOT BETWEEN 7 AND 30",
        "c1",
        "c2 <> '' AND CAST(c2 AS INTEGER) NOT BETWEEN 7 AND 30",
    ),
    (
        "SELECT s.name FROM archive s WHERE s.age <> '' AND CAST(s.age AS DECIMAL) >= 41.0",
        "c1",
        "c2 <> '' AND CAST(c2 AS REAL) >= 41.0",
    ),
    # precedence: NOT > AND > OR
    (
        "SELECT s.name FROM archive s WHERE s.city = 'Paris' OR s.city = 'Oslo' AND s.name = 'alice'",
        "c1",
        "c3 = 'Paris' OR c3 = 'Oslo' AND c1 = 'alice'",
    ),
    (
        "SELECT s.name FROM archive s WHERE (s.city = 'Paris' OR s.city = 'Oslo') AND s.name <> 'alice'",
        "c1",
        "(c3 = 'Paris' OR c3 = 'Oslo') AND c1 <> 'alice'",
    ),
    (
        "SELECT s.name FROM archive s WHERE NOT s.city = 'Paris' AND s.note = 'x' OR s.name = 'eve'",
        "c1",
        "NOT c3 = 'Paris' AND c4 = 'x' OR c1 = 'eve'",
    ),
    (
        "SELECT s.name FROM archive s WHERE NOT (s.city = 'Paris' OR s.name = 'bob')",
        "c1",
        "NOT (c3 = 'Paris' OR c1 = 'bob')",
    ),
    ("SELECT s.name FROM archive s WHERE NOT NOT s.city = 'Oslo'", "c1", "NOT NOT c3 = 'Oslo'"),
    # LIKE
    ("SELECT s.name FROM archive s WHERE s.name LIKE 'c%'", "c1", "c1 LIKE 'c%'"),
    ("SELECT s.name FROM archive s WHERE s.name LIKE '_o_'", "c1", "c1 LIKE '_o_'"),
    ("SELECT s.name FROM archive s WHERE s.name NOT LIKE '%e%'", "c1", "c1 NOT LIKE '%e%'"),
    ("SELECT s.name FROM archive s WHERE s.note LIKE '%lines'", "c1", "c4 LIKE '%lines'"),
    (
        "SELECT s.name FROM archive s WHERE s.note LIKE '!%%!_' ESCAPE '!'",
        "c1",
        "c4 LIKE '!%%!_' ESCAPE '!'",
    ),
    # IN, IS NULL, missing columns
    ("SELECT s.name FROM archive s WHERE s.city IN ('Oslo', 'Lyon, FR')", "c1", "c3 IN ('Oslo', 'Lyon, FR')"),
    ("SELECT s.name FROM archive s WHERE s.city NOT IN ('Paris', '')", "c1", "c3 NOT IN ('Paris', '')"),
    ("SELECT s.name FROM archive s WHERE s._9 IS NULL", "c1", None),
    ("SELECT s.name FROM archive s WHERE s.note IS NOT NULL", "c1", "c4 IS NOT NULL"),
    ("SELECT s.name, s._9 FROM archive s WHERE s.nothing IS NULL", "c1, NULL", None),
    # functions
    ("SELECT UPPER(s.name), LOWER(s.city) FROM archive s", "UPPER(c1), LOWER(c3)", None),
    ("SELECT s.name FROM archive s WHERE LOWER(s.city) = 'paris'", "c1", "LOWER(c3) = 'paris'"),
    ("SELECT CHAR_LENGTH(s.note) FROM archive s", "LENGTH(c4)", None),
    (
        "SELECT SUBSTRING(s.name, 2, 3), SUBSTRING(s.name FROM 3) FROM archive s",
        "SUBSTR(c1, 2, 3), SUBSTR(c1, 3)",
        None,
    ),
    ("SELECT TRIM('  ' || s.name || ' ') FROM archive s", "TRIM('  ' || c1 || ' ')", None),
    ("SELECT s.name || '@' || s.city FROM archive s", "c1 || '@' || c3", None),
    (
        "SELECT TRIM(LEADING 'a' FROM s.name), TRIM(TRAILING 'e' FROM s.name), TRIM(BOTH 'e' FROM s.name) "
        "FROM archive s",
        "LTRIM(c1, 'a'), RTRIM(c1, 'e'), TRIM(c1, 'e')",
        None,
    ),
    ("SELECT SUBSTRING(s.name, 0, 3) FROM archive s", "SUBSTR(c1, 0, 3)", None),
    (
        "SELECT COALESCE(s._9, s.name), NULLIF(s.city, 'Paris') FROM archive s",
        "c1, NULLIF(c3, 'Paris')",
        None,
    ),
    # arithmetic: integer division and remainder truncate toward zero, as in sqlite
    (
        "SELECT CAST(s.age AS INT) * 2 + 1, CAST(s.age AS INT) / 4, -CAST(s.age AS INT) / 4, "
        "-CAST(s.age AS INT) % 7, CAST(s.age AS INT) - 50 FROM archive s WHERE s.age <> ''",
        "CAST(c2 AS INTEGER) * 2 + 1, CAST(c2 AS INTEGER) / 4, -CAST(c2 AS INTEGER) / 4, "
        "-CAST(c2 AS INTEGER) % 7, CAST(c2 AS INTEGER) - 50",
        "c2 <> ''",
    ),
    (
        "SELECT s.name FROM archive s WHERE s.age <> '' AND CAST(s.age AS INT) * 3 > 80 + 10",
        "c1",
        "c2 <> '' AND CAST(c2 AS INTEGER) * 3 > 80 + 10",
    ),
    (
        "SELECT CASE WHEN s.city = 'Paris' THEN 'fr' WHEN s.city LIKE 'O%' THEN 'no' ELSE 'other' END, "
        "CASE s.name WHEN 'bob' THEN 'B' END FROM archive s",
        "CASE WHEN c3 = 'Paris' THEN 'fr' WHEN c3 LIKE 'O%' THEN 'no' ELSE 'other' END, "
        "CASE c1 WHEN 'bob' THEN 'B' END",
        None,
    ),
]


@pytest.mark.parametrize(("expression", "select_list", "where"), QUERIES, ids=[q[0] for q in QUERIES])
def test_query_matches_sqlite(expression: str, select_list: str, where: str | None) -> None:
    rows = csv_rows(PEOPLE)
    expected = sqlite_rows(rows[1:], select_list, where)
    assert select_rows(PEOPLE, expression, {"FileHeaderInfo": "USE"}) == expected


@pytest.mark.parametrize(
    ("header_info", "expression", "skip"),
    [
        ("NONE", "SELECT s._1, s._4 FROM archive s WHERE s._3 <> 'Paris'", 0),
        ("IGNORE", "SELECT s._1, s._4 FROM archive s WHERE s._3 <> 'Paris'", 1),
        ("USE", "SELECT s._1, s.note FROM archive s WHERE s.city <> 'Paris'", 1),
    ],
)
def test_file_header_info(header_info: str, expression: str, skip: int) -> None:
    expected = sqlite_rows(csv_rows(PEOPLE)[skip:], "c1, c4", "c3 <> 'Paris'")
    assert select_rows(PEOPLE, expression, {"FileHeaderInfo": header_info}) == expected
    assert (["name", "note"] in expected) == (header_info == "NONE")


def test_header_names_are_unknown_unless_use() -> None:
    # With IGNORE the header is not a schema: a name binds to nothing (MISSING), so
    # comparisons are never true and the projected field is empty.
    assert (
        select_rows(
            PEOPLE, "SELECT s.name FROM archive s WHERE s.city = 'Paris'", {"FileHeaderInfo": "IGNORE"}
        )
        == []
    )
    assert select_rows(PEOPLE, "SELECT s._1, s.name FROM archive s", {"FileHeaderInfo": "IGNORE"})[0] == [
        "alice",
        "",
    ]


def test_quoted_header_name_is_exact_and_unquoted_is_case_insensitive() -> None:
    data = 'Full Name,Age\n"Smith, J",40\nDoe,9\n'
    use = {"FileHeaderInfo": "USE"}
    expected = sqlite_rows(csv_rows(data)[1:], "c1", "c2 = '40'")
    assert select_rows(data, "SELECT s.\"Full Name\" FROM archive s WHERE s.age = '40'", use) == expected
    assert select_rows(data, "SELECT s.AGE FROM archive s", use) == [["40"], ["9"]]
    # no header is exactly "full name": MISSING, written as an empty field per record
    assert evaluate_select(data.encode(), 'SELECT s."full name" FROM archive s', {"csv": use}, {}) == b"\n\n"


def test_comment_lines_are_skipped() -> None:
    data = "#generated by the exporter\nid,v\n1,a\n#2,b\n3,c\n"
    oracle = [row for row in csv_rows(data) if not row[0].startswith("#")]
    expected = sqlite_rows(oracle[1:], "c1, c2", "c2 <> 'c'")
    assert (
        select_rows(data, "SELECT s.id, s.v FROM archive s WHERE s.v <> 'c'", {"FileHeaderInfo": "USE"})
        == expected
    )
    # another comment character: '#' lines are then data
    custom = select_rows(data, "SELECT s._1 FROM archive s", {"Comments": ";"})
    assert custom == [[row[0]] for row in csv_rows(data)]


@pytest.mark.parametrize(
    ("settings", "dialect", "quoting"),
    [
        ({"FieldDelimiter": ";"}, {"delimiter": ";"}, csv.QUOTE_MINIMAL),
        (
            {"FieldDelimiter": "\t", "QuoteCharacter": "'"},
            {"delimiter": "\t", "quotechar": "'"},
            csv.QUOTE_MINIMAL,
        ),
        # Glacier's own style (its inventory CSV): every field quoted, quotes escaped by a backslash
        (
            {"FieldDelimiter": "|", "QuoteEscapeCharacter": "\\"},
            {"delimiter": "|", "escapechar": "\\", "doublequote": False},
            csv.QUOTE_ALL,
        ),
    ],
)
def test_custom_delimiters_and_quotes(
    settings: dict[str, str], dialect: dict[str, Any], quoting: int
) -> None:
    rows = [
        ["k1", "plain", "1"],
        ["k2", "has|pipe;semi\tand tab", "2"],
        ["k3", "quote \" ' inside", "3"],
        ["k4", "line\nbreak", "4"],
    ]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n", quoting=quoting, **dialect).writerows(rows)
    data = buffer.getvalue()
    assert csv_rows(data, **dialect) == rows  # the oracle reads what was written
    got = select_rows(data, "SELECT s._2, s._1 FROM archive s WHERE s._3 <> '1'", settings)
    assert got == sqlite_rows(csv_rows(data, **dialect), "c2, c1", "c3 <> '1'")


def test_custom_record_delimiter() -> None:
    rows = [["a", "x;y"], ["b", "2"], ["c", "multi\nline"]]
    data = "".join(",".join(f'"{v}"' if (";" in v or "\n" in v) else v for v in row) + ";" for row in rows)
    got = evaluate_select(
        data.encode(), "SELECT s._2 FROM archive s WHERE s._1 <> 'b'", {"csv": {"RecordDelimiter": ";"}}, {}
    )
    assert got == b'x;y\n"multi\nline"\n'


def test_crlf_records_read_like_lf() -> None:
    data = 'a,b\r\n"x\r\ny",2\r\n'
    assert select_rows(data, "SELECT * FROM archive") == csv_rows(data)


def test_quoted_fields_round_trip_through_select_star() -> None:
    # SELECT * writes each record back; reading it again gives the same fields
    assert select_rows(PEOPLE, "SELECT * FROM archive", {"FileHeaderInfo": "USE"}) == csv_rows(PEOPLE)[1:]


@pytest.mark.parametrize("quote_fields", ["ALWAYS", "ASNEEDED"])
@pytest.mark.parametrize(
    "out",
    [{}, {"FieldDelimiter": ";", "RecordDelimiter": "\r\n", "QuoteCharacter": "'"}],
    ids=["defaults", "custom"],
)
def test_output_serialization_matches_csv_writer(quote_fields: str, out: dict[str, str]) -> None:
    rows = csv_rows(PEOPLE)[1:]
    output = evaluate_select(
        PEOPLE.encode(),
        "SELECT s.name, s.city, s.note FROM archive s",
        {"csv": {"FileHeaderInfo": "USE"}},
        {"csv": {"QuoteFields": quote_fields, **out}},
    )
    buffer = io.StringIO(newline="")
    csv.writer(
        buffer,
        delimiter=out.get("FieldDelimiter", ","),
        quotechar=out.get("QuoteCharacter", '"'),
        lineterminator=out.get("RecordDelimiter", "\n"),
        quoting=csv.QUOTE_ALL if quote_fields == "ALWAYS" else csv.QUOTE_MINIMAL,
    ).writerows([[row[0], row[2], row[3]] for row in rows])
    assert output.decode() == buffer.getvalue()


def test_output_quote_escape_character() -> None:
    output = evaluate_select(
        b'v\n"say ""hi"""\n',
        "SELECT * FROM archive",
        {"csv": {"FileHeaderInfo": "USE"}},
        {"csv": {"QuoteEscapeCharacter": "\\"}},
    )
    assert output == b'"say \\"hi\\""\n'


def test_streaming_matches_whole_input_for_every_chunking() -> None:
    data = PEOPLE.encode()
    expression = "SELECT s.name, s.note FROM archive s WHERE s.city <> 'Paris'"
    whole = evaluate_select(data, expression, {"csv": {"FileHeaderInfo": "USE"}}, {})
    for size in (1, 2, 3, 7, 64):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        streamed = b"".join(iter_select(chunks, expression, {"csv": {"FileHeaderInfo": "USE"}}, {}))
        assert streamed == whole, size


def test_empty_archive_and_header_only() -> None:
    assert evaluate_select(b"", "SELECT * FROM archive", {}, {}) == b""
    assert evaluate_select(b"a,b\n", "SELECT * FROM archive", {"csv": {"FileHeaderInfo": "USE"}}, {}) == b""


# ----------------------------------------------------------------------------------------
# Typing rules: CSV values are strings until CAST


def test_string_compared_with_number_needs_cast() -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(
            PEOPLE.encode(),
            "SELECT * FROM archive s WHERE s.age > 26",
            {"csv": {"FileHeaderInfo": "USE"}},
            {},
        )
    assert error.value.code == "ExternalEvalException"
    assert "cannot compare string '30' with number '26' using >" in error.value.message
    assert "line 1, column 37" in error.value.message
    # equality across types is simply false (and <> true), not an error
    assert (
        select_rows(PEOPLE, "SELECT s.name FROM archive s WHERE s.age = 30", {"FileHeaderInfo": "USE"}) == []
    )
    assert (
        len(select_rows(PEOPLE, "SELECT s.name FROM archive s WHERE s.age <> 30", {"FileHeaderInfo": "USE"}))
        == 6
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("SELECT CAST(s.age AS INT) FROM archive s", "'' cannot be cast to INT"),
        ("SELECT CAST(s.name AS FLOAT) FROM archive s", "'alice' cannot be cast to FLOAT"),
        ("SELECT CAST(s.city AS TIMESTAMP) FROM archive s", "'Paris' cannot be cast to TIMESTAMP"),
        ("SELECT CAST(s.name AS BOOL) FROM archive s", "'alice' cannot be cast to BOOL"),
    ],
)
def test_cast_failures(expression: str, message: str) -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(PEOPLE.encode(), expression, {"csv": {"FileHeaderInfo": "USE"}}, {})
    assert error.value.code == "CastFailed"
    assert message in error.value.message


def test_cast_values_are_written_in_their_type() -> None:
    data = b"7,1.50,true,2024-05-01T10:20:30+02:00\n"
    expression = (
        "SELECT CAST(_1 AS INT) + 1, CAST(_2 AS DECIMAL), CAST(_2 AS FLOAT), NOT CAST(_3 AS BOOL), "
        "CAST(_4 AS TIMESTAMP) > CAST('2024-05-01T08:00Z' AS TIMESTAMP), "
        "CAST(CAST(_1 AS INT) AS STRING) FROM archive"
    )
    assert evaluate_select(data, expression, {}, {}) == b"8,1.50,1.5,false,true,7\n"


def test_is_missing_tells_absent_columns_from_empty_fields() -> None:
    use = {"FileHeaderInfo": "USE"}
    assert select_rows(PEOPLE, "SELECT s.name FROM archive s WHERE s.note IS MISSING", use) == []
    assert len(select_rows(PEOPLE, "SELECT s.name FROM archive s WHERE s._5 IS MISSING", use)) == 6
    assert select_rows(
        PEOPLE, "SELECT s.name FROM archive s WHERE s.note = '' AND s.note IS NOT MISSING", use
    ) == [["alice"]]


def test_division_by_zero() -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b"4,0\n", "SELECT CAST(_1 AS INT) / CAST(_2 AS INT) FROM archive", {}, {})
    assert error.value.code == "DivisionByZero"
    assert "line 1, column 24" in error.value.message


def test_integer_overflow() -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b"9223372036854775808\n", "SELECT CAST(_1 AS INT) FROM archive", {}, {})
    assert error.value.code == "IntegerOverflow"


# ----------------------------------------------------------------------------------------
# Rejections


UNSUPPORTED = [
    ("SELECT s._1 FROM archive s GROUP BY s._1", "GROUP BY", "line 1, column 28"),
    ("SELECT * FROM archive s ORDER BY s._1", "ORDER BY", "line 1, column 25"),
    ("SELECT * FROM archive a JOIN archive b ON a._1 = b._1", "JOIN", "column 25"),
    ("SELECT * FROM archive a, archive b", "no joins", "column 24"),
    ("SELECT DISTINCT s._1 FROM archive s", "DISTINCT", "column 8"),
    ("SELECT * FROM archive UNION SELECT * FROM archive", "UNION", "column 23"),
    ("SELECT COUNT(*) FROM archive", "aggregate functions: COUNT", "column 8"),
    ("SELECT sum(CAST(_1 AS INT)) FROM archive", "aggregate functions: sum", "column 8"),
    ("SELECT AVG(_1) FROM archive", "aggregate functions: AVG", "column 8"),
    ("SELECT MIN(_1), MAX(_1) FROM archive", "aggregate functions: MIN", "column 8"),
    ("SELECT * FROM archive LIMIT 5", "LIMIT", "column 23"),
    ("SELECT * FROM archive WHERE _1 IN (SELECT _1 FROM archive)", "subqueries", "column 36"),
    ("SELECT * FROM archive s HAVING s._1 = 'a'", "HAVING", "column 25"),
    ("SELECT * FROM mytable", "FROM must name the archive", "'mytable'"),
]


@pytest.mark.parametrize(("expression", "what", "where"), UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_syntax_is_rejected(expression: str, what: str, where: str) -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b"a,b\n", expression, {}, {})
    assert error.value.code == "UnsupportedSyntax"
    assert what in error.value.message
    assert where in error.value.message


MALFORMED = [
    (
        "SELECT * FROM archive WHERE",
        "ParseExpectedExpression",
        "Unexpected end of expression at line 1, column 28",
    ),
    ("SELECT * FROM archive WHERE _1 = ", "ParseExpectedExpression", "column 34"),
    ("SELECT * FROM archive WHERE (_1 = 'a'", "ParseExpectedExpression", "expected ')'"),
    ("SELECT * FROM archive WHERE _1 = 'a')", "ParseUnexpectedToken", "OPERATOR:) at line 1, column 37"),
    ("SELECT * FROM archive WHERE _1 = = 'a'", "ParseUnexpectedToken", "OPERATOR:= at line 1, column 34"),
    ("SELECT * FROM archive WHERE AND _1 = 'a'", "ParseUnexpectedToken", "KEYWORD:AND at line 1, column 29"),
    ("SELECT _1 _2 _3 FROM archive", "ParseUnexpectedToken", "IDENTIFIER:_3 at line 1, column 14"),
    (
        "SELECT _1\nFROM archive\nWHERE _1 = 'a' 'b'",
        "ParseUnexpectedToken",
        "LITERAL:'b' at line 3, column 16",
    ),
    (
        "SELECT * FROM archive WHERE _1 = 'open",
        "LexerInvalidLiteral",
        "Unterminated string literal at line 1, column 34",
    ),
    ("SELECT * FROM archive WHERE _1 = `a`", "LexerInvalidChar", "'`' at line 1, column 34"),
    ("SELECT FROM archive", "ParseEmptySelect", "column 8"),
    ("", "ParseEmptySelect", "empty"),
    ("SELECT *", "ParseSelectMissingFrom", "column 9"),
    ("SELECT *, _1 FROM archive", "ParseAsteriskIsNotAloneInSelectList", "column 9"),
    ("SELECT _1, * FROM archive", "ParseAsteriskIsNotAloneInSelectList", "column 12"),
    ("UPDATE archive SET _1 = 'x'", "ParseUnexpectedToken", "IDENTIFIER:UPDATE at line 1, column 1"),
    ("SELECT CAST(_1 AS BLOB) FROM archive", "ParseExpectedTypeName", "IDENTIFIER:BLOB at line 1, column 19"),
    ("SELECT CAST _1 FROM archive", "ParseExpectedLeftParenAfterCast", "column 13"),
    ("SELECT * FROM archive WHERE _1 BETWEEN 'a' 'b'", "ParseExpectedKeyword", "Expected keyword AND"),
    ("SELECT * FROM archive WHERE _1 IS 'a'", "ParseUnexpectedToken", "expected NULL or MISSING after IS"),
    (
        "SELECT LEFTPAD(_1) FROM archive",
        "UnsupportedFunction",
        "LEFTPAD is not supported at line 1, column 8",
    ),
    ("SELECT UPPER(_1, _2) FROM archive", "EvaluatorInvalidArguments", "UPPER takes 1 arguments, got 2"),
    ("SELECT * FROM archive AS 5", "ParseExpectedIdentForAlias", "NUMBER:5 at line 1, column 26"),
    ("SELECT _0 FROM archive", "InvalidColumnIndex", "_0 is invalid at line 1, column 8"),
    (
        "SELECT x._1 FROM archive s",
        "InvalidTableAlias",
        "'x' is not the one given in FROM (s) at line 1, column 8",
    ),
]


@pytest.mark.parametrize(
    ("expression", "code", "message"), MALFORMED, ids=[m[0] or "empty" for m in MALFORMED]
)
def test_malformed_sql_names_the_token(expression: str, code: str, message: str) -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b"a,b\n", expression, {}, {})
    assert (error.value.code, message in error.value.message) == (code, True), error.value.message


RUNTIME_ERRORS = [
    ("SELECT * FROM archive s WHERE s._1", "ExternalEvalException", "WHERE needs a boolean, got string 'a'"),
    ("SELECT * FROM archive s WHERE s._1 = 'a' AND s._2", "ExternalEvalException", "AND needs a boolean"),
    ("SELECT * FROM archive s WHERE CAST(s._2 AS INT) LIKE '1%'", "LikeInvalidInputs", "LIKE needs strings"),
    ("SELECT * FROM archive s WHERE s._1 LIKE 'a!' ESCAPE '!'", "LikeInvalidInputs", "ends with its escape"),
    ("SELECT * FROM archive s WHERE s._1 LIKE 'a' ESCAPE '!!'", "LikeInvalidInputs", "one character"),
    (
        "SELECT UPPER(CAST(s._2 AS INT)) FROM archive s",
        "IncorrectSqlFunctionArgumentType",
        "UPPER needs a string",
    ),
    ("SELECT SUBSTRING(s._1, '1') FROM archive s", "IncorrectSqlFunctionArgumentType", "integer position"),
    ("SELECT s._1 + 1 FROM archive s", "ExternalEvalException", "+ needs numbers, got string and number"),
    ("SELECT s._1 || CAST(s._2 AS INT) FROM archive s", "ExternalEvalException", "|| joins strings"),
]


@pytest.mark.parametrize(
    ("expression", "code", "message"), RUNTIME_ERRORS, ids=[r[0] for r in RUNTIME_ERRORS]
)
def test_evaluation_errors(expression: str, code: str, message: str) -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b"a,12\n", expression, {}, {})
    assert error.value.code == code
    assert message in error.value.message


def test_ambiguous_header_name() -> None:
    data = b"id,Name,name\n1,x,y\n"
    use = {"csv": {"FileHeaderInfo": "USE"}}
    # an exact match wins; an unquoted name matching several headers only by case is ambiguous
    assert evaluate_select(data, "SELECT s.name, s.Name FROM archive s", use, {}) == b"y,x\n"
    with pytest.raises(SelectError) as error:
        evaluate_select(data, "SELECT s.NAME FROM archive s", use, {})
    assert error.value.code == "AmbiguousFieldName"
    assert "'NAME' matches several header fields at line 1, column 10" in error.value.message


def test_expression_too_long() -> None:
    expression = "SELECT * FROM archive s WHERE " + " OR ".join(["s._1 = 'x'"] * 10_000)
    with pytest.raises(SelectError) as error:
        evaluate_select(b"a\n", expression, {}, {})
    assert error.value.code == "ExpressionTooLong"


def test_byte_order_mark_is_not_part_of_the_first_header() -> None:
    data = "\ufeffid,v\n1,a\n".encode()
    assert (
        evaluate_select(data, "SELECT s.id FROM OBJECT s", {"csv": {"FileHeaderInfo": "USE"}}, {}) == b"1\n"
    )


def test_sql_errors_are_raised_before_any_input_is_read() -> None:
    def never_read() -> Any:
        raise AssertionError("the archive was read before the SQL was checked")
        yield b""  # pragma: no cover

    with pytest.raises(SelectError) as error:
        iter_select(never_read(), "SELECT * FROM archive LIMIT 1", {}, {})
    assert error.value.code == "UnsupportedSyntax"


@pytest.mark.parametrize(
    ("input_serialization", "output_serialization", "code", "message"),
    [
        (
            {"csv": {"FileHeaderInfo": "FIRST"}},
            {},
            "InvalidFileHeaderInfo",
            "'FIRST' is not one of USE, IGNORE, NONE",
        ),
        (
            {},
            {"csv": {"QuoteFields": "SOMETIMES"}},
            "InvalidQuoteFields",
            "'SOMETIMES' is not one of ALWAYS, ASNEEDED",
        ),
        (
            {"csv": {"FieldDelimiter": ";;"}},
            {},
            "InvalidRequestParameter",
            "FieldDelimiter: ';;' must be a single character",
        ),
        (
            {"csv": {"QuoteCharacter": ","}},
            {},
            "InvalidRequestParameter",
            "QuoteCharacter and FieldDelimiter must differ",
        ),
        ({"json": {}}, {}, "InvalidDataSource", "only CSV"),
    ],
)
def test_bad_serialization(
    input_serialization: dict[str, Any], output_serialization: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b"a\n", "SELECT * FROM archive", input_serialization, output_serialization)
    assert error.value.code == code
    assert message in error.value.message


def test_bad_csv_and_encoding() -> None:
    with pytest.raises(SelectError) as error:
        evaluate_select(b'a,"unterminated\n', "SELECT * FROM archive", {}, {})
    assert error.value.code == "CSVParsingError"
    assert "no closing quote" in error.value.message
    with pytest.raises(SelectError) as error:
        evaluate_select(b"a,\xff\n", "SELECT * FROM archive", {}, {})
    assert error.value.code == "InvalidTextEncoding"


# ----------------------------------------------------------------------------------------
# Property: random tables and random WHERE trees agree with sqlite

TEXT_VALUES = ["", "a", "b", "ab", "A", "a b", "x,y", "p|q;r", 'q"q', "new\nline", "é", "%", "_", "10", "9"]
LIKE_PATTERNS = ["a%", "%b", "_", "%", "a_", "%\n%", "%,%", "A%", "", "%é"]


@st.composite
def tables(draw: st.DrawFn) -> tuple[int, Rows]:
    """Rows of text columns then one integer column; some rows short (MISSING cells)."""
    text_columns = draw(st.integers(1, 3))
    width = text_columns + 1
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        row = [draw(st.sampled_from(TEXT_VALUES)) for _ in range(text_columns)]
        row.append(str(draw(st.integers(-20, 20))))
        rows.append(row[: draw(st.integers(1, width))] if draw(st.booleans()) else row)
    return text_columns, rows


def leaf(text_columns: int) -> st.SearchStrategy[tuple[str, str]]:
    """A predicate as (Glacier Select text, sqlite text)."""
    text_col = st.integers(1, text_columns)
    int_col = text_columns + 1
    ops = st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="])
    literal = st.sampled_from(TEXT_VALUES).map(lambda v: "'" + v.replace("'", "''") + "'")

    def same(text: str) -> tuple[str, str]:
        return text, text

    return st.one_of(
        st.builds(lambda c, op, v: (f"s._{c} {op} {v}", f"c{c} {op} {v}"), text_col, ops, literal),
        st.builds(
            lambda op, n: (f"CAST(s._{int_col} AS INT) {op} {n}", f"CAST(c{int_col} AS INTEGER) {op} {n}"),
            ops,
            st.integers(-25, 25),
        ),
        st.builds(
            lambda c, neg, p: (f"s._{c} {neg}LIKE '{p}'", f"c{c} {neg}LIKE '{p}'"),
            text_col,
            st.sampled_from(["", "NOT "]),
            st.sampled_from(LIKE_PATTERNS),
        ),
        st.builds(
            lambda c, neg: (f"s._{c} IS {neg}NULL", f"c{c} IS {neg}NULL"),
            st.integers(1, int_col),
            st.sampled_from(["", "NOT "]),
        ),
        st.builds(
            lambda c, neg, vs: (f"s._{c} {neg}IN ({', '.join(vs)})", f"c{c} {neg}IN ({', '.join(vs)})"),
            text_col,
            st.sampled_from(["", "NOT "]),
            st.lists(literal, min_size=1, max_size=3),
        ),
        st.builds(
            lambda lo, hi: (
                f"CAST(s._{int_col} AS INT) BETWEEN {lo} AND {hi}",
                f"CAST(c{int_col} AS INTEGER) BETWEEN {lo} AND {hi}",
            ),
            st.integers(-20, 5),
            st.integers(-5, 20),
        ),
        st.sampled_from(["TRUE", "FALSE"]).map(same),
    )


PRECEDENCE = {"OR": 1, "AND": 2, "NOT": 3, "leaf": 4}


@functools.cache  # strategies are built once per table shape: building them dominates otherwise
def where_trees(text_columns: int) -> st.SearchStrategy[tuple[str, str, str]]:
    """(Glacier text, sqlite text, operator) trees; parentheses only where precedence needs
    them, or everywhere, so the parser's precedence is what is tested."""

    def wrap(child: tuple[str, str, str], parent: str, full: bool) -> tuple[str, str]:
        if full or PRECEDENCE[child[2]] < PRECEDENCE[parent]:
            return f"({child[0]})", f"({child[1]})"
        return child[0], child[1]

    def extend(children: st.SearchStrategy[tuple[str, str, str]]) -> st.SearchStrategy[tuple[str, str, str]]:
        def binary(op: str, left: tuple[str, str, str], right: tuple[str, str, str], full: bool):
            # the right operand of an equal-precedence operator is parenthesised too
            l0, l1 = wrap(left, op, full)
            r0, r1 = wrap(right, op, full or PRECEDENCE[right[2]] == PRECEDENCE[op])
            return f"{l0} {op} {r0}", f"{l1} {op} {r1}", op

        def negation(child: tuple[str, str, str], full: bool):
            c0, c1 = wrap(child, "NOT", full)
            return f"NOT {c0}", f"NOT {c1}", "NOT"

        return st.one_of(
            st.builds(binary, st.sampled_from(["AND", "OR"]), children, children, st.booleans()),
            st.builds(negation, children, st.booleans()),
        )

    leaves = leaf(text_columns).map(lambda pair: (pair[0], pair[1], "leaf"))
    return st.recursive(leaves, extend, max_leaves=6)


@st.composite
def queries(draw: st.DrawFn) -> tuple[int, Rows, str, str, str]:
    text_columns, rows = draw(tables())
    ours, theirs, _ = draw(where_trees(text_columns))
    columns = draw(st.lists(st.integers(1, text_columns + 1), min_size=1, max_size=3))
    return (
        text_columns,
        rows,
        f"SELECT {', '.join(f's._{c}' for c in columns)} FROM archive s WHERE {ours}",
        ", ".join(f"c{c}" for c in columns),
        theirs,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queries(),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    st.sampled_from([(",", "\n"), (";", "\r\n"), ("\t", "|"), (",", "\r\n")]),
)
def test_random_where_trees_agree_with_sqlite(
    query: tuple[int, Rows, str, str, str], quoting: int, delimiters: tuple[str, str]
) -> None:
    text_columns, rows, expression, select_list, where = query
    field_delimiter, record_delimiter = delimiters
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=field_delimiter, quoting=quoting, lineterminator=record_delimiter).writerows(
        rows
    )
    expected = sqlite_rows(rows, select_list, where, width=text_columns + 1)
    csv_in = {"FieldDelimiter": field_delimiter, "RecordDelimiter": record_delimiter, "Comments": ""}
    got = evaluate_select(buffer.getvalue().encode(), expression, {"csv": csv_in}, {})
    assert csv_rows(got.decode()) == _blank_rows_dropped(expected), expression


def _blank_rows_dropped(rows: Sequence[list[str]]) -> Rows:
    """A record of one empty field is written as an empty line, which a reader skips."""
    return [row for row in rows if row != [""]]
