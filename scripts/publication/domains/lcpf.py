"""London Crime Prevention Fund allocations, consultation and formula options (issue 7).

- RULES: cross-file checks of data/lcpf/*.csv (financial year form, City of London not in the fund, borough name
  matches its code, formula weights add up to 1).
- derive(): `lcpf_borough_need` (each of the 32 MPS boroughs per financial year: population, recorded crime,
  violence, shares of London), views `lcpf_allocation_comparison` and `lcpf_crime_share_trend`.
- model_allocations(): the what-if formula, a pure function used by the explorer page (plugins/lcpf_pages.py).
- synthesize(): invented allocations for all 32 boroughs, consultation events and formula options for the demo.

"London" in every share means the 32 boroughs the Metropolitan Police covers. The City of London has its own
police force, so it is absent from MPS recorded crime, and it is not one of the 32 boroughs the LCPF funds: it is
left out of every crime-based figure and ranking, never shown as zero.
"""

from __future__ import annotations

import re

from scripts.common.lcpf import CITY_OF_LONDON

from ..package import Problem

COMPONENTS = ["Direct borough award", "Co-commissioned share"]
SYNTHETIC_URL = "https://example.org/synthetic"


def financial_year(start: int) -> str:
    return f"{start}/{str(start + 1)[-2:]}"


def fy_start(label: str) -> int:
    return int(label[:4])


# ---------------------------------------------------------------- validation rules


def _check_allocations(tables) -> list[Problem]:
    table = tables.get("lcpf_allocations")
    boroughs = tables.get("boroughs")
    if table is None:
        return []
    names = {row["gss_code"]: row["name"] for _, row in boroughs.rows} if boroughs else {}
    where = table.resource.display_path
    problems = []
    for number, row in table.rows:
        year = row.get("financial_year")
        if year and re.fullmatch(r"\d{4}/\d{2}", year) and year != financial_year(fy_start(year)):
            problems.append(Problem(where, number, "financial_year",
                                    f"{year!r} is not one financial year: write {financial_year(fy_start(year))}"))
        code = row.get("gss_code")
        if code == CITY_OF_LONDON:
            problems.append(Problem(where, number, "gss_code",
                                    "the City of London is not one of the 32 boroughs the LCPF allocates to"))
        elif code in names and row.get("borough") and row["borough"] != names[code]:
            problems.append(Problem(where, number, "borough",
                                    f"{row['borough']!r} does not match {code}, which is {names[code]!r}"))
    return problems


def _check_formula_options(tables) -> list[Problem]:
    table = tables.get("lcpf_formula_options")
    if table is None:
        return []
    where = table.resource.display_path
    problems = []
    keys = ["weight_population", "weight_total_crime", "weight_violence", "weight_other"]
    for number, row in table.rows:
        weights = [row.get(k) for k in keys]
        if any(w is not None for w in weights):
            total = sum(w or 0 for w in weights)
            if abs(total - 1) > 0.001:
                problems.append(Problem(where, number, "weight_population",
                                        f"weights add up to {total:g}; give them as fractions that add up to 1"))
    return problems


def _check_consultation(tables) -> list[Problem]:
    table = tables.get("lcpf_consultation")
    if table is None:
        return []
    where = table.resource.display_path
    return [Problem(where, number, "gss_code", "the City of London is not one of the 32 boroughs the LCPF allocates to")
            for number, row in table.rows if row.get("gss_code") == CITY_OF_LONDON]


RULES = [_check_allocations, _check_formula_options, _check_consultation]

# ---------------------------------------------------------------- derived tables and views

