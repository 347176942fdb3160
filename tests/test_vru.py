"""VRU dashboard data (issue 6): real-data honesty, suppression, the cost-benefit rule, dashboards, programme pages."""

from __future__ import annotations

import csv
import random
import re
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from markupsafe import escape

from plugins.view_models import vru as vru_pages
from plugins.view_models.dashboards import chart_links, named_parameters, summary_params
from scripts.common.vru import SUPPRESSION_THRESHOLD
from scripts.publication.domains import vru
from scripts.site import BUILD, ROOT, load_metadata
from tests.build_helpers import append_row, copy_data, digest, run_build

DATA = ROOT / "data"
THRESHOLD = SUPPRESSION_THRESHOLD


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def table(name: str, rows: list[dict]) -> SimpleNamespace:
    """A stand-in for a ValidatedTable: rows numbered as in a spreadsheet (header = row 1)."""
    return SimpleNamespace(resource=SimpleNamespace(display_path=f"data/vru/{name}.csv"),
                           rows=[(i + 2, row) for i, row in enumerate(rows)])


def dashboards() -> dict:
    return load_metadata()["plugins"]["datasette-dashboards"]


VRU_DASHBOARDS = {"vru": "commissioning", "vru-synthetic": "synthetic_demo"}


# --- real data: only what a public source states -------------------------------------------------------------------


def test_every_real_vru_funding_row_is_taken_from_the_decision_it_names():
    decisions = {r["record_id"]: r for r in read_csv(DATA / "mopac" / "funding_decisions.csv")}
    programmes = {r["programme"] for r in read_csv(DATA / "mopac" / "vru_programmes.csv")}
    rows = read_csv(DATA / "vru" / "vru_funding.csv")
    assert rows
    for row in rows:
        decision = decisions[row["record_id"]]
        assert row["source_url"] == decision["source_url"], row["funding_id"]
        assert row["programme"] in programmes
        assert float(row["amount_gbp"]) <= float(decision["amount_gbp"])
        assert row["gss_code"] in ("", decision["gss_code"]), "a borough only where the decision names it"
        if row["financial_year"] and not re.fullmatch(r"\d{4}/\d{2}( \(.*\))?", decision["financial_years"]):
            # a multi-year decision is split by year only where the source states the split (in amount_as_stated)
            assert row["financial_year"] in decision["amount_as_stated"], row["funding_id"]
        elif row["financial_year"]:
            assert decision["financial_years"].startswith(row["financial_year"]), row["funding_id"]


def test_myends_round_one_areas_are_the_boroughs_the_decision_names():
    decisions = {r["record_id"]: r for r in read_csv(DATA / "mopac" / "funding_decisions.csv")}
    names = {r["gss_code"]: r["name"] for r in read_csv(DATA / "reference" / "boroughs.csv")}
    round_one = [r for r in read_csv(DATA / "vru" / "vru_programme_areas.csv") if r["phase"] == "Round 1"]
    recipients = decisions[round_one[0]["record_id"]]["recipient"]
    assert len(round_one) == int(recipients.split()[0])  # "8 community consortia (Brent, ...)"
    for row in round_one:
        assert names[row["gss_code"]] in recipients


@pytest.mark.parametrize("name", ["vru_reach", "vru_kpis"])
def test_published_reach_and_outcome_figures_are_all_in_the_real_database(name, real_db_path):
    rows = read_csv(DATA / "vru" / f"{name}.csv")
    assert len(rows) > 0
    conn = sqlite3.connect(real_db_path)
    (published,) = conn.execute(f"select count(*) from {name}").fetchone()
    (suppressed,) = conn.execute(f"select count(*) from {name} where suppressed = 1").fetchone()
    assert published == len(rows) and suppressed == 0  # programme-level figures: none is a small count


@pytest.mark.parametrize("name", ["cost_benefit"])
def test_unpublished_tables_are_header_only_templates_on_the_real_side(name, real_db_path):
    assert read_csv(DATA / "vru" / f"{name}.csv") == []
    assert sqlite3.connect(real_db_path).execute(f"select count(*) from {name}").fetchone() == (0,)
    assert f"`{name}.csv`" in (DATA / "vru" / "README.md").read_text(encoding="utf-8")


