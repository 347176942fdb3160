"""Performance measures and RAG ratings (issue 5): the rule, overrides, import checks, derived tables, pages."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lxml import html

from plugins.view_models import performance as perf_pages
from scripts.common import performance as periods
from scripts.publication.domains import performance as perf
from scripts.site import BUILD
from tests.test_build import digest, run_build, small_data  # noqa: F401  (small_data is a fixture)

# --- the rule ------------------------------------------------------------------------------------------------------

# (target, actual, tolerance, polarity, expected): exactly on target, exactly at tolerance, just beyond, both ways.
BOUNDARIES = [
    (80, 80, 5, "higher-is-better", "Green"),
    (80, 80.01, 5, "higher-is-better", "Green"),
    (80, 79.99, 5, "higher-is-better", "Amber"),
    (80, 75, 5, "higher-is-better", "Amber"),
    (80, 74.99, 5, "higher-is-better", "Red"),
    (80, 79, 0, "higher-is-better", "Red"),
    (0.3, 0.2, 0.1, "higher-is-better", "Amber"),  # 0.3 - 0.1 is 0.19999999999999998 in binary floating point
    (0.3, 0.19, 0.1, "higher-is-better", "Red"),
    (10, 10, 2, "lower-is-better", "Green"),
    (10, 9.5, 2, "lower-is-better", "Green"),
    (10, 10.01, 2, "lower-is-better", "Amber"),
    (10, 12, 2, "lower-is-better", "Amber"),
    (10, 12.01, 2, "lower-is-better", "Red"),
    (0.1, 0.3, 0.2, "lower-is-better", "Amber"),  # 0.1 + 0.2 is 0.30000000000000004
    (0.1, 0.31, 0.2, "lower-is-better", "Red"),
    (10, 11, 0, "lower-is-better", "Red"),
]


@pytest.mark.parametrize("target,actual,tolerance,polarity,expected", BOUNDARIES)
def test_rag_rule_boundaries(target, actual, tolerance, polarity, expected):
    assert perf.compute_rag(target, actual, tolerance, polarity) == expected


def test_rag_rule_rejects_unknown_polarity_and_negative_tolerance():
    with pytest.raises(ValueError, match="polarity"):
        perf.compute_rag(1, 1, 0, "")
    with pytest.raises(ValueError, match="tolerance"):
        perf.compute_rag(1, 1, -1, "higher-is-better")
    with pytest.raises(ValueError, match="tolerance"):
        perf.compute_rag(1, 5, -1, "higher-is-better")  # negative even when the actual is on target


def _decimal_rag(target, actual, tolerance, polarity):
    """The rule in decimals only, as compute_rag works it out when its float fast path cannot decide."""
    target, actual, tolerance = (perf._decimal(v) for v in (target, actual, tolerance))
    shortfall = target - actual if polarity == "higher-is-better" else actual - target
    return "Green" if shortfall <= 0 else "Amber" if shortfall <= tolerance else "Red"


def test_rag_fast_path_gives_the_decimal_answer():
    rng = random.Random(5)
    cases = list(BOUNDARIES)
    for _ in range(20_000):
        target = round(rng.uniform(0, 2000), rng.choice([0, 1, 2]))
        tolerance = round(rng.uniform(0, target * 0.3), rng.choice([0, 1, 2]))
        edge = rng.choice([0, tolerance, rng.uniform(-3 * tolerance - 1, 3 * tolerance + 1)])
        polarity = rng.choice(perf.POLARITIES)
        actual = target - edge if polarity == "higher-is-better" else target + edge
        cases.append((target, round(actual, rng.choice([0, 1, 2, 6])), tolerance, polarity, None))
    for target, actual, tolerance, polarity, _ in cases:
        expected = _decimal_rag(target, actual, tolerance, polarity)
        assert perf.compute_rag(target, actual, tolerance, polarity) == expected, (target, actual, tolerance, polarity)


def test_periods_and_durations():
    assert perf.period_bounds("2025-H1") == ("2025-01-01", "2025-06-30")
    assert perf.period_bounds("2025-H2") == ("2025-07-01", "2025-12-31")
    assert perf.previous_period("2025-H1") == "2024-H2"
    assert perf.previous_period("2025-H2") == "2025-H1"
    assert perf.next_period("2024-H2") == "2025-H1"
    assert perf.latest_completed_period(dt.date(2026, 11, 25)) == "2026-H1"
    assert perf.latest_completed_period(dt.date(2026, 3, 1)) == "2025-H2"
    for bad in ("2025-H3", "2025H1", "25-H1", "2025-h1", ""):
        with pytest.raises(ValueError):
            periods.parse_period(bad)
    assert periods.duration_months("2019-04-01", "2021-03-31") == 24
    assert periods.duration_months("2019-04-01", None) is None


def test_which_services_ran_in_a_period():
    start, end = perf.period_bounds("2025-H1")
    assert perf.ran_in_period({"start_date": "2024-04-01", "end_date": "2025-01-01"}, start, end)
    assert not perf.ran_in_period({"start_date": "2024-04-01", "end_date": "2024-12-31"}, start, end)
    assert not perf.ran_in_period({"start_date": "2025-07-01", "end_date": None, "status": "planned"}, start, end)
    assert perf.ran_in_period({"start_date": "2025-06-30", "end_date": None, "status": "active"}, start, end)
    assert perf.ran_in_period({"start_date": None, "end_date": None, "status": "unknown"}, start, end)
    assert not perf.ran_in_period({"start_date": None, "end_date": None, "status": "ended"}, start, end)
    rated = perf.services_in_period([{"service_id": "x", "start_date": "2020-01-01", "end_date": "2020-12-31"}],
                                    "2025-H1", {"x"})
    assert [s["service_id"] for s in rated] == ["x"]  # a rating in the period puts the service in the pack


def result(measure_id, period, target, actual, tolerance=5, override=None, reason=None):
    return {
        "measure_id": measure_id, "period": period, "target": target, "actual": actual, "tolerance": tolerance,
        "override_rag": override, "override_reason": reason, "commentary": None, "rated_on": "2025-08-01",
        "source_title": "t", "source_url": "https://example.org/t",
    }


def test_override_keeps_both_values_and_direction_uses_the_published_rating():
    rows = perf.build_ratings(
        [
            result("m", "2024-H2", 80, 70),  # Red
            result("m", "2025-H1", 80, 76, override="Green", reason="Late data"),  # computed Amber, published Green
            result("m", "2025-H2", 80, 78),  # Amber: worse than the published Green
            result("n", "2025-H2", 10, 9),  # first period: no direction
        ],
        {"m": "higher-is-better", "n": "lower-is-better"},
    )
    by_period = {(r["measure_id"], r["period"]): r for r in rows}
    overridden = by_period[("m", "2025-H1")]
    assert (overridden["computed_rag"], overridden["rag"], overridden["rag_overridden"]) == ("Amber", "Green", 1)
    assert overridden["override_reason"] == "Late data"
    assert overridden["direction_of_travel"] == "better"  # Red -> Green
    assert by_period[("m", "2025-H2")]["direction_of_travel"] == "worse"  # Green -> Amber
    assert by_period[("m", "2025-H2")]["previous_actual"] == 76
    assert by_period[("n", "2025-H2")]["direction_of_travel"] is None
    assert {r["rag_rule_version"] for r in rows} == {perf.RAG_RULE_VERSION}


def test_direction_skips_a_gap_period():
    supplied = [result("m", "2024-H1", 80, 90), result("m", "2025-H1", 80, 90)]
    rows = perf.build_ratings(supplied, {"m": "higher-is-better"})
    assert rows[1]["previous_period"] == "2024-H2"
    assert rows[1]["direction_of_travel"] is None


def test_pack_summary_and_coverage_from_hand_made_rows():
    services = [
        {"service_id": "a", "name": "A", "start_date": "2024-01-01", "end_date": None, "status": "active"},
        {"service_id": "b", "name": "B", "start_date": None, "end_date": None, "status": "unknown"},  # no measure
        {"service_id": "c", "name": "C", "start_date": "2020-01-01", "end_date": "2021-12-31", "status": "ended"},
    ]
    measures = {
        "a": [{"measure_id": "a1", "service_id": "a", "name": "M1", "unit": "percent"},
              {"measure_id": "a2", "service_id": "a", "name": "M2", "unit": "days"}],
        "c": [{"measure_id": "c1", "service_id": "c", "name": "M3", "unit": "people"}],
    }
    ratings = perf.build_ratings(
        [result("a1", "2025-H1", 80, 70), result("a1", "2025-H2", 80, 90), result("a2", "2025-H1", 10, 9)],
        {"a1": "higher-is-better", "a2": "lower-is-better"},
    )
    by_key = {(r["measure_id"], r["period"]): r for r in ratings}
    pack = perf.build_pack(services, measures, by_key, ["2025-H1", "2025-H2"])
    h2 = [(r["service_id"], r["measure_id"], r["rag"]) for r in pack if r["period"] == "2025-H2"]
    assert h2 == [("a", "a1", "Green"), ("a", "a2", "Not measured"), ("b", None, "Not measured")]  # c had ended
    summary = {s["period"]: s for s in perf.summarise_periods(pack, ["2025-H1", "2025-H2"], "2025-H2")}
    h1, h2s = summary["2025-H1"], summary["2025-H2"]
    assert (h1["red"], h1["green"], h1["services_not_measured"]) == (1, 1, 1)
    assert (h2s["better"], h2s["measures_not_rated"], h2s["is_latest"]) == (1, 1, 1)
    assert perf_pages.pack_counts([r for r in pack if r["period"] == "2025-H2"]) == {
        "green": 1, "amber": 0, "red": 0, "overridden": 0, "measures_not_rated": 1,
        "services_in_pack": 2, "services_rated": 1, "services_not_measured": 1,
    }
    gaps = {r["service_id"]: r["gap"] for r in perf.build_coverage(services, measures, by_key, "2025-H2")}
    assert gaps == {"a": "1 of 2 measures not rated for 2025-H2", "b": "no measure", "c": None}


def test_synthesize_fills_every_service_with_varied_ratings():
    services = [
        {"service_id": f"synthetic-service-{i}", "name": f"Synthetic service {i}",
         "start_date": "2022-04-01" if i % 3 else "2010-01-01", "end_date": None if i % 3 else "2012-03-31"}
        for i in range(40)
    ]

    class Context:
        produced = {"services": services}

    out = perf.synthesize(random.Random(7), 40, Context())
    measured = {m["service_id"] for m in out["measures"]}
    assert measured == {s["service_id"] for s in services}
    polarity = {m["measure_id"]: m["polarity"] for m in out["measures"]}
    rags = {
        perf.compute_rag(r["target"], r["actual"], r["tolerance"], polarity[r["measure_id"]])
        for r in out["measure_results"]
    }
    assert rags == {"Red", "Amber", "Green"}
    periods_per_measure = {}
    for r in out["measure_results"]:
        periods_per_measure.setdefault(r["measure_id"], set()).add(r["period"])
    running = {s["service_id"] for s in services if s["end_date"] is None}  # these ran through every period
    earlier = set(perf.SYNTHETIC_PERIODS[:-1])  # the latest period is left out for a few services, on purpose
    assert all(periods_per_measure[m["measure_id"]] >= earlier for m in out["measures"] if m["service_id"] in running)
    assert len(periods_per_measure) > len(out["measures"]) / 2
    ended = {s["service_id"] for s in services if s["end_date"] == "2012-03-31"}
    assert not any(r["measure_id"].rsplit("-m", 1)[0] in ended for r in out["measure_results"])  # never rated
    latest = perf.SYNTHETIC_PERIODS[-1]
    rated_latest = {r["measure_id"].rsplit("-m", 1)[0] for r in out["measure_results"] if r["period"] == latest}
    assert measured - rated_latest  # some services have no rating for the latest period
    assert all(m["name"].startswith("Synthetic") for m in out["measures"])
    assert any(r["approved_for_publication"] == "false" for r in out["measure_results"])
    assert all(r["override_reason"] for r in out["measure_results"] if r["override_rag"])


# --- import checks (a real build of a copy of data/) ---------------------------------------------------------------

MEASURES_HEADER = "measure_id,service_id,name,unit,polarity,definition,data_source,source_title,source_url\n"
RESULTS_HEADER = (
    "measure_id,period,target,actual,tolerance,override_rag,override_reason,commentary,rated_on,"
    "approved_for_publication,source_title,source_url\n"
)


def first_service_id(data: Path) -> str:
    with (data / "services" / "services.csv").open(encoding="utf-8") as handle:
        return next(csv.DictReader(handle))["service_id"]


def write_performance(data: Path, measures: list[str], results: list[str]) -> None:
    (data / "performance" / "measures.csv").write_text(MEASURES_HEADER + "".join(measures), encoding="utf-8")
    (data / "performance" / "measure_results.csv").write_text(RESULTS_HEADER + "".join(results), encoding="utf-8")


SRC = "Test report,https://example.org/test"


@pytest.fixture
def rated_data(small_data):  # noqa: F811
    service = first_service_id(small_data)
    write_performance(
        small_data,
        [
            f"test-m1,{service},Synthetic test measure one,percent,higher-is-better,Def,,{SRC}\n",
            f"test-m2,{service},Synthetic test measure two,days,lower-is-better,Def,,{SRC}\n",
        ],
        [
            f"test-m1,2025-H1,80,75,5,,,,2025-08-01,true,{SRC}\n",  # row 2: Amber, exactly at tolerance
            f"test-m1,2025-H2,80,80,5,Red,Provider data not verified,,2026-02-01,true,{SRC}\n",  # row 3: override
            f"test-m2,2025-H2,10,13,2,,,,2026-02-01,false,{SRC}\n",  # row 4: not approved
        ],
    )
    return small_data


def test_build_drops_unapproved_and_keeps_override(rated_data, tmp_path):
    out = tmp_path / "rated.db"
    built = run_build(rated_data, out)
    assert built.returncode == 0, built.stderr
    db = sqlite3.connect(out)
    assert db.execute("select measure_id, period from measure_results order by period").fetchall() == [
        ("test-m1", "2025-H1"), ("test-m1", "2025-H2")
    ]
    assert db.execute("select count(*) from ratings where measure_id = 'test-m2'").fetchone() == (0,)
    assert db.execute("select count(*) from committee_pack where measure_id = 'test-m2' and rag != 'Not measured'"
                      ).fetchone() == (0,)
    rows = db.execute(
        "select period, computed_rag, rag, rag_overridden, override_reason, rag_rule_version, direction_of_travel "
        "from ratings order by period"
    ).fetchall()
    assert rows == [
        ("2025-H1", "Amber", "Amber", 0, None, perf.RAG_RULE_VERSION, None),
        ("2025-H2", "Green", "Red", 1, "Provider data not verified", perf.RAG_RULE_VERSION, "worse"),
    ]
    assert db.execute("select rule_version from rag_rules").fetchall() == [(perf.RAG_RULE_VERSION,)]
    latest = db.execute("select period, red, services_rated from performance_periods where is_latest").fetchone()
    assert latest == ("2025-H2", 1, 1)
    # the unapproved text is not anywhere in the file (VACUUM removed the deleted pages)
    assert b"test-m2,2025-H2" not in out.read_bytes()


def test_bad_ratings_are_reported_by_file_row_column_and_nothing_changes(rated_data, tmp_path):
    out = tmp_path / "published.db"
    assert run_build(rated_data, out).returncode == 0
    before = digest(out)
    service = first_service_id(rated_data)
    write_performance(
        rated_data,
        [
            f"test-m1,{service},Synthetic test measure one,percent,higher-is-better,Def,,{SRC}\n",
            f"test-m2,no-such-service,Synthetic test measure two,days,lower-is-better,Def,,{SRC}\n",  # row 3
            f"test-m3,{service},Synthetic test measure three,days,,Def,,{SRC}\n",  # row 4: no polarity
        ],
        [
            f"test-m1,2025-H3,80,75,5,,,,2025-08-01,true,{SRC}\n",  # row 2: bad period
            f"test-m1,2025-H1,eighty,75,5,,,,2025-08-01,true,{SRC}\n",  # row 3: target not numeric
            f"test-m1,2024-H2,80,75%,5,,,,2025-08-01,true,{SRC}\n",  # row 4: actual not numeric
            f"test-m1,2024-H1,80,75,5,Green,,,2025-08-01,true,{SRC}\n",  # row 5: override without reason
            f"test-m1,2024-H1,80,70,5,,,,2025-08-01,true,{SRC}\n",  # row 6: duplicate (measure, period)
            f"test-m9,2024-H1,80,70,5,,,,2025-08-01,true,{SRC}\n",  # row 7: unknown measure
        ],
    )
    built = run_build(rated_data, out)
    assert built.returncode != 0
    m, r = "data/performance/measures.csv", "data/performance/measure_results.csv"
    expected = [
        (f"{m}:3:service_id:", "unknown reference 'no-such-service'"),
        (f"{m}:4:polarity:", "required value is missing"),
        (f"{r}:2:period:", "YYYY-H1 or YYYY-H2"),
        (f"{r}:3:target:", "is not a number"),
        (f"{r}:4:actual:", "is not a number"),
        (f"{r}:5:override_reason:", "a manual override needs a reason"),
        (f"{r}:6:measure_id:", "duplicate id: measure_id=test-m1, period=2024-H1 already used on row 5"),
        (f"{r}:7:measure_id:", "unknown reference 'test-m9'"),
    ]
    lines = built.stderr.splitlines()
    for where, reason in expected:
        assert any(line.startswith(where) and reason in line for line in lines), (where, reason, built.stderr)
    assert digest(out) == before


# --- the built databases (make build) ------------------------------------------------------------------------------


def rows(db_path: Path, sql: str, params=()) -> list[dict]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute(sql, params)]


def test_real_database_has_no_ratings_and_one_honest_period(real_db_path):
    assert rows(real_db_path, "select count(*) n from measure_results")[0]["n"] == 0
    assert rows(real_db_path, "select count(*) n from ratings")[0]["n"] == 0
    (info,) = rows(real_db_path, "select value from build_info where key='build_date'")
    build_date = dt.date.fromisoformat(info["value"])
    periods = rows(real_db_path, "select * from performance_periods")
    assert [p["period"] for p in periods] == [perf.latest_completed_period(build_date)]
    assert periods[0]["ratings"] == 0
    assert periods[0]["services_not_measured"] == periods[0]["services_in_pack"]


def test_synthetic_ratings_follow_the_rule(synthetic_db_path):
    sql = "select r.*, m.polarity as measure_polarity from ratings r join measures m using (measure_id)"
    ratings = rows(synthetic_db_path, sql)
    assert len(ratings) > 100
    for r in ratings:
        assert r["computed_rag"] == perf.compute_rag(r["target"], r["actual"], r["tolerance"], r["measure_polarity"])
        assert r["rag"] == (r["override_rag"] or r["computed_rag"])
        assert r["rag_rule_version"] == perf.RAG_RULE_VERSION
        assert bool(r["rag_overridden"]) == bool(r["override_reason"])
    assert {r["rag"] for r in ratings} == {"Red", "Amber", "Green"}
    assert {r["direction_of_travel"] for r in ratings} >= {"better", "same", "worse", None}


def test_unapproved_synthetic_ratings_never_enter_the_database(synthetic_db_path):
    source = BUILD / "synthetic_data" / "performance" / "measure_results.csv"
    with source.open(encoding="utf-8") as handle:
        supplied = list(csv.DictReader(handle))
    unapproved = {(r["measure_id"], r["period"]) for r in supplied if r["approved_for_publication"] == "false"}
    approved = {(r["measure_id"], r["period"]) for r in supplied if r["approved_for_publication"] == "true"}
    assert unapproved
    for table in ("measure_results", "ratings"):
        in_db = {(r["measure_id"], r["period"]) for r in rows(synthetic_db_path, f"select * from {table}")}
        assert in_db == approved, table
        assert not (in_db & unapproved)


def test_coverage_lists_services_without_a_latest_rating(synthetic_db_path):
    latest = rows(synthetic_db_path, "select period from performance_periods where is_latest")[0]["period"]
    rated = {r["service_id"] for r in rows(synthetic_db_path, "select * from ratings where period = ?", [latest])}
    gaps = {r["service_id"] for r in rows(
        synthetic_db_path, "select service_id from performance_coverage where gap like 'no rating%'")}
    assert gaps
    assert not (gaps & rated)
    pack = rows(synthetic_db_path, "select * from committee_pack where period = ?", [latest])
    in_pack = {r["service_id"] for r in pack}
    assert gaps == in_pack - rated


# --- pages ---------------------------------------------------------------------------------------------------------


PACK_ROWS = "//table[@id='pack-table']/tbody/tr"


class Response:
    def __init__(self, status_code: int, text: str):
        self.status_code, self.text = status_code, text

    def json(self):
        return json.loads(self.text)


def get(server: str, path: str) -> Response:
    """A plain HTTP GET against the live server (the browser tests' Playwright loop rules out datasette.client)."""
    try:
        with urllib.request.urlopen(server + path, timeout=60) as response:
            return Response(response.status, response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:  # a 4xx page still has a body to check
        return Response(error.code, error.read().decode("utf-8"))


def parse(text: str):
    return html.fromstring(text)


def test_real_committee_pack_shows_the_empty_state(live_server, real_db_path):
    (period,) = [p["period"] for p in rows(real_db_path, "select period from performance_periods")]
    response = get(live_server, "/performance/committee-pack")
    assert response.status_code == 200
    assert f"No ratings published yet for period {period}." in response.text
    doc = parse(response.text)
    assert {tr.get("data-rag") for tr in doc.xpath(PACK_ROWS)} == {"Not measured"}
    overview = get(live_server, "/performance")
    assert f"No ratings published yet for period {period}." in overview.text
    assert "measure_results.csv" in overview.text


def test_synthetic_committee_pack_html_and_csv_match_the_rows(live_server, synthetic_db_path):
    periods = [p["period"] for p in rows(synthetic_db_path, "select * from performance_periods order by period_start")]
    period = periods[-2]
    expected = [
        (r["service_id"], r["measure_id"] or "", r["rag"])
        for r in rows(synthetic_db_path, "select * from committee_pack where period = ? order by rowid", [period])
    ]
    response = get(live_server, f"/performance/committee-pack?db=synthetic_demo&period={period}")
    assert response.status_code == 200
    doc = parse(response.text)
    shown = [(tr.get("data-service-id"), tr.get("data-measure-id"), tr.get("data-rag"))
             for tr in doc.xpath(PACK_ROWS)]
    assert shown == expected
    words = [tr.xpath(".//span[contains(@class, 'rag ')]")[0].text_content().strip() for tr in doc.xpath(PACK_ROWS)]
    assert words == [rag for _, _, rag in expected]  # the word is always there, not only a colour
    spans = doc.xpath("//ul[@id='rag-counts']//span[@class='count']")
    counts = {span.get("data-count"): int(span.text_content()) for span in spans}
    assert counts["green"] == sum(1 for e in expected if e[2] == "Green")
    assert counts["red"] == sum(1 for e in expected if e[2] == "Red")
    assert counts["amber"] == sum(1 for e in expected if e[2] == "Amber")
    rated = {e[0] for e in expected if e[2] != "Not measured"}
    assert counts["not-measured"] == len({e[0] for e in expected} - rated)
    csv_href = doc.xpath("//a[@id='pack-csv']")[0].get("href")
    download = get(live_server, csv_href)
    assert download.status_code == 200
    table = list(csv.DictReader(download.text.splitlines()))
    assert [(r["service_id"], r["measure_id"], r["rag"]) for r in table] == expected
    assert {r["period"] for r in table} == {period}
    query = get(live_server, f"/synthetic_demo/committee_pack_for_period.json?period={period}&_shape=array")
    assert len(query.json()) == len(expected)


def test_bad_period_in_the_address_is_a_400_that_still_shows_the_latest_pack(live_server):
    response = get(live_server, "/performance/committee-pack?db=synthetic_demo&period=2025-Q3")
    assert response.status_code == 400
    assert "Showing the latest period instead" in response.text
    assert "not a period in YYYY-H1 or YYYY-H2 form" in response.text


def test_service_history_shows_rag_and_direction(live_server, synthetic_db_path):
    (worse,) = rows(synthetic_db_path, "select * from ratings where direction_of_travel = 'worse' limit 1")
    response = get(live_server, f"/performance/service?db=synthetic_demo&service_id={worse['service_id']}")
    doc = parse(response.text)
    table = doc.xpath(f"//table[@data-measure-id='{worse['measure_id']}']")[0]
    sql = "select * from ratings where measure_id = ? order by period_start"
    history = rows(synthetic_db_path, sql, [worse["measure_id"]])
    shown = [(tr.get("data-period"), tr.get("data-rag"), tr.get("data-direction")) for tr in table.xpath("./tbody/tr")]
    assert shown == [(h["period"], h["rag"], h["direction_of_travel"] or "") for h in history]
    row = table.xpath(f"./tbody/tr[@data-period='{worse['period']}']")[0]
    assert "Worse" in row.text_content() and worse["rag"] in row.text_content()


def test_overview_lists_the_coverage_gaps(live_server, synthetic_db_path):
    gaps = [r["service_id"] for r in rows(
        synthetic_db_path, "select service_id from performance_coverage where gap is not null order by service_name")]
    response = get(live_server, "/performance?db=synthetic_demo")
    doc = parse(response.text)
    assert [tr.get("data-service-id") for tr in doc.xpath("//table[@id='coverage-table']/tbody/tr")] == gaps
    assert "perf-chart-data" in response.text


def test_real_service_page_says_no_measures_and_homepage_links_here(live_server, real_db_path):
    (service,) = rows(real_db_path, "select service_id, name from services order by service_id limit 1")
    response = get(live_server, f"/performance/service?service_id={service['service_id']}")
    assert "No performance measures published yet for this service" in response.text
    assert service["name"] in parse(response.text).xpath("string(//main//h1)")
    unknown = get(live_server, "/performance/service?service_id=no-such-service")
    assert "There is no service with the identifier no-such-service" in unknown.text
    home = parse(get(live_server, "/").text)
    assert home.xpath("//ul[@class='start-grid']//a[@href='/performance']")


def test_rag_cells_in_table_pages_have_word_and_shape(live_server, synthetic_db_path):
    (rating,) = rows(synthetic_db_path, "select rowid, rag from ratings limit 1")
    doc = parse(get(live_server, f"/synthetic_demo/ratings?_size=5&rag={rating['rag']}").text)
    cells = doc.xpath("//td[contains(@class, 'col-rag ')]//span[@class='rag']")
    assert cells
    assert all(c.text_content() == rating["rag"] and c.xpath(".//svg") for c in cells)
    exported = get(live_server, f"/synthetic_demo/ratings.csv?_size=5&rag={rating['rag']}").text
    assert "<svg" not in exported
