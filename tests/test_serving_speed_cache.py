"""plugins/response_cache.py: whole 200 responses of the immutable databases are remembered in memory (issue 9).

Behaviour only, no timings: a hit repeats the miss exactly, only GET/HEAD are cached, the total size is bounded
(least recently used out first), streamed CSV is passed through without being held, and pages that ran into a SQL
error or time limit are not kept. Requests go through the full ASGI app of a fresh Datasette configured as the site,
with a public Host header (datasette.client's own `localhost` requests bypass the cache by design).
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from scripts.publication.domains import services
from scripts.site import BUILD, make_datasette

HOST = {"host": "data.example.org"}


def site_app(max_mb: float | None = None):
    ds = make_datasette()
    if max_mb is not None:
        ds._metadata_local.setdefault("plugins", {})["response-cache"] = {"max_mb": max_mb}
    app = ds.app()
    assert max_mb == 0 or hasattr(app, "response_cache"), "response_cache must be the outermost ASGI wrapper"
    return app


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://data.example.org", headers=HOST)


def some_service_id() -> str:
    with sqlite3.connect(f"file:{BUILD / 'synthetic_demo.db'}?immutable=1", uri=True) as conn:
        return conn.execute("select service_id from services order by service_id limit 1").fetchone()[0]


def without_cache_header(headers: httpx.Headers) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in headers.multi_items() if k != "x-response-cache")


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("suffix", ["", ".json"])
async def test_hit_after_miss_repeats_body_and_headers(suffix):
    app = site_app()
    path = f"/synthetic_demo/services/{some_service_id()}{suffix}"
    async with client(app) as c:
        first = await c.get(path)
        second = await c.get(path)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-response-cache"] == "miss"
    assert second.headers["x-response-cache"] == "hit"
    assert second.content == first.content
    assert without_cache_header(second.headers) == without_cache_header(first.headers)


@pytest.mark.asyncio(loop_scope="session")
async def test_gzip_and_plain_bodies_are_kept_apart():
    app = site_app()
    async with client(app) as c:
        gz = await c.get("/synthetic_demo/services.json?_size=5", headers={"accept-encoding": "gzip"})
        plain = await c.get("/synthetic_demo/services.json?_size=5", headers={"accept-encoding": "identity"})
        plain_again = await c.get("/synthetic_demo/services.json?_size=5", headers={"accept-encoding": "identity"})
    assert gz.headers.get("content-encoding") == "gzip"
    assert plain.headers["x-response-cache"] == "miss" and "content-encoding" not in plain.headers
    assert plain_again.headers["x-response-cache"] == "hit" and plain_again.content == plain.content
    assert plain_again.json()["rows"] == gz.json()["rows"]


@pytest.mark.asyncio(loop_scope="session")
async def test_post_is_never_cached_and_head_is_kept_apart_from_get():
    app = site_app()
    path = "/synthetic_demo/services.json?_size=3"
    async with client(app) as c:
        for _ in range(2):
            posted = await c.post(path, data={"a": "b"})
            assert posted.status_code == 405 and "x-response-cache" not in posted.headers
        head = await c.head(path)
        got = await c.get(path)
        head_again = await c.head(path)
    assert head.headers["x-response-cache"] == "miss" and head.content == b""
    assert got.headers["x-response-cache"] == "miss" and got.json()["rows"]
    assert head_again.headers["x-response-cache"] == "hit" and head_again.content == b""
    assert all(key[0] in ("GET", "HEAD") for key in app.response_cache.entries)


@pytest.mark.asyncio(loop_scope="session")
async def test_requests_that_may_differ_are_not_cached():
    app = site_app()
    async with client(app) as c:
        misses = []
        for _ in range(2):
            with_cookie = await c.get("/synthetic_demo/services.json?_size=2", headers={"cookie": "ds_actor=x"})
            live = await c.get("/-/versions.json")
            static_file = await c.get("/static/site.css")
            traced = await c.get("/synthetic_demo/services.json?_size=2&_trace=1")
            internal = await c.get("/synthetic_demo/services.json?_size=2", headers={"host": "localhost"})
            missing = await c.get("/synthetic_demo/no_such_table.json")
            misses.append(missing.headers.get("x-response-cache"))
        fresh = await c.get("/synthetic_demo/services.json?_size=4", headers={"cache-control": "no-cache"})
        cached = await c.get("/synthetic_demo/services.json?_size=4")
    assert static_file.status_code == 200
    for response in (with_cookie, live, static_file, traced, internal):
        assert "x-response-cache" not in response.headers
    assert missing.status_code == 404 and misses == ["miss", "miss"]  # only 200 responses are kept
    assert fresh.headers["x-response-cache"] == "miss"  # no-cache answers fresh ...
    assert cached.headers["x-response-cache"] == "hit"  # ... and stores what it got


@pytest.mark.asyncio(loop_scope="session")
async def test_total_size_is_bounded_least_recently_used_out_first():
    app = site_app(max_mb=0.25)
    cache = app.response_cache
    paths = [f"/synthetic_demo/services.json?_size=20&_sort=service_id&_next={i * 20}" for i in range(12)]
    async with client(app) as c:
        for path in paths:
            assert (await c.get(path, headers={"accept-encoding": "identity"})).status_code == 200
            assert cache.bytes <= cache.max_bytes
        assert len(cache.entries) < len(paths)  # something was evicted
        oldest, newest = paths[0], paths[-1]
        again_newest = await c.get(newest, headers={"accept-encoding": "identity"})
        again_oldest = await c.get(oldest, headers={"accept-encoding": "identity"})
    assert again_newest.headers["x-response-cache"] == "hit"
    assert again_oldest.headers["x-response-cache"] == "miss"
    assert cache.bytes == sum(entry[3] for entry in cache.entries.values())


@pytest.mark.asyncio(loop_scope="session")
async def test_streamed_csv_is_passed_through_not_held():
    app = site_app(max_mb=0.25)
    cache = app.response_cache
    with sqlite3.connect(f"file:{BUILD / 'synthetic_demo.db'}?immutable=1", uri=True) as conn:
        count = conn.execute("select count(*) from services").fetchone()[0]
    async with client(app) as c:
        streamed = await c.get("/synthetic_demo/services.csv?_stream=1&_size=max")
        # A response bigger than the per-entry limit (a quarter of the cache) is passed through whole, not stored.
        big = await c.get("/synthetic_demo/services.csv?_size=max", headers={"accept-encoding": "identity"})
    assert streamed.status_code == 200 and "x-response-cache" not in streamed.headers
    assert len(streamed.text.strip().splitlines()) >= count + 1  # header + every row (text may hold newlines)
    assert big.status_code == 200 and len(big.content) > cache.max_entry_bytes
    assert big.headers["x-response-cache"] == "miss"
    assert not cache.entries and cache.bytes == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_page_whose_sql_failed_is_not_kept(monkeypatch):
    def broken(conn, filters=None):
        raise sqlite3.OperationalError("interrupted")

    monkeypatch.setattr(services, "coverage_summary", broken)
    app = site_app()
    async with client(app) as c:
        first = await c.get("/synthetic_demo/services?_size=5")
        second = await c.get("/synthetic_demo/services?_size=5")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-response-cache"] == second.headers["x-response-cache"] == "miss"
    assert not app.response_cache.entries


@pytest.mark.asyncio(loop_scope="session")
async def test_zero_turns_the_cache_off():
    app = site_app(max_mb=0)
    assert not hasattr(app, "response_cache")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://data.example.org") as c:
        response = await c.get("/synthetic_demo/services.json?_size=1")
    assert response.status_code == 200 and "x-response-cache" not in response.headers
