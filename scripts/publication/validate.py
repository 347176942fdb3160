"""Check every row of every CSV resource against its Table Schema and the cross-file rules.

All problems are collected (not only the first). Typed values are returned so the loader never re-parses text.

How it is done quickly: a table is held as one list of typed values per schema field, plus the spreadsheet row
number of each row (an array), never as a dict per row. The file is read and checked in chunks of rows (see
package.read_csv), column by column (ColumnCheck): each distinct cell of a chunk is tested once, with C-level
map/set operations per field type (a precompiled pattern, enum membership, formula prefix and length for text;
`int`, `float`, `date.fromisoformat` with enum and bounds otherwise). Only a cell that fails the quick test goes
through `cast` and `check_constraints`, which write the reasons, so every message is exactly theirs. A column that
repeats itself remembers its distinct cells across chunks, so equal cells share one object. Row rules read only their
columns; keys are checked with sets, and rows are walked for messages only when a set shows a duplicate or an unknown
reference. Domain RULES read `table.rows` (dicts made on the fly) or, for large tables, `table.select(...)`. The
problems are returned deduplicated and sorted, so the order in which checks run does not show.

Schema extensions (keys starting `x-`) understood here:
- `x-rules`: row rules, `{"rule": "date_order", "start": ..., "end": ...}` and
  `{"rule": "in_greater_london", "latitude": ..., "longitude": ...}`;
- `x-unique`: extra unique column sets (nulls compare equal, as in a spreadsheet);
- `x-allow-formula-prefix`: string fields whose text may start with = + - @ (none by default).

No cell of any type may hold a control character other than tab and line breaks (CONTROL_CHARACTER). Problems that
only follow from a file-level one are not reported: a file that cannot be read (or a key column missing from its
header) is not checked for keys pointing into it, nor by the cross-file rules; a column missing from the header is
not reported row by row. File-level and header problems come first in the list.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from array import array
from dataclasses import dataclass, field
from itertools import compress, repeat
from math import isfinite
from operator import gt, itemgetter, lt, not_
from time import perf_counter

from scripts.common.geo import LondonBoundary

from .package import CHUNK_ROWS, MAX_FIELD_CHARS, Package, Problem, Reread, Resource, read_csv

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ASCII_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Control characters refused in every cell: C0 other than tab (09), line feed (0A) and carriage return (0D), DEL
# (7F) and C1 (80-9F); a carriage return only when it is not part of a CRLF line break inside a quoted cell.
# (package.may_have_controls is the quick test of a whole file for the same characters.)
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def control_character_reason(value: str, found: re.Match) -> str:
    char = found.group()
    if char == "\r":
        what = "a carriage return not followed by a line feed"
    else:
        what = f"the control character U+{ord(char):04X}"
    return (
        f"cell has {what} at character {found.start() + 1} (only tab and line breaks may appear in a cell); "
        "remove it"
    )


class Rows:
    """`table.rows`: (row number, {column: typed value}) pairs, made one at a time as they are iterated."""

    def __init__(self, table: ValidatedTable):
        self.table = table

    def __iter__(self):
        names, columns = self.table.names, self.table.columns
        if not columns:
            yield from ((number, {}) for number in self.table.numbers)
            return
        for number, values in zip(self.table.numbers, zip(*columns, strict=True), strict=True):
            yield number, dict(zip(names, values, strict=True))

    def __len__(self) -> int:
        return len(self.table.numbers)


@dataclass
class ValidatedTable:
    """A resource's typed values: `columns[i]` holds field i's value for every row, `numbers` the row numbers.

    Rows with problems are kept (failing cells as None) so that key checks do not cascade one bad cell into many
    "unknown reference" messages. Nothing is built when problems exist.
    """

    resource: Resource
    numbers: array = field(default_factory=lambda: array("I"))
    columns: list[list] = field(default_factory=list)
    readable: bool = True  # False when the file could not be read at all (no header)
    absent: frozenset = frozenset()  # schema fields missing from the file's header (their values are all None)

    def __post_init__(self):
        self.names = self.resource.field_names
        if not self.columns:
            self.columns = [[] for _ in self.names]

    @property
    def rows(self) -> Rows:
        """(row number, dict) per row, for rules that read a few small tables."""
        return Rows(self)

    def __len__(self) -> int:
        return len(self.numbers)

    def column(self, name: str) -> list:
        """Every row's value of one field (None for each row when the schema has no such field)."""
        return self.columns[self.names.index(name)] if name in self.names else [None] * len(self.numbers)

    def select(self, *names: str):
        """(row number, value of each named column) per row: the fast way for a rule to read a large table."""
        return zip(self.numbers, *(self.column(n) for n in names), strict=True)

    def tuples(self):
        """Each row's values in schema field order, as the loader inserts them."""
        return zip(*self.columns, strict=True)

    def release(self) -> None:
        """Drop the values (once they are in the database) so that the memory serves the derive steps."""
        self.columns = _Released()


