"""VRU dashboard data: funding, programme areas, reach, KPIs, cost-benefit (issue 6).

Real side (data/vru/): `vru_funding` and `vru_programme_areas` hold only figures and areas that a funding decision row
states (each row names its `record_id`); `vru_reach`, `vru_kpis` and `cost_benefit` are header-only templates because
the VRU does not publish them. The synthetic demo fills all five through `synthesize`.

Small-count suppression: reach counts (and KPI actuals counted in people) below SUPPRESSION_THRESHOLD are removed at
build, so no published count can identify a handful of young people. The source CSVs should already be suppressed
before they are committed; the build enforces it again and `check` refuses to publish a database that breaks it.
"""

from __future__ import annotations

import re

from scripts.common.vru import SUPPRESSION_THRESHOLD

from ..package import Problem

# Counts of 0 to 9 people are not published (a common threshold in UK official statistics on young people).
# Relative tolerance when a stated ratio or cost per participant is checked against the stated figures (rounding).
TOLERANCE = 0.02
SYNTHETIC_URL = "https://example.org/synthetic"
FY_RE = re.compile(r"(\d{4})/(\d{2})")


# ---- validation -------------------------------------------------------------------------------------------------


def _rows(tables, name):
    table = tables.get(name)
    return (table.resource.display_path, table.rows) if table is not None else ("", [])


def check_financial_years(tables) -> list[Problem]:
    """YYYY/YY must name consecutive years (2023/24, not 2023/25)."""
    problems = []
    for name, column in [("vru_funding", "financial_year"), ("vru_reach", "period"), ("vru_kpis", "period")]:
        where, rows = _rows(tables, name)
        for row_number, row in rows:
            value = row.get(column)
            match = FY_RE.fullmatch(value or "")
            if match and (int(match.group(1)) + 1) % 100 != int(match.group(2)):
                problems.append(
                    Problem(
                        where,
                        row_number,
                        column,
                        f"{value!r} is not a financial year: the second year must follow the first",
                    )
                )
    return problems


def check_cost_benefit(tables) -> list[Problem]:
    """A benefit-cost ratio needs its method and assumptions; stated figures must agree with each other."""
    where, rows = _rows(tables, "cost_benefit")
    problems = []
    for row_number, row in rows:
        ratio = row.get("benefit_cost_ratio")
        if ratio is not None:
            for column in ("method", "assumptions"):
                if not (row.get(column) or "").strip():
                    problems.append(
                        Problem(
                            where,
                            row_number,
                            column,
                            f"required when benefit_cost_ratio is given: state the {column} behind the ratio",
                        )
                    )
        cost, benefit, people = row.get("cost_gbp"), row.get("estimated_benefit_gbp"), row.get("participants")
        if ratio is not None and cost and benefit is not None and not _close(benefit / cost, ratio):
            problems.append(
                Problem(
                    where,
                    row_number,
                    "benefit_cost_ratio",
                    f"{ratio} does not match estimated_benefit_gbp / cost_gbp = {benefit / cost:.2f}",
                )
            )
        per_person = row.get("cost_per_participant_gbp")
        if per_person is not None and cost is not None and people and not _close(cost / people, per_person):
            problems.append(
                Problem(
                    where,
                    row_number,
                    "cost_per_participant_gbp",
                    f"{per_person} does not match cost_gbp / participants = {cost / people:.2f}",
                )
            )
    return problems


def check_reach_counts(tables) -> list[Problem]:
    """A reach row without a count says nothing (the column is nullable in the database only for suppression)."""
    where, rows = _rows(tables, "vru_reach")
    return [
        Problem(where, row_number, "people_engaged", "required value is missing")
        for row_number, row in rows
        if row.get("people_engaged") is None
    ]


