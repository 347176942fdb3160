"""The `.atom` renderer (plugins/atom_feeds.py, feedgen through Datasette's register_output_renderer hook; issue 16):
a feed whose query returns no rows is a valid feed with zero entries (datasette-atom 0.9 answered HTTP 500), a feed
with rows has one entry per row in the query's order, and every feed is served as application/atom+xml."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from lxml import etree

from scripts.site import BUILD, make_datasette

ATOM = "{http://www.w3.org/2005/Atom}"
FEEDS = ["opportunities_feed", "changes_feed"]


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    """A database named like the real one, with the feeds' tables (schema copied from the build) and no rows."""
    path = tmp_path_factory.mktemp("empty_feeds") / "commissioning.db"
    source = sqlite3.connect(f"file:{BUILD / 'commissioning.db'}?mode=ro", uri=True)
    target = sqlite3.connect(path)
    for table in ("funding_opportunities", "changes", "build_info"):
        (sql,) = source.execute("select sql from sqlite_master where type = 'table' and name = ?", [table]).fetchone()
        target.execute(sql)
    target.execute("insert into build_info (key, value) values ('build_date', '2026-11-25')")
    target.commit()
    target.close()
    source.close()
    return path


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("feed", FEEDS)
async def test_empty_feed_is_valid_atom_with_no_entries(empty_db, feed):
    datasette = make_datasette([empty_db])
    await datasette.invoke_startup()
    response = await datasette.client.get(f"/commissioning/{feed}.atom")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = etree.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    assert root.findall(f"{ATOM}entry") == []
    assert root.findtext(f"{ATOM}id")
    assert root.findtext(f"{ATOM}title") == datasette.metadata(database="commissioning")["queries"][feed]["title"]
    assert dt.datetime.fromisoformat(root.findtext(f"{ATOM}updated")) == dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("feed", FEEDS)
async def test_feeds_with_rows_have_one_entry_per_row_in_order(datasette, feed):
    response = await datasette.client.get(f"/commissioning/{feed}.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    rows = (await datasette.client.get(f"/commissioning/{feed}.json?_shape=array")).json()
    root = etree.fromstring(response.content)
    entries = root.findall(f"{ATOM}entry")
    assert rows and [e.findtext(f"{ATOM}id") for e in entries] == [str(r["atom_id"]) for r in rows]
    assert [e.findtext(f"{ATOM}title") for e in entries] == [r["atom_title"] for r in rows]
    assert entries[0].findtext(f"{ATOM}content") == rows[0]["atom_content"]
    newest = max(dt.datetime.fromisoformat(r["atom_updated"].replace("Z", "+00:00")) for r in rows)
    assert dt.datetime.fromisoformat(root.findtext(f"{ATOM}updated")) == newest
    assert root.find(f"{ATOM}generator").text == "Datasette"
    assert root.findtext(f"{ATOM}title") == datasette.metadata(database="commissioning")["queries"][feed]["title"]


@pytest.mark.asyncio(loop_scope="session")
async def test_only_queries_with_the_atom_columns_are_feeds(datasette):
    html = (await datasette.client.get("/commissioning/opportunities_feed")).text
    assert "opportunities_feed.atom" in html  # Datasette links the renderer it can use
    response = await datasette.client.get("/commissioning/boroughs.atom")
    assert response.status_code == 400 and "atom_id" in response.text
