"""LCPF (issue 7): allocations against crime and population, the what-if formula, validation, pages."""

from __future__ import annotations

import csv
import json
import random
import shutil
import sqlite3

import pytest

from plugins.view_models import lcpf as lcpf_pages
from plugins.view_models.lcpf import ModelError, Weights, model_allocations
from scripts.publication import build
from scripts.publication.domains import lcpf
from scripts.site import BUILD, ROOT

DATA = ROOT / "data"
WEIGHT_SETS = [
    Weights(1, 1, 1),
    Weights(population=1),
    Weights(total_recorded_crime=0.7, violence_against_the_person=0.3),
    Weights(0.2, 0.5, 0.3),
    Weights(violence_against_the_person=5),
]


@pytest.fixture(scope="module")
def conn(real_db_path):
    connection = sqlite3.connect(real_db_path)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def needs(conn):
    return lcpf_pages.load_needs(conn, "2019/20")


def source_rows(path):
    with (DATA / path).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------- the model


@pytest.mark.parametrize("weights", WEIGHT_SETS)
@pytest.mark.parametrize("fund_total,floor", [(13_105_185, 0), (26_210_370, 250_000), (1_000_001, 31_000)])
def test_modelled_allocations_add_up_to_the_fund_total(needs, weights, fund_total, floor):
    modelled = model_allocations(needs, fund_total, weights, floor)
    assert len(modelled) == 32
    assert sum(modelled.values()) == fund_total
    assert min(modelled.values()) >= floor


def test_population_only_weights_give_population_shares(needs):
    fund = 13_105_185
    london = sum(n["population"] for n in needs)
    for weight in (1, 0.25, 7):
        modelled = model_allocations(needs, fund, Weights(population=weight))
        for n in needs:
            assert abs(modelled[n["gss_code"]] - fund * n["population"] / london) < 1


def test_floor_is_respected_and_the_rest_is_shared_by_need(needs):
    fund, floor = 13_105_185, 380_000
    modelled = model_allocations(needs, fund, Weights(total_recorded_crime=1), floor)
    assert min(modelled.values()) == floor
    at_floor = [code for code, amount in modelled.items() if amount == floor]
    above = [n for n in needs if n["gss_code"] not in at_floor]
    assert 0 < len(at_floor) < 32
    # above the floor, allocations stay in proportion to crime (within rounding)
    crime = {n["gss_code"]: n["total_recorded_crime"] for n in above}
    per_crime = [modelled[code] / crime[code] for code in crime]
    assert max(per_crime) - min(per_crime) < 2 / min(crime.values())
    # and every borough held at the floor has less crime than any borough above it
    lowest_above = min(crime.values())
    assert all(n["total_recorded_crime"] <= lowest_above for n in needs if n["gss_code"] in at_floor)


def test_floor_changes_nothing_when_no_borough_is_below_it(needs):
    without = model_allocations(needs, 13_105_185, Weights(1, 1, 1))
    assert model_allocations(needs, 13_105_185, Weights(1, 1, 1), floor=min(without.values()) - 1) == without


@pytest.mark.parametrize("fund_total,weights,floor,message", [
    (10_000_000, Weights(0, 0, 0), 0, "at least one weight"),
    (10_000_000, Weights(-1, 1, 1), 0, "negative"),
    (10_000_000, Weights(1, 1, 1), 400_000, "more than the fund total"),
    (0, Weights(1, 1, 1), 0, "more than £0"),
])
def test_impossible_inputs_are_refused_with_a_reason(needs, fund_total, weights, floor, message):
    with pytest.raises(ModelError, match=message):
        model_allocations(needs, fund_total, weights, floor)


def test_rounding_keeps_the_exact_total():
    amounts = {"a": 1 / 3 * 100, "b": 1 / 3 * 100, "c": 1 / 3 * 100}
    rounded = lcpf_pages.round_to_total(amounts, 100)
    assert sum(rounded.values()) == 100 and sorted(rounded.values()) == [33, 33, 34]


def test_explore_compares_with_actual_only_where_published(needs):
    bromley = "E09000006"
    result = lcpf_pages.explore(needs, {bromley: 300_000}, 13_105_185, Weights(1, 1, 1))
    by_code = {r["gss_code"]: r for r in result["rows"]}
    assert by_code[bromley]["modelled_minus_actual_gbp"] == by_code[bromley]["modelled_gbp"] - 300_000
    assert all(r["actual_gbp"] is None for code, r in by_code.items() if code != bromley)
    groups = {g["inner_outer"]: g for g in result["inner_outer"]}
    assert groups["Inner London"]["modelled_gbp"] + groups["Outer London"]["modelled_gbp"] == 13_105_185
    assert groups["Inner London"]["boroughs"] == 13 and groups["Outer London"]["boroughs"] == 19
    assert groups["Outer London"]["actual_gbp"] is None  # only 1 of 19 published: no total is invented