class _Released(list):
    """The columns of a released table: any use of them is a mistake, so it fails loudly."""

    def _fail(self, *args, **kwargs):
        raise RuntimeError("this table's values were released once loaded: read them from the database")

    __iter__ = __getitem__ = __len__ = __bool__ = _fail


def cast(value: str, field_def: dict) -> object:
    """Turn a CSV cell into a Python value for the field's type; raise ValueError with a reason."""
    type_ = field_def.get("type", "string")
    if value == "":
        return None
    found = CONTROL_CHARACTER.search(value)
    if found:
        raise ValueError(control_character_reason(value, found))
    if type_ == "string":
        return value
    text = value.strip()
    if type_ == "integer":
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"{value!r} is not a whole number")
        return int(text)
    if type_ == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number (write 1500000, not £1.5m or 1,500,000)") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if type_ == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form")
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a real calendar date") from None
    if type_ == "boolean":
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return 1
        if lowered in ("false", "no", "0"):
            return 0
        raise ValueError(f"{value!r} is not true or false")
    raise ValueError(f"unknown field type {type_!r} in the schema")


def check_constraints(value: object, raw: str, field_def: dict, allow_formula: bool) -> list[str]:
    reasons = []
    constraints = field_def.get("constraints", {})
    if value is None:
        if constraints.get("required"):
            reasons.append("required value is missing")
        return reasons
    if field_def.get("type", "string") == "string":
        if raw.startswith(FORMULA_PREFIXES) and not allow_formula:
            reasons.append(
                f"text starts with {raw[0]!r}, which a spreadsheet would run as a formula; remove the leading character"
            )
        limit = constraints.get("maxLength", MAX_FIELD_CHARS)
        if len(raw) > limit:
            reasons.append(f"text is {len(raw)} characters long; the limit is {limit}")
        pattern = constraints.get("pattern")
        if pattern and not re.fullmatch(pattern, raw):
            explained = field_def.get("x-pattern-reason")
            reasons.append(
                f"{raw[:60]!r}: {explained}"
                if explained
                else f"{raw[:60]!r} does not match the expected form {pattern}"
            )
    enum = constraints.get("enum")
    if enum is not None and value not in enum:
        reasons.append(f"{value!r} is not one of: {', '.join(map(str, enum))}")
    if "minimum" in constraints and value < constraints["minimum"]:
        if field_def["name"].endswith("_gbp") or "amount" in field_def["name"] or "value" in field_def["name"]:
            reasons.append(f"negative money: {value} is below {constraints['minimum']}")
        else:
            reasons.append(f"{value} is below the minimum {constraints['minimum']}")
    if "maximum" in constraints and value > constraints["maximum"]:
        reasons.append(f"{value} is above the maximum {constraints['maximum']}")
    return reasons


# --- the fast check: which distinct cells of a column certainly pass `cast` and `check_constraints`, found with
# C-level map/compress/set operations rather than a Python loop per cell.

FORMULA_CHARS = frozenset(FORMULA_PREFIXES)  # each prefix is one character
MEMO_LIMIT = 0.5  # a column stops remembering its distinct cells once more than this share of its cells differ


