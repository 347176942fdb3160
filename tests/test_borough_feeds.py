"""Per-borough downloads, borough pages, the Atom feed of changes and the API documentation page (issue 8)."""

from __future__ import annotations

import csv
import io
import re
import sqlite3

import pytest
from lxml import etree

from plugins.view_models import borough_feeds

DATABASES = ["commissioning", "synthetic_demo"]
# City of London (outside the 32-borough programmes), Croydon, Tower Hamlets
BOROUGHS = ["E09000001", "E09000008", "E09000030"]


def db_path(database: str):
    from scripts.site import BUILD

    return BUILD / f"{database}.db"


def number_or_none(text: str):
    return float(text) if text != "" else None


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("borough", BOROUGHS)
async def test_borough_services_csv_round_trip(datasette, database, borough):
    response = await datasette.client.get(f"/{database}/borough_services.csv?borough={borough}&_size=max")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    downloaded = {row["service_id"]: row for row in csv.DictReader(io.StringIO(response.text))}
    conn = sqlite3.connect(db_path(database))
    conn.row_factory = sqlite3.Row
    expected = {
        row["service_id"]: row
        for row in conn.execute(
            "SELECT s.* FROM services s JOIN service_areas a ON a.service_id = s.service_id WHERE a.gss_code = ?",
            (borough,),
        )
    }
    assert set(downloaded) == set(expected)
    assert len(response.text.strip().splitlines()) >= len(expected) + 1
    for service_id, row in downloaded.items():
        source = expected[service_id]
        for column in ("name", "commissioner", "service_area", "status", "coverage", "source_url", "value_note"):
            assert row[column] == (source[column] or ""), (service_id, column)
        for column in ("annual_value_gbp", "total_value_gbp"):
            assert number_or_none(row[column]) == source[column], (service_id, column)
        assert row["gss_code"] == borough


@pytest.mark.asyncio(loop_scope="session")
async def test_borough_can_be_named_by_code_name_or_slug(datasette):
    bodies = []
    for text in ["E09000002", "Barking and Dagenham", "barking-and-dagenham", "e09000002"]:
        response = await datasette.client.get(f"/commissioning/borough_services.json?borough={text}&_shape=array")
        bodies.append(response.json())
    assert bodies[0] and all(body == bodies[0] for body in bodies)
    nobody = await datasette.client.get("/commissioning/borough_services.json?borough=Narnia&_shape=array")
    assert nobody.json() == []


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
async def test_borough_opportunities_json_match_eligible_boroughs(datasette, database):
    conn = sqlite3.connect(db_path(database))
    for borough in BOROUGHS:
        expected = {r[0] for r in conn.execute(
            "SELECT reference FROM opportunity_eligible_boroughs WHERE gss_code = ?", (borough,))}
        response = await datasette.client.get(
            f"/{database}/borough_opportunities.json?borough={borough}&_shape=array&_size=max"
        )
        rows = response.json()
        assert {r["reference"] for r in rows} == expected
        assert len(rows) == len(expected)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
async def test_delivery_points_geojson(datasette, database):
    conn = sqlite3.connect(db_path(database))
    (borough,) = conn.execute(
        "SELECT b.gss_code FROM boroughs b LEFT JOIN locations l ON l.gss_code = b.gss_code AND l.latitude IS NOT NULL "
        "GROUP BY b.gss_code ORDER BY count(l.location_id) DESC, b.gss_code LIMIT 1"
    ).fetchone()
    expected = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT location_id, longitude, latitude FROM locations WHERE gss_code = ? AND latitude IS NOT NULL",
            (borough,),
        )
    }
    response = await datasette.client.get(f"/{database}/borough_delivery_points.geojson?borough={borough}&_size=max")
    assert response.status_code == 200
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    found = {f["properties"]["location_id"]: tuple(f["geometry"]["coordinates"]) for f in collection["features"]}
    assert found == expected
    if database == "synthetic_demo":
        assert expected, "the synthetic demo should have geocoded delivery points"


@pytest.mark.asyncio(loop_scope="session")
async def test_atom_feed_lists_the_latest_changes(datasette, real_db_path):
    response = await datasette.client.get("/commissioning/changes_feed.atom")
    assert response.status_code == 200
    feed = etree.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    conn = sqlite3.connect(real_db_path)
    (count,) = conn.execute("SELECT count(*) FROM changes").fetchone()
    assert len(entries) == min(500, count) > 0
    change, entity, name = conn.execute(
        "SELECT change, entity, coalesce(entity_name, entity_id) FROM changes ORDER BY change_id DESC LIMIT 1"
    ).fetchone()
    assert entries[0].findtext("a:title", namespaces=ns).startswith(f"{change.capitalize()} {entity}: {name}")
    assert len({e.findtext("a:id", namespaces=ns) for e in entries}) == len(entries)


