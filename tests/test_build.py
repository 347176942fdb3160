"""The publication spine: data/ -> validated build -> build/commissioning.db."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from scripts.publication.package import load_package
from scripts.site import ROOT
from tests.build_helpers import copy_data, digest, run_build

DATA = ROOT / "data"


def csv_row_count(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for row in csv.reader(handle) if any(cell.strip() for cell in row)) - 1


def published_row_count(resource) -> int:
    """Rows the public database should hold: all of them, less those not approved for publication."""
    if "approved_for_publication" not in resource.field_names:
        return csv_row_count(resource.path)
    with resource.path.open(encoding="utf-8-sig", newline="") as handle:
        approved = [row["approved_for_publication"].strip().lower() for row in csv.DictReader(handle)]
    return sum(1 for value in approved if value in ("true", "yes", "1"))


def test_every_resource_is_a_table_with_the_source_row_count(real_db_path):
    package = load_package(DATA)
    db = sqlite3.connect(real_db_path)
    tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    for resource in package.csv_resources():
        assert resource.name in tables
        (count,) = db.execute(f"select count(*) from [{resource.name}]").fetchone()
        assert count == published_row_count(resource), resource.name


def test_foreign_keys_resolve_and_are_declared(real_db_path):
    db = sqlite3.connect(real_db_path)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    fks = db.execute("PRAGMA foreign_key_list(crime_monthly)").fetchall()
    assert ("boroughs", "gss_code", "gss_code") in [(fk[2], fk[3], fk[4]) for fk in fks]


def test_borough_codes_are_the_33_london_authorities(real_db_path):
    db = sqlite3.connect(real_db_path)
    codes = [r[0] for r in db.execute("select gss_code from boroughs order by gss_code")]
    assert codes == [f"E090000{n:02d}" for n in range(1, 34)]
    assert db.execute("select count(*) from boroughs where geometry is null").fetchone() == (0,)


def test_filter_columns_are_indexed(real_db_path):
    db = sqlite3.connect(real_db_path)
    indexed = {
        (table, info[2])
        for (table,) in db.execute("select name from sqlite_master where type='table'")
        for index in db.execute(f"PRAGMA index_list([{table}])").fetchall()
        for info in db.execute(f"PRAGMA index_info([{index[1]}])").fetchall()[:1]
    }
    for table, column in [
        ("crime_monthly", "gss_code"),
        ("crime_annual_by_category", "year"),
        ("funding_decisions", "theme"),
    ]:
        assert (table, column) in indexed


@pytest.mark.asyncio(loop_scope="session")
async def test_full_text_search_finds_a_known_decision(datasette):
    response = await datasette.client.get("/commissioning/funding_decisions.json?_search=Bounce&_shape=array")
    rows = response.json()
    assert [r["recipient"] for r in rows] == ["Bounce Back"]


@pytest.mark.asyncio(loop_scope="session")
async def test_json_array_csv_stream_and_facets(datasette):
    array = await datasette.client.get("/commissioning/boroughs.json?_shape=array&_col=name&_size=max")
    assert len(array.json()) == 33
    stream = await datasette.client.get("/commissioning/crime_monthly.csv?_stream=on&_size=max")
    assert stream.status_code == 200
    assert stream.text.count("\n") - 1 == csv_row_count(DATA / "crime" / "crime_monthly.csv")
    facets = await datasette.client.get("/commissioning/boroughs.json?_facet=inner_outer")
    results = {r["value"]: r["count"] for r in facets.json()["facet_results"]["inner_outer"]["results"]}
    assert results == {"Outer London": 19, "Inner London": 14}


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("table", ["crime_monthly", "crime_annual_by_category", "crime_annual_by_minor_category"])
async def test_streamed_csv_has_every_row_exactly_once(datasette, real_db_path, table):
    response = await datasette.client.get(f"/commissioning/{table}.csv?_stream=on&_size=max")
    rows = list(csv.reader(response.text.splitlines()))[1:]
    (expected,) = sqlite3.connect(real_db_path).execute(f"select count(*) from [{table}]").fetchone()
    assert len(rows) == expected
    assert len({row[0] for row in rows}) == expected  # first column is the rowid: no repeats


@pytest.mark.asyncio(loop_scope="session")
async def test_crime_rate_view_matches_hand_computation(datasette):
    # Croydon 2019: recompute from the source CSVs, not from the database.
    total = sum(
        int(r["crime_count"])
        for r in csv.DictReader((DATA / "crime" / "crime_annual_by_category.csv").open(encoding="utf-8"))
        if r["gss_code"] == "E09000008" and r["year"] == "2019"
    )
    population = next(
        int(r["census_2021_population"])
        for r in csv.DictReader((DATA / "reference" / "borough_population.csv").open(encoding="utf-8"))
        if r["gss_code"] == "E09000008"
    )
    response = await datasette.client.get(
        "/commissioning/borough_crime_rates.json?_shape=array&gss_code=E09000008&year=2019"
    )
    (row,) = response.json()
    assert row["total_recorded_crime"] == total
    assert row["crimes_per_1000_residents"] == round(1000 * total / population, 2)
    city = await datasette.client.get("/commissioning/borough_crime_rates.json?_shape=array&gss_code=E09000001")
    assert city.json() == []  # City of London is not in MPS data: absent, not zero


def test_every_table_and_column_has_a_description(real_db_path):
    from scripts.site import load_metadata

    tables_meta = load_metadata()["databases"]["commissioning"]["tables"]
    db = sqlite3.connect(real_db_path)
    names = [
        r[0]
        for r in db.execute(
            "select name from sqlite_master where type in ('table','view') and name not like 'sqlite_%'"
        )
        if "_fts" not in r[0]
    ]
    missing = []
    for name in names:
        meta = tables_meta.get(name) or {}
        if not meta.get("description"):
            missing.append(f"{name}: table description")
        for (column,) in db.execute(f"select name from pragma_table_info('{name}')"):
            if not (meta.get("columns") or {}).get(column):
                missing.append(f"{name}.{column}")
    assert missing == []


def test_metadata_column_descriptions_agree_with_the_table_schemas():
    from scripts.site import load_metadata

    tables_meta = load_metadata()["databases"]["commissioning"]["tables"]
    for resource in load_package(DATA).csv_resources():
        columns = tables_meta[resource.name]["columns"]
        for field in resource.fields:
            assert columns[field["name"]] == field["description"], f"{resource.name}.{field['name']}"


def test_synthetic_database_is_labelled_and_separate(real_db_path, synthetic_db_path):
    real = sqlite3.connect(real_db_path)
    synthetic = sqlite3.connect(synthetic_db_path)
    assert dict(real.execute("select key, value from build_info"))["synthetic"] == "false"
    assert dict(synthetic.execute("select key, value from build_info"))["synthetic"] == "true"
    assert real.execute("select count(*) from funding_decisions where item like 'Synthetic%'").fetchone() == (0,)
    assert synthetic.execute("select count(*) from funding_decisions where item not like 'Synthetic%'").fetchone() == (
        0,
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_synthetic_pages_say_synthetic(datasette):
    page = await datasette.client.get("/synthetic_demo/funding_decisions")
    assert "SYNTHETIC demo data - not real" in page.text
    real = await datasette.client.get("/commissioning/funding_decisions")
    assert "SYNTHETIC demo data" not in real.text


@pytest.mark.asyncio(loop_scope="session")
async def test_homepage_explains_the_site(datasette):
    response = await datasette.client.get("/")
    assert response.status_code == 200
    assert "Where to start" in response.text
    assert 'lang="en-GB"' in response.text


# --- building and bad input -------------------------------------------------------------------------------------


@pytest.fixture
def small_data(tmp_path) -> Path:
    """A copy of data/ with the large crime files cut to their first 40 rows, so each bad-input build is quick."""
    return copy_data(tmp_path / "data", cut_crime_to_rows=40)


@pytest.fixture
def published(small_data, tmp_path) -> Path:
    out = tmp_path / "published.db"
    result = run_build(small_data, out)
    assert result.returncode == 0, result.stderr
    return out


def edit_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell; row is the spreadsheet row number (header = 1)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


BAD_CELLS = [
    ("mopac/funding_decisions.csv", 3, "gss_code", "E09000099", "unknown borough code"),
    ("reference/postcode_districts.csv", 2, "gss_code", "E09000034", "unknown borough code"),
    ("mopac/funding_decisions.csv", 4, "record_id", "1", "duplicate id"),
    ("mopac/funding_decisions.csv", 5, "amount_gbp", "-500", "negative money"),
    ("mopac/funding_opportunities.csv", 2, "closing_date", "31/12/2025", "not a date in YYYY-MM-DD form"),
    ("mopac/funding_opportunities.csv", 2, "closing_date", "2025-02-30", "not a real calendar date"),
    ("reference/postcode_districts.csv", 3, "latitude", "52.2", "outside Greater London"),
    ("mopac/funding_decisions.csv", 6, "description", '=HYPERLINK("http://x")', "formula"),
    ("mopac/funding_decisions.csv", 6, "recipient", "@SUM(A1)", "formula"),
    ("mopac/funding_decisions.csv", 6, "recipient", "+44 20", "formula"),
    ("mopac/funding_decisions.csv", 6, "recipient", "-cmd", "formula"),
    ("mopac/vru_programmes.csv", 2, "description", "", "required value is missing"),
]


@pytest.mark.parametrize("relpath,row,column,value,reason", BAD_CELLS)
def test_bad_cell_is_reported_by_file_row_column_and_nothing_changes(
    small_data, published, relpath, row, column, value, reason
):
    before = digest(published)
    edit_cell(small_data / relpath, row, column, value)
    result = run_build(small_data, published)
    assert result.returncode != 0
    assert f"data/{relpath}:{row}:{column}:" in result.stderr
    assert reason in result.stderr
    assert digest(published) == before


def test_borough_missing_from_the_borough_table_is_an_unknown_reference(small_data, published):
    before = digest(published)
    path = small_data / "reference" / "boroughs.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("E09000001,")), encoding="utf-8")
    result = run_build(small_data, published)
    assert result.returncode != 0
    assert (
        "data/reference/borough_population.csv:2:gss_code: "
        "unknown borough code 'E09000001': not in data/reference/boroughs.csv" in result.stderr
    )
    assert digest(published) == before


def test_end_date_before_start_date(small_data, published, tmp_path):
    # A resource with a date_order rule: add one to the opportunities schema for this test.
    import json

    schema_path = small_data / "schemas" / "funding_opportunities.json"
    schema = json.loads(schema_path.read_text())
    schema["fields"].append({"name": "opens_on", "type": "date", "description": "test"})
    schema["x-rules"] = [{"rule": "date_order", "start": "opens_on", "end": "closing_date"}]
    schema_path.write_text(json.dumps(schema))
    path = small_data / "mopac" / "funding_opportunities.csv"
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    rows[0].append("opens_on")
    for r in rows[1:]:
        r.append("")
    rows[6][-1] = "2024-05-01"  # MOPAC RJ closed 2024-04-22: opening after closing
    csv.writer(path.open("w", encoding="utf-8", newline="")).writerows(rows)
    before = digest(published)
    result = run_build(small_data, published)
    assert result.returncode != 0
    assert (
        "data/mopac/funding_opportunities.csv:7:closing_date: end date 2024-04-22 is before start date 2024-05-01"
        in result.stderr
    )
    assert digest(published) == before


def test_missing_required_column(small_data, published):
    path = small_data / "mopac" / "lcpf_funding.csv"
    text = path.read_text(encoding="utf-8").replace("component,", "part,", 1)
    path.write_text(text, encoding="utf-8")
    before = digest(published)
    result = run_build(small_data, published)
    assert result.returncode != 0
    assert "data/mopac/lcpf_funding.csv:1:component: missing required column" in result.stderr
    assert digest(published) == before


def test_all_problems_are_listed_not_only_the_first(small_data, published):
    # Three independent bad cells, each breaking one rule only (a changed amount would also differ from the
    # source_excerpt that states it, a second, true problem).
    edit_cell(small_data / "mopac" / "funding_decisions.csv", 2, "theme", "Policing")
    edit_cell(small_data / "mopac" / "funding_decisions.csv", 9, "theme", "not a theme")
    edit_cell(small_data / "reference" / "boroughs.csv", 5, "inner_outer", "Middle London")
    result = run_build(small_data, published)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("data/")]
    assert [line.split(": ", 1)[0] for line in lines] == [
        "data/mopac/funding_decisions.csv:2:theme",
        "data/mopac/funding_decisions.csv:9:theme",
        "data/reference/boroughs.csv:5:inner_outer",
    ]
    assert "3 problem(s)" in result.stderr


def test_build_is_idempotent(small_data, tmp_path):
    out = tmp_path / "twice.db"
    counts = []
    for _ in range(2):
        assert run_build(small_data, out).returncode == 0
        db = sqlite3.connect(out)
        counts.append(
            {
                t: db.execute(f"select count(*) from [{t}]").fetchone()[0]
                for (t,) in db.execute("select name from sqlite_master where type='table'")
            }
        )
        db.close()
    assert counts[0] == counts[1]
    assert not list(tmp_path.glob(".twice.db.*"))  # no temporary file left behind