def _string_suspects(field_def: dict, cells: list[str], allow_formula: bool):
    """The non-empty text cells that may fail a constraint (all of them when that cannot be told quickly)."""
    constraints = field_def.get("constraints", {})
    if "minimum" in constraints or "maximum" in constraints:
        return cells  # not meaningful for text: leave it all to check_constraints
    suspects: set[str] = set()
    if not allow_formula and not FORMULA_CHARS.isdisjoint(map(itemgetter(0), cells)):
        suspects.update(cell for cell in cells if cell[0] in FORMULA_CHARS)
    limit = constraints.get("maxLength", MAX_FIELD_CHARS)
    if max(map(len, cells)) > limit:
        suspects.update(cell for cell in cells if len(cell) > limit)
    if constraints.get("pattern"):
        suspects.update(compress(cells, map(not_, map(re.compile(constraints["pattern"]).fullmatch, cells))))
    enum = constraints.get("enum")
    if enum is not None:
        suspects.update(cell for cell in cells if cell not in enum)
    return suspects


def _converted(cells: list[str], convert) -> dict:
    """{cell: convert(cell)} for the cells convert accepts."""
    try:
        return dict(zip(cells, map(convert, cells), strict=True))
    except ValueError:
        values = {}
        for cell in cells:
            try:
                values[cell] = convert(cell)
            except ValueError:
                pass
        return values


def _passing_values(field_def: dict, cells: list[str]) -> dict:
    """{cell: typed value} for the non-empty cells of a non-text column that certainly pass."""
    type_ = field_def.get("type", "string")
    if type_ == "integer":
        # str.isdecimal() is true exactly for text of Unicode decimal digits, which the pattern [+-]?\d+ accepts
        decimal = list(compress(cells, map(str.isdecimal, cells)))
        values = dict(zip(decimal, map(int, decimal), strict=True))
    elif type_ == "number":
        values = _converted(cells, float)  # float() strips the same whitespace str.strip() does
        if not isfinite(sum(values.values())):  # the sum is finite when every value is (unless it overflows)
            for cell in [cell for cell, value in values.items() if not isfinite(value)]:
                del values[cell]
    elif type_ == "date":
        ascii_dates = list(compress(cells, map(ASCII_DATE.fullmatch, cells)))
        values = _converted(ascii_dates, dt.date.fromisoformat)
        values = dict(zip(values, values, strict=True))  # date.isoformat() writes YYYY-MM-DD back as it was read
    else:
        return {}  # boolean (few distinct cells) and unknown types: check_constraints for each
    constraints = field_def.get("constraints", {})
    enum, low, high = constraints.get("enum"), constraints.get("minimum"), constraints.get("maximum")
    if enum is not None:
        for cell in [cell for cell, value in values.items() if value not in enum]:
            del values[cell]
    for bound, outside in ((low, lt), (high, gt)):
        if bound is not None and values:
            for cell in list(compress(list(values), map(outside, values.values(), repeat(bound)))):
                del values[cell]
    return values


