"""SQLite's own limits on every connection, so that no query can build a huge value or a huge result (issue 15).

`sql_time_limit_ms` only stops slow loops: one huge allocation (`select zeroblob(200000000)`, `randomblob(1e9)`,
`printf('%.*c', 1e9, 'x')`, `replace(hex(zeroblob(1e8)), ...)`, a `group_concat` or `json_group_array` over a
recursive CTE) ran for many seconds and grew the server by gigabytes. On each connection Datasette opens this sets:

- `SQLITE_LIMIT_LENGTH` (largest string, blob or row SQLite will make): `max_value_bytes`, 2 MB by default, about
  eight times the largest value the published views build (the eligible-areas GeoJSON of all 33 boroughs). A query
  that would make a larger value fails at once with SQLite's "string or blob too big" (HTTP 400 on the SQL page).
- `SQLITE_LIMIT_SQL_LENGTH`: 100,000 characters of SQL (a GET address is far shorter).
- a result budget: the values of one query's rows (strings and blobs by length, anything else as 16 bytes) may add up
  to `max_result_mb`, 32 MB by default, otherwise the query fails with "query result too large" (HTTP 400). Without it
  5,000 rows of many 2 MB columns would still fill the memory before the time limit. The budget is counted per
  cursor by the connection's row factory (a `sqlite3.Row`, as Datasette sets it), so rows are exactly as before.

- guards on the few built-in functions whose work is not bounded by the size of their result, and which run as one
  step of SQLite's virtual machine, where neither `sql_time_limit_ms` nor an interrupt can stop them (measured on
  SQLite 3.40: `trim(X, Y)` on 40,000 and 20,000 characters took 7.5 s; `printf('%.*c', 1e9, 'x')` 40 s although its
  result is over the limit and it returns NULL): `printf`/`format` whose `%c` precisions add up to more than
  `max_value_bytes`, and `trim`/`ltrim`/`rtrim` with a character list, `instr` and `replace` whose two strings'
  lengths multiply to more than MAX_WORK fail with "string or blob too big", like any other value over the limit.
  Every other call is answered by SQLite's own function (run on a private in-memory connection with the same
  limits), so results are exactly SQLite's; the one-argument `trim` is not touched.

Settings (all optional) in metadata.yml: `plugins: sql-limits: {max_value_bytes: ..., max_result_mb: ...}`.
The response body cap is plugins/response_limit.py.
"""

from __future__ import annotations

import re
import sqlite3
import threading

from datasette import hookimpl

PLUGIN = "sql-limits"
DEFAULT_MAX_VALUE_BYTES = 2_000_000
DEFAULT_MAX_RESULT_MB = 32
MAX_SQL_LENGTH = 100_000
OTHER_VALUE_BYTES = 16  # an integer, float or NULL, counted so that many narrow columns are bounded too


class ResultTooLarge(sqlite3.DataError):
    """Raised from the row factory (so Datasette reports it as a failed query, HTTP 400)."""


def budgeted_row_factory(max_bytes: int):
    """A row factory returning sqlite3.Row, failing once one cursor's rows exceed max_bytes in total."""
    state = {"cursor": None, "used": 0}
    text_types = (str, bytes)

    def factory(cursor, values):
        size = 0
        for value in values:
            size += len(value) if type(value) in text_types else OTHER_VALUE_BYTES
        if cursor is not state["cursor"]:
            state["cursor"] = cursor
            state["used"] = 0
        state["used"] += size
        if state["used"] > max_bytes:
            state["cursor"] = None  # release the cursor
            raise ResultTooLarge(
                f"query result too large: its rows exceed {max_bytes // 2**20} MB; select fewer rows or columns, "
                f"or shorter values"
            )
        return sqlite3.Row(cursor, values)

    factory.max_bytes = max_bytes
    return factory


MAX_WORK = 20_000_000  # character comparisons one call of trim/instr/replace may need (about 10 ms)
# A printf conversion: flags, width, precision, length modifier, conversion letter (SQLite's printf.c).
CONVERSION = re.compile(r"%[-+ 0#!,]*(\*|\d+)?(?:\.(\*|\d*))?l{0,2}([a-zA-Z%])")
_builtin = threading.local()  # a plain in-memory connection per SQL thread, to run SQLite's own function


def builtin(name: str, args: tuple, max_value_bytes: int):
    conn = getattr(_builtin, "conn", None)
    if conn is None:
        conn = _builtin.conn = sqlite3.connect(":memory:", check_same_thread=False)
    if conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) != max_value_bytes:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
    return conn.execute(f"select {name}({', '.join('?' * len(args))})", args).fetchone()[0]


def printf_repeats(args: tuple) -> int:
    """How many characters the `%c` conversions with a precision (`%.5c`, `%.*c`) of printf(*args) repeat."""
    if not args or not isinstance(args[0], str):
        return 0
    total, position = 0, 1
    for width, precision, conversion in CONVERSION.findall(args[0]):
        if conversion == "%":
            continue
        if width == "*":
            position += 1
        if precision == "*":
            value = args[position] if position < len(args) else 0
            position += 1
            precision = value
        if conversion == "c" and precision not in ("", None):
            try:
                total += max(int(float(precision)), 0)
            except (TypeError, ValueError):
                pass
        position += 1
    return total


def text_length(value) -> int:
    return len(value) if isinstance(value, str | bytes) else len(str(value)) if value is not None else 0


def guarded_functions(max_value_bytes: int) -> list[tuple[str, int, object]]:
    """(name, number of arguments, function) replacing SQLite's built-ins on a connection."""

    def printf(name):
        def call(*args):
            if printf_repeats(args) > max_value_bytes:
                raise OverflowError  # Python's sqlite3 reports it as SQLite's "string or blob too big"
            return builtin(name, args, max_value_bytes)

        return call

    def pairwise(name):
        def call(*args):
            if text_length(args[0]) * text_length(args[1]) > MAX_WORK:
                raise OverflowError
            return builtin(name, args, max_value_bytes)

        return call

    return [("printf", -1, printf("printf")), ("format", -1, printf("format")),
            ("trim", 2, pairwise("trim")), ("ltrim", 2, pairwise("ltrim")), ("rtrim", 2, pairwise("rtrim")),
            ("instr", 2, pairwise("instr")), ("replace", 3, pairwise("replace"))]


def limits(datasette) -> tuple[int, int]:
    config = datasette.plugin_config(PLUGIN) or {}
    max_value = int(config.get("max_value_bytes", DEFAULT_MAX_VALUE_BYTES))
    max_result = int(float(config.get("max_result_mb", DEFAULT_MAX_RESULT_MB)) * 2**20)
    return max_value, max_result


def apply_limits(conn: sqlite3.Connection, max_value_bytes: int, max_result_bytes: int) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_LENGTH)
    conn.row_factory = budgeted_row_factory(max_result_bytes)
    for name, arguments, function in guarded_functions(max_value_bytes):
        conn.create_function(name, arguments, function, deterministic=True)


@hookimpl
def prepare_connection(conn, database, datasette):
    apply_limits(conn, *limits(datasette))