# --- rules ---------------------------------------------------------------------------------------------------------


def cost_benefit_row(**values):
    row = {"benefit_cost_ratio": None, "method": "", "assumptions": "", "cost_gbp": None,
           "estimated_benefit_gbp": None, "participants": None, "cost_per_participant_gbp": None}
    row.update(values)
    return row


def test_a_ratio_without_method_or_assumptions_is_a_problem_on_its_row():
    rows = [
        cost_benefit_row(cost_gbp=1000.0, participants=10, cost_per_participant_gbp=100.0),  # no ratio: fine
        cost_benefit_row(benefit_cost_ratio=2.0, method="Offences avoided", assumptions=""),
        cost_benefit_row(benefit_cost_ratio=2.0, method=" ", assumptions="Two years"),
        cost_benefit_row(benefit_cost_ratio=2.0, method="Offences avoided", assumptions="Two years"),
    ]
    problems = vru.check_cost_benefit({"cost_benefit": table("cost_benefit", rows)})
    assert [(p.row, p.column) for p in problems] == [(3, "assumptions"), (4, "method")]
    assert all(str(p).startswith("data/vru/cost_benefit.csv:") for p in problems)


def test_stated_ratio_and_cost_per_participant_must_agree_with_the_stated_figures():
    rows = [
        cost_benefit_row(cost_gbp=100_000.0, estimated_benefit_gbp=250_000.0, benefit_cost_ratio=2.5,
                         method="m", assumptions="a", participants=400, cost_per_participant_gbp=250.0),
        cost_benefit_row(cost_gbp=100_000.0, estimated_benefit_gbp=250_000.0, benefit_cost_ratio=3.5,
                         method="m", assumptions="a"),
        cost_benefit_row(cost_gbp=100_000.0, participants=400, cost_per_participant_gbp=300.0),
    ]
    problems = vru.check_cost_benefit({"cost_benefit": table("cost_benefit", rows)})
    assert [(p.row, p.column) for p in problems] == [(3, "benefit_cost_ratio"), (4, "cost_per_participant_gbp")]
    assert "2.50" in problems[0].reason and "250.00" in problems[1].reason


def test_financial_years_must_be_consecutive():
    tables = {"vru_funding": table("vru_funding", [{"financial_year": "2023/24"}, {"financial_year": "2023/25"}]),
              "vru_kpis": table("vru_kpis", [{"period": "1999/00"}])}
    problems = vru.check_financial_years(tables)
    assert [(p.path, p.row, p.column) for p in problems] == [("data/vru/vru_funding.csv", 3, "financial_year")]


def test_funding_rows_may_not_add_up_to_more_than_their_decision():
    tables = {
        "funding_decisions": table("funding_decisions", [{"record_id": 9, "amount_gbp": 3_000_000.0}]),
        "vru_funding": table("vru_funding", [{"record_id": 9, "amount_gbp": 1_500_000.0},
                                             {"record_id": 9, "amount_gbp": 1_500_000.0},
                                             {"record_id": 9, "amount_gbp": 1.0}]),
    }
    problems = vru.check_funding_within_decisions(tables)
    assert [(p.row, p.column) for p in problems] == [(4, "amount_gbp")]


# --- small-count suppression ---------------------------------------------------------------------------------------


def small_db(counts, kpi_actuals):
    db = sqlite3.connect(":memory:")
    db.execute("create table vru_reach (people_engaged integer)")
    db.execute("create table vru_kpis (unit text, actual real)")
    db.executemany("insert into vru_reach values (?)", [(c,) for c in counts])
    db.executemany("insert into vru_kpis values (?, ?)", kpi_actuals)
    return db