class ColumnCheck:
    """Types and checks one field's cells, a chunk of rows at a time; `values` is the typed column so far.

    Each distinct cell of a chunk is checked once; a cell the fast check does not pass (and the empty cell) goes
    through `cast` and `check_constraints`, so every message is theirs. While a column repeats itself (few distinct
    cells, such as codes and enums) it remembers each distinct cell's value across chunks, which also makes equal
    cells share one object; a column of mostly distinct cells (identifiers, free text) does not.
    """

    def __init__(self, field_def: dict, allow_formula: bool, where: str, controls: bool = True):
        self.field_def = field_def
        self.controls = controls  # whether to look for control characters (False: the file certainly has none)
        self.name = field_def["name"]
        self.allow_formula = allow_formula
        self.where = where
        self.text = field_def.get("type", "string") == "string"
        self.known: dict | None = {}  # distinct cell -> typed value, while remembering
        self.failures: dict[str, list[str]] = {}  # every failing distinct cell seen -> its reasons
        self.lookup = False  # whether to try typing the next chunk from `known` alone
        self.values: list = []

    def add(self, cells, numbers: array, problems: list[Problem]) -> None:
        """Type and check a chunk of cells (a sequence), adding a problem per failing cell and reason."""
        if self.known is None and self.text:
            self._add_free_text(cells, numbers, problems)
            return
        if self.lookup and self.known:  # the last chunk had nothing new: most likely this one has not either
            done = len(self.values)
            try:
                self.values.extend(map(self.known.__getitem__, cells))
            except KeyError:
                del self.values[done:]
            else:
                if self.failures and not self.failures.keys().isdisjoint(cells):
                    self._report(cells, numbers, self.failures, problems)
                return
        distinct = set(cells)
        has_empty = "" in distinct
        distinct.discard("")
        known = self.known
        filled = list(distinct.difference(known) if known else distinct)
        values = known if known is not None else {}
        slow = [""] if has_empty and "" not in values else []
        controlled = self._controlled(filled)
        if filled and self.text:
            values.update(zip(filled, filled, strict=True))
            slow.extend(_string_suspects(self.field_def, filled, self.allow_formula))
            slow.extend(controlled)
        elif filled:
            passing = _passing_values(self.field_def, filled)
            for cell in controlled:  # int() and float() ignore some control characters around a number
                passing.pop(cell, None)
            values.update(passing)
            if len(passing) < len(filled):
                slow.extend(cell for cell in filled if cell not in passing)
        for raw in slow:
            values[raw] = self._checked(raw)
        self.values.extend(map(values.__getitem__, cells))
        self.lookup = not filled and not slow
        if has_empty:
            distinct.add("")
        if self.failures and not distinct.isdisjoint(self.failures):
            self._report(cells, numbers, self.failures, problems)
        if known is not None and len(known) > MEMO_LIMIT * len(self.values) and len(self.values) >= CHUNK_ROWS:
            self.known = None  # mostly distinct cells: remembering them costs more than it saves

    def _add_free_text(self, cells, numbers: array, problems: list[Problem]) -> None:
        """Text of mostly distinct cells: no set of them is made; text is its own value, the empty cell None."""
        has_empty = "" in cells
        filled = list(filter(None, cells)) if has_empty else cells
        slow = set(_string_suspects(self.field_def, filled, self.allow_formula)) if filled else set()
        slow.update(self._controlled(filled))
        if has_empty:
            slow.add("")
        failing = {}
        for raw in slow:
            self._checked(raw)
            if raw in self.failures:
                failing[raw] = self.failures[raw]
        self.values.extend([cell or None for cell in cells] if has_empty else cells)
        if failing:
            self._report(cells, numbers, failing, problems)

    def _controlled(self, cells) -> set:
        """The cells holding a control character (none looked for when the file certainly has none)."""
        return set(filter(CONTROL_CHARACTER.search, cells)) if self.controls and cells else set()

    def _checked(self, raw: str):
        """`cast` and `check_constraints` for one cell: its value (None when it cannot be cast); records failures."""
        try:
            value = cast(raw, self.field_def)
        except ValueError as exc:
            self.failures[raw] = [str(exc)]
            return None
        reasons = check_constraints(value, raw, self.field_def, self.allow_formula)
        if reasons:
            self.failures[raw] = reasons
        return value

    def _report(self, cells, numbers: array, failures: dict, problems: list[Problem]) -> None:
        for number, cell in zip(numbers, cells, strict=True):
            for reason in failures.get(cell, ()):
                problems.append(Problem(self.where, number, self.name, reason))


def validate_rows(resource: Resource, raw, boundary: LondonBoundary | None) -> tuple[ValidatedTable, list[Problem]]:
    """Type and check every cell of a RawTable, chunk by chunk, then the schema's row rules.

    Raises Reread when a row of the file cannot be parsed (see read_csv).
    """
    where = resource.display_path
    problems: list[Problem] = []
    allow_formula = set(resource.schema.get("x-allow-formula-prefix", []))
    position = {name: i for i, name in enumerate(raw.header)}  # a repeated header name: the last one counts
    checks = [
        (ColumnCheck(f, f["name"] in allow_formula, where, raw.controls), position.get(f["name"]))
        for f in resource.fields
    ]
    numbers = array("I")
    for chunk_numbers, cells in raw.chunks:
        numbers.extend(chunk_numbers)
        for check, index in checks:
            if index is None:  # a schema field missing from the header: reported once, on the header, not per row
                check.values.extend(repeat(None, len(chunk_numbers)))
            else:
                check.add(cells[index], chunk_numbers, problems)
        del cells
    absent = frozenset(f["name"] for f in resource.fields if f["name"] not in position)
    table = ValidatedTable(resource, numbers, [check.values for check, _ in checks], raw.readable, absent)
    for rule in resource.schema.get("x-rules", []):
        problems.extend(apply_rule_to_table(rule, table, where, boundary))
    return table, problems


