"""Security headers on every response (plugins/security_headers.py), Atom feeds as application/atom+xml, and the
instance pages without the server's paths or SQLite's compile options (plugins/instance_info.py); issue 15."""

from __future__ import annotations

import httpx
import pytest

from plugins.instance_info import sanitise
from plugins.security_headers import POLICY

# One of every kind of response: pages, JSON, CSV, feeds, calendars, static files, the instance pages, errors.
PATHS = [
    "/", "/commissioning", "/commissioning/boroughs", "/commissioning/boroughs.json", "/commissioning/boroughs.csv",
    "/commissioning/boroughs/E09000001", "/commissioning?sql=select+1", "/commissioning.json?sql=select+1",
    "/commissioning/changes_feed.atom", "/commissioning/opportunity_closing_dates.ics", "/opportunities",
    "/-/dashboards/vru", "/openreferral/services", "/commissioning/-/lcpf-explorer.csv", "/static/site.css",
    "/-/static/app.css", "/-/versions.json", "/-/databases", "/robots.txt", "/no-such-page",
    "/commissioning/services.json?_sort=nope", "/commissioning.json?sql=select+zeroblob(200000000)",
]
EXPECTED = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def test_policy_forbids_framing_and_foreign_scripts():
    directives = dict(d.split(" ", 1) for d in POLICY.split("; "))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["script-src"].split()[0] == "'self'" and "http" not in directives["script-src"]
    assert directives["connect-src"] == "'self'" and directives["form-action"] == "'self'"


def test_every_kind_of_response_has_the_security_headers(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as client:
        for path in PATHS:
            for method in ("GET", "HEAD"):
                response = client.request(method, path, headers={"accept-encoding": "gzip"})
                for name, value in EXPECTED.items():
                    assert response.headers.get(name) == value, (method, path, response.status_code, name)
                    assert len(response.headers.get_list(name)) == 1, (path, name)
        refused = client.post("/commissioning/boroughs", data={"x": "1"})  # answered by plugins/read_only.py
        assert refused.status_code == 405
        assert all(refused.headers.get(name) == value for name, value in EXPECTED.items())
        etag = client.get("/commissioning/boroughs").headers["etag"]
        unchanged = client.get("/commissioning/boroughs", headers={"if-none-match": etag})  # plugins/http_caching.py
        assert unchanged.status_code == 304
        assert all(unchanged.headers.get(name) == value for name, value in EXPECTED.items())


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("feed", ["changes_feed", "opportunities_feed"])
async def test_atom_feeds_are_application_atom_xml(datasette, feed):
    for database in ("commissioning", "synthetic_demo"):
        response = await datasette.client.get(f"/{database}/{feed}.atom")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"


@pytest.mark.asyncio(loop_scope="session")
async def test_databases_show_file_names_not_paths(datasette):
    for path in ("/-/databases.json", "/-/databases"):
        response = await datasette.client.get(path)
        assert response.status_code == 200
        assert "/build/" not in response.text and str(datasette.databases["commissioning"].path) not in response.text
    databases = (await datasette.client.get("/-/databases.json")).json()
    assert {d["name"]: d["path"] for d in databases if d["name"] != "_internal"} == {
        "commissioning": "commissioning.db", "synthetic_demo": "synthetic_demo.db"}
    assert {d["name"]: d["is_mutable"] for d in databases} == {"commissioning": False, "synthetic_demo": False}


@pytest.mark.asyncio(loop_scope="session")
async def test_versions_show_no_compile_options(datasette):
    for path in ("/-/versions.json", "/-/versions"):
        response = await datasette.client.get(path)
        assert response.status_code == 200
        assert "compile_options" not in response.text and "COMPILER=" not in response.text
    versions = (await datasette.client.get("/-/versions.json")).json()
    assert versions["datasette"]["version"] and versions["sqlite"]["version"] and "full" not in versions["python"]


@pytest.mark.asyncio(loop_scope="session")
async def test_threads_show_no_directories(datasette):
    response = await datasette.client.get("/-/threads.json")
    assert response.status_code == 200
    assert "/lib/python" not in response.text and "site-packages" not in response.text


def test_sanitise_keeps_relative_names():
    threads = sanitise("threads", {"tasks": ["<Task coro=<x() running at /usr/lib/python3.11/asyncio/base_events.py:1>"
                                             " cb=[uvicorn/lifespan/on.py:86]>"]})
    assert threads["tasks"] == ["<Task coro=<x() running at base_events.py:1> cb=[uvicorn/lifespan/on.py:86]>"]
    assert sanitise("databases", [{"name": "a", "path": "/srv/x/a.db"}]) == [{"name": "a", "path": "a.db"}]