def test_borough_page_data_for_every_borough(real_db_path):
    conn = sqlite3.connect(real_db_path)
    for code, name in conn.execute("SELECT gss_code, name FROM boroughs"):
        page = borough_feeds.borough_page(conn, name, "commissioning")
        assert page["borough"]["gss_code"] == code
        assert borough_feeds.borough_page(conn, code, "commissioning")["borough"] == page["borough"]
        assert borough_feeds.borough_page(conn, page["slug"], "commissioning")["borough"] == page["borough"]
        (covering,) = conn.execute("SELECT count(*) FROM service_areas WHERE gss_code = ?", (code,)).fetchone()
        assert len(page["services"]) == covering
        money = {s["table"]: len(s["rows"]) for s in page["money"]}
        (decisions,) = conn.execute("SELECT count(*) FROM funding_decisions WHERE gss_code = ?", (code,)).fetchone()
        assert money["funding_decisions"] == decisions
    assert borough_feeds.borough_page(conn, "Narnia", "commissioning") is None


@pytest.mark.asyncio(loop_scope="session")
async def test_borough_page_shows_money_with_sources(datasette, real_db_path):
    conn = sqlite3.connect(real_db_path)
    rows = conn.execute(
        "SELECT amount_gbp, source_url FROM lcpf_funding WHERE gss_code = 'E09000006' AND amount_gbp IS NOT NULL"
    ).fetchall()
    assert rows, "Bromley has public LCPF figures in data/"
    response = await datasette.client.get("/boroughs/bromley")
    assert response.status_code == 200
    for amount, source_url in rows:
        assert f"{amount:,.0f}" in response.text
        assert source_url.replace("&", "&amp;") in response.text
    assert "must not be added up" in response.text
    for missing in ("/boroughs/narnia", "/boroughs/E09000099"):
        assert (await datasette.client.get(missing)).status_code == 404


@pytest.mark.asyncio(loop_scope="session")
async def test_synthetic_borough_page_is_labelled(datasette):
    real = await datasette.client.get("/boroughs/croydon")
    synthetic = await datasette.client.get("/boroughs/croydon?db=synthetic_demo")
    assert "SYNTHETIC demo data - not real" in synthetic.text
    assert "SYNTHETIC demo data" not in real.text
    assert "Synthetic service" in synthetic.text and "Synthetic service" not in real.text


@pytest.mark.asyncio(loop_scope="session")
async def test_borough_index_links_every_borough(datasette):
    response = await datasette.client.get("/boroughs")
    links = set(re.findall(r'href="(/boroughs/[a-z-]+)"', response.text))
    assert len(links) == 33
    home = await datasette.client.get("/")
    assert 'href="/boroughs"' in home.text


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", ["/borough-feeds", "/boroughs/croydon", "/boroughs/tower-hamlets?db=synthetic_demo"])
async def test_every_local_link_on_the_documentation_and_borough_pages_works(datasette, path):
    response = await datasette.client.get(path)
    assert response.status_code == 200
    links = {link.replace("&amp;", "&") for link in re.findall(r'href="(/[^"#]*)"', response.text)}
    assert len(links) > 10
    broken = []
    for link in sorted(links):
        if link.startswith("/-/static") or link.startswith("/static"):
            continue
        status = (await datasette.client.get(link)).status_code
        if status != 200:
            broken.append((link, status))
    assert broken == []


@pytest.mark.asyncio(loop_scope="session")
async def test_documentation_examples_use_the_served_address(datasette):
    response = await datasette.client.get("/borough-feeds")
    assert "curl 'http://localhost/openreferral/services?borough=E09000008" in response.text
    assert '=IMPORTDATA("http://localhost/commissioning/borough_services.csv' in response.text


@pytest.mark.browser
@pytest.mark.parametrize(
    "name,path",
    [
        ("borough_feeds_docs", "/borough-feeds"),
        ("boroughs_index", "/boroughs"),
        ("borough_croydon", "/boroughs/croydon"),
        ("borough_bromley", "/boroughs/E09000006"),
        ("borough_synthetic", "/boroughs/tower-hamlets?db=synthetic_demo"),
    ],
)
def test_borough_pages_pass_axe(page, live_server, screenshot, check_accessibility, name, path):
    response = page.goto(live_server + path)
    assert response.status == 200
    assert page.locator("main h1").count() == 1
    check_accessibility(page)
    assert screenshot(page, name).stat().st_size > 10_000


@pytest.mark.browser
def test_borough_map_draws_boundary_and_delivery_points(page, live_server, screenshot, synthetic_db_path):
    conn = sqlite3.connect(synthetic_db_path)
    (expected,) = conn.execute(
        "SELECT count(*) FROM locations WHERE gss_code = 'E09000030' AND latitude IS NOT NULL"
    ).fetchone()
    assert expected > 0
    page.goto(live_server + "/boroughs/tower-hamlets?db=synthetic_demo")
    page.wait_for_selector(".borough-map[data-points-drawn]")
    assert page.get_attribute(".borough-map", "data-points-drawn") == str(expected)
    assert page.locator(".borough-map .leaflet-overlay-pane path").count() == 1 + expected  # outline + markers
    assert page.locator(".borough-map[data-error]").count() == 0
    map_shot = page.locator(".borough-map").screenshot(path=str(screenshot(page, "borough_map_page").parent /
                                                                 "borough_map.png"))
    assert len(map_shot) > 5_000
