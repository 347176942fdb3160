"""Read the Frictionless Data Package in data/ and its CSV files, with row-level problems.

Row numbers are line numbers as a spreadsheet shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
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


# The project's own data package: what a post-build check names when it is run without a build's context.
PROJECT_DATA = Path(__file__).resolve().parents[2] / "data"


def resource_display_path(context, name: str) -> str:
    """How a problem names resource `name`'s file, as validation does (data/...): from the package being built
    (`context.package`), or from the project's data/ when a check is run on its own (context None)."""
    package = context.package if context else load_package(PROJECT_DATA)
    return package.resources[name].display_path


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


# Rows parsed and checked at a time. The text of a big file is never all in memory at once, and a small chunk's cells
# are still in the CPU cache when its columns are checked (1,000 rows took half the time of 50,000).
CHUNK_ROWS = 1_000


@dataclass
class RawTable:
    """A CSV file's header and its rows, read in chunks of up to CHUNK_ROWS rows as `chunks` is iterated.

    Each chunk is (row numbers, columns): columns[i] is the tuple of the cells under header[i], one per row, the row
    of cell j being numbers[j]. Blank lines and rows with the wrong number of cells are left out; the latter, and
    unreadable rows, are added to the problems list that read_csv returned as the chunks are read, so read them all
    before using it.
    """

    header: list[str]
    chunks: Iterable[tuple[array, list[tuple[str, ...]]]] = ()
    # False only when the file certainly has no control character that a cell may not hold (see may_have_controls):
    # then validation need not look for one cell by cell.
    controls: bool = True

    @property
    def readable(self) -> bool:
        """Whether the file could be read at all (it has a header): checks that depend on it are void when not."""
        return bool(self.header)


class Reread(Exception):
    """A row could not be parsed: what was read of the file so far is void; read it again with careful=True."""


# Line breaks that str.splitlines() honours but a file iterator (and io.StringIO with newline="") does not.
_UNUSUAL_LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_BLOCK = 1 << 20

# Control characters no cell may hold (validate.CONTROL_CHARACTER says which, cell by cell): C0 other than tab, line
# feed and carriage return, DEL, and C1; a carriage return only as part of a CRLF line break. A quick test of a file's
# bytes tells whether any may be there, so that the cells of the (usual) clean file are not searched one by one.
_C0_AND_DEL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_ALL_BUT_C0_AND_DEL = bytes(b for b in range(256) if b not in _C0_AND_DEL)
_C1_IN_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_LONE_CR = re.compile(rb"\r(?!\n)")
# Lines as str.splitlines() makes them, except that the control characters among its line breaks (\x0b \x0c \x1c
# \x1d \x1e \x85) do not break a line: a file holding one is refused, and its row numbers must stay those of the file.
_LINES_IGNORING_CONTROLS = re.compile(r"[^\n\r\u2028\u2029]*(?:\r\n|[\n\r\u2028\u2029])|[^\n\r\u2028\u2029]+\Z")


def may_have_controls(data: bytes) -> bool:
    """False only when UTF-8 `data` certainly holds no control character that a cell may not (a lone carriage return
    counts). A CRLF split across two blocks reads as a lone carriage return: harmless, the cells are then searched.
    About 0.1-0.2 s per 100 MB (bytes.translate, then two regular expressions that start with a literal byte)."""
    if data.translate(None, _ALL_BUT_C0_AND_DEL):
        return True
    if b"\r" in data and _LONE_CR.search(data):
        return True
    return _C1_IN_UTF8.search(data) is not None