# ---------------------------------------------------------------- the built database


def fy_crime(gss_code, start):
    months = {f"{start}-{m:02d}" for m in range(4, 13)} | {f"{start + 1}-{m:02d}" for m in range(1, 4)}
    rows = [r for r in source_rows("crime/crime_monthly.csv") if r["gss_code"] == gss_code and r["month"] in months]
    assert len(rows) == 12
    return sum(int(r["total_recorded_crime"]) for r in rows)


@pytest.mark.parametrize("gss_code,year,census", [
    ("E09000006", "2017/18", "census_2021_population"),  # Bromley, from 2016/17 the 2021 census
    ("E09000022", "2013/14", "census_2011_population"),  # Lambeth, before 2016/17 the 2011 census
])
def test_per_capita_and_per_crime_figures_match_hand_computation(conn, gss_code, year, census):
    amount = next(float(r["amount_gbp"]) for r in source_rows("lcpf/lcpf_allocations.csv")
                  if r["gss_code"] == gss_code and r["financial_year"] == year)
    population = next(int(r[census]) for r in source_rows("reference/borough_population.csv")
                      if r["gss_code"] == gss_code)
    crime = fy_crime(gss_code, int(year[:4]))
    row = conn.execute(
        "SELECT allocation_gbp, population, total_recorded_crime, gbp_per_1000_residents, gbp_per_1000_crimes, "
        "pct_of_fund FROM lcpf_allocation_comparison WHERE gss_code = ? AND financial_year = ?", [gss_code, year],
    ).fetchone()
    assert row[:3] == (amount, population, crime)
    assert row[3] == round(1000 * amount / population, 2)
    assert row[4] == round(1000 * amount / crime, 2)
    assert row[5] is None  # only one borough published that year: no share of the fund


