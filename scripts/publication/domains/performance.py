"""Performance measures and RAG ratings every six months, and the Committee pack (issue 5).

Sources: `measures` (one row per measure of a service) and `measure_results` (one row per measure and six-month
period). Only results with approved_for_publication = true enter the database. derive() computes the RAG rating by
one documented rule (RAG_RULE_VERSION, RAG_RULE_TEXT) and builds:

- `rag_rules`: the rule's version and wording;
- `ratings`: every published result with its computed RAG, the published RAG (override or computed), the rule
  version, and the direction of travel against the previous six-month period;
- `performance_periods`: the periods with counts of Red/Amber/Green and of services with no rating ("not measured");
  when nothing is published yet it holds the latest completed period at the build date, with zero ratings;
- `committee_pack`: per period, every service active in it (or rated in it) with provider, funding, dates, duration,
  each measure, target, actual, RAG and commentary ("Not measured" where there is no published rating);
- `performance_coverage`: every service with its number of measures and ratings in the latest period, and the gap.

Periods are calendar halves: YYYY-H1 = 1 January to 30 June, YYYY-H2 = 1 July to 31 December.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter

from scripts.common.performance import NOT_MEASURED, duration_months, parse_period

from ..package import Problem

RAG_RULE_VERSION = "rag-v1"
RAG_RULE_TEXT = (
    "Green when the actual is on or better than the target; Amber when it is worse than the target by no more than "
    "the tolerance; Red when it is worse than the target by more than the tolerance. 'Better' means higher for "
    "higher-is-better measures and lower for lower-is-better measures. Tolerance is in the measure's unit. "
    "Compared as decimals, so a value exactly on the target or exactly at the tolerance is Green or Amber respectively."
)
RAG_RANK = {"Red": 0, "Amber": 1, "Green": 2}
POLARITIES = ("higher-is-better", "lower-is-better")
RESULTS_FILE = "measure_results"


# --- the rule ------------------------------------------------------------------------------------------------------


def _decimal(value) -> Decimal:
    # repr() of a float parsed from the CSV is the shortest text that round-trips, i.e. the number as written.
    return Decimal(repr(float(value))) if not isinstance(value, Decimal) else value


# A float margin larger than this share of the operands' magnitudes has the same sign as the exact decimal margin
# (float rounding and repr() each move a value by well under 1e-15 of its size); closer margins use decimals.
_FAST_MARGIN = 1e-9


def compute_rag(target, actual, tolerance, polarity: str) -> str:
    """The RAG rating under RAG_RULE_VERSION. Raises ValueError for an unknown polarity or a negative tolerance."""
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}, not {polarity!r}")
    if type(target) in (int, float) and type(actual) in (int, float) and type(tolerance) in (int, float):
        # Fast path, same answers: comparing two floats orders them as their decimal texts would, and a margin
        # clearly away from zero cannot change sign in decimal arithmetic.
        t, a, tol = float(target), float(actual), float(tolerance)
        size = abs(t) + abs(a) + abs(tol)
        if tol >= 0 and math.isfinite(size):
            if (a >= t) if polarity == "higher-is-better" else (a <= t):
                return "Green"
            margin = (t - a if polarity == "higher-is-better" else a - t) - tol
            if abs(margin) > _FAST_MARGIN * size:
                return "Amber" if margin < 0 else "Red"
    target, actual, tolerance = _decimal(target), _decimal(actual), _decimal(tolerance)
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    shortfall = target - actual if polarity == "higher-is-better" else actual - target
    if shortfall <= 0:
        return "Green"
    if shortfall <= tolerance:
        return "Amber"
    return "Red"


def published_rag(computed: str, override: str | None) -> str:
    return override or computed


def direction_of_travel(previous_rag: str | None, rag: str) -> str | None:
    """better / same / worse than the previous period's published rating; None when there is none."""
    if previous_rag is None:
        return None
    change = RAG_RANK[rag] - RAG_RANK[previous_rag]
    return "better" if change > 0 else "worse" if change < 0 else "same"