def test_suppress_blanks_every_count_below_the_threshold_and_check_catches_a_leak():
    counts = [0, 1, THRESHOLD - 1, THRESHOLD, THRESHOLD + 250]
    leaky = small_db(counts, [("people", THRESHOLD - 1), ("percent", 3.0)])
    leaky.execute("alter table vru_reach add column suppressed integer")
    leaky.execute("alter table vru_kpis add column suppressed integer")
    assert len(vru.check(leaky)) == 4  # three reach counts and one KPI actual counted in people
    db = small_db(counts, [("people", THRESHOLD - 1), ("percent", 3.0)])
    vru.suppress(db)
    published = [r[0] for r in db.execute("select people_engaged from vru_reach order by rowid")]
    assert published == [None, None, None, THRESHOLD, THRESHOLD + 250]
    assert [r[0] for r in db.execute("select suppressed from vru_reach order by rowid")] == [1, 1, 1, 0, 0]
    assert list(db.execute("select actual, suppressed from vru_kpis order by rowid")) == [(None, 1), (3.0, 0)]
    assert vru.check(db) == []


def test_no_published_reach_count_is_below_the_threshold(synthetic_db_path):
    source = read_csv(BUILD / "synthetic_data" / "vru" / "vru_reach.csv")
    small = sum(1 for r in source if int(r["people_engaged"]) < THRESHOLD)
    assert small > 0, "the synthetic demo must exercise suppression"
    db = sqlite3.connect(synthetic_db_path)
    assert db.execute("select count(*) from vru_reach where people_engaged < ?", (THRESHOLD,)).fetchone() == (0,)
    assert db.execute("select count(*) from vru_reach where suppressed = 1").fetchone() == (small,)
    assert db.execute("select count(*) from vru_reach where people_engaged is null").fetchone() == (small,)
    assert db.execute("select count(*) from vru_reach").fetchone() == (len(source),)


@pytest.mark.asyncio(loop_scope="session")
async def test_suppressed_counts_are_not_served(datasette):
    response = await datasette.client.get(f"/synthetic_demo/vru_reach.json?_shape=array&people_engaged__lt={THRESHOLD}")
    assert response.status_code == 200 and response.json() == []
    suppressed = await datasette.client.get("/synthetic_demo/vru_reach.json?_shape=array&suppressed=1&_size=5")
    assert suppressed.json() and all(r["people_engaged"] is None for r in suppressed.json())


def test_documented_threshold_is_the_one_applied():
    tables = load_metadata()["databases"]["commissioning"]["tables"]
    assert f"below {THRESHOLD} " in tables["vru_reach"]["description"]
    assert f"({THRESHOLD})" in tables["vru_reach"]["columns"]["suppressed"]
    assert f"below **{THRESHOLD}**" in (DATA / "vru" / "README.md").read_text(encoding="utf-8")


# --- the cost-benefit rule at build --------------------------------------------------------------------------------


@pytest.fixture
def small_data(tmp_path) -> Path:
    return copy_data(tmp_path / "data", cut_crime_to_rows=40)


def test_cost_benefit_ratio_without_method_is_rejected_at_build(small_data, tmp_path):
    out = tmp_path / "published.db"
    assert run_build(small_data, out).returncode == 0
    before = digest(out)
    append_row(small_data / "vru" / "cost_benefit.csv", {
        "analysis_id": "1", "programme": "DIVERT", "period": "2023/24", "cost_gbp": "100000",
        "estimated_benefit_gbp": "250000", "benefit_cost_ratio": "2.5", "assumptions": "test row",
        "source_title": "test", "source_url": "https://example.org/test",
    })
    result = run_build(small_data, out)
    assert result.returncode != 0
    assert "data/vru/cost_benefit.csv:2:method: required when benefit_cost_ratio is given" in result.stderr
    assert digest(out) == before


# --- synthesize ----------------------------------------------------------------------------------------------------


def test_synthesize_names_everything_synthetic_and_obeys_its_own_rules():
    boroughs = read_csv(DATA / "reference" / "boroughs.csv")
    programmes = [{"programme": f"Synthetic programme {i}"} for i in range(1, 7)]
    context = SimpleNamespace(boroughs=boroughs, produced={"vru_programmes": programmes})
    produced = vru.synthesize(random.Random(1), 300, context)
    assert set(produced) == {"vru_funding", "vru_programme_areas", "vru_reach", "vru_kpis", "cost_benefit"}
    for rows in produced.values():
        assert rows and all(r["programme"].startswith("Synthetic") for r in rows)
        assert all(r["source_url"] == vru.SYNTHETIC_URL for r in rows)
    ratios = [r for r in produced["cost_benefit"] if r["benefit_cost_ratio"] is not None]
    assert ratios and all(r["method"].startswith("Synthetic") and r["assumptions"] for r in ratios)
    tables = {name: table(name, rows) for name, rows in produced.items()}
    assert vru.check_cost_benefit(tables) == [] and vru.check_financial_years(tables) == []