def check_funding_within_decisions(tables) -> list[Problem]:
    """The VRU money taken from one funding decision row may not add up to more than that row's amount."""
    where, rows = _rows(tables, "vru_funding")
    _, decisions = _rows(tables, "funding_decisions")
    amounts = {row.get("record_id"): row.get("amount_gbp") for _, row in decisions}
    totals: dict[int, float] = {}
    problems = []
    for row_number, row in rows:
        record, amount = row.get("record_id"), row.get("amount_gbp")
        if record is None or amount is None or amounts.get(record) is None:
            continue
        totals[record] = totals.get(record, 0) + amount
        if totals[record] > amounts[record] + 0.005:
            problems.append(
                Problem(
                    where,
                    row_number,
                    "amount_gbp",
                    f"rows for record_id {record} add up to {totals[record]:,.2f}, "
                    f"more than the decision's {amounts[record]:,.2f}",
                )
            )
    return problems


def _close(computed: float, stated: float) -> bool:
    return abs(computed - stated) <= max(0.01, TOLERANCE * abs(stated))


RULES = [check_financial_years, check_cost_benefit, check_reach_counts, check_funding_within_decisions]


# ---- build ------------------------------------------------------------------------------------------------------

MONEY_AND_VIOLENCE_VIEW = """
CREATE VIEW vru_money_and_violence AS
SELECT r.gss_code, r.borough, r.year, r.months_covered, r.violence_against_the_person, r.population,
  r.violence_per_1000_residents,
  (SELECT sum(f.amount_gbp) FROM vru_funding f
     WHERE f.gss_code = r.gss_code AND substr(f.financial_year, 1, 4) = CAST(r.year AS TEXT)) AS vru_money_gbp
FROM borough_crime_rates r
"""


def suppress(db) -> None:
    """Blank every reach count, and every KPI actual counted in people, below the threshold; flag the rows."""
    conn = db.conn if hasattr(db, "conn") else db
    for table, column, where in [
        ("vru_reach", "people_engaged", "1 = 1"),
        ("vru_kpis", "actual", "unit = 'people'"),
    ]:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0")
        conn.execute(
            f"UPDATE {table} SET {column} = NULL, suppressed = 1 WHERE {where} AND {column} < ?",
            (SUPPRESSION_THRESHOLD,),
        )


def derive(db, context) -> None:
    conn = db.conn
    suppress(db)
    conn.execute("ALTER TABLE vru_kpis ADD COLUMN met_target INTEGER")
    conn.execute(
        """UPDATE vru_kpis SET met_target = CASE
             WHEN actual IS NULL OR target IS NULL THEN NULL
             WHEN direction = 'higher is better' THEN actual >= target
             ELSE actual <= target END"""
    )
    conn.execute(MONEY_AND_VIOLENCE_VIEW)


def check(db, context=None) -> list[Problem]:
    conn = db.conn if hasattr(db, "conn") else db
    problems = []
    for table, column, where in [("vru_reach", "people_engaged", "1 = 1"), ("vru_kpis", "actual", "unit = 'people'")]:
        rows = conn.execute(
            f"SELECT rowid FROM {table} WHERE {where} AND {column} IS NOT NULL AND {column} < ?",
            (SUPPRESSION_THRESHOLD,),
        ).fetchall()
        for (rowid,) in rows:
            problems.append(
                Problem(
                    table,
                    rowid,
                    column,
                    f"count below the suppression threshold {SUPPRESSION_THRESHOLD} would be published",
                )
            )
    return problems


# ---- the programme page -----------------------------------------------------------------------------------------


# ---- synthetic demo ---------------------------------------------------------------------------------------------

AGE_BANDS = ["10-14", "15-17", "18-24"]
SEXES = ["Female", "Male"]
PERIODS = ["2021/22", "2022/23", "2023/24", "2024/25"]


def _fy(start: int) -> str:
    return f"{start}/{str(start + 1)[-2:]}"