# --- periods -------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def period_bounds(period: str) -> tuple[str, str]:
    year, half = parse_period(period)
    if half == 1:
        return f"{year}-01-01", f"{year}-06-30"
    return f"{year}-07-01", f"{year}-12-31"


@lru_cache(maxsize=4096)
def previous_period(period: str) -> str:
    year, half = parse_period(period)
    return f"{year}-H1" if half == 2 else f"{year - 1}-H2"


def next_period(period: str) -> str:
    year, half = parse_period(period)
    return f"{year}-H2" if half == 1 else f"{year + 1}-H1"


def latest_completed_period(today: dt.date) -> str:
    """The six-month period that ended most recently before `today`."""
    if today.month >= 7:
        return f"{today.year}-H1"
    return f"{today.year - 1}-H2"


# --- validation ----------------------------------------------------------------------------------------------------


def override_needs_reason(tables) -> list[Problem]:
    results = tables.get(RESULTS_FILE)
    if results is None:
        return []
    where = results.resource.display_path
    problems = []
    for row_number, override, reason in results.select("override_rag", "override_reason"):
        reason = (reason or "").strip()
        if override and not reason:
            problems.append(Problem(
                where, row_number, "override_reason",
                f"override_rag is {override!r} but override_reason is empty: a manual override needs a reason",
            ))
        if reason and not override:
            problems.append(Problem(
                where, row_number, "override_rag",
                "override_reason is given but override_rag is empty: give the overriding rating or remove the reason",
            ))
    return problems


RULES = [override_needs_reason]


# --- derived tables ------------------------------------------------------------------------------------------------


def _rows(db, sql: str, params=()) -> list[dict]:
    cursor = db.execute(sql, params)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def build_ratings(results: list[dict], polarity_of: dict[str, str]) -> list[dict]:
    """Computed and published RAG with direction of travel, for approved result rows (dicts of measure_results)."""
    published = {}
    rows = []
    for r in sorted(results, key=lambda r: (r["measure_id"], parse_period(r["period"]))):
        measure_id, period, actual, override = r["measure_id"], r["period"], r["actual"], r.get("override_rag")
        polarity = polarity_of[measure_id]
        computed = compute_rag(r["target"], actual, r["tolerance"], polarity)
        rag = published_rag(computed, override)
        published[measure_id, period] = (rag, actual)
        before = previous_period(period)
        previous_rag, previous_actual = published.get((measure_id, before), (None, None))
        start, end = period_bounds(period)
        rows.append({
            "measure_id": measure_id,
            "period": period,
            "period_start": start,
            "period_end": end,
            "target": r["target"],
            "actual": actual,
            "tolerance": r["tolerance"],
            "polarity": polarity,
            "computed_rag": computed,
            "override_rag": override,
            "override_reason": r.get("override_reason"),
            "rag": rag,
            "rag_overridden": 1 if override else 0,
            "rag_rule_version": RAG_RULE_VERSION,
            "previous_period": before,
            "previous_actual": previous_actual,
            "previous_rag": previous_rag,
            "direction_of_travel": direction_of_travel(previous_rag, rag),
            "commentary": r.get("commentary"),
            "rated_on": r["rated_on"],
            "source_title": r["source_title"],
            "source_url": r["source_url"],
        })
    return rows


def ran_in_period(service: dict, start: str, end: str) -> bool:
    """Whether a service ran in the period: its dates overlap it; an unknown start counts as overlapping; an unknown
    end counts as overlapping unless the service's status says it has ended (then it cannot be placed in time)."""
    if service.get("start_date") and service["start_date"] > end:
        return False
    if service.get("end_date"):
        return service["end_date"] >= start
    return service.get("status") != "ended"


