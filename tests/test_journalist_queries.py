"""A journalist's canned queries (issue 17), written once in metadata.yml (&queries) for both databases and documented
on /about: money by recipient by year, services ending in the next six months with no re-commissioning notice,
money by borough per 1,000 residents by year. Each answer is worked out again here from the tables."""

from __future__ import annotations

import re
import sqlite3

import pytest

from scripts.common.funding import split_references
from scripts.site import BUILD, load_metadata

asyncio = pytest.mark.asyncio(loop_scope="session")
DATABASES = ["commissioning", "synthetic_demo"]
QUERIES = ["money_by_recipient_by_year", "services_ending_without_notice", "money_by_borough_per_1000_by_year",
           "provider_decisions", "provider_money_by_year", "provider_money_by_commissioner", "provider_services"]


def connect(name: str) -> sqlite3.Connection:
    db = sqlite3.connect(BUILD / f"{name}.db")
    db.row_factory = sqlite3.Row
    return db


async def rows_of(datasette, name: str, query: str) -> list[dict]:
    response = await datasette.client.get(f"/{name}/{query}.json?_shape=array&_size=max")
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_the_queries_are_defined_once_for_both_databases():
    databases = load_metadata()["databases"]
    for query in QUERIES:
        assert databases["commissioning"]["queries"][query] == databases["synthetic_demo"]["queries"][query]
        assert databases["commissioning"]["queries"][query]["description"]


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_money_by_recipient_by_year_adds_up_to_every_stated_amount(datasette, name):
    db = connect(name)
    rows = await rows_of(datasette, name, "money_by_recipient_by_year")
    total, count = db.execute("select sum(amount_gbp), count(*) from funding_decisions").fetchone()
    assert sum(r["amount_gbp"] or 0 for r in rows) == pytest.approx(total)
    assert sum(r["decision_rows"] for r in rows) == count
    linked = db.execute("""select o.name, d.financial_year, sum(d.amount_gbp) from funding_decisions d
        join organizations o on o.organization_id = d.recipient_organization_id
        where d.financial_year is not null group by 1, 2""").fetchall()
    got = {(r["recipient"], r["financial_year"]): r["amount_gbp"] for r in rows if r["organization_id"]}
    for recipient, year, amount in linked:
        assert got[(recipient, year)] == pytest.approx(amount)


def recommissioning_notice(db, service) -> bool:
    """Whether the service cites (by reference or OCID) a notice dated on or after its start, or undated."""
    entries = split_references(service["decision_refs"])
    for notice in db.execute("select * from funding_opportunities"):
        ocid = notice["ocid"]
        cited = notice["reference"] in entries or (ocid and any(
            re.search(rf"(?<![\w-]){re.escape(ocid)}(?![\w-])", e) for e in entries))
        if not cited:
            continue
        day = notice["contract_start_date"] or notice["closing_date"] or notice["opening_date"] or \
            notice["notice_date"]
        if not service["start_date"] or not day or day >= service["start_date"]:
            return True
    return False


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_services_ending_without_notice(datasette, name):
    db = connect(name)
    today, horizon = db.execute("select date('now'), date('now', '+6 months')").fetchone()
    ending = db.execute("select * from services where end_date between ? and ?", [today, horizon]).fetchall()
    expected = {s["service_id"] for s in ending if not recommissioning_notice(db, s)}
    rows = await rows_of(datasette, name, "services_ending_without_notice")
    assert {r["service_id"] for r in rows} == expected


def test_services_ending_without_notice_on_known_cases():
    """The query's rule on a small database dated from today, so that each case is there whatever the build date."""
    sql = load_metadata()["databases"]["commissioning"]["queries"]["services_ending_without_notice"]["sql"]
    db = sqlite3.connect(":memory:")
    db.executescript("""
        create table services (service_id, name, provider_name, commissioner, service_area, start_date, end_date,
          total_value_gbp, decision_refs, source_url);
        create table funding_opportunities (reference, contract_start_date, closing_date, opening_date, notice_date);
        create table service_notices (service_id, reference);
        insert into services (service_id, start_date, end_date) values
          ('no-notice', '2020-01-01', date('now', '+2 months')),
          ('later-notice', '2020-01-01', date('now', '+2 months')),
          ('undated-notice', '2020-01-01', date('now', '+2 months')),
          ('only-the-old-notice', '2020-01-01', date('now', '+2 months')),
          ('ends-in-eight-months', '2020-01-01', date('now', '+8 months')),
          ('ended', '2020-01-01', date('now', '-1 day'));
        insert into funding_opportunities values ('LATER', date('now', '+3 months'), null, null, null),
          ('UNDATED', null, null, null, null), ('OLD', '2019-10-01', '2019-06-30', null, null);
        insert into service_notices values ('later-notice', 'LATER'), ('undated-notice', 'UNDATED'),
          ('only-the-old-notice', 'OLD');
    """)
    assert [r[0] for r in db.execute(sql)] in (["no-notice", "only-the-old-notice"],
                                               ["only-the-old-notice", "no-notice"])


@asyncio
@pytest.mark.parametrize("name", DATABASES)
async def test_money_by_borough_per_1000_residents(datasette, name):
    db = connect(name)
    rows = await rows_of(datasette, name, "money_by_borough_per_1000_by_year")
    (expected_total,) = db.execute("select sum(amount_gbp) from funding_decisions where gss_code is not null "
                                   "and financial_year is not null").fetchone()
    assert sum(r["amount_gbp"] for r in rows) == pytest.approx(expected_total or 0)
    assert rows
    for row in rows:
        start = int(row["financial_year"][:4])
        census = "census_2011_population" if start < 2016 else "census_2021_population"
        (population,) = db.execute(f"select {census} from borough_population where gss_code = ?",
                                   [row["gss_code"]]).fetchone()
        assert row["population"] == population
        assert row["gbp_per_1000_residents"] == pytest.approx(round(1000 * row["amount_gbp"] / population, 2))


@asyncio
async def test_the_about_page_documents_the_queries(datasette):
    html = (await datasette.client.get("/about")).text
    for query in QUERIES:
        assert f'href="/commissioning/{query}"' in html, query
    assert 'id="page-json"' in html