def apply_rule_to_table(rule: dict, table: ValidatedTable, where: str, boundary) -> list[Problem]:
    """apply_rule for every row, reading only the rule's columns (and each distinct point once)."""
    names = table.names
    kind = rule["rule"]
    if kind == "date_order":
        if rule["start"] not in names or rule["end"] not in names:
            return _rule_row_by_row(rule, table, where, boundary)
        return [
            Problem(where, number, rule["end"], f"end date {end} is before start date {start}")
            for number, start, end in table.select(rule["start"], rule["end"])
            if start and end and end < start
        ]
    if kind == "in_greater_london":
        if rule["latitude"] not in names or rule["longitude"] not in names:
            return _rule_row_by_row(rule, table, where, boundary)
        inside: dict[tuple, bool] = {}  # boundary.contains of each distinct point
        problems = []
        for number, lat, lon in table.select(rule["latitude"], rule["longitude"]):
            if lat is None and lon is None:
                continue
            if lat is not None and lon is not None and boundary is not None:
                point = (lat, lon)
                if point not in inside:
                    inside[point] = boundary.contains(lat, lon)
                if inside[point]:
                    continue
            problems.extend(apply_rule(rule, {rule["latitude"]: lat, rule["longitude"]: lon}, where, number, boundary))
        return problems
    return _rule_row_by_row(rule, table, where, boundary)


def _rule_row_by_row(rule, table, where, boundary) -> list[Problem]:
    problems = []
    for number, row in table.rows:
        problems.extend(apply_rule(rule, row, where, number, boundary))
    return problems


def apply_rule(rule: dict, row: dict, where: str, row_number: int, boundary: LondonBoundary | None) -> list[Problem]:
    kind = rule["rule"]
    if kind == "date_order":
        start, end = row.get(rule["start"]), row.get(rule["end"])
        if start and end and end < start:
            return [Problem(where, row_number, rule["end"], f"end date {end} is before start date {start}")]
        return []
    if kind == "in_greater_london":
        lat, lon = row.get(rule["latitude"]), row.get(rule["longitude"])
        if lat is None and lon is None:
            return []
        if lat is None or lon is None:
            missing = rule["latitude"] if lat is None else rule["longitude"]
            return [Problem(where, row_number, missing, "give both latitude and longitude, or neither")]
        if boundary is not None and not boundary.contains(lat, lon):
            return [Problem(where, row_number, rule["latitude"], f"point ({lat}, {lon}) is outside Greater London")]
        return []
    raise ValueError(f"unknown rule {kind!r} in schema of {where}")


def key_of(row: dict, fields: list[str]) -> tuple:
    return tuple(row.get(f) for f in fields)


def key_column(table: ValidatedTable, fields: list[str]) -> list:
    """The key of every row: the value itself for a one-column key, else a tuple (a missing column reads as None)."""
    columns = [table.column(f) for f in fields]
    return columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))