def services_in_period(services: list[dict], period: str, rated_services: set[str]) -> list[dict]:
    """Services that ran in the period (ran_in_period), plus any rated in it."""
    start, end = period_bounds(period)
    return [s for s in services if s["service_id"] in rated_services or ran_in_period(s, start, end)]


def build_pack(services, measures_by_service, ratings_by_key, periods) -> list[dict]:
    """Committee pack rows: per period, each service in it (services_in_period) with each of its measures."""
    return list(iter_pack(services, measures_by_service, ratings_by_key, periods))


def iter_pack(services, measures_by_service, ratings_by_key, periods) -> Iterator[dict]:
    """build_pack's rows one at a time (the build streams them into the database)."""
    service_of = {m["measure_id"]: m["service_id"] for ms in measures_by_service.values() for m in ms}
    rated_by_period: dict[str, set[str]] = {}
    for measure_id, period in ratings_by_key:
        if measure_id in service_of:
            rated_by_period.setdefault(period, set()).add(service_of[measure_id])
    bases: dict[str, dict] = {}  # the service columns, the same in every period
    for period in periods:
        for s in services_in_period(services, period, rated_by_period.get(period, set())):
            base = bases.get(s["service_id"])
            if base is None:
                base = bases[s["service_id"]] = {
                    "service_id": s["service_id"],
                    "service_name": s["name"],
                    "provider": s.get("provider"),
                    "commissioner": s.get("commissioner"),
                    "annual_value_gbp": s.get("annual_value_gbp"),
                    "total_value_gbp": s.get("total_value_gbp"),
                    "start_date": s.get("start_date"),
                    "end_date": s.get("end_date"),
                    "duration_months": duration_months(s.get("start_date"), s.get("end_date")),
                }
            measures = measures_by_service.get(s["service_id"])
            if not measures:
                yield {"period": period, **base, **_NO_MEASURE, **_NO_RATING}
                continue
            for m in measures:
                rating = ratings_by_key.get((m["measure_id"], period))
                measure = {"measure_id": m["measure_id"], "measure": m["name"], "unit": m["unit"]}
                if not rating:
                    yield {"period": period, **base, **measure, **_NO_RATING}
                    continue
                yield {
                    "period": period,
                    **base,
                    **measure,
                    "target": rating["target"],
                    "actual": rating["actual"],
                    "tolerance": rating["tolerance"],
                    "rag": rating["rag"],
                    "rag_overridden": rating["rag_overridden"],
                    "direction_of_travel": rating["direction_of_travel"],
                    "commentary": rating["commentary"],
                    "rag_rule_version": rating["rag_rule_version"],
                }


_NO_MEASURE = {"measure_id": None, "measure": None, "unit": None}
_NO_RATING = {
    "target": None, "actual": None, "tolerance": None, "rag": NOT_MEASURED, "rag_overridden": None,
    "direction_of_travel": None, "commentary": None, "rag_rule_version": None,
}


def summarise_periods(pack: Iterable[dict], periods: list[str], latest: str) -> list[dict]:
    summary = PackSummary(periods, latest)
    for row in pack:
        summary.add(row)
    return summary.rows()