# --- dashboards ----------------------------------------------------------------------------------------------------


def test_named_parameters_ignore_text_in_quotes():
    sql = "select ':not_a_param' as x where (:programme = '' or p = :programme) and y::int = :year"
    assert named_parameters(sql) == ["programme", "year"]
    assert summary_params(sql, {"programme": "MyEnds", "borough": "Brent"}) == {"programme": "MyEnds", "year": ""}


def test_chart_links_carry_only_the_filters_the_sql_uses():
    chart = {"db": "commissioning", "table": "vru_kpis", "canned_query": "vru_kpis_against_target",
             "query": "select * from vru_kpis where (:programme = '' or programme = :programme)"}
    links = chart_links(chart, {"programme": "DIVERT", "borough": "Brent", "year": ""})
    assert links == {"table": "/commissioning/vru_kpis",
                     "sql": "/commissioning/vru_kpis_against_target?programme=DIVERT"}


def test_each_vru_chart_names_its_table_query_and_summary():
    canned = load_metadata()["databases"]["commissioning"]["queries"]
    for slug, db in VRU_DASHBOARDS.items():
        charts = dashboards()[slug]["charts"]
        assert {c for row in dashboards()[slug]["layout"] for c in row} == set(charts)
        for name, chart in charts.items():
            if chart["library"] == "markdown":
                continue
            assert chart["db"] == db, name
            assert canned[chart["canned_query"]]["sql"] == chart["query"], name
            assert chart["summary_sql"] and chart["table"], name


FILTER_CASES = [{}, {"borough": "Croydon"}, {"programme": "MyEnds", "year": "2023/24"}, {"year": "2024/25"}]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("slug", list(VRU_DASHBOARDS))
async def test_dashboard_returns_200_with_a_summary_and_links_per_chart(datasette, slug):
    response = await datasette.client.get(f"/-/dashboards/{slug}")
    assert response.status_code == 200
    charts = [name for name, c in dashboards()[slug]["charts"].items() if c["library"] != "markdown"]
    for name in charts:
        assert f'class="chart-summary" data-chart="{name}"' in response.text, name
    assert response.text.count("SQL behind this chart") == len(charts)
    assert "Summary unavailable" not in response.text
    for option in ("Croydon", "2023/24"):
        assert f'<option value="{option}"' in response.text


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", list(VRU_DASHBOARDS.values()))
@pytest.mark.parametrize("params", FILTER_CASES)
async def test_every_chart_sql_and_summary_runs_on_both_databases(datasette, database, params):
    for slug in VRU_DASHBOARDS:
        for name, chart in dashboards()[slug]["charts"].items():
            for key in ("query", "summary_sql"):
                if key not in chart:
                    continue
                qs = urlencode({"sql": chart[key], **params, "_shape": "objects"})
                response = await datasette.client.get(f"/{database}.json?{qs}")
                assert response.status_code == 200, (slug, name, key, response.text[:300])
                body = response.json()
                assert body.get("ok", True) and "rows" in body, (slug, name, key)
                if key == "summary_sql":
                    assert len(body["rows"]) == 1 and body["rows"][0]["summary"], (slug, name)


@pytest.mark.asyncio(loop_scope="session")
async def test_real_dashboard_states_its_empty_states_and_the_published_figures(datasette, real_db_path):
    response = await datasette.client.get("/-/dashboards/vru")
    assert "No reach counts for this selection" in response.text
    assert "No KPIs with targets for this selection" in response.text
    db = sqlite3.connect(real_db_path)
    (total,) = db.execute("select sum(amount_gbp) from vru_funding where financial_year is not null").fetchone()
    assert f"£{total:,.0f} stated for" in response.text
    (round_one,) = db.execute("select count(*) from vru_programme_areas where phase = 'Round 1'").fetchone()
    assert f"Round 1, {round_one} borough(s)" in response.text