NEED_TABLE = """
CREATE TABLE lcpf_borough_need AS
WITH monthly AS (
  SELECT gss_code,
    CAST(substr(month, 1, 4) AS INTEGER) - (CAST(substr(month, 6, 2) AS INTEGER) < 4) AS fy_start,
    COUNT(*) AS months_covered,
    SUM(total_recorded_crime) AS total_recorded_crime,
    SUM(violence_against_the_person) AS violence_against_the_person
  FROM crime_monthly
  WHERE gss_code IS NOT NULL AND gss_code != 'E09000001'
  GROUP BY gss_code, fy_start
), joined AS (
  SELECT m.fy_start || '/' || substr(CAST(m.fy_start + 1 AS TEXT), 3, 2) AS financial_year,
    m.gss_code, b.name AS borough, b.inner_outer, m.months_covered,
    CASE WHEN m.fy_start < 2016 THEN 'Census 2011' ELSE 'Census 2021' END AS population_denominator,
    CASE WHEN m.fy_start < 2016 THEN p.census_2011_population ELSE p.census_2021_population END AS population,
    m.total_recorded_crime, m.violence_against_the_person
  FROM monthly m
  JOIN boroughs b ON b.gss_code = m.gss_code
  JOIN borough_population p ON p.gss_code = m.gss_code
)
SELECT financial_year, gss_code, borough, inner_outer, months_covered, population_denominator, population,
  total_recorded_crime, violence_against_the_person,
  ROUND(100.0 * population / SUM(population) OVER w, 3) AS pct_of_london_population,
  ROUND(100.0 * total_recorded_crime / SUM(total_recorded_crime) OVER w, 3) AS pct_of_london_crime,
  ROUND(100.0 * violence_against_the_person / SUM(violence_against_the_person) OVER w, 3) AS pct_of_london_violence,
  ROUND(1000.0 * total_recorded_crime / population, 2) AS crimes_per_1000_residents,
  RANK() OVER (PARTITION BY financial_year ORDER BY 1.0 * total_recorded_crime / population DESC)
    AS crime_rate_rank
FROM joined
WINDOW w AS (PARTITION BY financial_year)
ORDER BY financial_year, gss_code
"""

COMPARISON_VIEW = """
CREATE VIEW lcpf_allocation_comparison AS
WITH a AS (
  SELECT financial_year, gss_code, SUM(amount_gbp) AS allocation_gbp,
    SUM(CASE WHEN component = 'Direct borough award' THEN amount_gbp END) AS direct_borough_award_gbp,
    SUM(CASE WHEN component = 'Co-commissioned share' THEN amount_gbp END) AS co_commissioned_share_gbp,
    COUNT(*) AS published_rows
  FROM lcpf_allocations
  GROUP BY financial_year, gss_code
), k AS (
  SELECT financial_year, COUNT(*) AS boroughs_published, SUM(allocation_gbp) AS published_total_gbp
  FROM a GROUP BY financial_year
)
SELECT a.financial_year, a.gss_code, b.name AS borough, b.inner_outer,
  a.allocation_gbp, a.direct_borough_award_gbp, a.co_commissioned_share_gbp,
  n.population_denominator, n.population, n.months_covered, n.total_recorded_crime, n.violence_against_the_person,
  ROUND(1000.0 * a.allocation_gbp / n.population, 2) AS gbp_per_1000_residents,
  ROUND(1000.0 * a.allocation_gbp / n.total_recorded_crime, 2) AS gbp_per_1000_crimes,
  k.boroughs_published,
  CASE WHEN k.boroughs_published = 32 THEN ROUND(100.0 * a.allocation_gbp / k.published_total_gbp, 3) END
    AS pct_of_fund,
  n.pct_of_london_population, n.pct_of_london_crime, n.pct_of_london_violence,
  CASE WHEN k.boroughs_published = 32
    THEN ROUND(100.0 * a.allocation_gbp / k.published_total_gbp - n.pct_of_london_crime, 3) END
    AS fund_minus_crime_pct_points
FROM a
JOIN k ON k.financial_year = a.financial_year
JOIN boroughs b ON b.gss_code = a.gss_code
LEFT JOIN lcpf_borough_need n ON n.gss_code = a.gss_code AND n.financial_year = a.financial_year
"""