class PackSummary:
    """The performance_periods rows, counted from Committee pack rows as they are made (one pass)."""

    def __init__(self, periods: list[str], latest: str):
        self.periods, self.latest = periods, latest
        self.tallies = {
            period: {"services": set(), "rated": set(), "rag": Counter(), "direction": Counter(), "overridden": 0,
                     "measures_not_rated": 0}
            for period in periods
        }

    def add(self, row: dict) -> dict:
        tally = self.tallies.get(row["period"])
        if tally is not None:
            tally["services"].add(row["service_id"])
            if row["rag"] != NOT_MEASURED:
                tally["rated"].add(row["service_id"])
            elif row["measure_id"]:
                tally["measures_not_rated"] += 1
            tally["rag"][row["rag"]] += 1
            tally["direction"][row["direction_of_travel"]] += 1
            if row["rag_overridden"] == 1:
                tally["overridden"] += 1
        return row

    def rows(self) -> list[dict]:
        summary = []
        for period in self.periods:
            tally = self.tallies[period]
            rag, direction = tally["rag"], tally["direction"]
            start, end = period_bounds(period)
            summary.append({
                "period": period,
                "period_start": start,
                "period_end": end,
                "is_latest": 1 if period == self.latest else 0,
                "ratings": sum(rag.values()) - rag[NOT_MEASURED],
                "green": rag["Green"],
                "amber": rag["Amber"],
                "red": rag["Red"],
                "overridden": tally["overridden"],
                "measures_not_rated": tally["measures_not_rated"],
                "services_in_pack": len(tally["services"]),
                "services_rated": len(tally["rated"]),
                "services_not_measured": len(tally["services"] - tally["rated"]),
                "better": direction["better"],
                "same": direction["same"],
                "worse": direction["worse"],
            })
        return summary


def build_coverage(services, measures_by_service, ratings_by_key, latest: str) -> list[dict]:
    """A gap is a service with no measure at all, or one in the latest period's pack with measures not rated for it."""
    rated_latest = {
        m["service_id"]
        for ms in measures_by_service.values()
        for m in ms
        if (m["measure_id"], latest) in ratings_by_key
    }
    in_latest = {s["service_id"] for s in services_in_period(services, latest, rated_latest)}
    rows = []
    for s in services:
        measures = measures_by_service.get(s["service_id"], [])
        rated = [m for m in measures if (m["measure_id"], latest) in ratings_by_key]
        if not measures:
            gap = "no measure"
        elif s["service_id"] not in in_latest:
            gap = None
        elif not rated:
            gap = f"no rating for {latest}"
        elif len(rated) < len(measures):
            gap = f"{len(measures) - len(rated)} of {len(measures)} measures not rated for {latest}"
        else:
            gap = None
        rows.append({
            "service_id": s["service_id"],
            "service_name": s["name"],
            "provider": s.get("provider"),
            "commissioner": s.get("commissioner"),
            "status": s.get("status"),
            "measures": len(measures),
            "latest_period": latest,
            "in_latest_pack": 1 if s["service_id"] in in_latest else 0,
            "measures_rated_latest": len(rated),
            "gap": gap,
        })
    return rows


def _insert(db, table: str, columns, rows: Iterable[dict]) -> None:
    """Rows (dicts with at least `columns`) into an existing table, as plain tuples: the values are numbers, text and
    None, stored exactly as sqlite-utils' insert_all would store them, without its per-value conversion."""
    names = list(columns)
    values = itemgetter(*names)
    db.conn.executemany(
        f"INSERT INTO [{table}] ({', '.join(f'[{n}]' for n in names)}) VALUES ({', '.join('?' * len(names))})",
        map(values, rows),
    )


