"""An Atom feed whose query returns no rows is a valid feed with zero entries (plugins/atom_empty_feeds.py), not the
HTTP 500 datasette-atom 0.9 gives on its own."""

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
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    assert root.findall(f"{ATOM}entry") == []
    assert root.findtext(f"{ATOM}id")
    assert root.findtext(f"{ATOM}title") == datasette.metadata(database="commissioning")["queries"][feed]["title"]
    assert dt.datetime.fromisoformat(root.findtext(f"{ATOM}updated")) == dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("feed", FEEDS)
async def test_feeds_with_rows_are_still_rendered_by_datasette_atom(datasette, feed):
    response = await datasette.client.get(f"/commissioning/{feed}.atom")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findall(f"{ATOM}entry")
    assert root.find(f"{ATOM}generator").text == "Datasette"