def read_csv(resource: Resource, careful: bool = False) -> tuple[RawTable, list[Problem]]:
    """Read a CSV strictly as UTF-8 (a byte-order mark is accepted and dropped; CRLF is fine).

    Lines are those of `str.splitlines(keepends=True)` (except that a control character is never a line break, see
    _LINES_IGNORING_CONTROLS). A first pass decodes the file block by block to check it is UTF-8, not blank, and has
    none of the rarer line breaks that only splitlines() honours, and notes whether it may hold control characters
    (RawTable.controls); then the file is parsed
    straight from disk, a chunk of rows at a time. Where the first pass finds anything unusual, the whole text is
    read into memory and split with splitlines() instead. Each chunk is turned into columns at once; only a chunk
    with a blank line or a short or long row is walked row by row. When a row cannot be parsed, iterating the chunks
    raises Reread unless `careful`, in which case every row is read one at a time and unreadable rows are reported.
    """
    where = resource.display_path
    try:
        lines, controls = _streamed_lines(resource.path)
    except (OSError, UnicodeDecodeError, _Unusual):
        lines = None
    if lines is None:
        try:
            data = resource.path.read_bytes()
        except OSError as exc:
            return RawTable([]), [Problem(where, 0, "-", f"cannot read file: {exc.strerror}")]
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            return RawTable([]), [
                Problem(
                    where,
                    line,
                    "-",
                    f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8",
                )
            ]
        controls = may_have_controls(data)
        del data
        if not text or text.isspace():
            return RawTable([]), [Problem(where, 1, "-", "file is empty: expected a header row")]
        lines = _LINES_IGNORING_CONTROLS.findall(text) if controls else text.splitlines(keepends=True)
    elif lines == "blank":
        return RawTable([]), [Problem(where, 1, "-", "file is empty: expected a header row")]
    problems: list[Problem] = []
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except csv.Error as exc:
        _close(lines)
        return RawTable([]), [Problem(where, 1, "-", f"unreadable header: {exc}")]
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
    chunks = _careful_chunks if careful else _chunks
    return RawTable(header, chunks(reader, lines, where, len(header), problems), controls), problems


class _Unusual(Exception):
    pass


def _streamed_lines(path: Path):
    """(the file's lines straight from disk or "blank" for a blank file, whether it may hold control characters);
    raises where the text must be read whole."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    blank = True
    controls = False
    last = b""  # the previous block's last byte: a two-byte C1 character may straddle two blocks
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            text = decoder.decode(block, final=not block)
            if not controls and block:
                controls = may_have_controls(last + block)
                last = block[-1:]
            if blank and text and not text.isspace():
                blank = False
            if any(mark in text for mark in _UNUSUAL_LINE_BREAKS):
                raise _Unusual
            if not block:
                break
    if blank:
        return "blank", controls
    return open(path, encoding="utf-8-sig", newline=""), controls  # noqa: SIM115 (closed by _close after the last chunk)


def _close(lines) -> None:
    if hasattr(lines, "close"):
        lines.close()


def _chunks(reader, lines, where: str, width: int, problems: list[Problem]):
    number = 2  # every record read takes a row number, blank or not
    try:
        while True:
            try:
                records = list(islice(reader, CHUNK_ROWS))
            except csv.Error:
                raise Reread from None
            if not records:
                return
            columns = _filled_columns(records, width)
            if columns is not None:
                yield array("I", range(number, number + len(records))), columns
            else:
                kept, numbers = [], array("I")
                for row_number, cells in enumerate(records, number):
                    if _usable(cells, row_number, where, width, problems):
                        kept.append(cells)
                        numbers.append(row_number)
                yield numbers, _columns(kept, width)
            number += len(records)
    finally:
        _close(lines)


def _careful_chunks(reader, lines, where: str, width: int, problems: list[Problem]):
    kept, numbers = [], array("I")
    row_number = 1
    try:
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
            if _usable(cells, row_number, where, width, problems):
                kept.append(cells)
                numbers.append(row_number)
                if len(kept) == CHUNK_ROWS:
                    yield numbers, _columns(kept, width)
                    kept, numbers = [], array("I")
        if kept:
            yield numbers, _columns(kept, width)
    finally:
        _close(lines)


def _columns(records: list[list[str]], width: int) -> list[tuple[str, ...]]:
    return list(zip(*records, strict=True)) if records else [() for _ in range(width)]


def _usable(cells: list[str], row_number: int, where: str, width: int, problems: list[Problem]) -> bool:
    if not any(c.strip() for c in cells):
        return False  # blank line
    if len(cells) != width:
        problems.append(Problem(where, row_number, "-", f"row has {len(cells)} cells but the header has {width}"))
        return False
    return True


def _filled_columns(records: list[list[str]], width: int) -> list[tuple[str, ...]] | None:
    """The records as columns when every one has `width` cells and none is blank, else None.

    A row whose first cell has text is not blank, so only the first column is looked at for blank rows.
    """
    if not width:
        return None
    try:
        columns = list(zip(*records, strict=True))  # strict: a short or long row raises ValueError
    except ValueError:
        return None
    if len(columns) != width or "" in columns[0] or any(map(str.isspace, columns[0])):
        return None
    return columns
