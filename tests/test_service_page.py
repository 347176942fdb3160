"""The service page (issue 17): money by financial year from the decisions that fund it, measures with the latest RAG,
notices, boroughs with crime and population, change history and review status, in HTML and JSON, on both databases.

Every expectation is worked out here from the database with SQL (and the stated text), not taken from the page."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest
from markupsafe import escape

from scripts.common.funding import parse_financial_years, split_references, year_group
from tests.build_helpers import BUILT_DATABASES, connect_built

asyncio = pytest.mark.asyncio(loop_scope="session")
DATABASES = BUILT_DATABASES


def connect(name: str) -> sqlite3.Connection:
    return connect_built(name, rows=True)


def cited_rows(db, service_id: str) -> list[sqlite3.Row]:
    (ids,) = db.execute("select funding_record_ids from services where service_id = ?", [service_id]).fetchone()
    wanted = [int(i) for i in (ids or "").split(";") if i.strip()]
    marks = ",".join("?" * len(wanted)) or "NULL"
    return db.execute(f"select * from funding_decisions where record_id in ({marks})", wanted).fetchall()


def service_with_most_money(db) -> str:
    best, best_count = None, -1
    for service_id, ids in db.execute("select service_id, funding_record_ids from services order by service_id"):
        rows = cited_rows(db, service_id) if ids else []
        count = sum(1 for r in rows if r["amount_gbp"] is not None)
        if count > best_count:
            best, best_count = service_id, count
    assert best_count > 0
    return best


def notices_cited(db, service_id: str) -> set[str]:
    """Notices whose reference is one of the service's references, or whose OCID stands as a whole word in one."""
    (refs,) = db.execute("select decision_refs from services where service_id = ?", [service_id]).fetchone()
    entries = split_references(refs)
    found = set()
    for reference, ocid in db.execute("select reference, ocid from funding_opportunities"):
        if reference in entries or (ocid and any(re.search(rf"(?<![\w-]){re.escape(ocid)}(?![\w-])", e)
                                                 for e in entries)):
            found.add(reference)
    return found


async def get_json(datasette, path: str) -> dict:
    response = await datasette.client.get(path)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["ok"] is True
    return body


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_money_by_financial_year_is_the_sum_of_the_cited_decision_rows(datasette, name):
    db = connect(name)
    service_id = service_with_most_money(db)
    rows = cited_rows(db, service_id)
    body = await get_json(datasette, f"/{name}/-/service/{service_id}.json")
    money = body["money"]
    assert sorted(r["record_id"] for r in money["rows"]) == sorted(r["record_id"] for r in rows)
    stated = [r["amount_gbp"] for r in rows if r["amount_gbp"] is not None]
    assert money["total_gbp"] == pytest.approx(sum(stated))
    expected: dict[str, float | None] = {}
    for r in rows:
        label = year_group(parse_financial_years(r["financial_years"])) or "not stated as financial years"
        if r["amount_gbp"] is not None:
            expected[label] = (expected.get(label) or 0) + r["amount_gbp"]
        else:
            expected.setdefault(label, None)
    assert {y["label"]: y["amount_gbp"] for y in money["by_year"]} == pytest.approx(expected)
    for row in money["rows"]:
        (shared,) = db.execute("select count(distinct service_id) from service_funding where record_id = ?",
                               [row["record_id"]]).fetchone()
        assert row["cited_by_services"] == shared

    html = (await datasette.client.get(f"/{name}/services/{service_id}")).text
    assert 'id="service-money-chart"' in html and 'role="img"' in html
    for r in rows:  # each amount links to its decision row, beside the source's words
        assert f'href="/{name}/funding_decisions/{r["record_id"]}"' in html
        if r["source_excerpt"]:
            assert escape(r["source_excerpt"]) in html


