"""Open Referral UK API (issue 8): unit tests of scripts/publication/openreferral.py and the served /openreferral
routes, validated against the OR-UK JSON Schemas shipped in tests/openreferral_uk/ (CC BY-SA 4.0, see its README)."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from plugins.view_models import openreferral as oruk
from scripts.site import ROOT

SCHEMAS = Path(__file__).parent / "openreferral_uk"
DATABASES = ["commissioning", "synthetic_demo"]
TODAY = "2026-11-25"


def load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def service_validator():
    return Draft202012Validator(load("service.json"), format_checker=FormatChecker())


@pytest.fixture(scope="module")
def page_validator():
    """The /services response: the OR-UK Page wrapper (openapi.json) with service_list.json items."""
    page = load("openapi.json")["components"]["schemas"]["Page"]
    schema = {
        "allOf": [page],
        "type": "object",
        "required": [*page["properties"], "contents"],
        "properties": {"contents": {"type": "array", "items": load("service_list.json")}},
    }
    return Draft202012Validator(schema, format_checker=FormatChecker())


def errors(validator, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def prefix(database: str) -> str:
    return "/openreferral" if database == "commissioning" else f"/{database}/openreferral"


def db_path(database: str) -> Path:
    from scripts.site import BUILD

    return BUILD / f"{database}.db"


# --- pure functions --------------------------------------------------------------------------------------------


def test_identifiers_are_stable_uuids_distinct_by_kind():
    first = oruk.uid("service", "the-havens")
    assert first == oruk.uid("service", "the-havens")
    assert str(uuid.UUID(first)) == first
    assert first != oruk.uid("organization", "the-havens")
    assert first != oruk.uid("service", "the-haven")


@pytest.mark.parametrize(
    "total,page,per_page,expected",
    [
        (0, 1, 50, {"total_pages": 0, "first_page": True, "last_page": True, "empty": True}),
        (100, 2, 50, {"total_pages": 2, "first_page": False, "last_page": True, "empty": False}),
        (101, 2, 50, {"total_pages": 3, "first_page": False, "last_page": False, "empty": False}),
        (10, 3, 5, {"total_pages": 2, "first_page": False, "last_page": True, "empty": True}),
    ],
)
def test_page_wrapper_arithmetic(total, page, per_page, expected):
    shown = max(0, min(per_page, total - (page - 1) * per_page))
    result = oruk.page_wrapper(list(range(shown)), total, page, per_page)
    assert {k: result[k] for k in expected} == expected
    assert result["size"] == shown and result["total_items"] == total and result["page_number"] == page


@pytest.mark.parametrize(
    "args,message",
    [
        ({"page": "0"}, "page must be a whole number"),
        ({"page": "two"}, "page must be a whole number"),
        ({"per_page": str(oruk.MAX_PER_PAGE + 1)}, f"at most {oruk.MAX_PER_PAGE}"),
        ({"modified_after": "25/11/2026"}, "modified_after must be a date"),
        ({"postcode_district": "SW1A 1AA"}, "outward code"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(args, message):
    with pytest.raises(oruk.QueryError, match=message):
        oruk.parse_service_query(args)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-25", "2026-11-25T00:00:00Z"),
        ("2026-11-25T10:30:00Z", "2026-11-25T10:30:00Z"),
        ("2026-11-25T10:30:00+01:00", "2026-11-25T09:30:00Z"),
        ("2026-11-25T10:30:00 01:00", "2026-11-25T09:30:00Z"),  # '+' read as a space in a query string
        ("2026-11-25T10:30:00", "2026-11-25T10:30:00Z"),
    ],
)
def test_modified_after_is_normalised_to_utc(text, expected):
    assert oruk.parse_service_query({"modified_after": text}).modified_after == expected


@pytest.mark.parametrize("text", ["E09000002", "e09000002", "Barking and Dagenham", "barking-and-dagenham",
                                  "BARKING & DAGENHAM"])
def test_boroughs_resolve_by_code_name_or_slug(real_db_path, text):
    conn = sqlite3.connect(real_db_path)
    assert oruk.resolve_borough(conn, text)["gss_code"] == "E09000002"
    with pytest.raises(oruk.QueryError, match="unknown borough"):
        oruk.resolve_borough(conn, "Narnia")


def test_the_schemas_have_teeth(service_validator, page_validator):
    """The checks below would catch a slug id, a missing name, a bad status or a broken page wrapper."""
    good = {"id": oruk.uid("service", "x"), "name": "X", "status": "active"}
    assert errors(service_validator, good) == []
    assert errors(service_validator, {**good, "id": "the-havens"})
    assert errors(service_validator, {"id": good["id"], "status": "active"})
    assert errors(service_validator, {**good, "status": "ended"})
    assert errors(page_validator, oruk.page_wrapper([good], 1, 1, 50)) == []
    assert errors(page_validator, {**oruk.page_wrapper([good], 1, 1, 50), "total_items": "1"})
    assert errors(page_validator, {k: v for k, v in oruk.page_wrapper([good], 1, 1, 50).items() if k != "empty"})


# --- the served API -------------------------------------------------------------------------------------------


async def get_json(datasette, path: str, status: int = 200):
    response = await datasette.client.get(path)
    assert response.status_code == status, f"{path}: {response.status_code} {response.text[:300]}"
    assert response.headers["access-control-allow-origin"] == "*"
    return response.json()


async def walk(datasette, path: str, per_page: int) -> list[dict]:
    """Every item of a paged listing, following pages until last_page; checks the wrapper on the way."""
    items, page = [], 1
    joiner = "&" if "?" in path else "?"
    while True:
        body = await get_json(datasette, f"{path}{joiner}page={page}&per_page={per_page}")
        assert body["page_number"] == page and body["size"] == len(body["contents"]) <= per_page
        assert body["first_page"] == (page == 1)
        items += body["contents"]
        if body["last_page"]:
            assert body["total_items"] == len(items)
            assert body["total_pages"] == page or (body["total_items"] == 0 and body["total_pages"] == 0)
            return items
        page += 1
        assert page <= body["total_pages"]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
async def test_index_names_version_profile_and_openapi(datasette, database):
    body = await get_json(datasette, prefix(database) + "/")
    assert body["version"] == oruk.HSDS_VERSION
    assert body["profile"].startswith("https://")
    assert body["openapi_url"].endswith(prefix(database) + "/openapi.json")
    document = await get_json(datasette, prefix(database) + "/openapi.json")
    assert {"/services", "/services/{id}", "/taxonomies"} <= set(document["paths"])
    assert document["servers"][0]["url"].endswith(prefix(database))


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
async def test_paging_walk_returns_every_service_exactly_once(datasette, database, page_validator):
    expected = {r[0] for r in sqlite3.connect(db_path(database)).execute("SELECT service_id FROM services")}
    assert expected, "no services to page through"
    for per_page in (7, 50):
        items = await walk(datasette, prefix(database) + "/services", per_page)
        slugs = [item["x_commissioning"]["service_id"] for item in items]
        assert len(slugs) == len(set(slugs)), "a service appeared on two pages"
        assert set(slugs) == expected
        assert len({item["id"] for item in items}) == len(items)
    beyond = await get_json(datasette, prefix(database) + f"/services?page={len(expected) + 1}&per_page=1")
    assert beyond["empty"] is True and beyond["contents"] == [] and beyond["last_page"] is True


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
async def test_every_services_page_validates_against_the_or_uk_schema(datasette, database, page_validator):
    page, problems = 1, []
    while True:
        body = await get_json(datasette, prefix(database) + f"/services?page={page}&per_page=100")
        problems += errors(page_validator, body)
        if body["last_page"]:
            break
        page += 1
    assert problems == []


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
async def test_every_service_detail_validates_and_is_fully_nested(datasette, database, service_validator):
    conn = sqlite3.connect(db_path(database))
    services = conn.execute("SELECT service_id, coverage, organization_id FROM services ORDER BY service_id").fetchall()
    areas: dict[str, set] = {}
    for service_id, code in conn.execute("SELECT service_id, gss_code FROM service_areas"):
        areas.setdefault(service_id, set()).add(code)
    locations: dict[str, set] = {}
    for service_id, location_id in conn.execute("SELECT service_id, location_id FROM service_at_location"):
        locations.setdefault(service_id, set()).add(oruk.uid("location", location_id))
    problems = []
    for service_id, coverage, organization_id in services:
        body = await get_json(datasette, prefix(database) + f"/services/{oruk.uid('service', service_id)}")
        problems += [f"{service_id}: {e}" for e in errors(service_validator, body)]
        assert body["x_commissioning"]["service_id"] == service_id
        extents = {area["extent"] for area in body["service_areas"]}
        assert extents == areas.get(service_id, set())
        if coverage == "london-wide":
            assert len(extents) == 33
        for area in body["service_areas"]:
            assert area["uri"].endswith(area["extent"]) and area["extent"].startswith("E09")
        assert {s["location"]["id"] for s in body["service_at_locations"]} == locations.get(service_id, set())
        assert ("organization" in body) == (organization_id is not None)
        assert body["funding"] and all(f["source"] for f in body["funding"])
        assert body["x_commissioning"]["source_url"].startswith("http")
        assert isinstance(body["contacts"], list)
    assert problems == []


@pytest.mark.asyncio(loop_scope="session")
async def test_slug_and_uuid_give_the_same_service_and_unknown_is_404(datasette):
    by_slug = await get_json(datasette, "/openreferral/services/the-havens")
    by_uuid = await get_json(datasette, f"/openreferral/services/{by_slug['id']}")
    assert by_slug == by_uuid
    assert len(by_slug["service_at_locations"]) == 3  # the three Havens sites
    assert by_slug["organization"]["name"] == "King's College Hospital NHS Foundation Trust"
    missing = await get_json(datasette, "/openreferral/services/no-such-service", status=404)
    assert "no-such-service" in missing["error"]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("borough", ["E09000001", "E09000008", "E09000030"])
async def test_borough_filter_matches_service_areas(datasette, database, borough):
    conn = sqlite3.connect(db_path(database))
    expected = {r[0] for r in conn.execute("SELECT service_id FROM service_areas WHERE gss_code = ?", (borough,))}
    items = await walk(datasette, prefix(database) + f"/services?borough={borough}", 40)
    assert {i["x_commissioning"]["service_id"] for i in items} == expected
    (name,) = conn.execute("SELECT name FROM boroughs WHERE gss_code = ?", (borough,)).fetchone()
    by_name = await walk(datasette, prefix(database) + f"/services?borough={name.replace(' ', '+')}", 40)
    assert [i["id"] for i in by_name] == [i["id"] for i in items]


@pytest.mark.asyncio(loop_scope="session")
async def test_postcode_district_filter_covers_borough_and_local_delivery_points(datasette, synthetic_db_path):
    conn = sqlite3.connect(synthetic_db_path)
    district, code = conn.execute(
        "SELECT l.postcode_district, p.gss_code FROM locations l "
        "JOIN postcode_districts p ON p.outcode = l.postcode_district ORDER BY l.location_id LIMIT 1"
    ).fetchone()
    expected = {r[0] for r in conn.execute("SELECT service_id FROM service_areas WHERE gss_code = ?", (code,))}
    expected |= {r[0] for r in conn.execute(
        "SELECT sal.service_id FROM service_at_location sal JOIN locations l ON l.location_id = sal.location_id "
        "WHERE l.postcode_district = ?", (district,))}
    items = await walk(datasette, f"/synthetic_demo/openreferral/services?postcode_district={district.lower()}", 100)
    assert {i["x_commissioning"]["service_id"] for i in items} == expected
    unknown = await get_json(datasette, "/openreferral/services?postcode_district=ZZ9", status=400)
    assert "ZZ9" in unknown["error"]


@pytest.mark.asyncio(loop_scope="session")
async def test_taxonomy_term_filter_and_taxonomy_listings(datasette, real_db_path):
    conn = sqlite3.connect(real_db_path)
    terms = await get_json(datasette, "/openreferral/taxonomy_terms")
    term_schema = load("service.json")["properties"]["attributes"]["items"]["properties"]["taxonomy_term"]
    term_validator = Draft202012Validator(term_schema, format_checker=FormatChecker())
    assert [e for term in terms["contents"] for e in errors(term_validator, term)] == []
    assert terms["total_items"] == conn.execute("SELECT count(*) FROM service_area_taxonomy").fetchone()[0]
    taxonomies = await get_json(datasette, "/openreferral/taxonomies")
    assert [t["id"] for t in taxonomies["contents"]] == [oruk.TAXONOMY_ID]
    assert all(term["taxonomy_id"] == oruk.TAXONOMY_ID for term in terms["contents"])
    for term in terms["contents"]:
        found = conn.execute("SELECT service_id FROM services WHERE service_area = ?", (term["term"],))
        expected = {r[0] for r in found}
        by_id = await walk(datasette, f"/openreferral/services?taxonomy_term_id={term['id']}", 50)
        assert {i["x_commissioning"]["service_id"] for i in by_id} == expected
        by_slug = await get_json(datasette, f"/openreferral/services?taxonomy_term_id={term['term']}&per_page=500")
        assert by_slug["total_items"] == len(expected)
    await get_json(datasette, "/openreferral/services?taxonomy_term_id=nonsense", status=400)


@pytest.mark.asyncio(loop_scope="session")
async def test_search_finds_a_known_service(datasette):
    body = await get_json(datasette, "/openreferral/services?search=stalking")
    names = [item["name"] for item in body["contents"]]
    assert "London Stalking Support Service (LSSS)" in names
    assert all("stalk" in json.dumps(item).lower() for item in body["contents"])
    nothing = await get_json(datasette, "/openreferral/services?search=zzzqqqxxx")
    assert nothing["empty"] is True and nothing["total_items"] == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_bad_parameters_are_400_json_with_cors(datasette):
    for path in ["/openreferral/services?page=0", "/openreferral/services?per_page=100000",
                 "/openreferral/services?modified_after=yesterday", "/openreferral/services?borough=Narnia",
                 "/openreferral/taxonomies?page=-1", "/openreferral/taxonomy_terms?per_page=0"]:
        body = await get_json(datasette, path, status=400)
        assert body["error"]
    await get_json(datasette, "/no_such_db/openreferral/services", status=404)


@pytest.mark.asyncio(loop_scope="session")
async def test_contacts_come_only_from_published_contact_rows(datasette, real_db_path, synthetic_db_path):
    assert sqlite3.connect(real_db_path).execute("SELECT count(*) FROM service_contacts").fetchone() == (0,)
    havens = await get_json(datasette, "/openreferral/services/the-havens")
    assert havens["contacts"] == []
    conn = sqlite3.connect(synthetic_db_path)
    service_id, count = conn.execute(
        "SELECT service_id, count(*) FROM service_contacts GROUP BY service_id ORDER BY count(*) DESC, service_id"
    ).fetchone()
    body = await get_json(datasette, f"/synthetic_demo/openreferral/services/{service_id}")
    found = conn.execute("SELECT name, phone FROM service_contacts WHERE service_id = ?", (service_id,))
    expected = {(r[0], r[1]) for r in found}
    assert {(c["name"], c["x_phone"]) for c in body["contacts"]} == expected
    assert len(body["contacts"]) == count
    for contact in body["contacts"]:
        assert contact["x_phone"].startswith("020 7946 0") and contact["x_email"].endswith("@example.org")


@pytest.mark.parametrize(
    "column,value,reason",
    [("phone", "+44 20 7946 0000", "UK number in national form"), ("email", "not-an-address", "not an email"),
     ("service_id", "no-such-service", "unknown reference")],
)
def test_bad_contact_rows_are_reported_by_file_row_column(tmp_path, column, value, reason):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    row = {"contact_id": "a-contact", "service_id": "the-havens", "name": "Professional advice line",
           "title": "", "department": "", "email": "", "phone": "020 3299 6900",
           "source_title": "The Havens - About us", "source_url": "https://thehavens.org.uk/about-us/"}
    row[column] = value
    path = data / "feeds" / "service_contacts.csv"
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow(list(row.values()))
    out = tmp_path / "out.db"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.build_database", "--data", str(data), "--out", str(out), "--today", TODAY],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert f"data/feeds/service_contacts.csv:2:{column}:" in result.stderr
    assert reason in result.stderr
    assert not out.exists()
