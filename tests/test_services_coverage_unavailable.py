"""The services table page when its coverage summary cannot be computed (plugins/services_page_vars.py): the summary
runs under the site's SQL time limit, and a timeout or database error gives a 200 page with the complete services
table and an honest message instead of the maps, never a 500 or a template error."""

from __future__ import annotations

import sqlite3

import pytest
from datasette.database import QueryInterrupted
from datasette.utils import module_from_path
from lxml import html

from plugins.view_models import services as service_pages
from scripts.site import ROOT


def plugin():
    return module_from_path(str(ROOT / "plugins" / "services_page_vars.py"), "services_page_vars_under_test")


def interrupted(conn, filters=None):
    raise QueryInterrupted(sqlite3.OperationalError("interrupted"), "select ...", {})


def sqlite_interrupted(conn, filters=None):
    raise sqlite3.OperationalError("interrupted")


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("failure", [interrupted, sqlite_interrupted], ids=["QueryInterrupted", "sqlite-interrupted"])
@pytest.mark.parametrize("database", ["commissioning", "synthetic_demo"])
async def test_timed_out_coverage_summary_gives_a_page_with_an_honest_message(datasette, monkeypatch, failure,
                                                                              database):
    monkeypatch.setattr(service_pages, "coverage_summary", failure)
    response = await datasette.client.get(f"/{database}/services?service_area=victims")
    assert response.status_code == 200
    doc = html.fromstring(response.text)
    message = doc.get_element_by_id("coverage-unavailable").text_content()
    assert "could not be computed" in message and "3-second limit" in message
    assert doc.xpath(f"//a[@href='/{database}/service_coverage']")
    assert not doc.xpath("//*[@id='services-coverage-map']")
    # The services themselves are still listed.
    assert doc.xpath("//table[contains(@class, 'rows-and-columns')]//td")


@pytest.mark.asyncio(loop_scope="session")
async def test_database_error_in_coverage_summary_is_reported(datasette, monkeypatch):
    def broken(conn, filters=None):
        raise sqlite3.OperationalError("no such table: service_coverage_counts")

    monkeypatch.setattr(service_pages, "coverage_summary", broken)
    response = await datasette.client.get("/synthetic_demo/services")
    assert response.status_code == 200
    message = html.fromstring(response.text).get_element_by_id("coverage-unavailable").text_content()
    assert "no such table: service_coverage_counts" in message


@pytest.mark.asyncio(loop_scope="session")
async def test_summary_without_filters_key_still_renders(datasette, monkeypatch):
    real = service_pages.coverage_summary

    def without_filters(conn, filters=None):
        summary = real(conn, filters)
        summary.pop("filters")
        return summary

    monkeypatch.setattr(service_pages, "coverage_summary", without_filters)
    response = await datasette.client.get("/synthetic_demo/services")
    assert response.status_code == 200
    assert "services-coverage-map" in response.text


def test_coverage_summary_is_interrupted_at_the_time_limit(synthetic_db_path, monkeypatch):
    def slow(conn, filters=None):
        endless = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
        conn.execute(endless).fetchone()

    monkeypatch.setattr(service_pages, "coverage_summary", slow)
    conn = sqlite3.connect(f"file:{synthetic_db_path}?mode=ro", uri=True)
    with pytest.raises(QueryInterrupted):
        plugin().limited_coverage_summary(conn, {}, 50)
    # The time limit is removed afterwards: the connection answers normal queries again.
    assert conn.execute("select count(*) from services").fetchone()[0] > 0


def test_coverage_summary_within_the_limit_is_unchanged(synthetic_db_path):
    conn = sqlite3.connect(f"file:{synthetic_db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    assert plugin().limited_coverage_summary(conn, {}, 3000) == service_pages.coverage_summary(conn, {})
