"""Validation reads and checks CSV files a chunk of rows at a time: the chunk size must not change anything."""

from __future__ import annotations

import csv
from array import array

import pytest

import scripts.publication.package as package
import scripts.publication.validate as validate
from scripts.publication import domains
from tests.build_helpers import copy_data


def edit(path, changes: dict[tuple[int, str], str], extra_lines: list[str] = ()) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for (row, column), value in changes.items():
        rows[row - 1][rows[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.writelines(extra_lines)


@pytest.fixture(scope="module")
def bad_data(tmp_path_factory):
    data = copy_data(tmp_path_factory.mktemp("chunks") / "data", cut_crime_to_rows=40)
    edit(
        data / "crime" / "crime_monthly.csv",
        {(3, "month"): "2020-13", (9, "gss_code"): "E09000099", (17, "gss_code"): " E09000001"},
        ["\n", ",,,\n", "short,row\n"],
    )
    edit(
        data / "mopac" / "funding_decisions.csv",
        {
            (2, "amount_gbp"): "1,500,000",
            (4, "amount_gbp"): "nan",
            (5, "record_id"): "2",
            (6, "description"): "=SUM(A1)",
            (7, "gss_code"): "",
        },
    )
    edit(data / "reference" / "boroughs.csv", {(5, "centroid_lat"): "", (30, "name"): "+x"})
    with (data / "services" / "services.csv").open("a", encoding="utf-8") as handle:
        handle.write('"unterminated,' + "x" * 250_000 + "\n")
    return data


def run(data, chunk_rows: int, monkeypatch):
    monkeypatch.setattr(package, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(validate, "CHUNK_ROWS", chunk_rows)
    tables, problems = validate.validate_package(package.load_package(data), extra_rules=domains.rules())
    return {name: (list(t.numbers), t.columns) for name, t in tables.items()}, problems


def test_problems_and_values_do_not_depend_on_the_chunk_size(bad_data, monkeypatch):
    whole_tables, whole_problems = run(bad_data, 1_000_000, monkeypatch)
    assert len(whole_problems) >= 10
    assert any("unreadable row" in p.reason for p in whole_problems)
    for size in (1, 3, 7):
        tables, problems = run(bad_data, size, monkeypatch)
        assert [str(p) for p in problems] == [str(p) for p in whole_problems], size
        assert tables == whole_tables, size


def test_equal_cells_share_one_object_in_a_repeating_column():
    field_def = {"name": "status", "type": "string", "constraints": {"enum": ["active", "ended"]}}
    check = validate.ColumnCheck(field_def, False, "x.csv")
    cells = tuple("".join(["act", "ive"]) for _ in range(5)) + ("", "gone")
    problems = []
    check.add(cells, array("I", range(2, 9)), problems)
    assert check.values[:5] == ["active"] * 5 and len({id(v) for v in check.values[:5]}) == 1
    assert check.values[5:] == [None, "gone"]
    assert [str(p) for p in problems] == ["x.csv:8:status: 'gone' is not one of: active, ended"]


FIELDS = [
    {"name": "count", "type": "integer", "constraints": {"minimum": 0, "maximum": 100}},
    {"name": "amount_gbp", "type": "number", "constraints": {"minimum": 0}},
    {"name": "rate", "type": "number", "constraints": {"enum": [0.5, 1.0]}},
    {"name": "day", "type": "date", "constraints": {"required": True}},
    {"name": "flag", "type": "boolean"},
    {"name": "code", "type": "string", "constraints": {"pattern": "E09[0-9]{6}", "maxLength": 9}},
    {"name": "status", "type": "string", "constraints": {"enum": ["active", "ended"]}},
    {"name": "note", "type": "string"},
]
TRICKY_CELLS = [
    "", " ", "0", "7", "+7", "-7", " 7 ", "07", "100", "101", "1e3", "1.0", "0.5", "-0", "nan", "inf", "-inf",
    "1,500", "£5", "١٢", "²", "2024-02-29", "2023-02-29", "2024-2-9", " 2024-01-01", "2024-01-01T00:00",
    "true", "No", "yes ", "E09000001", "E090000012", "e09000001", "active", "Active", "ended", "=1+1", "@x", "+x",
    "-x", "\tx", "x" * 20_001, "<script>alert(1)</script>", "1 OR 1=1", "Zoë",
]


@pytest.mark.parametrize("field_def", FIELDS, ids=[f["name"] for f in FIELDS])
def test_the_fast_check_agrees_with_cast_and_check_constraints_cell_by_cell(field_def):
    """ColumnCheck's quick tests are a second implementation of `cast` + `check_constraints`: for every cell they
    must give the same typed value and the same reasons, or a bad cell could be published."""
    check = validate.ColumnCheck(field_def, False, "x.csv")
    problems = []
    check.add(tuple(TRICKY_CELLS), array("I", range(2, 2 + len(TRICKY_CELLS))), problems)
    expected_values, expected_problems = [], []
    for row, raw in enumerate(TRICKY_CELLS, start=2):
        try:
            value = validate.cast(raw, field_def)
        except ValueError as exc:
            expected_values.append(None)
            expected_problems.append(f"x.csv:{row}:{field_def['name']}: {exc}")
            continue
        expected_values.append(value)
        expected_problems += [f"x.csv:{row}:{field_def['name']}: {reason}"
                              for reason in validate.check_constraints(value, raw, field_def, False)]
    assert check.values == expected_values
    assert sorted(map(str, problems)) == sorted(expected_problems)
    assert expected_problems  # every field has some failing cells among these