def derive(db, context) -> None:
    # 1. Unapproved ratings never enter the public database (VACUUM at the end of the build removes their pages).
    db.execute("DELETE FROM measure_results WHERE approved_for_publication IS NOT 1")
    db["rag_rules"].insert(
        {"rule_version": RAG_RULE_VERSION, "rule": RAG_RULE_TEXT, "inputs": "target, actual, tolerance, polarity"},
        pk="rule_version",
    )
    measures = _rows(db, "SELECT measure_id, service_id, name, unit, polarity FROM measures ORDER BY service_id, name")
    polarity_of = {m["measure_id"]: m["polarity"] for m in measures}
    results = _rows(db, """
        SELECT measure_id, period, target, actual, tolerance, override_rag, override_reason, commentary, rated_on,
          source_title, source_url
        FROM measure_results ORDER BY rowid""")
    ratings = build_ratings(results, polarity_of)
    del results
    service_of = {m["measure_id"]: m["service_id"] for m in measures}
    for r in ratings:
        r["service_id"] = service_of[r["measure_id"]]
    db["ratings"].create(
        RATINGS_COLUMNS,
        foreign_keys=[("measure_id", "measures", "measure_id"), ("service_id", "services", "service_id")],
    )
    _insert(db, "ratings", RATINGS_COLUMNS, ratings)
    db["ratings"].create_index(["measure_id", "period"], unique=True, if_not_exists=True)
    db["ratings"].create_index(["period"], if_not_exists=True)
    db["ratings"].create_index(["service_id"], if_not_exists=True)

    services = _rows(db, """
        SELECT s.service_id, s.name, s.commissioner, s.status, s.annual_value_gbp, s.total_value_gbp, s.start_date,
          s.end_date, o.name AS provider
        FROM services s
        LEFT JOIN organizations o ON o.organization_id = s.organization_id ORDER BY s.name, s.service_id""")
    measures_by_service: dict[str, list[dict]] = {}
    for m in measures:
        measures_by_service.setdefault(m["service_id"], []).append(m)
    ratings_by_key = {(r["measure_id"], r["period"]): r for r in ratings}
    periods = sorted({r["period"] for r in ratings}, key=parse_period)
    if not periods:
        periods = [latest_completed_period(context.today)]
    latest = periods[-1]
    summary = PackSummary(periods, latest)
    db["committee_pack"].create(PACK_COLUMNS, foreign_keys=[("service_id", "services", "service_id")])
    _insert(db, "committee_pack", PACK_COLUMNS,
            map(summary.add, iter_pack(services, measures_by_service, ratings_by_key, periods)))
    db["committee_pack"].create_index(["period"], if_not_exists=True)
    db["committee_pack"].create_index(["service_id"], if_not_exists=True)
    db["performance_periods"].insert_all(summary.rows(), pk="period")
    db["performance_coverage"].create(
        COVERAGE_COLUMNS, pk="service_id", foreign_keys=[("service_id", "services", "service_id")]
    )
    _insert(db, "performance_coverage", COVERAGE_COLUMNS,
            build_coverage(services, measures_by_service, ratings_by_key, latest))


RATINGS_COLUMNS = {
    "measure_id": str, "period": str, "period_start": str, "period_end": str, "target": float, "actual": float,
    "tolerance": float, "polarity": str, "computed_rag": str, "override_rag": str, "override_reason": str, "rag": str,
    "rag_overridden": int, "rag_rule_version": str, "previous_period": str, "previous_actual": float,
    "previous_rag": str, "direction_of_travel": str, "commentary": str, "rated_on": str, "source_title": str,
    "source_url": str, "service_id": str,
}
PACK_COLUMNS = {
    "period": str, "service_id": str, "service_name": str, "provider": str, "commissioner": str,
    "annual_value_gbp": float, "total_value_gbp": float, "start_date": str, "end_date": str, "duration_months": int,
    "measure_id": str, "measure": str, "unit": str, "target": float, "actual": float, "tolerance": float, "rag": str,
    "rag_overridden": int, "direction_of_travel": str, "commentary": str, "rag_rule_version": str,
}
COVERAGE_COLUMNS = {
    "service_id": str, "service_name": str, "provider": str, "commissioner": str, "status": str, "measures": int,
    "latest_period": str, "in_latest_pack": int, "measures_rated_latest": int, "gap": str,
}


def check(db, context=None) -> list[Problem]:
    problems = []
    sql = "SELECT count(*) FROM measure_results WHERE approved_for_publication IS NOT 1"
    (unapproved,) = db.execute(sql).fetchone()
    if unapproved:
        problems.append(Problem("database", 0, "measure_results", f"{unapproved} unapproved rating(s) left in the db"))
    (unversioned,) = db.execute("SELECT count(*) FROM ratings WHERE rag_rule_version IS NULL").fetchone()
    if unversioned:
        problems.append(Problem("database", 0, "ratings", f"{unversioned} rating(s) without a rule version"))
    return problems


