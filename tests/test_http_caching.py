"""plugins/http_caching.py: the build version as a strong ETag, 304 for a matching If-None-Match, Cache-Control for
the immutable databases (immutable where the URL carries the version), nothing cacheable on errors, personal
requests or pages whose SQL failed (issue 16). Requests go through the site's full ASGI app with a public Host."""

from __future__ import annotations

import copy
import json
import sqlite3

import httpx
import pytest
from datasette.app import Datasette

from plugins.view_models import services
from scripts.site import BUILD, INSPECT_FILE, ROOT, SETTINGS, load_metadata, make_datasette


def site_app(**changes):
    """The site's ASGI app; `inspect_data` or `settings` replace the site's own."""
    if not changes:
        ds = make_datasette()
    else:
        ds = Datasette(
            immutables=[str(BUILD / "commissioning.db"), str(BUILD / "synthetic_demo.db")],
            inspect_data=changes.get("inspect_data", json.loads(INSPECT_FILE.read_text())),
            metadata=load_metadata(), plugins_dir=str(ROOT / "plugins"), template_dir=str(ROOT / "templates"),
            static_mounts=[("static", str(ROOT / "static"))], settings={**SETTINGS, **changes.get("settings", {})},
            cors=True,
        )
    app = ds.app()
    assert hasattr(app, "build_version"), "http_caching must be the outermost ASGI wrapper"
    return app


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://data.example.org")


def some_service_id() -> str:
    with sqlite3.connect(f"file:{BUILD / 'synthetic_demo.db'}?immutable=1", uri=True) as conn:
        return conn.execute("select service_id from services order by service_id limit 1").fetchone()[0]


IDENTITY = {"accept-encoding": "identity"}
GZIP = {"accept-encoding": "gzip"}


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", ["/synthetic_demo/services.json", "/synthetic_demo/services", "/",
                                  "/commissioning/opportunities_feed.atom", "/static/site.css", "ROW", "ROW.json"])
async def test_pages_carry_the_build_version_and_answer_304(path):
    app = site_app()
    version = app.build_version()
    path = path.replace("ROW", f"/synthetic_demo/services/{some_service_id()}")
    async with client(app) as c:
        plain = await c.get(path, headers=IDENTITY)
        zipped = await c.get(path, headers=GZIP)
        again = await c.get(path, headers={**IDENTITY, "if-none-match": plain.headers["etag"]})
        weak = await c.get(path, headers={**GZIP, "if-none-match": f'"other", W/{zipped.headers["etag"]}'})
        stale = await c.get(path, headers={**IDENTITY, "if-none-match": '"an-older-build"'})
    assert plain.status_code == zipped.status_code == 200
    assert plain.headers["etag"] == f'"{version}"' and zipped.headers["etag"] == f'"{version}-gzip"'
    assert plain.headers["cache-control"] == "public, max-age=3600"
    assert "accept-encoding" in plain.headers["vary"].lower()
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == plain.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=3600"
    assert weak.status_code == 304 and weak.headers["etag"] == zipped.headers["etag"]
    assert stale.status_code == 200 and stale.headers["etag"] == plain.headers["etag"] and stale.content


@pytest.mark.asyncio(loop_scope="session")
async def test_version_is_the_same_for_replicas_and_changes_with_a_database_hash():
    inspect_data = json.loads(INSPECT_FILE.read_text())
    replica = site_app(inspect_data=copy.deepcopy(inspect_data))
    assert site_app().build_version() == replica.build_version()
    inspect_data["synthetic_demo"]["hash"] = "0" * 64
    rebuilt = site_app(inspect_data=inspect_data)
    assert rebuilt.build_version() != replica.build_version()
    async with client(rebuilt) as new, client(replica) as old:
        before = await old.get("/synthetic_demo/services.json", headers=IDENTITY)
        after = await new.get("/synthetic_demo/services.json",
                              headers={**IDENTITY, "if-none-match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]


@pytest.mark.asyncio(loop_scope="session")
async def test_url_carrying_the_version_is_immutable():
    app = site_app()
    version = app.build_version()
    async with client(app) as c:
        current = await c.get(f"/synthetic_demo/services.json?_build={version}&_size=3")
        old = await c.get("/synthetic_demo/services.json?_build=0123&_size=3")
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert current.json()["facet_results"]["status"]["results"]  # still the precounted facets
    assert old.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.asyncio(loop_scope="session")
async def test_errors_personal_requests_and_live_pages_are_not_cacheable():
    app = site_app()
    async with client(app) as c:
        missing = await c.get("/synthetic_demo/no_such_table.json")
        bad_sql = await c.get("/synthetic_demo.json?sql=select+nonsense+from")
        with_cookie = await c.get("/synthetic_demo/services.json?_size=2", headers={"cookie": "ds_actor=x"})
        cookie_304 = await c.get("/synthetic_demo/services.json?_size=2",
                                 headers={"cookie": "a=b", "if-none-match": f'"{app.build_version()}-gzip"'})
        live = await c.get("/-/versions.json")
        traced = await c.get("/synthetic_demo/services.json?_size=2&_trace=1")
        posted = await c.post("/synthetic_demo/services.json", data={"a": "b"})
    assert missing.status_code == 404 and bad_sql.status_code == 400
    for response in (missing, bad_sql, posted):
        assert "cache-control" not in response.headers and "etag" not in response.headers
    for response in (with_cookie, cookie_304):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store" and "etag" not in response.headers
    for response in (live, traced):
        assert "etag" not in response.headers and "public" not in response.headers.get("cache-control", "")


@pytest.mark.asyncio(loop_scope="session")
async def test_page_whose_coverage_summary_failed_is_not_stored(monkeypatch):
    def broken(conn, filters=None):
        raise sqlite3.OperationalError("interrupted")

    app = site_app()
    async with client(app) as c:
        fine = await c.get("/synthetic_demo/services?_size=5")
        monkeypatch.setattr(services, "coverage_summary", broken)
        failed = await c.get("/synthetic_demo/services?_size=5")
        revalidated = await c.get("/synthetic_demo/services?_size=5", headers={"if-none-match": fine.headers["etag"]})
    assert fine.headers["cache-control"].startswith("public") and fine.headers["etag"]
    assert failed.status_code == 200 and 'id="coverage-unavailable"' in failed.text
    assert failed.headers["cache-control"] == "no-store" and "etag" not in failed.headers
    # A client holding the good page may keep it: the build has not changed.
    assert revalidated.status_code == 304


@pytest.mark.asyncio(loop_scope="session")
async def test_page_whose_facet_timed_out_is_not_stored():
    app = site_app(settings={"facet_time_limit_ms": 1})
    async with client(app) as c:
        # A borough filter is counted by Datasette's own facet queries over the table, which cannot finish in 1 ms.
        response = await c.get("/synthetic_demo/services.json?boroughs_covered__arraycontains=Camden")
    shown = set(response.json()["facet_results"])
    assert response.status_code == 200 and not {"status", "boroughs_covered"} <= shown  # a facet timed out
    assert response.headers["cache-control"] == "no-store" and "etag" not in response.headers
