"""The VRU programme page: money by year and borough, areas, KPIs, reach and cost-benefit of one programme.
Reads only the built database (tables made by scripts/publication/domains/vru.py; small reach counts are already
suppressed there)."""

from __future__ import annotations

import sqlite3

from scripts.common.vru import SUPPRESSION_THRESHOLD


def programme_profile(conn: sqlite3.Connection, programme: str) -> dict | None:
    """Everything the programme page shows, from one database; None if the programme does not exist."""
    def rows(sql, *params):
        cursor = conn.cursor()  # its own row factory: Datasette's connection keeps plugins/sql_limits.py's
        cursor.row_factory = sqlite3.Row
        return [dict(r) for r in cursor.execute(sql, params).fetchall()]

    found = rows("SELECT * FROM vru_programmes WHERE programme = ?", programme)
    if not found:
        return None
    funding = rows(
        """SELECT f.*, b.name AS borough FROM vru_funding f LEFT JOIN boroughs b ON b.gss_code = f.gss_code
           WHERE f.programme = ? ORDER BY f.financial_year IS NULL, f.financial_year, f.funding_id""",
        programme,
    )
    by_year = rows(
        """SELECT financial_year, sum(amount_gbp) AS amount_gbp, count(*) AS rows FROM vru_funding
           WHERE programme = ? AND financial_year IS NOT NULL GROUP BY financial_year ORDER BY financial_year""",
        programme,
    )
    areas = rows(
        """SELECT a.phase, a.gss_code, b.name AS borough, a.area_note, a.period_as_stated, a.source_title, a.source_url
           FROM vru_programme_areas a JOIN boroughs b ON b.gss_code = a.gss_code
           WHERE a.programme = ? ORDER BY a.phase, b.name""",
        programme,
    )
    funded_boroughs = sorted({f["borough"] for f in funding if f["borough"]})
    kpis = rows("SELECT * FROM vru_kpis WHERE programme = ? ORDER BY kpi, period", programme)
    # One row per measure and period as published: counts of different things (young people, referrals,
    # completions) are never added together; split counts of one measure (by borough, age, sex) are.
    reach = rows(
        """SELECT coalesce(measure, 'people engaged') AS measure, coalesce(period_as_stated, period) AS period,
             sum(people_engaged) AS people_published, group_concat(DISTINCT figure_as_stated) AS figure_as_stated,
             sum(suppressed) AS cells_suppressed, count(*) AS cells, min(source_title) AS source_title,
             min(source_url) AS source_url
           FROM vru_reach WHERE programme = ? GROUP BY 1, 2 ORDER BY min(period) IS NULL, min(period), 1, 2""",
        programme,
    )
    cost_benefit = rows("SELECT * FROM cost_benefit WHERE programme = ? ORDER BY period", programme)
    return {
        "programme": found[0],
        "funding": funding,
        "money_by_year": by_year,
        "money_without_year": sum(f["amount_gbp"] for f in funding if not f["financial_year"]),
        "areas": areas,
        "area_groups": group_areas(areas),
        "area_phases": sorted({a["phase"] for a in areas}),
        "funded_boroughs": funded_boroughs,
        "kpis": kpis,
        "reach": reach,
        "cost_benefit": cost_benefit,
        "threshold": SUPPRESSION_THRESHOLD,
    }


def group_areas(areas: list[dict]) -> list[dict]:
    """Areas that share phase, note, period and source become one row listing their boroughs (in the given order)."""
    groups: dict[tuple, dict] = {}
    for area in areas:
        key = (area["phase"], area["area_note"], area["period_as_stated"], area["source_url"])
        group = groups.setdefault(key, {**{k: area[k] for k in ("phase", "area_note", "period_as_stated",
                                                                "source_title", "source_url")}, "boroughs": []})
        group["boroughs"].append({"gss_code": area["gss_code"], "name": area["borough"]})
    return list(groups.values())


def money(amount) -> str:
    """£ with thousands separators; pence only when the source states them."""
    if amount is None:
        return ""
    return f"£{amount:,.2f}" if round(amount, 2) != round(amount) else f"£{amount:,.0f}"