# --- pages (used by plugins/performance_pages.py) ------------------------------------------------------------------


# --- synthetic demo ------------------------------------------------------------------------------------------------

SYNTHETIC_PERIODS = ["2023-H1", "2023-H2", "2024-H1", "2024-H2", "2025-H1", "2025-H2"]
SYNTHETIC_URL = "https://example.org/synthetic"
# (name, unit, polarity, target range, tolerance as a share of the target)
SYNTHETIC_MEASURES = [
    ("Synthetic measure: referrals contacted within 48 hours", "percent", "higher-is-better", (70, 95), 0.06),
    ("Synthetic measure: people supported", "people", "higher-is-better", (120, 1500), 0.1),
    ("Synthetic measure: average days from referral to first session", "days", "lower-is-better", (5, 30), 0.2),
    ("Synthetic measure: participants completing the programme", "percent", "higher-is-better", (50, 85), 0.08),
    ("Synthetic measure: repeat referrals within 12 months", "percent", "lower-is-better", (10, 35), 0.15),
]


def _overlapping(service: dict) -> list[str]:
    """The synthetic periods in which the service ran: a service is only ever rated while it runs."""
    return [p for p in SYNTHETIC_PERIODS if services_in_period([service], p, set())]


def synthesize(rng, size, context):
    services = context.produced.get("services", [])
    measures, results = [], []
    latest = SYNTHETIC_PERIODS[-1]
    for index, service in enumerate(services):
        periods = _overlapping(service)
        skip_latest = index % 12 == 5  # a few services have no rating for the latest period: the coverage list
        chosen = rng.sample(SYNTHETIC_MEASURES, rng.randint(1, 3))
        for n, (name, unit, polarity, (low, high), share) in enumerate(chosen):
            measure_id = f"{service['service_id']}-m{n + 1}"
            measures.append({
                "measure_id": measure_id,
                "service_id": service["service_id"],
                "name": name,
                "unit": unit,
                "polarity": polarity,
                "definition": "Synthetic definition for the demo database.",
                "data_source": "Synthetic provider monitoring return",
                "source_title": "Synthetic performance framework (scripts/generate_synthetic.py)",
                "source_url": SYNTHETIC_URL,
            })
            target = round(rng.uniform(low, high))
            tolerance = max(round(target * share), 1)
            # a per-measure level that drifts, so ratings change between periods
            level = rng.uniform(-2.0, 1.5)
            for period in periods:
                if period == latest and skip_latest:
                    continue
                level = max(min(level + rng.uniform(-1.0, 1.0), 2.5), -3.0)
                gap = level * tolerance  # positive = better than target
                actual = round(target + gap if polarity == "higher-is-better" else max(target - gap, 0), 1)
                computed = compute_rag(target, actual, tolerance, polarity)
                override, reason = None, None
                if rng.random() < 0.03:
                    override = rng.choice([r for r in RAG_RANK if r != computed])
                    reason = "Synthetic override reason: data for one quarter of the period arrived late."
                end = dt.date.fromisoformat(period_bounds(period)[1])
                results.append({
                    "measure_id": measure_id,
                    "period": period,
                    "target": target,
                    "actual": actual,
                    "tolerance": tolerance,
                    "override_rag": override,
                    "override_reason": reason,
                    "commentary": rng.choice([
                        "Synthetic commentary: on track.",
                        "Synthetic commentary: staff vacancies reduced capacity.",
                        "Synthetic commentary: demand higher than planned.",
                        "",
                    ]),
                    "rated_on": (end + dt.timedelta(days=rng.randint(20, 75))).isoformat(),
                    "approved_for_publication": "false" if rng.random() < 0.04 else "true",
                    "source_title": f"Synthetic performance report {period}",
                    "source_url": SYNTHETIC_URL,
                })
    return {"measures": measures, "measure_results": results}