@pytest.mark.asyncio(loop_scope="session")
async def test_chart_links_open_the_canned_query_with_the_filters(datasette):
    response = await datasette.client.get("/-/dashboards/vru-synthetic?borough=Croydon")
    link = "/synthetic_demo/vru_money_by_borough?borough=Croydon"
    assert f'href="{link}"' in response.text
    page = await datasette.client.get(link)
    assert page.status_code == 200 and "Croydon" in page.text


# --- programme pages -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="session")
async def test_real_programme_page_shows_stated_money_and_honest_empty_states(datasette):
    divert = [r for r in read_csv(DATA / "vru" / "vru_funding.csv") if r["programme"] == "DIVERT"]
    response = await datasette.client.get("/commissioning/-/vru-programme?programme=DIVERT")
    assert response.status_code == 200
    for row in divert:
        assert vru_pages.money(float(row["amount_gbp"])) in response.text
        assert row["financial_year"] in response.text
    assert "No cost-benefit analysis of this programme is public" in response.text
    reach = sqlite3.connect(BUILD / "commissioning.db").execute(
        "select figure_as_stated, measure from vru_reach where programme = 'DIVERT'").fetchall()
    assert reach, "DIVERT publishes reach figures"
    for figure, measure in reach:
        assert str(escape(figure)) in response.text and str(escape(measure)) in response.text
    assert "does not publish how many people this programme reaches" not in response.text


@pytest.mark.asyncio(loop_scope="session")
async def test_synthetic_programme_page_shows_cost_benefit_with_its_method(datasette, synthetic_db_path):
    db = sqlite3.connect(synthetic_db_path)
    programme, ratio, method = db.execute(
        "select programme, benefit_cost_ratio, method from cost_benefit where benefit_cost_ratio is not null limit 1"
    ).fetchone()
    response = await datasette.client.get(f"/synthetic_demo/-/vru-programme?{urlencode({'programme': programme})}")
    assert response.status_code == 200
    assert str(ratio) in response.text and method in response.text
    assert "SYNTHETIC demo data - not real" in response.text


@pytest.mark.asyncio(loop_scope="session")
async def test_unknown_programme_is_404_with_the_list(datasette):
    response = await datasette.client.get("/commissioning/-/vru-programme?programme=Nope")
    assert response.status_code == 404
    assert "DIVERT" in response.text


def test_money_keeps_pence_only_when_stated():
    assert vru_pages.money(537442.19) == "£537,442.19"
    assert vru_pages.money(177375.0) == "£177,375"
    assert vru_pages.money(None) == ""


def test_areas_with_the_same_phase_note_and_source_are_grouped():
    base = {"phase": "Round 1", "area_note": "n", "period_as_stated": "p", "source_title": "t", "source_url": "u"}
    areas = [{**base, "gss_code": "E09000005", "borough": "Brent"},
             {**base, "gss_code": "E09000008", "borough": "Croydon"},
             {**base, "area_note": "other", "gss_code": "E09000030", "borough": "Tower Hamlets"}]
    groups = vru_pages.group_areas(areas)
    assert [[b["name"] for b in g["boroughs"]] for g in groups] == [["Brent", "Croydon"], ["Tower Hamlets"]]


@pytest.mark.asyncio(loop_scope="session")
async def test_homepage_links_the_vru_dashboards(datasette):
    response = await datasette.client.get("/")
    assert 'href="/-/dashboards/vru"' in response.text
    assert 'href="/-/dashboards/vru-synthetic"' in response.text


def test_programme_reach_lists_each_measure_and_period_as_published_never_summed_across_measures(real_db_path):
    conn = sqlite3.connect(real_db_path)
    (programme,) = conn.execute(
        "select programme from vru_reach group by programme having count(distinct measure) > 1 limit 1").fetchone()
    profile = vru_pages.programme_profile(conn, programme)
    published = {(r["measure"], r["period"]): r["people_published"] for r in profile["reach"]}
    direct = conn.execute(
        "select measure, coalesce(period_as_stated, period), people_engaged from vru_reach where programme = ?",
        [programme]).fetchall()
    assert len(published) == len(direct)
    for measure, period, people in direct:
        assert published[measure, period] == people
