"""Read the Frictionless Data Package in data/ and its CSV files, with row-level problems.

Row numbers are line numbers as a spreadsheet shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

# csv's default limit is 128 KiB per field; allow a little more than the largest legal field so that
# a huge field is reported as a problem on its row instead of aborting the whole read.
MAX_FIELD_CHARS = 20_000
csv.field_size_limit(MAX_FIELD_CHARS * 10)


@dataclass(frozen=True, order=True)
class Problem:
    """One validation failure, printed as `file:row:column: reason`."""

    path: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row}:{self.column}: {self.reason}"


@dataclass
class Resource:
    name: str
    path: Path  # absolute
    display_path: str  # as printed in messages, e.g. data/services/services.csv
    format: str
    schema: dict = field(default_factory=dict)
    descriptor: dict = field(default_factory=dict)

    @property
    def fields(self) -> list[dict]:
        return self.schema.get("fields", [])

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    def field(self, name: str) -> dict:
        for f in self.fields:
            if f["name"] == name:
                return f
        raise KeyError(name)


@dataclass
class Package:
    root: Path
    descriptor: dict
    resources: dict[str, Resource]

    def csv_resources(self) -> list[Resource]:
        return [r for r in self.resources.values() if r.format == "csv"]


class PackageError(Exception):
    """The datapackage.json itself is unreadable: nothing can be validated."""


def display(path: Path, root: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def load_package(root: Path) -> Package:
    root = Path(root)
    descriptor_path = root / "datapackage.json"
    try:
        descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PackageError(f"{descriptor_path}:1:-: cannot read the data package descriptor: {exc}") from exc
    resources = {}
    for entry in descriptor.get("resources", []):
        schema = entry.get("schema", {})
        if isinstance(schema, str):
            schema_path = root / schema
            try:
                schema = json.loads(schema_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise PackageError(f"{display(schema_path, root)}:1:-: cannot read the table schema: {exc}") from exc
        path = root / entry["path"]
        resources[entry["name"]] = Resource(
            name=entry["name"],
            path=path,
            display_path=display(path, root),
            format=entry.get("format", "csv"),
            schema=schema,
            descriptor=entry,
        )
    return Package(root=root, descriptor=descriptor, resources=resources)


@dataclass
class RawTable:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (row number, cells by column name)


def read_csv(resource: Resource) -> tuple[RawTable, list[Problem]]:
    """Read a CSV strictly as UTF-8 (a byte-order mark is accepted and dropped; CRLF is fine)."""
    where = resource.display_path
    problems: list[Problem] = []
    try:
        data = resource.path.read_bytes()
    except OSError as exc:
        return RawTable([], []), [Problem(where, 0, "-", f"cannot read file: {exc.strerror}")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return RawTable([], []), [
            Problem(
                where,
                line,
                "-",
                f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8",
            )
        ]
    if not text.strip():
        return RawTable([], []), [Problem(where, 1, "-", "file is empty: expected a header row")]
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except csv.Error as exc:
        return RawTable([], []), [Problem(where, 1, "-", f"unreadable header: {exc}")]
    header = [h.strip() for h in header]
    expected = resource.field_names
    for name in expected:
        if name not in header:
            problems.append(Problem(where, 1, name, "missing required column"))
    for name in header:
        if name not in expected:
            problems.append(Problem(where, 1, name or "(blank)", "unexpected column: not in the table schema"))
    if len(set(header)) != len(header):
        problems.append(Problem(where, 1, "-", "duplicate column names in header"))
    rows: list[tuple[int, dict[str, str]]] = []
    row_number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_number += 1
            problems.append(Problem(where, row_number, "-", f"unreadable row: {exc}"))
            continue
        row_number += 1
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(header):
            problems.append(
                Problem(where, row_number, "-", f"row has {len(cells)} cells but the header has {len(header)}")
            )
            continue
        rows.append((row_number, dict(zip(header, cells, strict=True))))
    return RawTable(header, rows), problems
