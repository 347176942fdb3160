"""Services directory (issue 3) through Datasette: search, filters, services near me, pages."""

from __future__ import annotations

import sqlite3

import pytest

from scripts.common.geo import haversine_km

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_near_me_by_district_returns_that_boroughs_services_nearest_first(datasette, synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    sql = "select latitude, longitude, gss_code from postcode_districts where outcode = 'SE1'"
    lat, lon, gss = db.execute(sql).fetchone()
    response = await datasette.client.get("/synthetic_demo/-/services-near-me.json?q=se1")
    assert response.status_code == 200
    body = response.json()
    assert body["origin"]["gss_code"] == gss
    expected = {r[0] for r in db.execute("select service_id from service_areas where gss_code = ?", [gss])}
    assert {s["service_id"] for s in body["services"]} == expected
    distances = [s["distance_km"] for s in body["services"]]
    placed = [d for d in distances if d is not None]
    assert placed and placed == sorted(placed)
    assert distances[: len(placed)] == placed  # services with a delivery point come first
    points = body["delivery_points"]
    assert [p["distance_km"] for p in points] == sorted(p["distance_km"] for p in points)
    first = points[0]
    assert first["distance_km"] == round(haversine_km(lat, lon, first["latitude"], first["longitude"]), 2)
    every = [haversine_km(lat, lon, *p) for p in db.execute("select latitude, longitude from service_delivery_points")]
    assert first["distance_km"] == round(min(every), 2)


async def test_near_me_filters_by_service_area(datasette, synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    (gss,) = db.execute("select gss_code from postcode_districts where outcode = 'CR0'").fetchone()
    expected = {r[0] for r in db.execute(
        "select a.service_id from service_areas a join services s using (service_id) "
        "where a.gss_code = ? and s.service_area = 'vawg'", [gss])}
    response = await datasette.client.get("/synthetic_demo/-/services-near-me.json?q=CR0&service_area=vawg")
    assert {s["service_id"] for s in response.json()["services"]} == expected


async def test_near_me_by_point_finds_the_borough(datasette, real_db_path):
    (lat, lon) = sqlite3.connect(real_db_path).execute(
        "select latitude, longitude from postcode_districts where outcode = 'CR0'").fetchone()
    response = await datasette.client.get(f"/commissioning/-/services-near-me.json?q={lat},{lon}")
    assert response.status_code == 200
    assert response.json()["origin"]["borough"] == "Croydon"


async def test_real_near_me_lists_london_wide_and_named_services_without_distances(datasette, real_db_path):
    db = sqlite3.connect(real_db_path)
    (gss,) = db.execute("select gss_code from postcode_districts where outcode = 'SE1'").fetchone()
    expected = {r[0] for r in db.execute("select service_id from service_areas where gss_code = ?", [gss])}
    body = (await datasette.client.get("/commissioning/-/services-near-me.json?q=SE1")).json()
    assert {s["service_id"] for s in body["services"]} == expected
    html = await datasette.client.get("/commissioning/-/services-near-me?q=SE1")
    assert html.status_code == 200
    assert "No service has a public delivery point with coordinates yet" in html.text


@pytest.mark.parametrize("query,fragment", [
    ("AB10", "AB10 is not a London postcode district"),
    ("Narnia", "is not a postcode district"),
    ("55.95,-3.19", "is not in Greater London"),
    ("", "Enter a London postcode district"),
])
async def test_near_me_bad_input_is_a_clear_400(datasette, query, fragment):
    response = await datasette.client.get(f"/commissioning/-/services-near-me.json?q={query}")
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": response.json()["error"]}
    assert fragment in response.json()["error"]


async def test_near_me_html_explains_an_unknown_district(datasette):
    response = await datasette.client.get("/commissioning/-/services-near-me?q=AB10")
    assert response.status_code == 400
    assert "AB10 is not a London postcode district" in response.text
    empty = await datasette.client.get("/commissioning/-/services-near-me")
    assert empty.status_code == 200  # just the form
    unknown_area = await datasette.client.get("/commissioning/-/services-near-me?q=SE1&service_area=nonsense")
    assert unknown_area.status_code == 400


async def test_full_text_search_covers_provider(datasette, real_db_path):
    db = sqlite3.connect(real_db_path)
    service_id, provider = db.execute(
        "select service_id, provider_name from services where provider_name is not null "
        "and instr(description, provider_name) = 0 and instr(name, provider_name) = 0").fetchone()
    response = await datasette.client.get(
        "/commissioning/services.json", params={"_search": f'"{provider}"', "_shape": "array", "_col": "name"})
    assert service_id in [r["service_id"] for r in response.json()]


async def test_filters_by_borough_area_commissioner_and_status(datasette, real_db_path):
    db = sqlite3.connect(real_db_path)
    expected = {r[0] for r in db.execute(
        "select a.service_id from service_areas a join boroughs b using (gss_code) join services s using (service_id) "
        "where b.name = 'Haringey' and s.commissioner = 'Home Office grant'")}
    assert expected
    response = await datasette.client.get("/commissioning/services.json", params={
        "boroughs_covered__arraycontains": "Haringey", "commissioner": "Home Office grant", "_shape": "array",
        "_col": "name", "_size": "max"})
    assert {r["service_id"] for r in response.json()} == expected
    facets = await datasette.client.get("/commissioning/services.json?_size=0")
    assert {"service_area", "commissioner", "status", "boroughs_covered"} <= set(facets.json()["facet_results"])


async def test_services_page_has_summary_and_table_alternative(datasette, real_db_path):
    db = sqlite3.connect(real_db_path)
    (total,) = db.execute("select count(*) from services").fetchone()
    response = await datasette.client.get("/commissioning/services")
    assert response.status_code == 200
    assert f"{total} services are listed." in response.text
    row_link = '<th scope="row"><a href="/commissioning/services?boroughs_covered__arraycontains='
    assert response.text.count(row_link) == 33
    assert "services-coverage-map" in response.text


async def test_service_page_shows_provider_money_dates_and_report_link(datasette, real_db_path):
    db = sqlite3.connect(real_db_path)
    db.row_factory = sqlite3.Row
    row = db.execute("select * from services where total_value_gbp is not null and provider_name is not null "
                     "and start_date is not null and end_date is not null limit 1").fetchone()
    response = await datasette.client.get(f"/commissioning/services/{row['service_id']}")
    assert response.status_code == 200
    text = response.text
    assert row["provider_name"].replace("'", "&#39;") in text
    assert f"£{row['total_value_gbp']:,.0f}" in text
    assert row["start_date"] in text and row["end_date"] in text and row["duration_text"] in text
    assert f"/report-an-inaccuracy?service={row['service_id']}" in text
    assert row["last_verified"] in text
    unnamed = db.execute("select service_id from services where organization_id is null limit 1").fetchone()
    page = await datasette.client.get(f"/commissioning/services/{unnamed[0]}")
    assert "not named in a public source" in page.text


async def test_review_list_is_public(datasette):
    response = await datasette.client.get("/synthetic_demo/services_needing_review.json?_shape=array&_size=max")
    assert response.status_code == 200
    rows = response.json()
    assert rows and all(r["reason"] in ("review overdue", "not verified for six months") for r in rows)


@pytest.mark.parametrize("filters", [{}, {"service_area": "vawg"}, {"commissioner": "VRU", "status": "active"}])
async def test_coverage_canned_query_matches_the_python_summary(datasette, synthetic_db_path, filters):
    from plugins.view_models import services as service_pages
    from scripts.common.services import FILTER_COLUMNS

    params = {c: filters.get(c, "") for c in FILTER_COLUMNS}
    response = await datasette.client.get("/synthetic_demo/service_coverage.json", params={**params, "_shape": "array"})
    assert response.status_code == 200
    served = {r["gss_code"]: r for r in response.json()}
    assert len(served) == 33
    python = service_pages.coverage_rows(sqlite3.connect(synthetic_db_path), filters)
    for row in python:
        assert {k: served[row["gss_code"]][k] for k in row} == row
    db = sqlite3.connect(synthetic_db_path)
    where = " and ".join(f"s.{c} = ?" for c in filters) or "1"
    expected = dict(db.execute(
        f"select a.gss_code, count(*) from service_areas a join services s using (service_id) where {where} "
        "group by a.gss_code", list(filters.values())))
    assert {code: r["services_count"] for code, r in served.items()} == {c: expected.get(c, 0) for c in served}


async def test_services_page_coverage_follows_the_directory_filter(datasette, synthetic_db_path):
    (count,) = sqlite3.connect(synthetic_db_path).execute(
        "select count(*) from services where service_area = 'vawg'").fetchone()
    response = await datasette.client.get("/synthetic_demo/services?service_area=vawg")
    assert f"{count} services match the filters." in response.text
    assert "service_coverage.json?service_area=vawg&amp;commissioner=&amp;status=" in response.text