TREND_VIEW = """
CREATE VIEW lcpf_crime_share_trend AS
SELECT gss_code, borough, inner_outer, year, total_recorded_crime, violence_against_the_person,
  ROUND(100.0 * total_recorded_crime / SUM(total_recorded_crime) OVER (PARTITION BY year), 3) AS pct_of_london_crime,
  ROUND(100.0 * violence_against_the_person / SUM(violence_against_the_person) OVER (PARTITION BY year), 3)
    AS pct_of_london_violence
FROM borough_crime_rates
WHERE months_covered = 12
"""


def derive(db, context) -> None:
    db.execute(NEED_TABLE)
    db["lcpf_borough_need"].create_index(["financial_year", "gss_code"], unique=True)
    db.execute(COMPARISON_VIEW)
    db.execute(TREND_VIEW)


# ---------------------------------------------------------------- the what-if model


# ---------------------------------------------------------------- queries used by the pages


# ---------------------------------------------------------------- synthetic demo rows


def synthesize(rng, size, context):
    boroughs = [b for b in context.boroughs if b["gss_code"] != CITY_OF_LONDON]
    allocations = []
    base = {b["gss_code"]: rng.uniform(250_000, 650_000) for b in boroughs}
    for start in range(2017, 2025):
        for b in sorted(boroughs, key=lambda b: b["gss_code"]):
            # "no borough sees a reduction": the synthetic direct award only ever rises a little
            base[b["gss_code"]] *= 1 + rng.uniform(0, 0.04)
            direct = round(base[b["gss_code"]])
            parts = [("Direct borough award", direct)]
            if start >= 2018:
                parts.append(("Co-commissioned share", round(direct * rng.uniform(0.35, 0.5))))
            for component, amount in parts:
                allocations.append({
                    "allocation_id": len(allocations) + 1,
                    "financial_year": financial_year(start),
                    "gss_code": b["gss_code"],
                    "borough": b["name"],
                    "component": component,
                    "amount_gbp": amount,
                    "amount_as_stated": f"£{amount:,} (synthetic)",
                    "notes": "Synthetic allocation for the demo database.",
                    "source_title": "Synthetic data (scripts/generate_synthetic.py)",
                    "source_url": SYNTHETIC_URL,
                })
    consultation = [
        {
            "consultation_id": i,
            "consultation_date": f"2024-{2 + i:02d}-{10 + i:02d}",
            "consulted": f"Synthetic consultee group {i}",
            "gss_code": "",
            "role": rng.choice(["Community safety leads", "Chief executives", "Cabinet members"]),
            "format": rng.choice(["Workshop", "Written consultation", "Meeting"]),
            "options_presented": "Synthetic option A; Synthetic option B",
            "feedback_summary": "Synthetic feedback for the demo database.",
            "source_title": "Synthetic data (scripts/generate_synthetic.py)",
            "source_url": SYNTHETIC_URL,
        }
        for i in range(1, 4)
    ]
    options = []
    for i, (name, pop, crime, violence) in enumerate(
        [("Synthetic option A", 0.5, 0.5, 0.0), ("Synthetic option B", 0.2, 0.4, 0.4), ("Synthetic option C", 1, 0, 0)],
        start=1,
    ):
        options.append({
            "option_id": i, "option": name, "description": "Synthetic formula option for the demo database.",
            "weight_population": pop, "weight_total_crime": crime, "weight_violence": violence, "weight_other": "",
            "other_indicators": "", "floor_gbp": 150_000 if i == 2 else "", "status": ["explored", "rejected",
                                                                                      "under consideration"][i - 1],
            "status_date": "2024-06-30", "source_title": "Synthetic data (scripts/generate_synthetic.py)",
            "source_url": SYNTHETIC_URL,
        })
    return {"lcpf_allocations": allocations, "lcpf_consultation": consultation, "lcpf_formula_options": options}


# ---------------------------------------------------------------- page contexts (plugins/lcpf_pages.py)