def check_keys(tables: dict[str, ValidatedTable], notes: list[Problem] | None = None) -> list[Problem]:
    """Primary keys, x-unique sets and foreign keys. A key over a column missing from the header is not checked, nor
    is a foreign key into a file that could not be read or whose key column is missing: every row would fail only
    because of that file-level problem. Instead the target file gets one line saying which files were not checked
    (added to `notes` when given, else to the problems returned)."""
    problems: list[Problem] = []
    unchecked: dict[tuple[str, str], set[str]] = {}  # (target file, its key column or "-") -> files not checked
    distinct: dict[tuple, set] = {}  # (table, key fields) -> set of keys; a primary key is also a foreign key target

    def key_set(table: ValidatedTable, fields: list[str]) -> set:
        if (id(table), *fields) not in distinct:
            distinct[(id(table), *fields)] = set(key_column(table, fields))
        return distinct[(id(table), *fields)]

    for table in tables.values():
        schema = table.resource.schema
        where = table.resource.display_path
        key_sets = []
        if schema.get("primaryKey"):
            key_sets.append(("duplicate id", schema["primaryKey"]))
        for unique in schema.get("x-unique", []):
            key_sets.append(("duplicate row", unique))
        for label, fields in key_sets:
            if table.absent.intersection(fields) or len(key_set(table, fields)) == len(table):
                continue
            keys = key_column(table, fields)
            single = len(fields) == 1
            seen: dict = {}
            for row_number, key in zip(table.numbers, keys, strict=True):
                if key in seen:
                    values = (key,) if single else key
                    shown = ", ".join(f"{f}={v}" for f, v in zip(fields, values, strict=True))
                    problems.append(
                        Problem(where, row_number, fields[0], f"{label}: {shown} already used on row {seen[key]}")
                    )
                else:
                    seen[key] = row_number
        for fk in schema.get("foreignKeys", []):
            target = tables.get(fk["reference"]["resource"])
            if target is None:
                problems.append(
                    Problem(
                        where,
                        1,
                        fk["fields"][0],
                        f"foreign key refers to unknown resource {fk['reference']['resource']!r}",
                    )
                )
                continue
            missing = target.absent.intersection(fk["reference"]["fields"])
            if not target.readable or missing:
                if target is not table and not table.absent.intersection(fk["fields"]):
                    column = "-" if not target.readable else sorted(missing)[0]
                    unchecked.setdefault((target.resource.display_path, column), set()).add(where)
                continue
            single = len(fk["fields"]) == 1
            if single != (len(fk["reference"]["fields"]) == 1):  # keys of different lengths: nothing matches
                target_keys = set()
            else:
                target_keys = key_set(target, fk["reference"]["fields"])
            unknown = key_set(table, fk["fields"]) - target_keys
            unknown.discard(None if single else (None,) * len(fk["fields"]))
            if not unknown:
                continue
            keys = key_column(table, fk["fields"])
            noun = "unknown borough code" if fk["reference"]["resource"] == "boroughs" else "unknown reference"
            for row_number, key in zip(table.numbers, keys, strict=True):
                if key in unknown:
                    shown = ", ".join(str(v) for v in ((key,) if single else key))
                    problems.append(
                        Problem(
                            where,
                            row_number,
                            fk["fields"][0],
                            f"{noun} {shown!r}: not in {target.resource.display_path}",
                        )
                    )
    for (target, column), sources in unchecked.items():
        cause = "this file could not be read" if column == "-" else "this column is missing"
        named = sorted(sources)
        others = f" and {len(named) - 1} other file(s)" if len(named) > 1 else ""
        (problems if notes is None else notes).append(
            Problem(target, 1, column, f"references to it from {named[0]}{others} were not checked because {cause}: "
                    "fix the problem above first")
        )
    return problems


def validate_package(
    package: Package, extra_rules=(), timings: dict[str, float] | None = None
) -> tuple[dict[str, ValidatedTable], list[Problem]]:
    """Validate every resource. `extra_rules` are callables (tables) -> problems for cross-file checks.

    When `timings` is given, seconds spent are added under "read_validate" and "cross_file_checks".
    """
    started = perf_counter()
    problems: list[Problem] = []
    first: list[Problem] = []  # file-level and header problems, listed before the rest
    boundary = None
    boundaries = package.resources.get("borough_boundaries")
    if boundaries is not None:
        try:
            boundary = LondonBoundary.from_geojson(json.loads(boundaries.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            first.append(Problem(boundaries.display_path, 1, "-", f"cannot read boundaries: {exc}"))
    tables: dict[str, ValidatedTable] = {}
    for resource in package.csv_resources():
        try:
            raw, read_problems = read_csv(resource)
            header_problems = list(read_problems)  # read_problems grows with row problems as the rows are read
            table, row_problems = validate_rows(resource, raw, boundary)
        except Reread:
            raw, read_problems = read_csv(resource, careful=True)
            header_problems = list(read_problems)
            table, row_problems = validate_rows(resource, raw, boundary)
        first.extend(header_problems)
        problems.extend(read_problems[len(header_problems):])
        problems.extend(row_problems)
        tables[resource.name] = table
    checked = perf_counter()
    notes: list[Problem] = []  # keys not checked because of a file-level problem: listed after those
    problems.extend(check_keys(tables, notes=notes))
    readable = {name: table for name, table in tables.items() if table.readable}
    for rule in extra_rules:  # a rule finds no table for a file that could not be read, and skips it
        problems.extend(rule(readable))
    if timings is not None:
        timings["read_validate"] = timings.get("read_validate", 0.0) + checked - started
        timings["cross_file_checks"] = timings.get("cross_file_checks", 0.0) + perf_counter() - checked
    first = sorted(set(first)) + sorted(set(notes))
    return tables, first + sorted(set(problems).difference(first))