def test_city_of_london_is_left_out_of_crime_figures_and_ranking(conn):
    for table in ("lcpf_borough_need", "lcpf_crime_share_trend"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE gss_code = 'E09000001'").fetchone() == (0,)
    ranks = [r[0] for r in conn.execute(
        "SELECT crime_rate_rank FROM lcpf_borough_need WHERE financial_year = '2023/24' ORDER BY 1")]
    assert ranks == list(range(1, 33))


def test_shares_of_london_add_up_to_100_every_year(conn):
    for table, year in (("lcpf_borough_need", "financial_year"), ("lcpf_crime_share_trend", "year")):
        sums = conn.execute(
            f"SELECT {year}, SUM(pct_of_london_crime), SUM(pct_of_london_population) FROM {table} GROUP BY 1"
            if table == "lcpf_borough_need" else
            f"SELECT {year}, SUM(pct_of_london_crime), 100 FROM {table} GROUP BY 1").fetchall()
        assert len(sums) >= 15
        for _, crime, population in sums:
            assert abs(crime - 100) < 0.02 and abs(population - 100) < 0.02


def test_trend_covers_every_full_calendar_year(conn):
    rows = source_rows("crime/crime_annual_by_category.csv")
    full_years = {int(r["year"]) for r in rows if r["months_covered"] == "12"}
    trend_years = {r[0] for r in conn.execute("SELECT DISTINCT year FROM lcpf_crime_share_trend")}
    assert trend_years == full_years
    assert {2011, 2025} <= trend_years


@pytest.mark.parametrize("gss_code,year", [("E09000033", 2011), ("E09000006", 2025)])
def test_crime_share_trend_matches_hand_computation(conn, gss_code, year):
    rows = [r for r in source_rows("crime/crime_annual_by_category.csv")
            if r["year"] == str(year) and r["gss_code"] not in ("", "E09000001")]
    london = sum(int(r["crime_count"]) for r in rows)
    borough = sum(int(r["crime_count"]) for r in rows if r["gss_code"] == gss_code)
    (share,) = conn.execute("SELECT pct_of_london_crime FROM lcpf_crime_share_trend WHERE gss_code = ? AND year = ?",
                            [gss_code, year]).fetchone()
    assert share == round(100 * borough / london, 3)


def test_map_projection_and_colour_classes(conn):
    from plugins.view_models import svg

    boroughs = lcpf_pages.load_boroughs(conn)
    paths, height = svg.project(boroughs, 600)
    assert len(paths) == 33 and 300 < height < 600
    coords = [float(x) for d in paths.values() for x in d.replace("M", " ").replace("L", " ").replace("Z", " ")
              .replace(",", " ").split()]
    assert min(coords) >= 9.9 and max(coords[0::2]) <= 590.1
    bounds = svg.class_breaks([5, 1, 3, 2, 4, 6, 8, 7, 9, 10])
    assert bounds == [2, 4, 6, 8, 10]
    assert svg.colour_for(1, bounds) == svg.BLUES[0] and svg.colour_for(10, bounds) == svg.BLUES[-1]
    assert svg.colour_for(None, bounds) == svg.NO_DATA

def test_shares_of_fund_appear_only_when_all_32_boroughs_are_published(synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    rows = db.execute("SELECT financial_year, COUNT(*), SUM(pct_of_fund) FROM lcpf_allocation_comparison GROUP BY 1")
    rows = rows.fetchall()
    assert len(rows) >= 5
    for _, boroughs, share in rows:
        assert boroughs == 32 and abs(share - 100) < 0.01


# ---------------------------------------------------------------- validation


def build_with(tmp_path, edits):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    for name, text in edits.items():
        with (data / "lcpf" / name).open("a", encoding="utf-8") as handle:
            handle.write(text)
    out = tmp_path / "out.db"
    out.write_bytes(b"previous database")
    code = build.main(["--data", str(data), "--out", str(out), "--today", "2026-01-01"])
    return code, out


def test_bad_rows_are_reported_by_file_row_and_column(tmp_path, capsys):
    src = "x,https://example.org/x"
    allocation_src = f"{src},The borough was allocated £1."  # source_title, source_url, source_excerpt
    first = len(source_rows("lcpf/lcpf_allocations.csv")) + 2  # the header is row 1
    code, out = build_with(tmp_path, {
        "lcpf_allocations.csv": (
            f"910,2017/19,E09000006,Bromley,Direct borough award,1,,,{allocation_src}\n"
            f"911,2018/19,E09000001,City of London,Direct borough award,1,,,{allocation_src}\n"
            f"912,2018/19,E09000007,Bromley,Direct borough award,1,,,{allocation_src}\n"
            f"913,2019/20,E09000006,Bromley,Direct borough award,-5,,,{allocation_src}\n"
            f"914,2017/18,E09000006,Bromley,Direct borough award,1,,,{allocation_src}\n"
        ),
        "lcpf_formula_options.csv": f"1,A,d,0.5,0.2,,,,,explored,,{src}\n",
        "lcpf_consultation.csv": f"1,2024-02-30,Boroughs,,,meeting,,,{src}\n",
    })
    err = capsys.readouterr().err
    assert code == 1
    assert out.read_bytes() == b"previous database"
    for expected in [
        f"data/lcpf/lcpf_allocations.csv:{first}:financial_year: '2017/19' is not one financial year: write 2017/18",
        f"data/lcpf/lcpf_allocations.csv:{first + 1}:gss_code: the City of London is not one of the 32 boroughs",
        f"data/lcpf/lcpf_allocations.csv:{first + 2}:borough: 'Bromley' does not match E09000007",
        f"data/lcpf/lcpf_allocations.csv:{first + 3}:amount_gbp: negative money",
        f"data/lcpf/lcpf_allocations.csv:{first + 4}:financial_year: duplicate row",
        "data/lcpf/lcpf_formula_options.csv:2:weight_population: weights add up to 0.7",
        "data/lcpf/lcpf_consultation.csv:2:consultation_date: '2024-02-30' is not a real calendar date",
    ]:
        assert expected in err


def test_synthetic_allocations_cover_all_32_boroughs_and_are_labelled():
    boroughs = source_rows("reference/boroughs.csv")

    class Context:
        pass

    context = Context()
    context.boroughs = boroughs
    produced = lcpf.synthesize(random.Random(1), 50, context)
    rows = produced["lcpf_allocations"]
    years = {r["financial_year"] for r in rows}
    assert len(years) >= 5
    for year in years:
        assert len({r["gss_code"] for r in rows if r["financial_year"] == year}) == 32
    assert all(r["gss_code"] != "E09000001" for r in rows)
    assert all(r["source_title"].startswith("Synthetic") for table in produced.values() for r in table)
    assert all(r["option"].startswith("Synthetic") for r in produced["lcpf_formula_options"])


# ---------------------------------------------------------------- pages and downloads


@pytest.mark.asyncio(loop_scope="session")
async def test_explorer_json_and_csv(datasette):
    query = "?year=2022/23&fund_total=13000000&w_population=1&w_crime=2&w_violence=1&floor=200000"
    response = await datasette.client.get("/commissioning/-/lcpf-explorer.json" + query)
    assert response.status_code == 200
    body = response.json()
    assert body["label"] == "modelled, not actual"
    assert body["parameters"]["floor"] == 200_000
    assert sum(r["modelled_gbp"] for r in body["rows"]) == 13_000_000
    assert min(r["modelled_gbp"] for r in body["rows"]) >= 200_000
    assert "E09000001" not in {r["gss_code"] for r in body["rows"]}
    assert sum(g["modelled_gbp"] for g in body["inner_outer"]) == 13_000_000
    csv_response = await datasette.client.get("/commissioning/-/lcpf-explorer.csv" + query)
    rows = list(csv.DictReader(csv_response.text.splitlines()))
    assert len(rows) == 32 and {r["basis"] for r in rows} == {"modelled, not actual"}
    assert sum(int(r["modelled_gbp"]) for r in rows) == 13_000_000


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("query,message", [
    ("?fund_total=lots", "Fund total: 'lots' is not a number"),
    ("?w_population=0&w_crime=0&w_violence=0", "Give at least one weight above zero"),
    ("?floor=1000000&fund_total=1000000", "more than the fund total"),
    ("?year=1999/00", "is not a financial year with MPS crime data"),
])
async def test_explorer_explains_bad_input(datasette, query, message):
    response = await datasette.client.get("/commissioning/-/lcpf-explorer.json" + query)
    assert response.status_code == 400
    assert any(message in e for e in response.json()["errors"])
    page = await datasette.client.get("/commissioning/-/lcpf-explorer" + query)
    assert page.status_code == 400 and message.replace("'", "&#39;") in page.text


@pytest.mark.asyncio(loop_scope="session")
async def test_overview_is_honest_about_unpublished_allocations(datasette, real_db_path):
    response = await datasette.client.get("/commissioning/-/lcpf?year=2017/18")
    assert response.status_code == 200
    text = response.text
    (published,) = sqlite3.connect(real_db_path).execute(
        "select count(distinct gss_code) from lcpf_allocations where financial_year = '2017/18'").fetchone()
    assert 0 < published < 32
    assert f"{published} of 32 boroughs" in text
    assert text.count(">not published<") == 32 - published
    assert "Shares of the fund cannot be worked out for 2017/18" in text
    assert "policed by the City of London Police" in text
    assert "£401,731" in text and "£1,217" in text  # Bromley: allocation and per 1,000 residents
    assert "Not published.</strong> MOPAC has not published when it consulted" in text


@pytest.mark.asyncio(loop_scope="session")
async def test_synthetic_overview_shows_fund_shares(datasette):
    response = await datasette.client.get("/synthetic_demo/-/lcpf?year=2020/21")
    assert response.status_code == 200
    assert "32 of 32 boroughs" in response.text and "Share of fund" in response.text
    assert ">not published<" not in response.text
    assert "SYNTHETIC demo data" in response.text


@pytest.mark.asyncio(loop_scope="session")
async def test_canned_ranking_query_excludes_the_city(datasette):
    response = await datasette.client.get(
        "/commissioning/lcpf_crime_rate_ranking.json?financial_year=2024/25&_shape=array")
    rows = response.json()
    assert [r["crime_rate_rank"] for r in rows] == list(range(1, 33))
    assert "City of London" not in {r["borough"] for r in rows}
    metadata = json.dumps(datasette.metadata("queries", database="commissioning")["lcpf_crime_rate_ranking"])
    assert "not ranked" in metadata


@pytest.mark.asyncio(loop_scope="session")
async def test_homepage_links_to_the_lcpf_pages(datasette):
    response = await datasette.client.get("/")
    assert 'href="/commissioning/-/lcpf"' in response.text
    assert 'href="/commissioning/-/lcpf-explorer"' in response.text


@pytest.mark.asyncio(loop_scope="session")
async def test_canned_allocation_query_returns_the_published_figures(datasette):
    response = await datasette.client.get(
        "/commissioning/lcpf_allocations_against_need.json?financial_year=2013/14&_shape=array")
    rows = {r["borough"]: r for r in response.json()}
    published = dict(sqlite3.connect(BUILD / "commissioning.db").execute(
        "select borough, amount_gbp from lcpf_allocations where financial_year = '2013/14'").fetchall())
    assert {b: r["allocation_gbp"] for b, r in rows.items()} == published
    assert rows["Lambeth"]["allocation_gbp"] == 1_080_000
    assert all(r["population_denominator"] == "Census 2011" and r["pct_of_fund"] is None for r in rows.values())


def test_the_explorer_default_fund_total_is_read_from_the_published_record():
    # The newest one-year programme total of direct funding to boroughs in lcpf_funding, not a number in the code.
    from plugins.view_models.lcpf import explorer_context, latest_direct_funding
    from tests.build_helpers import connect_built

    conn = connect_built("commissioning")
    year, amount = latest_direct_funding(conn)
    expected = conn.execute(
        "select financial_years, amount_gbp from lcpf_funding where level = 'programme' and component like 'Direct%' "
        "and amount_gbp is not null and instr(financial_years, '-') = 0 order by financial_years desc").fetchone()
    assert (year, amount) == (expected[0], round(expected[1]))
    context = explorer_context(conn, {})
    if not context["all_published"]:
        assert context["default_fund_total"] == amount and year in context["default_fund_hint"]
        assert context["parameters"]["fund_total"] == amount