def synthesize(rng, size, context):
    programmes = [p["programme"] for p in context.produced.get("vru_programmes", [])]
    boroughs = [b for b in context.boroughs if b["gss_code"] != "E09000001"]
    source = {"source_title": "Synthetic data (scripts/publication/domains/vru.py)", "source_url": SYNTHETIC_URL}
    funding, areas, reach, kpis, analyses = [], [], [], [], []
    per_programme = max(3, min(10, size // 40))
    for index, programme in enumerate(programmes):
        chosen = rng.sample(boroughs, per_programme)
        for borough in chosen:
            for start in range(2019, 2026):
                if rng.random() < 0.55:
                    amount = round(rng.uniform(20_000, 600_000), -3)
                    funding.append(
                        {
                            "programme": programme,
                            "gss_code": borough["gss_code"],
                            "financial_year": _fy(start),
                            "period_as_stated": _fy(start),
                            "amount_gbp": amount,
                            "amount_as_stated": f"£{amount:,.0f} (synthetic)",
                            "record_id": None,
                            "note": "Synthetic row.",
                            **source,
                        }
                    )
        for start in range(2019, 2026):
            amount = round(rng.uniform(100_000, 2_000_000), -3)
            funding.append(
                {
                    "programme": programme,
                    "gss_code": "",
                    "financial_year": _fy(start),
                    "period_as_stated": _fy(start),
                    "amount_gbp": amount,
                    "amount_as_stated": f"£{amount:,.0f} (synthetic)",
                    "record_id": None,
                    "note": "Synthetic London-wide row.",
                    **source,
                }
            )
        if index < 3:
            for phase, picks in [
                ("Synthetic round 1", chosen[: max(2, len(chosen) // 2)]),
                ("Synthetic round 2", chosen),
            ]:
                for borough in picks:
                    areas.append(
                        {
                            "programme": programme,
                            "phase": phase,
                            "gss_code": borough["gss_code"],
                            "area_note": "Synthetic neighbourhood network.",
                            "period_as_stated": "synthetic",
                            "record_id": None,
                            **source,
                        }
                    )
        for borough in chosen[:4]:
            for period in PERIODS[1:]:
                for age in AGE_BANDS:
                    for sex in SEXES:
                        count = rng.randint(0, 9) if rng.random() < 0.25 else rng.randint(10, 400)
                        reach.append(
                            {
                                "programme": programme,
                                "gss_code": borough["gss_code"],
                                "period": period,
                                "age_band": age,
                                "sex": sex,
                                "ethnicity": "All",
                                "people_engaged": count,
                                **source,
                            }
                        )
        for kpi, unit, direction in [
            ("Young people engaged", "people", "higher is better"),
            ("Completed the programme", "percent", "higher is better"),
            ("Re-arrested within 12 months", "percent", "lower is better"),
        ]:
            for period in PERIODS:
                target = rng.choice([200, 400, 800]) if unit == "people" else rng.choice([25, 40, 60, 75])
                actual = round(target * rng.uniform(0.6, 1.3), 0 if unit == "people" else 1)
                if unit == "people" and rng.random() < 0.1:
                    actual = rng.randint(0, 9)
                kpis.append(
                    {
                        "programme": programme,
                        "kpi": f"Synthetic KPI: {kpi}",
                        "period": period,
                        "unit": unit,
                        "direction": direction,
                        "target": target,
                        "actual": actual,
                        "note": "",
                        **source,
                    }
                )
        if index < 6:
            cost = round(rng.uniform(200_000, 3_000_000), -3)
            people = rng.randint(150, 2500)
            row = {
                "programme": programme,
                "period": "2022/23-2023/24",
                "cost_gbp": cost,
                "participants": people,
                "cost_per_participant_gbp": round(cost / people, 2),
                "estimated_benefit_gbp": None,
                "benefit_cost_ratio": None,
                "method": "",
                "assumptions": "",
                **source,
            }
            if index < 4:
                benefit = round(cost * rng.uniform(0.8, 4.5), -3)
                row.update(
                    {
                        "estimated_benefit_gbp": benefit,
                        "benefit_cost_ratio": round(benefit / cost, 2),
                        "method": "Synthetic method: offences avoided among participants against a matched "
                        "comparison group, valued with Home Office unit costs of crime.",
                        "assumptions": "Synthetic assumptions: effect lasts two years; no displacement; 2023 prices.",
                    }
                )
            analyses.append(row)
    for key, rows in [
        ("funding_id", funding),
        ("area_id", areas),
        ("reach_id", reach),
        ("kpi_id", kpis),
        ("analysis_id", analyses),
    ]:
        for i, row in enumerate(rows, 1):
            row[key] = i
    return {
        "vru_funding": funding,
        "vru_programme_areas": areas,
        "vru_reach": reach,
        "vru_kpis": kpis,
        "cost_benefit": analyses,
    }


