"""/review-due and `make review` (issue 14): what a curator must check again, worked out on the day it is read."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys

import pytest
from lxml import html

from plugins.view_models import review
from scripts.site import ROOT

TODAY = dt.date.today().isoformat()


def test_every_service_and_opportunity_has_review_dates(real_db_path):
    conn = sqlite3.connect(real_db_path)
    for table in ("services", "funding_opportunities"):
        (missing,) = conn.execute(
            f"SELECT count(*) FROM {table} WHERE last_verified IS NULL OR review_due IS NULL").fetchone()
        assert missing == 0, table


@pytest.mark.parametrize("db_fixture", ["real_db_path", "synthetic_db_path"])
def test_records_due_are_exactly_those_past_their_review_date_today(request, db_fixture):
    conn = sqlite3.connect(request.getfixturevalue(db_fixture))
    expected = {("service", s) for (s,) in conn.execute("SELECT service_id FROM services WHERE review_due < ?",
                                                         [TODAY])}
    expected |= {("opportunity", r) for (r,) in conn.execute(
        "SELECT reference FROM funding_opportunities WHERE review_due < ?", [TODAY])}
    listed = set(conn.execute("SELECT kind, record_id FROM records_due_for_review").fetchall())
    assert listed == expected


def test_the_synthetic_demo_has_overdue_records_to_show(synthetic_db_path):
    conn = sqlite3.connect(synthetic_db_path)
    (due,) = conn.execute("SELECT count(*) FROM records_due_for_review WHERE kind = 'opportunity'").fetchone()
    assert due > 0


def test_an_opportunity_closed_but_shown_open_is_listed(tmp_path, real_db_path):
    db = tmp_path / "copy.db"
    db.write_bytes(real_db_path.read_bytes())
    conn = sqlite3.connect(db)
    (reference,) = conn.execute("SELECT reference FROM funding_opportunities LIMIT 1").fetchone()
    conn.execute("UPDATE funding_opportunities SET closing_date = '2020-01-01', status = 'open' WHERE reference = ?",
                 [reference])
    conn.commit()
    stale = {r for (r,) in conn.execute("SELECT reference FROM opportunities_status_out_of_date")}
    assert reference in stale
    problem = conn.execute("SELECT problem FROM opportunities_status_out_of_date WHERE reference = ?",
                           [reference]).fetchone()[0]
    assert "closed on 2020-01-01" in problem and "shows it as open" in problem


def test_sources_cited_by_nothing_are_listed_sources_no_row_cites(real_db_path):
    from scripts.publication.package import load_package

    conn = sqlite3.connect(real_db_path)
    package = load_package(ROOT / "data")
    listed = set(conn.execute("SELECT resource, source_url FROM sources_cited_by_nothing").fetchall())
    for resource, url in listed:
        (cited,) = conn.execute(f"SELECT count(*) FROM [{resource}] WHERE source_url = ?", [url]).fetchone()
        assert cited == 0
        assert url in [s.get("path") for s in package.resources[resource].descriptor.get("sources", [])]


@pytest.mark.asyncio(loop_scope="session")
async def test_review_due_page_lists_each_record_with_json_and_csv(datasette):
    response = await datasette.client.get("/review-due?db=synthetic_demo")
    assert response.status_code == 200
    tree = html.fromstring(response.text)
    rows = (await datasette.client.get(
        "/synthetic_demo/records_due_for_review.json?_shape=array&_size=max")).json()
    table = tree.xpath("//h2[@id='records_due_for_review']/following::table[1]//tbody/tr")
    assert len(table) == len(rows) > 0
    assert rows[0]["record_id"] in response.text
    csv_response = await datasette.client.get("/synthetic_demo/records_due_for_review.csv?_size=max")
    assert csv_response.status_code == 200 and csv_response.text.count("\n") == len(rows) + 1


@pytest.mark.asyncio(loop_scope="session")
async def test_an_overdue_opportunity_is_marked_on_its_page(datasette, synthetic_db_path):
    conn = sqlite3.connect(synthetic_db_path)
    overdue, = conn.execute("SELECT reference FROM funding_opportunities WHERE review_due < ? LIMIT 1",
                            [TODAY]).fetchone()
    current, = conn.execute("SELECT reference FROM funding_opportunities WHERE review_due >= ? LIMIT 1",
                            [TODAY]).fetchone()
    assert "Review overdue" in (await datasette.client.get(f"/synthetic_demo/funding_opportunities/{overdue}")).text
    assert "Review overdue" not in (
        await datasette.client.get(f"/synthetic_demo/funding_opportunities/{current}")).text


def test_make_review_prints_the_same_lists(synthetic_db_path):
    result = subprocess.run([sys.executable, "-m", "scripts.review_due", "--db", str(synthetic_db_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(synthetic_db_path)
    for found in review.review_lists(conn):
        assert f"{found['title']}: {len(found['rows'])}" in result.stdout


@pytest.mark.browser
def test_review_due_page_in_chromium(page, live_server, check_page_at_widths):
    check_page_at_widths(page, live_server + "/review-due?db=synthetic_demo", "review-due")
