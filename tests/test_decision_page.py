"""The decision page (issue 17): all rows sharing a reference, what they fund, the source and its words, and the
services that cite the decision, at /<db>/-/decision?reference=... and on each funding_decisions row page, in HTML
and JSON, on both databases. Expectations are worked out here from the database (services from their own
decision_refs and funding_record_ids text, not from the derived link table)."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote_plus

import pytest
from markupsafe import escape

from scripts.common.funding import record_ids, split_references
from tests.build_helpers import BUILT_DATABASES, connect_built

asyncio = pytest.mark.asyncio(loop_scope="session")
DATABASES = BUILT_DATABASES


def connect(name: str) -> sqlite3.Connection:
    return connect_built(name, rows=True)


def citing_services(db, reference: str) -> set[str]:
    rows = {r[0] for r in db.execute("select record_id from funding_decisions where reference = ?", [reference])}
    return {
        service_id
        for service_id, refs, ids in db.execute("select service_id, decision_refs, funding_record_ids from services")
        if reference in split_references(refs) or rows & set(record_ids(ids))
    }


def richest_reference(db) -> str:
    """The reference with the most rows among those some service cites."""
    best = None
    for (reference,) in db.execute("select reference from funding_decisions group by reference "
                                   "order by count(*) desc, reference"):
        if citing_services(db, reference):
            best = reference
            break
    assert best
    return best


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_decision_json_has_every_row_of_the_reference_and_the_services_citing_it(datasette, name):
    db = connect(name)
    reference = richest_reference(db)
    response = await datasette.client.get(f"/{name}/-/decision.json?reference={quote_plus(reference)}")
    assert response.status_code == 200
    body = response.json()
    rows = db.execute("select * from funding_decisions where reference = ? order by record_id", [reference]).fetchall()
    assert sorted(r["record_id"] for r in body["rows"]) == [r["record_id"] for r in rows]
    assert body["row_count"] == len(rows)
    assert body["rows_with_amount"] == sum(1 for r in rows if r["amount_gbp"] is not None)
    assert {s["url"] for s in body["sources"]} == {r["source_url"] for r in rows}
    assert {s["service_id"] for s in body["services"]} == citing_services(db, reference)
    for row in body["rows"]:
        stored = next(r for r in rows if r["record_id"] == row["record_id"])
        assert (row["amount_gbp"], row["source_excerpt"], row["item"]) == \
            (stored["amount_gbp"], stored["source_excerpt"], stored["item"])


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_the_row_page_and_the_decision_page_show_the_same_decision(datasette, name):
    db = connect(name)
    reference = richest_reference(db)
    rows = db.execute("select * from funding_decisions where reference = ? order by record_id", [reference]).fetchall()
    page = (await datasette.client.get(f"/{name}/-/decision?reference={quote_plus(reference)}")).text
    row_page = (await datasette.client.get(f"/{name}/funding_decisions/{rows[-1]['record_id']}")).text
    for html in (page, row_page):
        for row in rows:
            assert f'href="/{name}/funding_decisions/{row["record_id"]}"' in html
            if row["source_excerpt"]:
                assert str(escape(row["source_excerpt"])) in html
        for service_id in citing_services(db, reference):
            assert f'href="/{name}/services/{service_id}"' in html
    assert row_page.count('<tr class="highlight">') == 1
    assert f"row {rows[-1]['record_id']} is highlighted" in row_page


@asyncio
async def test_the_decision_in_the_brief_pcd_1560(datasette):
    db = connect("commissioning")
    rows = db.execute("select record_id, amount_gbp from funding_decisions where reference = 'PCD 1560'").fetchall()
    assert rows, "PCD 1560 is in the real data"
    body = (await datasette.client.get("/commissioning/-/decision.json?reference=PCD+1560")).json()
    assert sum(y["amount_gbp"] or 0 for y in body["by_year"]) == pytest.approx(sum(r[1] or 0 for r in rows))
    assert {s["service_id"] for s in body["services"]} == citing_services(db, "PCD 1560")


@asyncio
async def test_an_unknown_reference_is_a_404_in_html_and_json(datasette):
    response = await datasette.client.get("/commissioning/-/decision?reference=PCD+0")
    assert response.status_code == 404
    assert "No funding decision in this database has the reference" in response.text
    response = await datasette.client.get("/commissioning/-/decision.json?reference=PCD+0")
    assert response.status_code == 404 and response.json()["ok"] is False


def decision_pages() -> list[tuple[str, str]]:
    pages = []
    for name in DATABASES:
        reference = richest_reference(connect(name))
        (record_id,) = connect(name).execute("select min(record_id) from funding_decisions where reference = ?",
                                             [reference]).fetchone()
        label = "real" if name == "commissioning" else "synthetic"
        pages.append((f"decision_page_{label}", f"/{name}/-/decision?reference={quote_plus(reference)}"))
        pages.append((f"decision_row_page_{label}", f"/{name}/funding_decisions/{record_id}"))
    return pages


@pytest.mark.browser
@pytest.mark.parametrize("name,path", decision_pages())
def test_decision_pages_pass_axe_and_reflow_at_320(page, live_server, check_page_at_widths, name, path):
    check_page_at_widths(page, live_server + path, name, must_have=("#decision-rows",))