@asyncio
async def test_measures_show_the_latest_rating_and_link_to_the_full_history(datasette):
    db = connect("synthetic_demo")
    (service_id,) = db.execute("select service_id from measures group by service_id order by count(*) desc, "
                               "service_id limit 1").fetchone()
    body = await get_json(datasette, f"/synthetic_demo/-/service/{service_id}.json")
    measures = {m["measure_id"]: m for m in body["measures"]}
    expected = [r[0] for r in db.execute("select measure_id from measures where service_id = ?", [service_id])]
    assert sorted(measures) == sorted(expected)
    for measure_id in expected:
        latest = db.execute("select period, rag from ratings where measure_id = ? order by period_start desc limit 1",
                            [measure_id]).fetchone()
        got = measures[measure_id]
        assert (got["period"], got["rag"]) == ((latest["period"], latest["rag"]) if latest else (None, None))
    assert body["performance_url"] == f"/performance/service?db=synthetic_demo&service_id={service_id}"
    html = (await datasette.client.get(f"/synthetic_demo/services/{service_id}")).text
    assert f'href="/performance/service?db=synthetic_demo&amp;service_id={service_id}"' in html
    for m in measures.values():  # the word and the shape, never colour alone
        if m["rag"] in ("Red", "Amber", "Green"):
            assert f'<use href="#rag-shape-{m["rag"].lower()}"/></svg>{m["rag"]}</span>' in html


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_notices_are_those_the_service_cites_by_reference_or_ocid(datasette, name):
    db = connect(name)
    with_notices = [sid for (sid,) in db.execute("select service_id from services where decision_refs is not null")
                    if notices_cited(db, sid)]
    assert with_notices
    for service_id in with_notices[:5]:
        body = await get_json(datasette, f"/{name}/-/service/{service_id}.json")
        assert {n["reference"] for n in body["notices"]} == notices_cited(db, service_id)
        for notice in body["notices"]:
            status = db.execute("select status from funding_opportunities where reference = ?",
                                [notice["reference"]]).fetchone()[0]
            assert notice["status"] == status


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_boroughs_carry_their_population_and_latest_full_year_of_crime(datasette, name):
    db = connect(name)
    (service_id,) = db.execute("select service_id from services where coverage = 'boroughs' and borough_count > 0 "
                               "order by borough_count desc, service_id limit 1").fetchone()
    (year,) = db.execute("select max(year) from borough_crime_rates where months_covered = 12").fetchone()
    body = await get_json(datasette, f"/{name}/-/service/{service_id}.json")
    assert body["boroughs"]["crime_year"] == year
    got = {b["gss_code"]: b for b in body["boroughs"]["rows"]}
    codes = {r[0] for r in db.execute("select gss_code from service_areas where service_id = ?", [service_id])}
    assert set(got) == codes
    for code in codes:
        (population,) = db.execute("select census_2021_population from borough_population where gss_code = ?",
                                   [code]).fetchone()
        crime = db.execute("select total_recorded_crime, crimes_per_1000_residents from borough_crime_rates "
                           "where gss_code = ? and year = ?", [code, year]).fetchone()
        assert got[code]["population"] == population
        assert (got[code]["total_recorded_crime"], got[code]["crimes_per_1000_residents"]) == \
            (tuple(crime) if crime else (None, None))


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_change_history_is_the_services_rows_of_changes(datasette, name):
    db = connect(name)
    (service_id,) = db.execute("select entity_id from changes where entity = 'service' group by entity_id "
                               "order by count(*) desc, entity_id limit 1").fetchone()
    expected = [dict(r) for r in db.execute(
        "select change_id, changed_on, change, field, old_value, new_value, source_url from changes "
        "where entity = 'service' and entity_id = ? order by change_id", [service_id])]
    body = await get_json(datasette, f"/{name}/-/service/{service_id}.json")
    assert [{k: c[k] for k in expected[0]} for c in body["changes"]] == expected
    html = (await datasette.client.get(f"/{name}/services/{service_id}")).text
    assert 'id="service-history"' in html


@asyncio
async def test_an_overdue_record_is_marked_clearly(datasette):
    db = connect("synthetic_demo")
    today = dt.date.today().isoformat()
    (overdue,) = db.execute("select service_id from services where review_due < ? order by review_due limit 1",
                            [today]).fetchone()
    body = await get_json(datasette, f"/synthetic_demo/-/service/{overdue}.json")
    assert body["review"]["overdue"] is True and body["review"]["status"] == "review overdue"
    html = (await datasette.client.get(f"/synthetic_demo/services/{overdue}")).text
    assert "<strong>Review overdue:</strong>" in html
    (current,) = db.execute("select service_id from services where review_due >= ? and last_verified > date(?, "
                            "'-5 months') limit 1", [today, today]).fetchone()
    assert (await get_json(datasette, f"/synthetic_demo/-/service/{current}.json"))["review"]["overdue"] is False
    assert "Review overdue" not in (await datasette.client.get(f"/synthetic_demo/services/{current}")).text


@asyncio
async def test_what_is_not_public_is_said_once_and_has_no_empty_heading(datasette):
    db = connect("commissioning")
    (service_id,) = db.execute("select service_id from services s where not exists (select 1 from service_notices n "
                               "where n.service_id = s.service_id) and not exists (select 1 from measures m "
                               "where m.service_id = s.service_id) order by service_id limit 1").fetchone()
    body = await get_json(datasette, f"/commissioning/-/service/{service_id}.json")
    assert "No performance measures or RAG ratings are published for this service." in body["not_public"]
    html = (await datasette.client.get(f"/commissioning/services/{service_id}")).text
    assert html.count("No performance measures or RAG ratings are published for this service.") == 1
    assert html.count("What is not public</h2>") == 1
    assert 'id="performance-h"' not in html and 'id="notices-h"' not in html


@asyncio
async def test_the_json_of_an_unknown_service_is_a_404(datasette):
    response = await datasette.client.get("/commissioning/-/service/no-such-service.json")
    assert response.status_code == 404 and response.json()["ok"] is False


def service_pages() -> list[tuple[str, str]]:
    real, synthetic = connect("commissioning"), connect("synthetic_demo")
    (measured,) = synthetic.execute("select m.service_id from measures m join service_notices n using (service_id) "
                                    "join service_funding f using (service_id) limit 1").fetchone()
    return [
        ("service_story_real", f"/commissioning/services/{service_with_most_money(real)}"),
        ("service_story_synthetic", f"/synthetic_demo/services/{measured}"),
    ]


@pytest.mark.browser
@pytest.mark.parametrize("name,path", service_pages())
def test_service_page_passes_axe_and_reflows_at_320(page, live_server, check_page_at_widths, name, path):
    check_page_at_widths(page, live_server + path, name, must_have=("#money-h",))
