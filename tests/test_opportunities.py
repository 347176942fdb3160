"""Funding opportunities (issue 4): derived status, eligible areas, search by place, calendar and Atom feeds."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from plugins.view_models import opportunities as opp_pages
from scripts.common.opportunities import TYPES
from scripts.publication.domains import opportunities as opp
from scripts.site import BUILD, ROOT
from tests.build_helpers import append_row, copy_data, digest, run_build

DATA = ROOT / "data"
SYNTHETIC_DATA = BUILD / "synthetic_data"
TODAY = dt.date(2026, 11, 25)
CURRENT = {"open", "closing within 14 days", "planned"}


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_eligible(data: Path) -> dict[str, set[str]]:
    """reference -> GSS codes, computed from the CSV files alone (not from the database)."""
    codes = {r["gss_code"] for r in read_csv(data / "reference" / "boroughs.csv")}
    named: dict[str, set[str]] = {}
    for row in read_csv(data / "mopac" / "opportunity_boroughs.csv"):
        named.setdefault(row["reference"], set()).add(row["gss_code"])
    whole = ("london-wide", "national")
    return {
        row["reference"]: codes if row["coverage"] in whole else named.get(row["reference"], set())
        for row in read_csv(data / "mopac" / "funding_opportunities.csv")
    }


# --- status at boundary dates, with a fixed clock --------------------------------------------------------------


@pytest.mark.parametrize("closing,expected", [
    (TODAY, "closing within 14 days"),  # closes today
    (TODAY - dt.timedelta(days=1), "closed"),  # closed yesterday
    (TODAY + dt.timedelta(days=14), "closing within 14 days"),  # in 14 days
    (TODAY + dt.timedelta(days=15), "open"),
    (TODAY - dt.timedelta(days=400), "closed"),
])
def test_status_at_closing_date_boundaries(closing, expected):
    status, reason = opp.derive_status(TODAY - dt.timedelta(days=30), closing, TODAY)
    assert status == expected
    assert closing.isoformat() in reason
    assert opp.days_until(closing, TODAY) == (closing - TODAY).days


def test_status_before_opening_and_without_dates():
    assert opp.derive_status(TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=30), TODAY)[0] == "planned"
    assert opp.derive_status(TODAY, TODAY + dt.timedelta(days=30), TODAY)[0] == "open"  # opens today
    assert opp.derive_status(TODAY + dt.timedelta(days=1), None, TODAY)[0] == "planned"
    assert opp.derive_status(TODAY - dt.timedelta(days=1), None, TODAY)[0] == "open"
    status, reason = opp.derive_status(None, None, TODAY, contract_start=TODAY - dt.timedelta(days=1))
    assert status == "dates not published"
    assert "has passed" in reason  # said in words, not turned into "closed"
    assert "has passed" not in opp.derive_status(None, None, TODAY, contract_start=TODAY + dt.timedelta(days=1))[1]


def test_eligible_boroughs_expand_london_wide_and_national_to_all_33():
    codes = [f"E090000{n:02d}" for n in range(1, 34)]
    rows = opp.eligible_borough_rows(
        [{"reference": "A", "coverage": "london-wide"}, {"reference": "B", "coverage": "boroughs"},
         {"reference": "C", "coverage": "national"}, {"reference": "D", "coverage": "boroughs"}],
        [{"reference": "B", "gss_code": "E09000008"}, {"reference": "B", "gss_code": "E09000022"}],
        codes,
    )
    by_reference: dict[str, list[str]] = {}
    for row in rows:
        by_reference.setdefault(row["reference"], []).append(row["gss_code"])
    assert by_reference["A"] == codes and by_reference["C"] == codes
    assert by_reference["B"] == ["E09000008", "E09000022"]
    assert "D" not in by_reference


def test_a_planned_procurement_is_upcoming_while_its_notice_is_expected_or_its_contract_is_to_start():
    day = dt.timedelta(days=1)
    status, reason = opp.derive_status(None, None, TODAY, future_notice=TODAY + day, planned=True)
    assert status == "planned" and "tender notice is expected by" in reason
    status, reason = opp.derive_status(None, None, TODAY, TODAY + 90 * day, future_notice=TODAY - day, planned=True)
    assert status == "planned" and "due to start" in reason and "look for it" in reason
    assert opp.derive_status(None, None, TODAY, TODAY - day, future_notice=TODAY - 2 * day, planned=True)[0] == (
        "dates not published")
    # The same dates on a notice that is not a planned procurement give no status from the contract start.
    assert opp.derive_status(None, None, TODAY, TODAY + 90 * day)[0] == "dates not published"


def test_real_planned_procurements_with_a_future_contract_are_upcoming(real_db_path):
    import sqlite3

    conn = sqlite3.connect(real_db_path)
    (build_date,) = conn.execute("SELECT value FROM build_info WHERE key = 'build_date'").fetchone()
    rows = conn.execute("SELECT reference, status, contract_start_date, future_notice_date FROM funding_opportunities "
                        "WHERE opportunity_type = 'planned procurement' AND opening_date IS NULL "
                        "AND closing_date IS NULL").fetchall()
    for reference, status, start, notice in rows:
        upcoming = (notice or "") >= build_date or (start or "") > build_date
        assert (status == "planned") == upcoming, reference


def test_value_text():
    assert opp_pages.value_text(5_000, 20_000) == "£5,000 to £20,000"
    assert opp_pages.value_text(None, 1_800_000) == "£1,800,000"
    assert opp_pages.value_text(75_000, None) == "from £75,000"
    assert opp_pages.value_text(None, None) == "not published"


def test_filters_from_query_string():
    filters = opp_pages.Filters.from_args({"min_value": "£50,000", "include_closed": "1", "postcode": " se1 7pb "})
    assert filters.min_value == 50_000 and filters.include_closed and filters.postcode == "se1 7pb"
    assert opp_pages.outcode_of(filters.postcode) == "SE1"
    assert opp_pages.outcode_of("not a postcode") is None
    with pytest.raises(opp_pages.SearchError, match="not an amount"):
        opp_pages.Filters.from_args({"max_value": "lots"})
    assert opp_pages.fts_query('victim "voice" (forum') == '"victim"* "voice"* "forum"*'


# --- the built databases ----------------------------------------------------------------------------------------


def test_real_statuses_are_derived_from_dates_and_the_build_date(real_db_path):
    db = sqlite3.connect(real_db_path)
    (build_date,) = db.execute("select value from build_info where key = 'build_date'").fetchone()
    today = dt.date.fromisoformat(build_date)
    source = {r["reference"]: r for r in read_csv(DATA / "mopac" / "funding_opportunities.csv")}
    assert "status" not in next(iter(source.values()))  # never typed in
    rows = db.execute("select reference, status, days_until_closing from funding_opportunities").fetchall()
    assert len(rows) == len(source)
    for reference, status, days in rows:
        row = source[reference]
        closing = dt.date.fromisoformat(row["closing_date"]) if row["closing_date"] else None
        if closing is None and not row["opening_date"]:
            upcoming = row["opportunity_type"] == "planned procurement" and (
                (row["future_notice_date"] or "") >= build_date or (row["contract_start_date"] or "") > build_date)
            assert status == ("planned" if upcoming else "dates not published"), reference
        elif closing is not None and closing < today:
            assert status == "closed" and days < 0
        else:
            assert status in CURRENT
    assert dict((r[0], r[1]) for r in rows)["MOPAC RJ"] == "closed"  # closed 2024-04-22


def test_real_eligible_boroughs_match_the_csv(real_db_path):
    db = sqlite3.connect(real_db_path)
    got: dict[str, set[str]] = {}
    for reference, gss in db.execute("select reference, gss_code from opportunity_eligible_boroughs"):
        got.setdefault(reference, set()).add(gss)
    expected = {k: v for k, v in expected_eligible(DATA).items() if v}
    assert got == expected
    counts = dict(db.execute("select reference, eligible_borough_count from funding_opportunities"))
    assert counts == {k: len(v) for k, v in expected_eligible(DATA).items()}


def test_synthetic_demo_covers_every_status(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    statuses = {r[0] for r in db.execute("select distinct status from funding_opportunities")}
    assert statuses == {"planned", "open", "closing within 14 days", "closed", "dates not published"}
    assert db.execute("select count(*) from funding_opportunities where title not like 'Synthetic%'").fetchone() == (0,)
    assert db.execute("select count(*) from opportunity_boroughs").fetchone()[0] > 0


def test_templates_for_mopac_have_the_schema_headers():
    for name in ("funding_opportunities", "opportunity_boroughs"):
        schema = json.loads((DATA / "schemas" / f"{name}.json").read_text())
        header = (ROOT / "docs" / "templates" / f"{name}_template.csv").read_text(encoding="utf-8").strip().split(",")
        assert header == [f["name"] for f in schema["fields"]]


# --- search by place: exactly the eligible opportunities --------------------------------------------------------


def synthetic_expected(gss: str, current_only: bool, db) -> set[str]:
    statuses = dict(db.execute("select reference, status from funding_opportunities"))
    return {
        ref for ref, codes in expected_eligible(SYNTHETIC_DATA).items()
        if gss in codes and (not current_only or statuses[ref] in CURRENT)
    }


@pytest.mark.parametrize("gss", ["E09000001", "E09000008", "E09000028", "E09000033"])
def test_borough_filter_returns_exactly_the_eligible_opportunities(synthetic_db_path, gss):
    db = sqlite3.connect(synthetic_db_path)
    for include_closed in (False, True):
        result = opp_pages.find_opportunities(db, opp_pages.Filters(borough=gss, include_closed=include_closed))
        assert result.error is None
        assert {r["reference"] for r in result.rows} == synthetic_expected(gss, not include_closed, db)
    (name,) = db.execute("select name from boroughs where gss_code = ?", [gss]).fetchone()
    by_name = opp_pages.find_opportunities(db, opp_pages.Filters(borough=name.upper()))
    assert {r["reference"] for r in by_name.rows} == synthetic_expected(gss, True, db)


def test_postcode_district_filter_uses_the_district_borough(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    districts = {r["outcode"]: r["gss_code"] for r in read_csv(SYNTHETIC_DATA / "reference" / "postcode_districts.csv")}
    for outcode in ("SE1", "CR0", "E14", "HA1"):
        result = opp_pages.find_opportunities(db, opp_pages.Filters(postcode=outcode.lower() + " 1AA"))
        assert result.place.gss_code == districts[outcode]
        assert {r["reference"] for r in result.rows} == synthetic_expected(districts[outcode], True, db)
    assert "not in this publication's list" in opp_pages.find_opportunities(db, opp_pages.Filters(postcode="ZZ9")).error
    assert "not a London borough" in opp_pages.find_opportunities(db, opp_pages.Filters(borough="Gotham")).error


def test_open_results_are_soonest_deadline_first_and_filters_apply(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    rows = opp_pages.find_opportunities(db, opp_pages.Filters()).rows
    assert rows and {r["status"] for r in rows} <= CURRENT
    dated = [r["closing_date"] for r in rows if r["closing_date"]]
    assert dated == sorted(dated)
    assert all(r["closing_date"] for r in rows[: len(dated)])  # undated ones last
    all_rows = opp_pages.find_opportunities(db, opp_pages.Filters(include_closed=True)).rows
    groups = [0 if r["status"] in CURRENT else 1 if r["status"] == "dates not published" else 2 for r in all_rows]
    assert groups == sorted(groups) and set(groups) == {0, 1, 2}
    closed = [r["closing_date"] for r in all_rows if r["status"] == "closed"]
    assert closed == sorted(closed, reverse=True)  # most recently closed first
    for kind in TYPES:
        got = {r["reference"] for r in opp_pages.find_opportunities(db, opp_pages.Filters(opportunity_type=kind)).rows}
        assert got == {r["reference"] for r in rows if r["opportunity_type"] == kind}
    wide = opp_pages.Filters(min_value=200_000, include_closed=True)
    got = {r["reference"] for r in opp_pages.find_opportunities(db, wide).rows}
    assert got == {
        r["reference"] for r in all_rows
        if (r["value_max_gbp"] if r["value_max_gbp"] is not None else r["value_min_gbp"] or -1) >= 200_000
    }
    got = {r["reference"] for r in opp_pages.find_opportunities(db, opp_pages.Filters(service_area="victims")).rows}
    assert got == {r["reference"] for r in rows if r["service_area"] == "victims"}


def test_full_text_search(real_db_path):
    db = sqlite3.connect(real_db_path)
    result = opp_pages.find_opportunities(db, opp_pages.Filters(q="restorative", include_closed=True))
    expected = {r for (r,) in db.execute(
        "select reference from funding_opportunities where rowid in (select rowid from funding_opportunities_fts "
        "where funding_opportunities_fts match '\"restorative\"*')")}
    assert "MOPAC RJ" in expected
    assert {r["reference"] for r in result.rows} == expected
    assert opp_pages.find_opportunities(db, opp_pages.Filters(q="zzzunlikelyword", include_closed=True)).rows == []


@pytest.mark.asyncio(loop_scope="session")
async def test_canned_queries_filter_by_place(datasette, synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    response = await datasette.client.get("/synthetic_demo/open_opportunities.json?_shape=array&borough=Croydon")
    assert {r["reference"] for r in response.json()} == synthetic_expected("E09000008", True, db)
    response = await datasette.client.get("/synthetic_demo/opportunities_for_area.json?_shape=array&area=se1")
    districts = {r["outcode"]: r["gss_code"] for r in read_csv(SYNTHETIC_DATA / "reference" / "postcode_districts.csv")}
    assert {r["reference"] for r in response.json()} == synthetic_expected(districts["SE1"], False, db)


@pytest.mark.asyncio(loop_scope="session")
async def test_opportunities_page_lists_exactly_the_matches(datasette, synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    response = await datasette.client.get("/opportunities?db=synthetic_demo&borough=E09000028")
    assert response.status_code == 200
    assert "SYNTHETIC demo data - not real" in response.text
    listed = set(re.findall(r'href="/synthetic_demo/funding_opportunities/([^"]+)"', response.text))
    assert listed == synthetic_expected("E09000028", True, db)
    real = await datasette.client.get("/opportunities")
    assert "SYNTHETIC demo data" not in real.text
    (current,) = sqlite3.connect(BUILD / "commissioning.db").execute(
        "select count(*) from funding_opportunities where status in ('open', 'closing within 14 days', 'planned')"
    ).fetchone()
    if current == 0:
        recorded = len(read_csv(DATA / "mopac" / "funding_opportunities.csv"))
        assert f"None of the {recorded} opportunities recorded from public notices is open" in real.text
    bad = await datasette.client.get("/opportunities?postcode=ZZ9")
    assert "ZZ9 is not in this publication" in bad.text


@pytest.mark.asyncio(loop_scope="session")
async def test_related_services_share_service_area_and_a_borough(datasette, real_db_path):
    db = sqlite3.connect(real_db_path)
    response = await datasette.client.get(
        "/commissioning/opportunity_related_services.json?_shape=array&reference=MOPAC+RJ"
    )
    got = {r["service_id"] for r in response.json()}
    eligible = {
        g for (g,) in db.execute("select gss_code from opportunity_eligible_boroughs where reference = 'MOPAC RJ'")
    }
    expected = {
        sid for sid, gss in db.execute(
            "select s.service_id, a.gss_code from services s join service_areas a using (service_id) "
            "where s.service_area = 'victims'"
        ) if gss in eligible
    }
    assert got == expected and got


# --- calendar and Atom feeds ------------------------------------------------------------------------------------


def closing_dates(db_path: Path, where: str = "1", params=()) -> dict[str, str]:
    db = sqlite3.connect(db_path)
    return dict(db.execute(
        f"select reference, closing_date from funding_opportunities where closing_date is not null and {where}", params
    ))


def parse_ics(text: str) -> dict[str, dt.date]:
    from icalendar import Calendar

    calendar = Calendar.from_ical(text)
    events = {}
    for event in calendar.walk("VEVENT"):
        reference = str(event["UID"]).removesuffix("@london-commissioning-data")
        start = event.decoded("DTSTART")
        assert start.tzinfo is not None and str(start.tzinfo) == "Europe/London"
        assert (start.hour, start.minute) == (0, 0)
        assert event.decoded("DTEND") - start == dt.timedelta(days=1)
        events[reference] = start.date()
    return events


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", ["commissioning", "synthetic_demo"])
async def test_calendar_of_every_closing_date(datasette, database):
    response = await datasette.client.get(f"/{database}/opportunity_closing_dates.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = parse_ics(response.text)
    expected = closing_dates(BUILD / f"{database}.db")
    assert expected
    assert {ref: day.isoformat() for ref, day in events.items()} == expected


@pytest.mark.asyncio(loop_scope="session")
async def test_calendar_per_borough_and_per_service_area(datasette, synthetic_db_path):
    eligible = expected_eligible(SYNTHETIC_DATA)
    all_dates = closing_dates(synthetic_db_path)
    response = await datasette.client.get("/synthetic_demo/opportunity_closing_dates_for_borough.ics?borough=E09000008")
    events = parse_ics(response.text)
    assert {r: d.isoformat() for r, d in events.items()} == {
        r: d for r, d in all_dates.items() if "E09000008" in eligible[r]
    }
    by_area = closing_dates(synthetic_db_path, "service_area = ?", ["victims"])
    response = await datasette.client.get(
        "/synthetic_demo/opportunity_closing_dates_for_service_area.ics?service_area=victims"
    )
    assert {r: d.isoformat() for r, d in parse_ics(response.text).items()} == by_area


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", ["commissioning", "synthetic_demo"])
async def test_atom_feed_is_xml_with_one_entry_per_opportunity(datasette, database):
    from lxml import etree

    response = await datasette.client.get(f"/{database}/opportunities_feed.atom")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = root.findall("a:entry", ns)
    db = sqlite3.connect(BUILD / f"{database}.db")
    references = {r for (r,) in db.execute("select reference from funding_opportunities")}
    ids = [e.findtext("a:id", namespaces=ns) for e in entries]
    assert len(entries) == len(references) == len(set(ids))
    prefix = "tag:london-commissioning-data,2026:funding_opportunities/"
    assert all(i.startswith(prefix) for i in ids)
    assert {i.removeprefix(prefix).replace("%20", " ") for i in ids} == references
    for entry in entries:
        assert dt.datetime.fromisoformat(entry.findtext("a:updated", namespaces=ns)).tzinfo is not None
        assert entry.findtext("a:title", namespaces=ns)


# --- bad input and change dates, on a small copy of data/ -------------------------------------------------------


@pytest.fixture
def small_data(tmp_path) -> Path:
    """A full copy of data/ (other domains check crime coverage, so the crime files are not cut)."""
    return copy_data(tmp_path / "data")


@pytest.fixture(scope="module")
def base_build(tmp_path_factory) -> Path:
    """The unchanged data built once; tests copy it as 'the published database' before a bad build."""
    out = tmp_path_factory.mktemp("base") / "published.db"
    result = run_build(DATA, out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def published(base_build, tmp_path) -> Path:
    out = tmp_path / "published.db"
    shutil.copyfile(base_build, out)
    return out


def set_cells(path: Path, reference: str, **cells) -> int:
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    header = rows[0]
    for number, row in enumerate(rows[1:], start=2):
        if row[0] == reference:
            for name, value in cells.items():
                row[header.index(name)] = value
            csv.writer(path.open("w", encoding="utf-8", newline="")).writerows(rows)
            return number
    raise KeyError(reference)


def test_built_status_with_a_fixed_build_date(small_data, tmp_path):
    path = small_data / "mopac" / "funding_opportunities.csv"
    set_cells(path, "MOPAC 1232", opening_date="2026-11-01", closing_date="2026-11-25")
    set_cells(path, "MOPAC 1232 (engagement)", opening_date="2026-11-01", closing_date="2026-11-24")
    set_cells(path, "PCD 1842", opening_date="2026-11-01", closing_date="2026-12-09")
    set_cells(path, "ocds-h6vhtk-066744", opening_date="2026-11-01", closing_date="2026-12-10")
    set_cells(path, "ocds-h6vhtk-0688b1", opening_date="2026-11-26", closing_date="2027-01-10")
    out = tmp_path / "fixed.db"
    result = run_build(small_data, out, today="2026-11-25")
    assert result.returncode == 0, result.stderr
    status = dict(sqlite3.connect(out).execute("select reference, status from funding_opportunities"))
    assert status["MOPAC 1232"] == "closing within 14 days"  # closes on the build date
    assert status["MOPAC 1232 (engagement)"] == "closed"  # closed the day before
    assert status["PCD 1842"] == "closing within 14 days"  # 14 days ahead
    assert status["ocds-h6vhtk-066744"] == "open"  # 15 days ahead
    assert status["ocds-h6vhtk-0688b1"] == "planned"  # opens tomorrow
    later = run_build(small_data, out, today="2026-12-10")
    assert later.returncode == 0, later.stderr
    status = dict(sqlite3.connect(out).execute("select reference, status from funding_opportunities"))
    assert status["PCD 1842"] == "closed" and status["ocds-h6vhtk-066744"] == "closing within 14 days"


BAD = [
    ("opportunity_boroughs", {"reference": "MOPAC RJ", "gss_code": "E09000008", "source_title": "t",
                              "source_url": "https://example.org"}, "reference", "is london-wide: list no boroughs"),
    ("opportunity_boroughs", {"reference": "MOPAC RJ", "gss_code": "E09000099", "source_title": "t",
                              "source_url": "https://example.org"}, "gss_code", "E09000001 to E09000033"),
    ("opportunity_boroughs", {"reference": "NOPE", "gss_code": "E09000008", "source_title": "t",
                              "source_url": "https://example.org"}, "reference", "unknown reference 'NOPE'"),
]


@pytest.mark.parametrize("resource,cells,column,reason", BAD)
def test_bad_borough_rows_are_reported_and_nothing_changes(small_data, published, resource, cells, column, reason):
    out = published
    before = digest(out)
    row = append_row(small_data / "mopac" / f"{resource}.csv", cells)
    result = run_build(small_data, out)
    assert result.returncode != 0
    assert f"data/mopac/{resource}.csv:{row}:{column}:" in result.stderr
    assert reason in result.stderr
    assert digest(out) == before


@pytest.mark.parametrize("cells,column,reason", [
    ({"value_min_gbp": "500000"}, "value_max_gbp", "below the lowest value"),
    ({"service_area": "policing"}, "service_area", "is not one of"),
    ({"coverage": "boroughs"}, "coverage", "names no borough"),
    ({"opportunity_type": "Tender"}, "opportunity_type", "is not one of"),
    ({"opening_date": "2024-05-01"}, "closing_date", "end date 2024-04-22 is before start date 2024-05-01"),
    ({"value_max_gbp": "£450k"}, "value_max_gbp", "is not a number"),
    ({"status_as_recorded": ""}, "status_as_recorded", "required value is missing"),
])
def test_bad_opportunity_cells_are_reported_and_nothing_changes(small_data, published, cells, column, reason):
    out = published
    before = digest(out)
    row = set_cells(small_data / "mopac" / "funding_opportunities.csv", "MOPAC RJ", **cells)
    result = run_build(small_data, out)
    assert result.returncode != 0
    assert f"data/mopac/funding_opportunities.csv:{row}:{column}:" in result.stderr
    assert reason in result.stderr
    assert digest(out) == before


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("query", ["max_value=lots", "min_value=-", "postcode=ZZ99", "borough=Atlantis"])
async def test_a_bad_search_is_a_400_with_its_message(datasette, query):
    response = await datasette.client.get(f"/opportunities?{query}")
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    good = await datasette.client.get("/opportunities?service_area=victims")
    assert good.status_code == 200 and 'role="alert"' not in good.text
