"""Check every row of every CSV resource against its Table Schema and the cross-file rules.

All problems are collected (not only the first). Typed rows are returned so the loader never re-parses text.

Schema extensions (keys starting `x-`) understood here:
- `x-rules`: row rules, `{"rule": "date_order", "start": ..., "end": ...}` and
  `{"rule": "in_greater_london", "latitude": ..., "longitude": ...}`;
- `x-unique`: extra unique column sets (nulls compare equal, as in a spreadsheet);
- `x-allow-formula-prefix`: string fields whose text may start with = + - @ (none by default).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from .geo import LondonBoundary
from .package import MAX_FIELD_CHARS, Package, Problem, Resource, read_csv

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ValidatedTable:
    resource: Resource
    # (row number, typed values); rows with problems are kept (failing cells as None) so that key checks
    # do not cascade one bad cell into many "unknown reference" messages. Nothing is built when problems exist.
    rows: list[tuple[int, dict]] = field(default_factory=list)


def cast(value: str, field_def: dict) -> object:
    """Turn a CSV cell into a Python value for the field's type; raise ValueError with a reason."""
    type_ = field_def.get("type", "string")
    if value == "":
        return None
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


def validate_rows(
    resource: Resource, raw_rows, boundary: LondonBoundary | None
) -> tuple[ValidatedTable, list[Problem]]:
    where = resource.display_path
    problems: list[Problem] = []
    table = ValidatedTable(resource)
    allow_formula = set(resource.schema.get("x-allow-formula-prefix", []))
    rules = resource.schema.get("x-rules", [])
    for row_number, cells in raw_rows:
        typed: dict[str, object] = {}
        for field_def in resource.fields:
            name = field_def["name"]
            raw = cells.get(name, "")
            try:
                value = cast(raw, field_def)
            except ValueError as exc:
                problems.append(Problem(where, row_number, name, str(exc)))
                typed[name] = None
                continue
            for reason in check_constraints(value, raw, field_def, name in allow_formula):
                problems.append(Problem(where, row_number, name, reason))
            typed[name] = value
        for rule in rules:
            problems.extend(apply_rule(rule, typed, where, row_number, boundary))
        table.rows.append((row_number, typed))
    return table, problems


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


def check_keys(tables: dict[str, ValidatedTable]) -> list[Problem]:
    problems: list[Problem] = []
    for table in tables.values():
        schema = table.resource.schema
        where = table.resource.display_path
        key_sets = []
        if schema.get("primaryKey"):
            key_sets.append(("duplicate id", schema["primaryKey"]))
        for unique in schema.get("x-unique", []):
            key_sets.append(("duplicate row", unique))
        for label, fields in key_sets:
            seen: dict[tuple, int] = {}
            for row_number, row in table.rows:
                key = key_of(row, fields)
                if key in seen:
                    shown = ", ".join(f"{f}={v}" for f, v in zip(fields, key, strict=True))
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
            target_keys = {key_of(r, fk["reference"]["fields"]) for _, r in target.rows}
            for row_number, row in table.rows:
                key = key_of(row, fk["fields"])
                if all(v is None for v in key):
                    continue
                if key not in target_keys:
                    shown = ", ".join(str(v) for v in key)
                    noun = "unknown borough code" if fk["reference"]["resource"] == "boroughs" else "unknown reference"
                    problems.append(
                        Problem(
                            where,
                            row_number,
                            fk["fields"][0],
                            f"{noun} {shown!r}: not in {target.resource.display_path}",
                        )
                    )
    return problems


def validate_package(package: Package, extra_rules=()) -> tuple[dict[str, ValidatedTable], list[Problem]]:
    """Validate every resource. `extra_rules` are callables (tables) -> problems for cross-file checks."""
    problems: list[Problem] = []
    boundary = None
    boundaries = package.resources.get("borough_boundaries")
    if boundaries is not None:
        try:
            boundary = LondonBoundary.from_geojson(json.loads(boundaries.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            problems.append(Problem(boundaries.display_path, 1, "-", f"cannot read boundaries: {exc}"))
    tables: dict[str, ValidatedTable] = {}
    for resource in package.csv_resources():
        raw, read_problems = read_csv(resource)
        problems.extend(read_problems)
        table, row_problems = validate_rows(resource, raw.rows, boundary)
        problems.extend(row_problems)
        tables[resource.name] = table
    problems.extend(check_keys(tables))
    for rule in extra_rules:
        problems.extend(rule(tables))
    return tables, sorted(set(problems))
