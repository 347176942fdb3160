"""Services directory (issue 3): derivations, synthetic rows, data-level guarantees and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
from pathlib import Path

import pytest

from plugins.view_models import services as service_pages
from scripts import geocode_locations
from scripts.common import dates
from scripts.generate_synthetic import SynthesisContext, read_rows
from scripts.publication.domains import services
from scripts.site import ROOT
from tests.build_helpers import append_row, copy_data, run_build

DATA = ROOT / "data"
SERVICES_CSV = DATA / "services" / "services.csv"


def csv_rows(name: str) -> list[dict]:
    with (DATA / "services" / f"{name}.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# --- pure functions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start,end,days,months,text", [
    ("2019-04-01", "2021-03-31", 731, 24, "2 years"),
    ("2025-10-01", "2026-03-31", 182, 6, "6 months"),
    ("2024-02-01", "2024-02-29", 29, 1, "1 month"),
])
def test_duration_counts_whole_months_and_inclusive_days(start, end, days, months, text):
    length = dates.duration(start, end)
    assert length.days == (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1 == days
    assert length.months == months
    assert length.text == text


def test_duration_of_an_irregular_period_is_days_over_average_month():
    length = dates.duration("2024-01-10", "2024-03-01")
    assert length.days == 52
    assert length.months == round(52 / 30.4375, 1)
    assert "52 days" in length.text


def test_duration_with_one_date_says_what_is_known():
    assert dates.duration("2024-05-01", None) == dates.Duration(None, None, "from 2024-05-01, no end date stated")
    assert dates.duration(None, "2024-05-01").text == "until 2024-05-01, no start date stated"
    assert dates.duration(None, None).text == ""


def test_add_months_clamps_to_the_end_of_the_month():
    assert dates.add_months(dt.date(2024, 8, 31), 6) == dt.date(2025, 2, 28)
    assert dates.add_months(dt.date(2023, 8, 31), 6) == dt.date(2024, 2, 29)
    assert dates.add_months(dt.date(2024, 11, 25), 2) == dt.date(2025, 1, 25)


def test_needs_review():
    today = dt.date(2026, 11, 25)
    assert dates.needs_review("2026-11-01", "2027-05-01", today) is None
    assert dates.needs_review("2026-11-01", "2026-11-24", today) == "review overdue"
    assert dates.needs_review("2026-05-25", "2027-01-01", today) == "not verified for six months"
    assert dates.needs_review("2026-05-26", "2027-01-01", today) is None


@pytest.mark.parametrize("text,expected", [
    ("SE1", ("district", "SE1")),
    (" se1 ", ("district", "SE1")),
    ("cr0", ("district", "CR0")),
    ("SW1A 1AA", ("district", "SW1A")),
    ("EC2M", ("district", "EC2M")),
    ("51.5, -0.12", ("point", (51.5, -0.12))),
])
def test_parse_query(text, expected):
    assert service_pages.parse_query(text) == expected


@pytest.mark.parametrize("text", ["", "London", "12345", "SE1 7", "DROP TABLE"])
def test_parse_query_rejects_what_is_not_a_district_or_point(text):
    with pytest.raises(service_pages.NearMeError):
        service_pages.parse_query(text)


def test_service_area_rows_expand_london_wide_to_every_code():
    codes = [f"E090000{n:02d}" for n in range(1, 34)]
    rows = services.service_area_rows(
        [{"service_id": "a", "coverage": "london-wide"}, {"service_id": "b", "coverage": "boroughs"},
         {"service_id": "c", "coverage": "boroughs"}],
        [{"service_id": "b", "gss_code": "E09000028"}, {"service_id": "b", "gss_code": "E09000022"}],
        codes,
    )
    assert sorted(r["gss_code"] for r in rows if r["service_id"] == "a") == codes
    assert [r["gss_code"] for r in rows if r["service_id"] == "b"] == ["E09000022", "E09000028"]
    assert [r for r in rows if r["service_id"] == "c"] == []


# --- synthetic rows ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic():
    context = SynthesisContext(
        size=40,
        today=dt.date(2026, 11, 25),
        boroughs=read_rows(DATA / "reference" / "boroughs.csv"),
        postcode_districts=read_rows(DATA / "reference" / "postcode_districts.csv"),
        produced={},
    )
    return services.synthesize(random.Random(7), 40, context), context


def test_synthesize_makes_exactly_size_services_all_named_synthetic(synthetic):
    rows, _ = synthetic
    assert len(rows["services"]) == 40
    assert [s["name"] for s in rows["services"][:2]] == ["Synthetic service 0001", "Synthetic service 0002"]
    assert all(o["name"].startswith("Synthetic") for o in rows["organizations"])
    assert all(loc["name"].startswith("Synthetic") for loc in rows["locations"])


def test_synthetic_rows_are_consistent(synthetic):
    rows, context = synthetic
    org_ids = {o["organization_id"] for o in rows["organizations"]}
    areas = {t["service_area"] for t in csv_rows("service_area_taxonomy")}
    assert {t["service_area"] for t in rows["service_area_taxonomy"]} == areas
    centroids = {d["outcode"]: (d["latitude"], d["longitude"], d["gss_code"]) for d in context.postcode_districts}
    named = {r["service_id"] for r in rows["service_boroughs"]}
    for service in rows["services"]:
        assert service["organization_id"] in org_ids
        assert service["service_area"] in areas
        assert (service["coverage"] == "boroughs") == (service["service_id"] in named)
    for location in rows["locations"]:
        placed = (location["latitude"], location["longitude"], location["gss_code"])
        assert placed == centroids[location["postcode_district"]]
        assert location["geocode_precision"] == "postcode district centroid"
    location_ids = {loc["location_id"] for loc in rows["locations"]}
    assert {link["location_id"] for link in rows["service_at_location"]} == location_ids


# --- the built databases ----------------------------------------------------------------------------------------


def test_london_wide_expands_to_33_and_named_boroughs_are_kept(real_db_path, synthetic_db_path):
    for path in (real_db_path, synthetic_db_path):
        db = sqlite3.connect(path)
        wide = db.execute("select service_id from services where coverage = 'london-wide'").fetchall()
        assert wide
        for (service_id,) in wide:
            codes = {r[0] for r in db.execute("select gss_code from service_areas where service_id = ?", [service_id])}
            assert codes == {r[0] for r in db.execute("select gss_code from boroughs")}
        named = set(db.execute("select service_id, gss_code from service_boroughs"))
        derived = set(db.execute(
            "select a.service_id, a.gss_code from service_areas a join services s using (service_id) "
            "where s.coverage = 'boroughs'"))
        assert named == derived


def test_service_areas_table_is_service_area_rows_in_order(real_db_path, synthetic_db_path):
    """derive() fills service_areas in SQL; it holds what service_area_rows() gives, row for row."""
    for path in (real_db_path, synthetic_db_path):
        db = sqlite3.connect(path)
        db.row_factory = sqlite3.Row
        rows = services.service_area_rows(
            [dict(r) for r in db.execute("select service_id, coverage from services order by rowid")],
            [dict(r) for r in db.execute("select service_id, gss_code from service_boroughs")],
            [r[0] for r in db.execute("select gss_code from boroughs order by gss_code")],
        )
        table = [dict(r) for r in db.execute("select service_id, gss_code from service_areas order by rowid")]
        assert table == rows, path.name


def test_post_build_checks_name_files_as_validation_does(synthetic_db_path, tmp_path):
    from types import SimpleNamespace

    from scripts.publication.domains import opportunities, reference
    from scripts.publication.package import load_package

    broken = tmp_path / "broken.db"
    broken.write_bytes(synthetic_db_path.read_bytes())
    db = sqlite3.connect(broken)
    (wide,) = db.execute("select service_id from services where coverage = 'london-wide' limit 1").fetchone()
    (opportunity,) = db.execute(
        "select reference from funding_opportunities where coverage = 'london-wide' limit 1").fetchone()
    db.execute("delete from service_areas where rowid = (select min(rowid) from service_areas where service_id = ?)",
               [wide])
    db.execute("update funding_opportunities set eligible_borough_count = 32 where reference = ?", [opportunity])
    db.execute("update boroughs set geometry = null where gss_code = 'E09000001'")
    context = SimpleNamespace(package=load_package(ROOT / "data"))
    for with_context in (context, None):
        messages = [str(p) for module in (services, opportunities, reference) for p in module.check(db, with_context)]
        assert messages == [
            f"data/services/services.csv:0:coverage: {wide}: london-wide covers 32 boroughs, not 33",
            f"data/mopac/funding_opportunities.csv:0:coverage: {opportunity}: london-wide covers 32 boroughs, not 33",
            "data/reference/borough_boundaries.geojson:1:gss_code: no boundary for E09000001",
        ]


def test_every_real_service_has_an_area_from_the_taxonomy_and_a_known_or_honestly_missing_provider(real_db_path):
    db = sqlite3.connect(real_db_path)
    db.row_factory = sqlite3.Row
    taxonomy = {r[0] for r in db.execute("select service_area from service_area_taxonomy")}
    organizations = dict(db.execute("select organization_id, name from organizations").fetchall())
    rows = db.execute("select * from services").fetchall()
    assert len(rows) == len(csv_rows("services"))
    for row in rows:
        assert row["service_area"] in taxonomy
        assert row["provider_name"] == organizations.get(row["organization_id"])


def test_every_real_service_has_a_borough_unless_its_sources_do_not_name_them(real_db_path):
    db = sqlite3.connect(real_db_path)
    without = [r[0] for r in db.execute(
        "select service_id from services where service_id not in (select service_id from service_areas)")]
    named = {r["service_id"] for r in csv_rows("service_boroughs")}
    expected = [
        r["service_id"] for r in csv_rows("services") if r["coverage"] == "boroughs" and r["service_id"] not in named
    ]
    assert sorted(without) == sorted(expected)
    assert db.execute("select count(*) from services where borough_count = 0").fetchone() == (len(expected),)


def test_every_synthetic_service_has_provider_area_and_at_least_one_borough(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    assert db.execute("select count(*) from services where provider_name is null").fetchone() == (0,)
    unplaced = "select count(*) from services where service_id not in (select service_id from service_areas)"
    assert db.execute(unplaced).fetchone() == (0,)
    assert db.execute(
        "select count(*) from services s left join service_area_taxonomy t using (service_area) "
        "where t.label is null").fetchone() == (0,)


def test_derived_columns_match_the_csv(real_db_path):
    db = sqlite3.connect(real_db_path)
    for row in csv_rows("services"):
        days, months, covered = db.execute(
            "select duration_days, duration_months, boroughs_covered from services where service_id = ?",
            [row["service_id"]]).fetchone()
        expected = dates.duration(row["start_date"], row["end_date"])
        assert (days, months) == (expected.days, expected.months)
        assert len(json.loads(covered)) == (33 if row["coverage"] == "london-wide" else
                                           len({b["gss_code"] for b in csv_rows("service_boroughs")
                                                if b["service_id"] == row["service_id"]}))


def test_coverage_view_counts_services_per_borough(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    expected = dict(db.execute("select gss_code, count(*) from service_areas group by gss_code"))
    got = dict(db.execute("select gss_code, services_count from service_coverage_by_borough"))
    assert len(got) == 33
    assert got == {code: expected.get(code, 0) for code in got}
    money = dict(db.execute(
        "select a.gss_code, sum(s.total_value_gbp) from services s join service_areas a using (service_id) "
        "where s.coverage = 'boroughs' and s.borough_count = 1 group by a.gss_code"))
    view = dict(db.execute("select gss_code, single_borough_total_value_gbp from service_coverage_by_borough"))
    assert {k: v for k, v in view.items() if v is not None} == {k: v for k, v in money.items() if v is not None}


def test_coverage_summary_states_counts_from_the_database(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    summary = service_pages.coverage_summary(db)
    (total,) = db.execute("select count(*) from services").fetchone()
    (wide,) = db.execute("select count(*) from services where coverage = 'london-wide'").fetchone()
    assert summary["summary"].startswith(f"{total} services are listed. {wide} cover all of London")
    top = max(summary["rows"], key=lambda r: r["services_count"])
    assert f"({top['services_count']})" in summary["summary"]
    assert summary["points"] == db.execute("select count(*) from service_delivery_points").fetchone()[0]


def test_review_view_agrees_with_needs_review(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    listed = {r[0] for r in db.execute("select service_id from services_needing_review")}
    (today,) = db.execute("select date('now')").fetchone()
    expected = {
        service_id
        for service_id, verified, due in db.execute("select service_id, last_verified, review_due from services")
        if dates.needs_review(verified, due, dt.date.fromisoformat(today))
    }
    assert listed == expected


def test_fts_searches_provider_names(real_db_path):
    db = sqlite3.connect(real_db_path)
    # A provider whose name appears in neither the service name nor its description: only the provider column matches.
    candidates = [
        (service_id, provider) for service_id, provider, name, description in db.execute(
            "select service_id, provider_name, name, description from services where provider_name is not null")
        if provider.split()[0].lower() not in (name + " " + description).lower()
    ]
    assert candidates
    service_id, provider = candidates[0]
    rows = db.execute(
        "select s.service_id from services s join services_fts f on f.rowid = s.rowid where services_fts match ?",
        ['"' + provider.split()[0] + '"']).fetchall()
    assert (service_id,) in rows


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_data(tmp_path) -> Path:
    """A full copy of data/ (other domains check crime against their own tables, so nothing is cut)."""
    return copy_data(tmp_path / "data")


def test_bad_services_input_is_reported_by_file_row_column_and_nothing_is_published(small_data, tmp_path):
    out = tmp_path / "published.db"
    assert run_build(small_data, out).returncode == 0
    before = out.read_bytes()
    wide = next(r["service_id"] for r in csv_rows("services") if r["coverage"] == "london-wide")
    borough_row = append_row(small_data / "services" / "service_boroughs.csv", {
        "service_id": wide, "gss_code": "E09000028", "source_title": "t", "source_url": "https://example.org"})
    location_row = append_row(small_data / "services" / "locations.csv", {
        "location_id": "test-site", "name": "Test site", "latitude": "51.5", "longitude": "-0.1",
        "geocode_precision": "not geocoded", "source_title": "t", "source_url": "https://example.org"})
    result = run_build(small_data, out)
    assert result.returncode != 0
    assert f"data/services/service_boroughs.csv:{borough_row}:service_id: {wide} is london-wide" in result.stderr
    assert f"data/services/locations.csv:{location_row}:geocode_precision: coordinates are given" in result.stderr
    assert out.read_bytes() == before


def test_build_warns_with_the_number_of_services_needing_review(small_data, tmp_path):
    late = max(dt.date.fromisoformat(r["review_due"]) for r in csv_rows("services")) + dt.timedelta(days=1)
    result = run_build(small_data, tmp_path / "late.db", today=late.isoformat())
    assert result.returncode == 0
    total = len(csv_rows("services"))
    assert f"warning: {total} of {total} services need review as at {late.isoformat()}" in result.stderr


def test_geocode_places_a_stated_postcode_at_its_district_centroid(tmp_path):
    districts = read_rows(DATA / "reference" / "postcode_districts.csv")
    se1 = next(d for d in districts if d["outcode"] == "SE1")
    rows, messages = geocode_locations.geocode_locations([
        {"location_id": "a", "postcode": "SE1 7PB", "latitude": "", "geocode_precision": "not geocoded"},
        {"location_id": "b", "postcode": "AB10 1AA", "latitude": "", "geocode_precision": "not geocoded"},
        {"location_id": "c", "postcode": "", "latitude": "", "geocode_precision": "not geocoded"},
        {"location_id": "d", "postcode": "SE1", "latitude": "51.5", "longitude": "-0.1",
         "geocode_precision": "source-stated"},
    ], districts)
    assert (rows[0]["latitude"], rows[0]["longitude"], rows[0]["gss_code"]) == (se1["latitude"], se1["longitude"],
                                                                                se1["gss_code"])
    assert rows[0]["geocode_precision"] == "postcode district centroid"
    assert rows[1]["latitude"] == "" and "AB10 is not a London postcode district" in messages[1]
    assert rows[2]["latitude"] == "" and rows[3]["latitude"] == "51.5"
    assert len(messages) == 2


COVERAGE_FILTER_CASES = [
    {},
    {"service_area": "area"},
    {"commissioner": "commissioner"},
    {"status": "status"},
    {"service_area": "area", "commissioner": "commissioner"},
    {"status": "no such status"},
]


def _expected_coverage(db, filters):
    """Coverage rows, totals and unplaced services computed straight from services and service_areas in Python."""
    columns = "service_id, name, service_area, commissioner, status, coverage, total_value_gbp, delivery_point_count"
    listed = [dict(zip(columns.split(", "), row, strict=True)) for row in db.execute(f"select {columns} from services")]
    listed = [s for s in listed if all(s[c] == v for c, v in filters.items())]
    codes: dict[str, list[str]] = {}
    for service_id, code in db.execute("select service_id, gss_code from service_areas"):
        codes.setdefault(service_id, []).append(code)
    rows = {code: {"gss_code": code, "borough": name, "services_count": 0, "active_services_count": 0,
                   "borough_specific_services_count": 0, "single_borough_services_with_value_count": 0,
                   "single_borough_total_value_gbp": None}
            for code, name in db.execute("select gss_code, name from boroughs")}
    for s in listed:
        mine = codes.get(s["service_id"], [])
        single = s["coverage"] == "boroughs" and len(mine) == 1
        for code in mine:
            row = rows[code]
            row["services_count"] += 1
            row["active_services_count"] += s["status"] == "active"
            row["borough_specific_services_count"] += s["coverage"] == "boroughs"
            if single and s["total_value_gbp"] is not None:
                row["single_borough_services_with_value_count"] += 1
                money = row["single_borough_total_value_gbp"] or 0
                row["single_borough_total_value_gbp"] = money + s["total_value_gbp"]
    totals = {
        "services": len(listed),
        "london_wide": sum(s["coverage"] == "london-wide" for s in listed),
        "named": sum(s["coverage"] == "boroughs" and bool(codes.get(s["service_id"])) for s in listed),
        "unnamed": sum(not codes.get(s["service_id"]) for s in listed),
        "placed": sum((s["delivery_point_count"] or 0) > 0 for s in listed),
    }
    unplaced = sorted(({"service_id": s["service_id"], "name": s["name"]} for s in listed
                       if not codes.get(s["service_id"])), key=lambda u: (u["name"], u["service_id"]))
    return sorted(rows.values(), key=lambda r: r["borough"]), totals, unplaced


def test_precomputed_coverage_equals_a_count_from_service_areas(real_db_path, synthetic_db_path):
    for path in (real_db_path, synthetic_db_path):
        db = sqlite3.connect(path)
        assert db.execute("select count(*) from service_coverage_counts").fetchone()[0] > 0
        # The most common value of each filter column, so every filter matches some services.
        common = {
            name: db.execute(f"select {column} from services group by {column} order by count(*) desc, {column} "
                             "limit 1").fetchone()[0]
            for name, column in [("area", "service_area"), ("commissioner", "commissioner"), ("status", "status")]
        }
        for case in COVERAGE_FILTER_CASES:
            filters = {column: common.get(value, value) for column, value in case.items()}
            rows, totals, unplaced = _expected_coverage(db, filters)
            summary = service_pages.coverage_summary(db, filters)
            got_rows = service_pages.coverage_rows(db, filters)
            assert summary["rows"] == got_rows, (path.name, filters)
            for got, expected in zip(got_rows, rows, strict=True):
                money = expected.pop("single_borough_total_value_gbp")
                assert got.pop("single_borough_total_value_gbp") == (None if money is None else pytest.approx(money))
                assert got == expected, (path.name, filters)
            assert summary["totals"] == totals, (path.name, filters)
            assert sorted(summary["unplaced"], key=lambda u: (u["name"], u["service_id"])) == unplaced
            # The points map is never filtered: its count is every row of the view, whatever the filters.
            assert summary["points"] == db.execute("select count(*) from service_delivery_points").fetchone()[0]
            if not totals["services"]:
                assert summary["summary"] == "No services match."
            else:
                assert summary["summary"].startswith(f"{totals['services']} services ")
